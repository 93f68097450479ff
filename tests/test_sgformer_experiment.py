"""The SG-Former chapter's experiment helpers and the full-scale path on a tiny stand-in folder."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

import paperlib.sgformer as sg
from paperlib.core import ParameterError

torch.set_num_threads(1)


def test_token_boxes_and_peak_hits():
    boxes = torch.tensor([[0, 0, 4, 4], [3, 5, 2, 2]])
    inside = sg.token_boxes(boxes, grid=4, stride=2)  # an 8x8 canvas in 2x2 tokens
    assert inside[0].sum() == 4 and inside[0, :2, :2].all()
    assert inside[1].nonzero().tolist() == [[1, 2], [1, 3], [2, 2], [2, 3]]  # rows 3-4, cols 5-6
    maps = torch.arange(32, dtype=torch.float32).reshape(2, 4, 4)  # the last row is the top quarter
    maps[0, 1, 1] = 100.0  # image 0: the peak on the digit, top quarter = (1, 1) + (3, 1..3)
    hit, chance, precision = sg.peak_hits(maps, boxes, stride=2)
    assert hit == 0.5  # image 1's peak (3, 3) is off its digit
    assert chance == pytest.approx(4 / 16)  # four of sixteen tokens on each digit
    assert precision == pytest.approx((1 / 4 + 0 / 4) / 2)


def test_the_global_baseline_is_flop_matched_and_the_ablations_cost_about_the_same():
    widths = sg.arm_widths(32)
    assert widths["sgformer"] == widths["sra"] == widths["random"] == sg.MINI["embed_dims"][0]
    assert widths["global"] < widths["sgformer"]  # at equal width, global attention costs more
    macs = {k: sg.count_macs(sg.build(k, 32, w), 32) for k, w in widths.items()}
    assert sg.count_macs(sg.build("global", 32), 32) > 1.2 * macs["sgformer"]
    assert abs(macs["global"] / macs["sgformer"] - 1) < 0.05
    for kind in ("sra", "random"):
        assert abs(macs[kind] / macs["sgformer"] - 1) < 0.05


def test_mini_layout_gives_the_cards_table_on_its_grid_and_scales_it():
    card = sg.mini_layout(28)
    assert card["window"] == 7 and card["guides"][0] == ((0.25, 49), (0.5, 7), (0.25, 1))
    assert sg.build("sgformer", 28).kv_tokens() == {"1.1": 64}
    assert sg.build("sgformer", 32).kv_tokens() == {"1.1": 1 + 16 + 64}  # 16 x 16 tokens
    with pytest.raises(ValueError, match="canvas"):
        sg.mini_layout(6)


def test_the_miniature_pools_by_max_and_normalises_the_pooled_vector():
    torch.manual_seed(0)
    model = sg.build("sgformer", 32).eval()
    assert (model.global_pool, model.head_norm) == ("max", "pooled")
    x = torch.rand(2, 3, 32, 32)
    tokens = []
    model.block2[-1].register_forward_hook(lambda m, i, out: tokens.append(out[0]))
    with torch.no_grad():
        pooled = model.forward_features(x)
    torch.testing.assert_close(pooled, model.norm2(tokens[0].amax(1)))


def test_training_records_accuracy_and_significance_snapshots():
    data = sg.canvas_data(sg.CanvasRecipe(canvas=32, digit_size=12, n_train=32, n_test=16), seed=0)
    assert data.x_train.shape == (32, 3, 32, 32) and data.boxes_test.shape == (16, 4)
    assert (data.boxes_test[:, 2:] == 12).all()
    recipe = sg.TrainRecipe(steps=2, batch_size=16, lr=1e-3, weight_decay=0.05)
    r = sg.train("sgformer", data, seed=0, recipe=recipe, device=torch.device("cpu"), snap_x=data.x_test[:2],
                 n_snaps=2)
    assert len(r.loss) == 2 and all(abs(loss - 2.3) < 0.5 for loss in r.loss)  # near ln 10 at the start
    assert [s for s, _ in r.snapshots] == [1, 2] and r.snapshots[0][1].shape == (2, 16, 16)
    again = sg.train("sgformer", data, seed=0, recipe=recipe, device=torch.device("cpu"))
    assert again.loss == r.loss and again.acc == r.acc  # the same seed gives the same run


def test_bad_kind_and_bad_parameters_are_clear_errors():
    with pytest.raises(ValueError, match="model kind"):
        sg.build("swin", 32)
    with pytest.raises(ParameterError, match="parameter 'model'"):
        sg.SCHEMA.resolve(scale="smoke", model="sgformer_xl")
    with pytest.raises(ParameterError, match="data_dir"):
        sg.SCHEMA.resolve(scale="full", data_dir="/nonexistent/imagenet")
    with pytest.raises(ParameterError, match="'digit_size' and 'canvas'"):
        sg.SCHEMA.resolve(scale="smoke", canvas=16, digit_size=12)
    with pytest.raises(ParameterError, match="'batch_size'"):
        sg.SCHEMA.resolve(scale="smoke", n_train=16, batch_size=64)
    with pytest.raises(ParameterError, match="'weights': eval_only"):
        sg.SCHEMA.resolve(scale="smoke", eval_only=True)
    with pytest.raises(ParameterError, match="'imagenet_batch_size' and 'gpus'"):
        sg.SCHEMA.resolve(scale="full", imagenet_batch_size=1020, gpus=8)
    p = sg.SCHEMA.resolve(scale="full")
    assert (p.imagenet_epochs, p.imagenet_warmup_epochs, p.imagenet_batch_size, p.ema) == (300, 20, 1024, 0.99992)


def make_folder(root, classes=2, per_class=4, size=40):
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for c in range(classes):
            (root / split / f"class{c}").mkdir(parents=True)
            for i in range(per_class):
                Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(
                    root / split / f"class{c}" / f"{i}.png")


def test_full_scale_worker_trains_and_evaluates_on_a_tiny_folder(tmp_path):
    from paperlib.sgformer.full import ImageNetRecipe, worker

    make_folder(tmp_path / "data")
    r = ImageNetRecipe(data_dir=str(tmp_path / "data"), model="sgformer_s", image_size=64, epochs=1, warmup_epochs=0,
                       batch_size=4, lr=1e-3, weight_decay=0.05, ema=0.9, drop_path=0.1, gpus=1, cooldown_epochs=0,
                       workers=0, save=str(tmp_path / "ckpt.pth"))
    out = worker(0, 1, torch.device("cpu"), r)
    assert out["seen"] == 8 and (out["top1_ema"] * 8).is_integer() and np.isfinite(out["final_loss"])
    again = worker(0, 1, torch.device("cpu"), replace(r, eval_only=True, weights=r.save))
    assert again["missing_keys"] == 0 and again["top1_ema"] == pytest.approx(out["top1_ema"])


def test_full_scale_worker_rejects_a_malformed_folder(tmp_path):
    from paperlib.data import DataFolderError
    from paperlib.sgformer.full import ImageNetRecipe, worker

    (tmp_path / "data" / "val").mkdir(parents=True)
    r = ImageNetRecipe(data_dir=str(tmp_path / "data"), model="sgformer_s", image_size=64, epochs=1, warmup_epochs=0,
                       batch_size=4, lr=1e-3, weight_decay=0.05, ema=0.9, drop_path=0.1, gpus=1)
    with pytest.raises(DataFolderError, match="data_dir/val"):
        worker(0, 1, torch.device("cpu"), r)


def test_the_canvases_are_standardized_with_the_training_statistics_for_every_arm():
    data = sg.canvas_data(sg.CanvasRecipe(canvas=32, digit_size=12, n_train=64, n_test=16), seed=0)
    z = data.standardized()
    assert torch.allclose(z.x_train.mean((0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(z.x_train.std((0, 2, 3)), torch.ones(3), atol=1e-5)
    mean = data.x_train.mean((0, 2, 3), keepdim=True)
    std = data.x_train.std((0, 2, 3), keepdim=True)
    assert torch.allclose(z.x_test, (data.x_test - mean) / std)  # the test split gets the train statistics
    assert torch.equal(z.y_test, data.y_test) and torch.equal(z.boxes_test, data.boxes_test)
    assert float(data.x_train.min()) >= 0.0  # the caller's raw canvases (for plotting) are untouched
