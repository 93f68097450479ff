"""Teddy's pool of weak models, the data interfaces, the full-scale path on small folders, bad inputs."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from paperlib.core import ParameterError
from paperlib.data import DataFolderError
from paperlib.teddy import (SCHEMA, Pool, TensorData, build_pools, distill_teddy, distill_unrolled, evaluate_set,
                            init_synthetic, load_real, make_model, heldout_accuracy)


@pytest.fixture(scope="module")
def digits8():
    torch.set_num_threads(1)
    return load_real(None, 8)


@pytest.fixture(scope="module")
def pools(digits8):
    train, val, _ = digits8
    return build_pools(lambda: make_model("convnet", 1, 10, 16), train.loader(64, 0), pool_size=3, prior_every=25,
                       base_steps=200, prune_ratios=[0.5], finetune_steps=5, lr=0.01, seed=0,
                       device=torch.device("cpu"), evaluate=lambda m: heldout_accuracy(m, val, torch.device("cpu")))


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
    d = distill_teddy(make(), pools["weak"], train, x0, y0, steps=3, lr=0.05, real_batch=8, gen=gen)
    assert d.steps == 3 and len(d.losses) == 3 and not torch.equal(d.x, x0)
    assert d.x.min() >= 0 and d.x.max() <= 1
    u = distill_unrolled(make, train, x0, y0, steps=50, K=2, inner_lr=0.1, lr=0.05, real_batch=32, gen=gen,
                         seconds=0.0)
    assert u.steps == 0 and torch.equal(u.x, x0)  # a zero time budget takes no step
    u = distill_unrolled(make, train, x0, y0, steps=2, K=2, inner_lr=0.1, lr=0.05, real_batch=32, gen=gen)
    assert u.steps == 2 and not torch.equal(u.x, x0)
    acc = evaluate_set(make, d.x, d.y, test, n_models=1, steps=5, lr=0.01, shift=1, seed=0, device=torch.device("cpu"))
    assert 0.0 <= acc <= 1.0


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
        build_pools(lambda: make_model("convnet", 1, 10, 4), digits8[0].loader(64, 0), pool_size=0, prior_every=1,
                    base_steps=1, prune_ratios=[], finetune_steps=0, lr=0.01, seed=0, device=torch.device("cpu"))
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
    """ImageFolder data, timm ResNet-18, a pool, one Teddy iteration, soft-label evaluation."""
    torch.manual_seed(0)
    make_folder(tmp_path, ["cat", "dog"])
    train, _, test = load_real(str(tmp_path), 16)
    assert train.num_classes == 2 and train.shape == (3, 16, 16)
    make = lambda: make_model("resnet18", 3, 2)
    pools = build_pools(make, train.loader(2, 0), pool_size=1, prior_every=1, base_steps=2, prune_ratios=[0.5],
                        finetune_steps=1, lr=1e-3, seed=0, device=torch.device("cpu"))
    assert pools["weak"].buffers[0]  # ResNet BN statistics travel with each pool model
    gen = torch.Generator().manual_seed(0)
    x0, y0 = init_synthetic(train, 2, gen)
    d = distill_teddy(make(), pools["weak"], train, x0, y0, steps=1, lr=0.1, real_batch=2, gen=gen)
    assert d.x.shape == (4, 3, 16, 16)
    teacher = make().eval()
    teacher.load_state_dict({**pools["strong"].thetas[0], **pools["strong"].buffers[0]})
    acc = evaluate_set(make, d.x, d.y, test, n_models=1, steps=1, lr=1e-3, shift=1, seed=0,
                       device=torch.device("cpu"), teacher=teacher)
    assert 0.0 <= acc <= 1.0
    with pytest.raises(ValueError, match="ipc: 4 images per class asked for, but class 0 has only 3"):
        init_synthetic(train, 4, gen)


def test_schema_presets_resolve():
    for scale in ("smoke", "cpu", "full"):
        p = SCHEMA.resolve(scale)
        assert p.seeds >= 2 and p.ablation_ipc >= 1
    with pytest.raises(ParameterError, match="'arch'"):
        SCHEMA.resolve("smoke", arch="vgg")
