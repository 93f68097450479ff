"""The zoo's one CLIP loader and one weights-file finder (paperlib.zoo.pretrained)."""
import pytest
import torch

from paperlib.data.digits import digits
from paperlib.data.domains import restyle
from paperlib.zoo import create
from paperlib.zoo.pretrained import LoadedClip, WeightsNotFound, load_clip, weights_file
from tests.stand_ins import write_open_clip_folder


def test_tiny_clip_preprocessing_is_its_two_x_minus_one():
    clip = load_clip("tiny_clip", scale="smoke")
    x = torch.rand(2, 3, 16, 16)
    assert isinstance(clip, LoadedClip) and clip.image_size == 16
    assert torch.equal(clip.preprocess(x), x * 2 - 1)
    assert clip.tokenize(["seven"]).shape[0] == 1


def test_open_clip_folder_brings_its_own_side_and_normalisation(tmp_path):
    model = write_open_clip_folder(tmp_path / "clip")
    clip = load_clip(clip_dir=str(tmp_path / "clip"))
    assert (clip.image_size, clip.mean, clip.std) == (16, (0.4, 0.45, 0.5), (0.25, 0.3, 0.35))
    x = torch.rand(2, 3, 32, 32)  # resized to the model's 16 px first
    small = torch.nn.functional.interpolate(x, size=(16, 16), mode="bilinear", align_corners=False)
    expected = (small[:, 0] - 0.4) / 0.25
    assert torch.allclose(clip.preprocess(x)[:, 0], expected, atol=1e-6)
    with torch.no_grad():
        assert torch.allclose(clip.model.encode_image(small), model.encode_image(small), atol=1e-5)


def test_an_architecture_without_weights_is_refused_in_one_line():
    with pytest.raises(ValueError, match="weights"):
        load_clip("RN50")
    with pytest.raises(ValueError, match="clip_arch"):
        load_clip("no_such_arch", weights="x.safetensors")


def test_weights_file_by_name_or_first_in_suffix_order(tmp_path):
    (tmp_path / "resnet18.pth").write_bytes(b"0")
    (tmp_path / "vgg").mkdir()
    (tmp_path / "vgg" / "model.safetensors").write_bytes(b"0")
    assert weights_file(tmp_path, "resnet18") == tmp_path / "resnet18.pth"
    assert weights_file(tmp_path, "vgg") == tmp_path / "vgg" / "model.safetensors"
    (tmp_path / "b.bin").write_bytes(b"0")
    (tmp_path / "a.safetensors").write_bytes(b"0")
    assert weights_file(tmp_path) == tmp_path / "a.safetensors"
    assert weights_file(tmp_path / "b.bin") == tmp_path / "b.bin"
    with pytest.raises(WeightsNotFound, match="target_weights: no weights for 'deit'"):
        weights_file(tmp_path, "deit", param="target_weights")


def test_variant_fields_are_checked():
    with pytest.raises(ValueError, match="no variant field"):
        create("tiny_clip", "smoke", colour="red")
    with pytest.raises(ValueError, match="has no variants"):
        create("classifier", "smoke", domains=["photo"])


def test_restyle_renders_training_digits_in_a_domain_style():
    grey = digits("train", 16, channels=1)
    x, y = restyle("colored", grey.x[:20], grey.y[:20], 16, seed=1)
    assert x.shape == (20, 3, 16, 16) and torch.equal(y, grey.y[:20])
    assert not torch.allclose(x[:, 0], x[:, 1])  # coloured: the channels differ
    fonts, labels = restyle("font", grey.x[:20], grey.y[:20], 16)
    assert len(fonts) == 400 and sorted(set(labels.tolist())) == list(range(10))
