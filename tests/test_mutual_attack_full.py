"""Full-scale path of the mutual-modality attack on stand-ins written into tmp_path: tiny ImageFolders, a tiny
open_clip model folder (open_clip_config.json + safetensors) and tiny timm weights, loaded through the same
`build` -> `run_seeds` calls the full-scale run makes."""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from paperlib.core import ParameterError, recipe
from paperlib.mutual_attack import (SCHEMA, AttackRecipe, ClassMismatchError, ClipSurrogate, GameRecipe, METHODS,
                                    PixelInput, as_surrogate, build, class_names_of, clip_zero_shot_accuracy,
                                    image_embedding, load_timm, run_seeds)
from paperlib.zoo import WeightsNotFound
from paperlib.zoo.pretrained import load_clip
from tests.stand_ins import write_open_clip_folder

torch.set_num_threads(1)
CLASSES = ("cat", "dog", "red_fox")
TARGETS = ["test_resnet", "test_vit"]
SURROGATE = "test_efficientnet"


def _write_folder(root, per_class, seed):
    rng = np.random.default_rng(seed)
    for c, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            img = rng.integers(0, 90, (20, 20, 3)).astype(np.uint8)
            img[..., c] += 150  # class c: channel c is bright, so the tiny targets can learn it
            Image.fromarray(img).save(root / name / f"{i}.png")
    return root


def _write_timm(folder, name, x, y):
    """A tiny timm model trained a few steps on the stand-in images, saved as <name>.safetensors."""
    import timm
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = timm.create_model(name, num_classes=len(CLASSES))
    cfg = model.pretrained_cfg
    net = PixelInput(model, cfg["input_size"][-1], cfg["mean"], cfg["std"]).train()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(15):
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / f"{name}.safetensors"))
    return model.eval()


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory):
    from paperlib.data.folders import image_folder

    root = tmp_path_factory.mktemp("mutual_full")
    val = _write_folder(root / "val", 5, seed=0)
    train = _write_folder(root / "train", 6, seed=1)
    clip = write_open_clip_folder(root / "clip")
    weights = root / "weights"
    weights.mkdir()
    ds = image_folder(train, 24)
    x = torch.stack([ds[i][0] for i in range(len(ds))])
    y = torch.tensor([ds[i][1] for i in range(len(ds))])
    models = {name: _write_timm(weights, name, x, y) for name in TARGETS + [SURROGATE]}
    return {"val": val, "train": train, "clip_dir": root / "clip", "clip": clip, "weights": weights, "models": models}


def _params(s, **kw):
    base = dict(scale="smoke", device="cpu", data_dir=str(s["val"]), train_dir=str(s["train"]),
                target_weights=str(s["weights"]), clip_dir=str(s["clip_dir"]), targets=TARGETS,
                surrogate=SURROGATE, prompt_init="a photo of a", image_size=24, n_test=12, eval_batch_size=5,
                rounds=2, attack_steps=1, defense_steps=1, batch_size=4, seeds=1, pgd_steps=2, generator_width=4)
    return SCHEMA.resolve(**{**base, **kw})


def test_clip_folder_loads_its_weights_preprocessing_and_tokenizer(stand_ins):
    sur = as_surrogate(load_clip(clip_dir=str(stand_ins["clip_dir"])))
    assert isinstance(sur, ClipSurrogate) and sur.image_size == 16
    saved = stand_ins["clip"].state_dict()
    assert all(torch.equal(v, saved[k]) for k, v in sur.model.state_dict().items())
    x = torch.rand(2, 3, 24, 24)
    mean = torch.tensor([0.4, 0.45, 0.5]).view(1, 3, 1, 1)
    std = torch.tensor([0.25, 0.3, 0.35]).view(1, 3, 1, 1)
    small = F.interpolate(x, size=(16, 16), mode="bilinear", align_corners=False)
    with torch.no_grad():
        ref = F.normalize(stand_ins["clip"].encode_image((small - mean) / std), dim=-1)
        assert torch.allclose(image_embedding(sur, x), ref, atol=1e-5)
    assert sur.tokenize(["a photo of a cat."]).shape == (1, 16)


def test_timm_weights_load_behind_their_own_preprocessing(stand_ins):
    net = load_timm("test_vit", stand_ins["weights"], len(CLASSES))
    saved = stand_ins["models"]["test_vit"].state_dict()
    assert all(torch.equal(v, saved[k]) for k, v in net.model.state_dict().items())
    x = torch.rand(2, 3, 24, 24)
    side = net.model.pretrained_cfg["input_size"][-1]
    with torch.no_grad():
        ref = stand_ins["models"]["test_vit"]((F.interpolate(x, size=(side, side), mode="bilinear",
                                                              align_corners=False) - 0.5) / 0.5)
        assert torch.allclose(net(x), ref, atol=1e-5)


def test_full_scale_path_runs_every_attack_within_the_budget(stand_ins):
    p = _params(stand_ins)
    s = build(p)
    assert s.x_test.shape == (12, 3, 24, 24)
    assert s.class_names == ("cat", "dog", "red fox") and list(s.world(0).targets) == TARGETS
    assert s.world(0) is s.world(1)  # the same pretrained models for every seed
    x, y = s.train_sampler(4, 0, torch.device("cpu"))()
    assert x.shape == (4, 3, 24, 24) and set(y.tolist()) <= {0, 1, 2}
    clean = clip_zero_shot_accuracy(s, torch.device("cpu"), p.eval_batch_size)
    runs = run_seeds(s, recipe(GameRecipe, p), recipe(AttackRecipe, p), p.eps, [0], torch.device("cpu"))
    assert set(runs[0].table) == set(METHODS) and set(runs[0].table["mutual"]) == set(TARGETS)
    for m, xa in runs[0].adversarial.items():
        assert xa.shape == s.x_test.shape
        assert (xa - s.x_test).abs().max() <= p.eps + 1e-6 and xa.min() >= 0 and xa.max() <= 1, m
    assert runs[0].defense["clean_initial"] == pytest.approx(clean)
    assert len(runs[0].landing["mutual"]["clip"]) == 3


def test_missing_or_mismatched_inputs_are_clear_errors(stand_ins, tmp_path):
    with pytest.raises(ParameterError, match="'train_dir': required with data_dir"):
        _params(stand_ins, train_dir=None)
    with pytest.raises(WeightsNotFound, match="target_weights: no weights for 'resnet50'"):
        build(_params(stand_ins, targets=["resnet50"]))
    with pytest.raises(WeightsNotFound, match="clip_dir.*open_clip_config.json"):
        build(_params(stand_ins, clip_dir=str(tmp_path)))
    with pytest.raises(ParameterError, match="surrogate"):
        _params(stand_ins, surrogate="test_vit")
    with pytest.raises(ClassMismatchError, match="4 outputs"):
        load_timm("test_vit", stand_ins["weights"], 3 + 1)
    other = _write_folder(tmp_path / "other", 2, seed=5)
    (other / "cat").rename(other / "wolf")
    with pytest.raises(ClassMismatchError, match="train_dir"):
        build(_params(stand_ins, train_dir=str(other)))


def test_imagenet_wnid_folders_get_the_imagenet_class_names():
    wnids = [f"n{i:08d}" for i in range(1000)]
    names = class_names_of(wnids)
    assert len(names) == 1000 and names[1] == "goldfish"
    with pytest.raises(ClassMismatchError, match="all 1,000"):
        class_names_of(wnids[:10])
    assert class_names_of(["red_fox", "cat"]) == ["red fox", "cat"]
