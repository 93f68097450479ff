"""MindBridge at full scale on a stand-in: a tiny NSD folder in the official README's layout (MindEye's
webdataset_avg_split .npy/.jpg files, nsd_stim_info_merged.csv, COCO caption JSON) and a tiny open_clip
model folder, read through the same code the full-scale run uses."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from paperlib.core import ParameterError, recipe
from paperlib.mindbridge import (SCHEMA, ModelRecipe, ProtocolRecipe, TrainRecipe, clip_image_tokens,
                                 clip_text_tokens, cross_subject, new_subject, nsd_setting, targets_clip)
from paperlib.mindbridge.full import load_image
from paperlib.zoo.pretrained import WeightsNotFound, load_clip
from tests.stand_ins import write_open_clip_folder

torch.set_num_threads(1)
CPU = torch.device("cpu")
VOXELS = {1: 157, 2: 143, 5: 130, 7: 127}
SHARED = list(range(80, 92))  # NSD (73k) indices of the shared test images
TRAIN = 14  # per subject


def _sample(folder, name, nsd_id, V, rng):
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / f"{name}.nsdgeneral.npy", V.astype(np.float16))
    np.save(folder / f"{name}.coco73k.npy", np.array([[nsd_id]], dtype=np.int64))
    Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(folder / f"{name}.jpg")


def write_fake_nsd(root, subjects=(1, 2, 5, 7), seed=0):
    """NSD in miniature: every subject has its own training stimuli (and one shared test image leaked into
    train/, which the loader must drop), the shared test images (subject 1 has one more), three repeats."""
    rng = np.random.default_rng(seed)
    info = root / "nsddata" / "experiments" / "nsd"
    info.mkdir(parents=True)
    rows = ["," + ",".join(["cocoId", "cocoSplit", "cropBox", "nsdId", "shared1000"])]
    for i in range(100):
        rows.append(f"{i},{5000 + i},{'train2017' if i % 3 else 'val2017'},\"(0, 0, 0, 0)\",{i},{i in SHARED}")
    (info / "nsd_stim_info_merged.csv").write_text("\n".join(rows) + "\n")
    ann = root / "nsddata_stimuli" / "stimuli" / "nsd" / "annotations"
    ann.mkdir(parents=True)
    for split in ("train2017", "val2017"):
        anns = []
        for i in range(100):
            if (split == "train2017") == bool(i % 3):  # two captions each; the lower id comes second in the file
                anns += [{"image_id": 5000 + i, "id": 20000 + i, "caption": f"second caption of {i}"},
                         {"image_id": 5000 + i, "id": 10000 + i, "caption": f" a picture number {i} "}]
        (ann / f"captions_{split}.json").write_text(json.dumps({"images": [], "annotations": anns}))
    split_root = root / "webdataset_avg_split"
    for k, s in enumerate(subjects):
        own = list(range(k * TRAIN, (k + 1) * TRAIN)) + [SHARED[0]]
        for j, i in enumerate(own):
            _sample(split_root / "train" / f"subj{s:02d}", f"sample{j:09d}", i, rng.normal(size=(3, VOXELS[s])), rng)
        test = SHARED + ([95] if s == 1 else [])
        for j, i in enumerate(reversed(test)):  # another order than the NSD index
            _sample(split_root / "test" / f"subj{s:02d}", f"sample{900 + j:09d}", i,
                    rng.normal(size=(3, VOXELS[s])), rng)
        (split_root / "val" / f"subj{s:02d}").mkdir(parents=True)
    return root


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    root = tmp_path_factory.mktemp("nsd")
    clip_dir = root / "clip"
    clip = write_open_clip_folder(clip_dir)
    return write_fake_nsd(root / "natural-scenes-dataset"), clip_dir, clip


def _params(fake, **kw):
    data, clip_dir, _ = fake
    base = dict(scale="smoke", device="cpu", data_dir=str(data), clip_dir=str(clip_dir), n_sources=3, steps=4,
                adapt_epochs=1, seeds=1, sharing_seeds=1, batch_size=4, bridge_batch_size=2, n_test=10, n_train=20,
                retrieval_n=5, pool_num=32, hidden=16, rank=4)
    return SCHEMA.resolve(**{**base, **kw})


def make_setting(p):
    return nsd_setting(p, targets_clip(p), CPU)


def test_clip_folder_loads_the_saved_weights_and_preprocessing(fake):
    _, clip_dir, ref = fake
    targets = load_clip(clip_dir=str(clip_dir))
    saved = ref.state_dict()
    assert all(torch.equal(v, saved[k]) for k, v in targets.model.state_dict().items())
    assert targets.image_size == 16 and targets.mean == (0.4, 0.45, 0.5) and targets.std == (0.25, 0.3, 0.35)
    assert targets.tokenize(["a b"]).shape == (1, 16)


def test_nsd_setting_follows_the_files(fake):
    data, clip_dir, ref = fake
    p = _params(fake)
    setting = make_setting(p)
    subjects = setting.sources + [setting.new]
    assert [s.id for s in setting.sources] == ["subj01", "subj02", "subj05"] and setting.new.id == "subj07"
    assert [s.voxels for s in subjects] == [VOXELS[s] for s in (1, 2, 5, 7)]
    assert setting.meta["data"] == "nsd"
    # test: the first test_stimuli shared images in NSD order, all repeats; subject 1's extra image left out
    assert setting.labels[setting.test_idx].tolist() == SHARED[:10]
    for s, number in zip(subjects, (1, 2, 5, 7)):
        folder = data / "webdataset_avg_split" / "test" / f"subj{number:02d}"
        for row, nsd_id in enumerate(SHARED[:10]):
            name = next(f.name.split(".")[0] for f in folder.glob("*.coco73k.npy")
                        if int(np.load(f).reshape(-1)[0]) == nsd_id)
            V = torch.from_numpy(np.load(folder / f"{name}.nsdgeneral.npy")).float()
            assert torch.equal(s.test_V[row], V)
        torch.testing.assert_close(s.clean_test, s.test_V.mean(1))
        # train: the subject's own stimuli in sorted order; the shared test image is dropped
    for k, s in enumerate(subjects):
        assert setting.labels[s.train_idx].tolist() == list(range(k * TRAIN, (k + 1) * TRAIN))
        assert s.train_V.shape == (TRAIN, 3, s.voxels)
        first = data / "webdataset_avg_split" / "train" / f"subj{(1, 2, 5, 7)[k]:02d}" / "sample000000000.nsdgeneral.npy"
        assert torch.equal(s.train_V[0], torch.from_numpy(np.load(first)))
    # targets: the CLIP of the folder on the image file and on the first caption (lowest annotation id)
    targets = load_clip(clip_dir=str(clip_dir))
    k = int(setting.test_idx[3])
    nsd_id = int(setting.labels[k])
    folder = data / "webdataset_avg_split" / "test" / "subj01"
    jpg = next(f for f in folder.glob("*.coco73k.npy") if int(np.load(f).reshape(-1)[0]) == nsd_id)
    x, thumb = load_image(jpg.with_name(jpg.name.replace("coco73k.npy", "jpg")), 16, 64)
    expect_i = clip_image_tokens(targets.model.eval(), targets.preprocess(x[None]))[0]
    expect_t = clip_text_tokens(targets.model, [f"a picture number {nsd_id}"], targets.tokenize)[0]
    assert setting.image_tokens.dtype == torch.float16 and setting.image_tokens.shape[1:] == (17, 64)
    torch.testing.assert_close(setting.image_tokens[k].float(), expect_i, atol=2e-3, rtol=2e-3)
    torch.testing.assert_close(setting.text_tokens[k].float(), expect_t, atol=2e-3, rtol=2e-3)
    torch.testing.assert_close(setting.images[k].float(), thumb, atol=2e-3, rtol=0)
    # the same weights under other preprocessing give other targets: the folder's mean/std are used
    other = clip_image_tokens(targets.model, x[None] * 2 - 1)[0]
    assert not torch.allclose(other, expect_i, atol=1e-2)


def test_limits_follow_the_parameters(fake):
    setting = make_setting(_params(fake, n_sources=2, n_train=5, n_test=4))
    assert [s.id for s in setting.sources] + [setting.new.id] == ["subj01", "subj02", "subj05"]
    assert all(len(s.train_idx) == 5 for s in setting.sources) and len(setting.test_idx) == 4


def test_both_experiments_run_on_the_nsd_setting(fake):
    p = _params(fake)
    setting = make_setting(p)
    m, r = recipe(ModelRecipe, p), recipe(TrainRecipe, p)
    protocol = recipe(ProtocolRecipe, p, fractions=tuple(p.fractions))
    bridge, singles, metrics = cross_subject(setting, m, r, protocol, 0, CPU)
    assert set(metrics["bridge"]) == set(singles) == {"subj01", "subj02", "subj05"}
    out = new_subject(setting, bridge, m, r, protocol, 0, CPU)
    assert {fr for fr, _ in out} == set(p.fractions)


def test_missing_or_bad_nsd_data_gives_clear_errors(fake, tmp_path):
    with pytest.raises(ParameterError, match="'data_dir'"):
        SCHEMA.resolve(scale="full", device="cpu")
    with pytest.raises(ParameterError, match="'data_dir'"):
        SCHEMA.resolve(scale="full", device="cpu", data_dir=str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="nsd_stim_info_merged.csv"):
        make_setting(_params(fake, data_dir=str(tmp_path)))
    with pytest.raises(FileNotFoundError, match="subject 3's train folder"):
        make_setting(_params(fake, n_sources=4))
    with pytest.raises(WeightsNotFound, match="clip_dir.*open_clip_config.json"):
        make_setting(_params(fake, clip_dir=str(tmp_path)))
    bad = write_fake_nsd(tmp_path / "nan", subjects=(1, 2, 5, 7))
    V = np.full((3, VOXELS[2]), np.nan, dtype=np.float16)
    np.save(bad / "webdataset_avg_split" / "train" / "subj02" / "sample000000003.nsdgeneral.npy", V)
    with pytest.raises(ValueError, match="sample000000003.nsdgeneral.npy holds NaN"):
        make_setting(_params(fake, data_dir=str(bad)))
    np.save(bad / "webdataset_avg_split" / "train" / "subj02" / "sample000000003.nsdgeneral.npy",
            np.zeros((3, VOXELS[2] + 1), dtype=np.float16))
    with pytest.raises(ValueError, match="expected voxel data of shape"):
        make_setting(_params(fake, data_dir=str(bad)))


@pytest.mark.slow
def test_chapter_on_the_nsd_stand_in(fake, tmp_path):
    """The notebook itself through papermill on the stand-in folders: the full-scale path end to end."""
    from paperlib.runner import execute

    data, clip_dir, _ = fake
    dest = execute("mindbridge", {"scale": "smoke", "device": "cpu", "data_dir": str(data),
                                  "clip_dir": str(clip_dir), "n_sources": 3, "n_test": 10, "retrieval_n": 5,
                                  "steps": 4, "adapt_epochs": 1, "seeds": 2}, tmp_path / "run", timeout_s=600)
    record = json.loads((dest / "metrics.json").read_text())
    assert record["metrics"]["retrieval_n"] == 5
    assert {c["name"] for c in record["claims"]} >= {"one_model", "new_subject_low", "pseudo_aug"}
    assert not any(c["name"].startswith("one_model_rho") for c in record["claims"])  # no simulated shares on NSD
