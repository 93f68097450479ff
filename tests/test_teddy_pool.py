"""Teddy's pool of weak models, the data interfaces, the full-scale path on small folders, bad inputs."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from paperlib.core import ParameterError
from paperlib.data import DataFolderError
from paperlib.teddy import (SCHEMA, EvalRecipe, Pool, PoolRecipe, TeddyRecipe, TensorData, UnrolledRecipe,
                            build_pools, distill_teddy, distill_unrolled, evaluate_set, heldout_accuracy,
                            init_synthetic, load_real, make_model, plan_unrolled, stream)


@pytest.fixture(scope="module")
def digits8():
    torch.set_num_threads(1)
    return load_real(None, 8)


@pytest.fixture(scope="module")
def pools(digits8):
    train, val, _ = digits8
    return build_pools(lambda: make_model("convnet", 1, 10, 16), train, PoolRecipe(3, 25, 200, 0.01, (0.5,), 5),
                       seed=0, device=torch.device("cpu"), evaluate=lambda m: heldout_accuracy(m, val, torch.device("cpu")))


def test_pool_holds_distinct_weak_models(pools):
    weak, strong, fresh = pools["weak"], pools["strong"], pools["fresh"]
    assert weak.labels == ["ckpt@25", "ckpt@50", "ckpt@75", "prune50%"]
    base_acc, chance = strong.accuracy[0], max(fresh.accuracy)
    assert base_acc > 0.75
    for label, acc in zip(weak.labels, weak.accuracy):
        assert chance < acc < base_acc, f"{label}: accuracy {acc:.3f} not between random {chance:.3f} and base {base_acc:.3f}"
    flat = [torch.cat([v.flatten() for v in t.values()]) for t in weak.thetas]
    for i in range(len(flat)):
        for j in range(i):
            assert not torch.allclose(flat[i], flat[j]), f"pool models {i} and {j} are the same"
    assert len(fresh) == 3 and len(strong) == 1


def test_pool_draw_is_seeded(pools):
    a = [pools["weak"].draw(torch.Generator().manual_seed(5))["head.bias"] for _ in range(2)]
    torch.testing.assert_close(a[0], a[1])


def test_distillation_loops_run_and_keep_pixels_in_range(digits8, pools):
    train, _, test = digits8
    make = lambda: make_model("convnet", 1, 10, 16)
    gen = torch.Generator().manual_seed(0)
    x0, y0 = init_synthetic(train, 1, gen)
    assert x0.shape == (10, 1, 8, 8) and y0.tolist() == list(range(10))
    d = distill_teddy(make(), pools["weak"], train, x0, y0, TeddyRecipe(3, 0.05, 8), gen)
    assert d.steps == 3 and len(d.losses) == 3 and not torch.equal(d.x, x0)
    assert d.x.min() >= 0 and d.x.max() <= 1
    again = distill_teddy(make(), pools["weak"], train, x0, y0, TeddyRecipe(3, 0.05, 8), torch.Generator().manual_seed(0))
    assert not torch.equal(again.x, d.x)  # another stream, other pool draws and batches
    recipe = UnrolledRecipe(k=2, inner_lr=0.1, lr=0.05, batch_size=32)
    u = distill_unrolled(make, train, x0, y0, recipe, 2, stream(0, 2))
    assert u.steps == 2 and not torch.equal(u.x, x0) and u.x.min() >= 0 and u.x.max() <= 1
    torch.testing.assert_close(distill_unrolled(make, train, x0, y0, recipe, 2, stream(0, 2)).x, u.x)  # seeded
    cpu = torch.device("cpu")
    evaluation = EvalRecipe(models=1, steps=60, lr=0.01)
    accs = [evaluate_set(make, x, d.y, test, evaluation, 0, cpu) for x in (x0, torch.full_like(x0, 0.5))]
    assert evaluate_set(make, x0, d.y, test, evaluation, 0, cpu) == accs[0]  # the same networks for every set
    assert accs[0] > 0.3 and accs[1] < 0.2  # real digits teach something, a grey set nothing


def test_unrolled_plan_gets_teddys_flops_and_picks_rates_on_validation(digits8, pools):
    train, val, _ = digits8
    make = lambda: make_model("convnet", 1, 10, 16)
    teddy = TeddyRecipe(steps=6, lr=0.01, batch_size=8)
    base = UnrolledRecipe(k=2, inner_lr=1.0, lr=0.01, batch_size=32)
    cpu = torch.device("cpu")
    plan = plan_unrolled(make, train, val, pools["weak"], 1, teddy, base, [0.01], [1.0], EvalRecipe(1, 5, 0.01), 0, cpu)
    assert plan.steps == max(1, 6 * plan.teddy_flops // plan.unrolled_flops) and plan.grid == []
    assert plan.teddy_flops > 0 and plan.unrolled_flops > 0
    tuned = plan_unrolled(make, train, val, pools["weak"], 1, teddy, base, [0.001, 0.3], [1.0], EvalRecipe(1, 20, 0.01),
                          0, cpu)
    assert [(lr, inner) for lr, inner, _ in tuned.grid] == [(0.001, 1.0), (0.3, 1.0)]
    best = max(tuned.grid, key=lambda row: row[2])
    assert (tuned.recipe.lr, tuned.recipe.inner_lr) == best[:2] and tuned.start is not None


def test_ipc_larger_than_a_class_is_a_clear_error():
    x = torch.rand(7, 1, 8, 8)
    y = torch.tensor([0, 0, 0, 0, 1, 1, 1])
    with pytest.raises(ValueError, match="ipc: 4 images per class asked for, but class 1 has only 3"):
        init_synthetic(TensorData(x, y), 4, torch.Generator())
    with pytest.raises(ValueError, match="ipc: expected an integer >= 1"):
        init_synthetic(TensorData(x, y), 0, torch.Generator())


def test_pool_size_zero_is_a_clear_error(digits8):
    with pytest.raises(ValueError, match="pool size 0"):
        Pool([], [])
    with pytest.raises(ValueError, match="pool_size: expected an integer >= 1, got 0"):
        PoolRecipe(size=0, every=1, base_steps=1, base_lr=0.01)
    with pytest.raises(ParameterError, match="'pool_size'"):
        SCHEMA.resolve("smoke", pool_size=0)


def make_folder(root, classes, n=3, size=12):
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for c in classes:
            (root / split / c).mkdir(parents=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(root / split / c / f"{i}.png")
    return root


def test_folder_with_one_class_is_a_clear_error(tmp_path):
    make_folder(tmp_path, ["only"])
    with pytest.raises(DataFolderError, match="at least 2 classes"):
        load_real(str(tmp_path), 8)


def test_full_scale_path_on_a_small_folder(tmp_path):
    """ImageFolder data with a held-out validation share, timm ResNet-18, a pool, the batch-norm-statistics
    objective over synthetic batches, the guarded unrolled baseline, soft-label evaluation."""
    torch.manual_seed(0)
    make_folder(tmp_path, ["cat", "dog"], n=4)
    train, val, test = load_real(str(tmp_path), 16)
    assert train.num_classes == 2 and train.shape == (3, 16, 16)
    assert [train.count(c) for c in range(2)] == [3, 3] and [val.count(c) for c in range(2)] == [1, 1]
    assert not set(train.rows.tolist()) & set(val.rows.tolist())  # validation is held out of train/
    make = lambda: make_model("resnet18", 3, 2)
    pools = build_pools(make, train, PoolRecipe(1, 1, 2, 1e-3, (0.5,), 1, base_batch_size=2), seed=0,
                        device=torch.device("cpu"))
    assert pools["weak"].buffers[0]  # ResNet BN statistics travel with each pool model
    gen = torch.Generator().manual_seed(0)
    x0, y0 = init_synthetic(train, 3, gen)
    bn = TeddyRecipe(steps=2, lr=0.1, batch_size=2, objective="bn_statistics", jitter=2, syn_batch=4)
    d = distill_teddy(make(), pools["weak"], train, x0, y0, bn, gen)
    assert d.x.shape == (6, 3, 16, 16) and len(d.losses) == 4  # two synthetic batches (4 + 2 images), 2 steps each
    assert not torch.equal(d.x, x0) and d.x.min() >= 0 and d.x.max() <= 1
    d = distill_teddy(make(), pools["weak"], train, x0, y0, TeddyRecipe(steps=1, lr=0.1, batch_size=2), gen)
    u = distill_unrolled(make, train, x0, y0, UnrolledRecipe(k=2, inner_lr=0.01, lr=0.1, batch_size=2, syn_batch=2),
                         1, gen)
    assert u.x.shape == x0.shape
    teacher = make().eval()
    teacher.load_state_dict({**pools["strong"].thetas[0], **pools["strong"].buffers[0]})
    acc = evaluate_set(make, d.x, d.y, test, EvalRecipe(models=1, steps=1, lr=1e-3), 0, torch.device("cpu"), teacher)
    assert round(8 * acc, 9).is_integer()  # scored on val/'s 8 test images (4 per class)
    with pytest.raises(ValueError, match="ipc: 4 images per class asked for, but class 0 has only 3"):
        init_synthetic(train, 4, gen)


def test_schema_presets_resolve():
    for scale in ("smoke", "cpu", "full"):
        p = SCHEMA.resolve(scale)
        assert p.seeds >= 2 and p.ablation_ipc in p.ipcs
    with pytest.raises(ParameterError, match="'arch'"):
        SCHEMA.resolve("smoke", arch="vgg")


@pytest.mark.parametrize("given, message", [
    (dict(ablation_ipc=5), r"ablation_ipc=5 must be one of ipcs=\[1, 10\]"),
    (dict(pool_size=20), "pool_size=20 checkpoints every pool_every=20 steps need base_steps >= 400"),
    (dict(prune_ratios=[0.5, 1.0]), r"prune_ratios: expected numbers in \[0, 1\)"),
    (dict(distill_objective="bn_statistics"), "needs a network with batch norm"),
    (dict(ipcs=[1, 0]), "ipcs: expected a non-empty list of integers >= 1"),
    (dict(unrolled_lrs=[]), "unrolled_lrs: expected a non-empty list of numbers > 0"),
    (dict(image_size=10), "image_size=10: the ConvNet needs a multiple of 4"),
])
def test_cross_field_checks_are_one_clear_line(given, message):
    with pytest.raises(ParameterError, match=message):
        SCHEMA.resolve("cpu", **given)
