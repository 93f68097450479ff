import json
import time

import pytest
import torch
from torch import nn

from paperlib import zoo
from paperlib.core import accuracy
from paperlib.data import dg_benchmark
from paperlib.miniatures import binomial_bar


def _tiny_entry(calls):
    def make():
        return nn.Linear(3, 2)

    def train(model):
        calls.append(1)
        with torch.no_grad():
            model.weight.fill_(0.5)
        return {"trained": True}

    return make, train


def test_cache_trains_once_then_loads(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPERLIB_CACHE", str(tmp_path))
    calls = []
    make, train = _tiny_entry(calls)
    m1, meta = zoo.cached_model("toy", {"v": 1}, make, train)
    m2, _ = zoo.cached_model("toy", {"v": 1}, make, train)
    assert len(calls) == 1 and meta["facts"] == {"trained": True}
    assert torch.equal(m1.weight, m2.weight)
    zoo.cached_model("toy", {"v": 2}, make, train)  # another recipe is another entry
    assert len(calls) == 2


@pytest.mark.parametrize("damage", ["truncate", "no_meta", "wrong_hash"])
def test_corrupt_or_unfinished_entries_are_rebuilt(tmp_path, monkeypatch, damage):
    monkeypatch.setenv("PAPERLIB_CACHE", str(tmp_path))
    calls = []
    make, train = _tiny_entry(calls)
    zoo.cached_model("toy", {"v": 1}, make, train)
    folder = zoo.entry_dir("toy", {"v": 1})
    if damage == "truncate":
        weights = folder / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[:20])
    elif damage == "no_meta":
        (folder / "meta.json").unlink()
    else:
        meta = json.loads((folder / "meta.json").read_text())
        meta["sha256"] = "0" * 64
        (folder / "meta.json").write_text(json.dumps(meta))
    model, _ = zoo.cached_model("toy", {"v": 1}, make, train)
    assert len(calls) == 2 and torch.all(model.weight == 0.5)


def test_unknown_model_is_a_clear_error():
    with pytest.raises(ValueError, match="model: expected one of"):
        zoo.create("resnet9000", "smoke")


def test_classifier_quality_bar_at_smoke():
    model, meta = zoo.create("classifier", "smoke")
    bench = dg_benchmark(16)
    acc = {n: accuracy(model, d.x, d.y) for n, d in bench.items()}
    assert acc["source"] >= 0.85
    for name, a in acc.items():
        if name != "source":
            assert a < acc["source"] - 0.2, name  # the domains really differ
            assert a > binomial_bar(len(bench[name].y)), name  # and none is beyond recognition


def test_tiny_clip_is_open_clip_and_beats_chance_at_smoke():
    import open_clip

    model, meta = zoo.create("tiny_clip", "smoke")
    assert isinstance(model, open_clip.CLIP)
    assert meta["facts"]["val_zero_shot_accuracy"] > 0.2


def test_ddpm_is_a_diffusers_conditional_unet_trained_on_source_only():
    from diffusers import UNet2DConditionModel

    model, meta = zoo.create("ddpm", "smoke")
    assert isinstance(model.unet, UNet2DConditionModel)
    assert "source train split" in meta["facts"]["trained_on"]
    assert meta["facts"]["final_loss"] < meta["facts"]["first_loss"]
    images = zoo.sample(model, torch.tensor([3, 7]), steps=3, guidance=2.0, generator=torch.Generator().manual_seed(0))
    assert images.shape == (2, 3, 16, 16) and 0 <= images.min() and images.max() <= 1


def test_missing_pretrained_weights_fail_fast_and_clearly(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(zoo.WeightsNotFound, match="model_id: 'nobody/no-such-model' is neither a local path"):
        zoo.local_snapshot("nobody/no-such-model")
    assert time.monotonic() - start < 5


def test_local_pretrained_folder_is_used(tmp_path):
    from diffusers import UNet2DModel

    UNet2DModel(sample_size=8, block_out_channels=(8, 8), norm_num_groups=4, layers_per_block=1,
                down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D")
                ).save_pretrained(tmp_path / "unet")
    model = zoo.diffusers_pretrained(UNet2DModel, str(tmp_path), subfolder="unet")
    assert model.config.sample_size == 8
