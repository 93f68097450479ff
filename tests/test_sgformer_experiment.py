"""The SG-Former chapter's experiment helpers and the full-scale path on a tiny stand-in folder."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import paperlib.sgformer as sg
from paperlib.core import ParameterError
from paperlib.sgformer.experiment import match_vit, token_boxes

torch.set_num_threads(1)


def test_token_boxes_and_peak_hits():
    boxes = torch.tensor([[0, 0, 4, 4], [3, 5, 2, 2]])
    inside = token_boxes(boxes, grid=4, stride=2)  # an 8x8 canvas in 2x2 tokens
    assert inside[0].sum() == 4 and inside[0, :2, :2].all()
    assert inside[1].nonzero().tolist() == [[1, 2], [1, 3], [2, 2], [2, 3]]  # rows 3-4, cols 5-6
    maps = torch.zeros(2, 4, 4)
    maps[0, 1, 1] = 1.0  # on the digit
    maps[1, 0, 0] = 1.0  # off the digit
    hit, chance, precision = sg.peak_hits(maps, boxes, stride=2)
    assert hit == 0.5 and chance == pytest.approx(0.25)
    assert 0.0 <= precision <= 1.0


@pytest.mark.parametrize("canvas", [16, 28])
def test_the_baselines_are_flop_matched_within_ten_percent(canvas):
    macs = sg.count_macs(sg.build("sgformer", canvas), canvas)
    shape = match_vit(canvas, macs)
    for kind in ("sra", "random"):
        assert abs(sg.count_macs(sg.build(kind, canvas), canvas) / macs - 1) < 0.10
    assert abs(sg.count_macs(sg.build("vit", canvas, shape), canvas) / macs - 1) < 0.10


def test_mini_layout_gives_the_cards_table_on_its_grid_and_scales_it():
    card = sg.mini_layout(28)
    assert card["window"] == 7 and card["guides"][0] == ((0.25, 49), (0.5, 7), (0.25, 1))
    assert sg.build("sgformer", 28).kv_tokens() == {"1.1": 64}
    assert sg.build("sgformer", 16).kv_tokens() == {"1.1": 1 + 8 + 16}
    with pytest.raises(ValueError, match="canvas"):
        sg.mini_layout(6)


def test_pooling_choices_and_a_bad_one():
    x = torch.rand(2, 3, 16, 16)
    for pool in ("avg", "max", "avgmax"):
        assert sg.build("sgformer", 16, pool=pool)(x).shape == (2, 10)
    with pytest.raises(ValueError, match="global_pool"):
        sg.build("sgformer", 16, pool="median")


def test_training_records_accuracy_and_significance_snapshots():
    data = sg.canvas_data(28, 10, n_train=32, n_test=16, seed=0)
    assert data.x_train.shape == (32, 3, 28, 28) and data.boxes_test.shape == (16, 4)
    r = sg.train("sgformer", data, seed=0, epochs=1, batch_size=16, lr=1e-3, weight_decay=0.05,
                 device=torch.device("cpu"), snap_x=data.x_test[:2], n_snaps=2)
    assert 0.0 <= r.acc <= 1.0 and len(r.loss) == 2
    assert [s for s, _ in r.snapshots] == [1, 2] and r.snapshots[0][1].shape == (2, 14, 14)


def test_bad_kind_and_bad_parameters_are_clear_errors():
    with pytest.raises(ValueError, match="model kind"):
        sg.build("swin", 28)
    with pytest.raises(ParameterError, match="parameter 'model'"):
        sg.SCHEMA.resolve(scale="smoke", model="sgformer_xl")
    with pytest.raises(ParameterError, match="data_dir"):
        sg.SCHEMA.resolve(scale="full", data_dir="/nonexistent/imagenet")
    p = sg.SCHEMA.resolve(scale="full")
    assert (p.imagenet_epochs, p.warmup_epochs, p.imagenet_batch, p.ema) == (300, 20, 1024, 0.99992)


def make_folder(root, classes=2, per_class=4, size=40):
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for c in range(classes):
            (root / split / f"class{c}").mkdir(parents=True)
            for i in range(per_class):
                Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(
                    root / split / f"class{c}" / f"{i}.png")


def test_full_scale_worker_trains_and_evaluates_on_a_tiny_folder(tmp_path):
    from paperlib.sgformer.imagenet import worker

    make_folder(tmp_path / "data")
    cfg = dict(seed=0, data_dir=str(tmp_path / "data"), model="sgformer_s", img_size=64, drop_path=0.1,
               batch_per_rank=4, lr=1e-3, weight_decay=0.05, epochs=1, warmup_epochs=0, cooldown_epochs=0,
               ema=0.9, eval_only=False, ckpt=None, workers=0, save=str(tmp_path / "ckpt.pth"))
    out = worker(0, 1, torch.device("cpu"), cfg)
    assert out["seen"] == 8 and 0.0 <= out["top1_ema"] <= 1.0 and np.isfinite(out["final_loss"])
    again = worker(0, 1, torch.device("cpu"), {**cfg, "eval_only": True, "ckpt": cfg["save"]})
    assert again["missing_keys"] == 0 and again["top1_ema"] == pytest.approx(out["top1_ema"])


def test_full_scale_worker_rejects_a_malformed_folder(tmp_path):
    from paperlib.data import DataFolderError
    from paperlib.sgformer.imagenet import worker

    (tmp_path / "data" / "val").mkdir(parents=True)
    with pytest.raises(DataFolderError, match="data_dir/val"):
        worker(0, 1, torch.device("cpu"), dict(seed=0, data_dir=str(tmp_path / "data"), model="sgformer_s"))


def test_the_canvases_are_standardized_with_the_training_statistics_for_every_arm():
    data = sg.canvas_data(16, 10, n_train=64, n_test=16, seed=0)
    z = data.standardized()
    assert torch.allclose(z.x_train.mean((0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(z.x_train.std((0, 2, 3)), torch.ones(3), atol=1e-5)
    mean = data.x_train.mean((0, 2, 3), keepdim=True)
    std = data.x_train.std((0, 2, 3), keepdim=True)
    assert torch.allclose(z.x_test, (data.x_test - mean) / std)  # the test split gets the train statistics
    assert torch.equal(z.y_test, data.y_test) and torch.equal(z.boxes_test, data.boxes_test)
    assert float(data.x_train.min()) >= 0.0  # the caller's raw canvases (for plotting) are untouched
