import pytest
import torch
from torch import nn

from paperlib.core import accuracy, batches, cross_entropy_loss, fit, pick_device, seed_everything


def test_auto_device_is_cuda_only_when_present():
    assert pick_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert pick_device("cpu").type == "cpu"


def test_bad_device_is_a_clear_error():
    with pytest.raises(ValueError, match="device: expected one of"):
        pick_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="only meaningful without a GPU")
def test_cuda_without_gpu_is_refused():
    with pytest.raises(ValueError, match="no CUDA GPU"):
        pick_device("cuda")


def _problem():
    seed_everything(0)
    x = torch.randn(256, 4)
    y = (x[:, 0] > 0).long()
    return x, y


def test_fit_learns_and_resumes_from_checkpoint(tmp_path):
    x, y = _problem()
    ckpt = tmp_path / "ckpt.pt"
    model = nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    fit(model, batches(x, y, 32), cross_entropy_loss, opt, steps=10, checkpoint=ckpt, checkpoint_every=5)
    assert ckpt.is_file()
    # a "killed" run resumes: asking for 30 steps trains only the 20 missing ones
    history = fit(model, batches(x, y, 32), cross_entropy_loss, opt, steps=30, checkpoint=ckpt)
    assert len(history.loss) == 30
    assert accuracy(model, x, y) > 0.9
