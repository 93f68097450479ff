"""The datamodel experiment: units and planted noise, parameters, the full-scale path on a small stand-in."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from paperlib.core import ParameterError, recipe
from paperlib.datamodel import (SCHEMA, DataRecipe, Matching, ModelRecipe, Replay, Schedule, counted_cost, gt_units,
                                make_problem, plant_noise, precision_at_k, retraining_agreement, run_seed,
                                seed_metrics, spearman)
from paperlib.datamodel.kernels import subsample_clusters

torch.set_num_threads(1)


def test_smoke_problem_units_noise_and_sizes():
    p = SCHEMA.resolve(scale="smoke", device="cpu")
    pr = make_problem(recipe(DataRecipe, p))
    assert pr.K == 10 * p.clusters_per_class and int(pr.sizes.sum()) == len(pr.y) == p.n_train
    assert len(pr.noisy) == p.noisy_clusters
    for u in range(pr.K):  # every unit shares one observed label; only planted units changed it
        labels = pr.y[pr.cluster == u].unique()
        assert len(labels) == 1
        clean = pr.y_clean[pr.cluster == u].unique()
        assert (labels != clean).item() == (u in pr.noisy)
    assert set(pr.noisy) <= set(gt_units(pr, 4, 0)) and len(gt_units(pr, 4, 0)) == 4
    assert gt_units(pr, 0, 0) == list(range(pr.K))


def test_plant_noise_relabels_whole_clusters_to_another_class():
    y = np.repeat(np.arange(5), 4)
    cluster = np.arange(20) // 2
    y2, noisy = plant_noise(y, cluster, y[::2], 3, 5, seed=1)
    assert len(noisy) == 3
    changed = np.flatnonzero(y2 != y)
    assert sorted(set(cluster[changed])) == sorted(noisy) and len(changed) == 6
    with pytest.raises(ValueError, match="noisy_clusters"):
        plant_noise(y, cluster, y[::2], 11, 5)


def test_subsample_clusters_draws_up_to_m_members_each():
    cluster = torch.tensor([0] * 5 + [1] * 2 + [2] * 7)
    rows = subsample_clusters(cluster, 3, torch.Generator().manual_seed(0))
    assert len(set(rows.tolist())) == len(rows)
    assert torch.bincount(cluster[rows], minlength=3).tolist() == [3, 2, 3]
    assert len(subsample_clusters(cluster, 0, torch.Generator())) == 14


def test_metrics():
    a, b, c = ({"A_gt": torch.tensor(v)} for v in ([1.0, 2, 3, 4], [1.0, 2, 4, 3], [4.0, 3, 2, 1]))
    assert retraining_agreement([a, b, c]) == pytest.approx([0.8, -0.8, -1.0])
    with pytest.raises(ValueError, match="at least 2"):
        retraining_agreement([a])
    assert counted_cost({"grads_offline": 10, "grads_replay": 20, "grads_real": 300}) == pytest.approx(0.1)
    assert precision_at_k(torch.tensor([0.0, -3.0, 1.0, -2.0]), [0, 1, 2, 3], [1, 3]) == 1.0
    assert precision_at_k(torch.tensor([0.0, -3.0, 1.0, -2.0]), [0, 1, 2, 3], [1, 2]) == 0.5
    assert spearman(torch.arange(5.0), torch.arange(5.0) ** 3) == pytest.approx(1.0)
    assert spearman(torch.zeros(3), torch.arange(3.0)) == 0.0


def test_bad_parameters_are_one_clear_line():
    with pytest.raises(ParameterError, match="arch"):
        SCHEMA.resolve(scale="cpu", arch="vgg")
    with pytest.raises(ParameterError, match="clusters_per_class"):
        SCHEMA.resolve(scale="cpu", clusters_per_class=0)
    with pytest.raises(ParameterError, match="data_dir"):
        SCHEMA.resolve(scale="cpu", data_dir="/nonexistent/folder")
    p = SCHEMA.resolve(scale="smoke", device="cpu", clusters_per_class=40)
    with pytest.raises(ValueError, match="clusters_per_class=40 is more than the"):
        make_problem(recipe(DataRecipe, p))


@pytest.mark.parametrize("given, message", [
    (dict(noisy_clusters=31), "noisy_clusters=31 is more than the 30 clusters"),
    (dict(gt_units=2), "gt_units=2 cannot hold the 3 planted noisy clusters"),
    (dict(seeds=1), "seeds must be >= 2"),
])
def test_cross_field_checks_are_one_clear_line(given, message):
    with pytest.raises(ParameterError, match=message):
        SCHEMA.resolve(scale="cpu", **given)


def test_folders_go_together(tmp_path):
    with pytest.raises(ParameterError, match="data_dir and eval_dir go together"):
        SCHEMA.resolve(scale="full", data_dir=str(tmp_path))


def _folder(root, classes, per_class, size=12, seed=0):
    rng = np.random.default_rng(seed)
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(root / c / f"{i}.png")
    return str(root)


def test_full_scale_path_on_image_folders_with_resnet18(tmp_path):
    train = _folder(tmp_path / "train", ["cat", "dog"], 4)
    test = _folder(tmp_path / "test", ["dog", "cat"][:1], 2, seed=1)
    p = SCHEMA.resolve(scale="full", device="cpu", data_dir=train, eval_dir=test, image_size=16,
                       clusters_per_class=2, noisy_clusters=1, steps=4, batch_size=4, match_every=1,
                       match_steps=1, match_samples=1, replay_steps=2, gt_units=2, seeds=2, n_test=0)
    pr = make_problem(recipe(DataRecipe, p))
    assert pr.x.shape == (8, 3, 16, 16) and pr.K == 4 and pr.y_eval.tolist() == [1, 1]
    units = gt_units(pr, p.gt_units, p.seed)
    r = run_seed(pr, recipe(ModelRecipe, p), recipe(Schedule, p), recipe(Matching, p, prefix="match_"),
                 recipe(Replay, p, prefix="replay_"), 0, units, torch.device("cpu"))
    assert r["A_ddm"].shape == r["A_gt"].shape == r["A_first_order"].shape == (2, 2)
    assert torch.isfinite(r["A_ddm"]).all() and len(r["distance"]) == 4
    assert set(seed_metrics(r, pr.noisy)) >= {"spearman_ddm", "precision_ddm", "precision_random"}
    # counted cost: 3 runs of 2 full-synset replay steps on 4 samples, less the removed ones; the real runs
    # see 4 steps of batches of 4 minus removed rows; the matching adds 1 sampled member per cluster and 2
    # gradients of the 4 synthetic samples per checkpoint
    assert r["grads_replay"] == 2 * (4 + 3 + 3)
    assert 0 < r["grads_real"] <= 3 * 4 * 4 and r["grads_offline"] == 4 * (4 + 2 * 4)
    bad = _folder(tmp_path / "bad", ["cat", "horse"], 1)
    with pytest.raises(ValueError, match=r"eval_dir: evaluation classes \['horse'\] are not among"):
        make_problem(recipe(DataRecipe, SCHEMA.resolve(scale="full", device="cpu", data_dir=train, eval_dir=bad,
                                                       image_size=16, clusters_per_class=2, noisy_clusters=1,
                                                       gt_units=0)))


def test_the_chapter_shows_the_recorded_benchmark(tmp_path, monkeypatch):
    from paperlib.core import bench
    from paperlib.datamodel.figures import recorded_benchmark

    monkeypatch.setattr(bench, "bench_dir", lambda: tmp_path)
    assert "No recorded benchmark run" in recorded_benchmark()
    record = bench.Bench("datamodel", "cpu", "cpu", tmp_path)
    record.row(N=1200, K=30, runs=31, real_one_by_one_s=20.0, real_stacked_s=15.0, synset_one_by_one_s=4.0,
               synset_stacked_s=0.5, speedup=40.0, counted_ratio=40.0)
    record.save()
    table = recorded_benchmark()
    assert "| 1200 | 31 | 20.00 | 15.00 | 4.00 | 0.500 | 40.0x | 40x |" in table
