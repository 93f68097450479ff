"""Distilled datamodel kernels against float64 references and the properties the issue names."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from paperlib.datamodel import (MLP, FirstOrder, Matching, Schedule, cluster_mean_grads, cluster_per_class,
                                cluster_sizes, leave_one_out, leave_one_out_weights, loss_objective,
                                matching_distance, per_sample_grads, reverse_gradient_matching, sample_gradients,
                                stacked_descent, weighted_descent)

torch.set_num_threads(1)


def tiny(seed: int = 0, n: int = 12, d: int = 5, classes: int = 3, hidden: int = 4):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 1, d, generator=g, dtype=torch.float64)
    y = torch.arange(n) % classes
    torch.manual_seed(seed)
    model = MLP(d, hidden, classes).double()
    theta0 = {k: v.detach() for k, v in model.named_parameters()}
    return model, theta0, x, y


def ref_grad(model, theta, x, y):
    """Plain autograd on the mean loss of ``(x, y)``: the float64 reference."""
    params = {k: v.clone().requires_grad_(True) for k, v in theta.items()}
    loss = F.cross_entropy(torch.func.functional_call(model, params, (x,)), y)
    return dict(zip(params, torch.autograd.grad(loss, list(params.values()))))


def test_per_sample_and_cluster_mean_grads_match_loop_reference():
    model, theta, x, y = tiny()
    cluster = torch.tensor([0, 1, 2, 0, 1, 2, 3, 3, 3, 0, 1, 2])
    got = cluster_mean_grads(model, theta, x, y, cluster, 4, chunk=5)
    for k in range(4):
        want = ref_grad(model, theta, x[cluster == k], y[cluster == k])
        for name in theta:
            torch.testing.assert_close(got[name][k], want[name], rtol=1e-10, atol=1e-12)
    per = per_sample_grads(model, theta, x, y, chunk=5)
    for i in (0, 7):
        want = ref_grad(model, theta, x[i:i + 1], y[i:i + 1])
        for name in theta:
            torch.testing.assert_close(per[name][i], want[name], rtol=1e-10, atol=1e-12)


def test_matching_distance_matches_loop_reference():
    g = torch.Generator().manual_seed(1)
    a = {"w": torch.randn(3, 4, 2, generator=g, dtype=torch.float64), "b": torch.randn(3, 4, generator=g,
                                                                                          dtype=torch.float64)}
    b = {k: torch.randn(v.shape, generator=g, dtype=torch.float64) for k, v in a.items()}
    got = matching_distance(a, b, l2_weight=0.7)
    for k in range(3):
        want = 0.0
        for name in a:
            u, v = a[name][k].flatten().tolist(), b[name][k].flatten().tolist()
            dot = sum(p * q for p, q in zip(u, v))
            nu, nv = sum(p * p for p in u) ** 0.5, sum(q * q for q in v) ** 0.5
            want += 1 - dot / (nu * nv) + 0.7 * sum((p - q) ** 2 for p, q in zip(u, v)) / nv ** 2
        assert got[k].item() == pytest.approx(want, rel=1e-12)
    assert matching_distance(b, b, 1.0).abs().max() < 1e-12


def test_weighted_descent_equals_torch_sgd_full_batch():
    model, theta0, x, y = tiny(2)
    schedule = Schedule(steps=7, lr=0.3, momentum=0.8, weight_decay=0.01)
    got = weighted_descent(model, theta0, x, y, torch.ones(len(y), dtype=x.dtype), schedule)
    ref = MLP(5, 4, 3).double()
    ref.load_state_dict(theta0)
    opt = torch.optim.SGD(ref.parameters(), lr=0.3, momentum=0.8, weight_decay=0.01)
    for _ in range(7):
        opt.zero_grad()
        F.cross_entropy(ref(x), y).backward()
        opt.step()
    for name, p in ref.named_parameters():
        torch.testing.assert_close(got[name], p.detach(), rtol=1e-10, atol=1e-12)


def test_singleton_clusters_match_exactly_and_replay_equals_real_training():
    """One real sample per cluster, synset initialised at them: zero matching loss, exact replay and LOO."""
    model, theta0, x, y = tiny(3, n=9)
    cluster = torch.arange(len(y))
    schedule = Schedule(steps=12, lr=0.5, momentum=0.5)
    s = x.clone().requires_grad_(True)  # at the singleton init the matching loss is zero and stationary
    d = matching_distance(per_sample_grads(model, theta0, s, y), cluster_mean_grads(model, theta0, x, y, cluster, 9),
                          l2_weight=1.0)
    assert d.abs().max() < 1e-12
    assert torch.autograd.grad(d.sum(), s)[0].abs().max() < 1e-12
    distilled = reverse_gradient_matching(model, theta0, x, y, cluster, x.clone(), y.clone(), schedule,
                                          Matching(every=3, steps=0, l2_weight=1.0))
    assert len(distilled.distance) == 4 and max(abs(v) for v in distilled.distance) < 1e-12
    torch.testing.assert_close(distilled.s, x, rtol=0, atol=1e-9)
    assert int(distilled.sizes.sum()) == len(y)
    objective = loss_objective(model, x, y, 3)
    units = list(range(len(y)))
    full_syn, a_syn = leave_one_out(model, theta0, distilled.s, distilled.y, distilled.sizes.to(x.dtype),
                                    torch.arange(len(y)), units, schedule.full_batch(), objective)
    full_real, a_real = leave_one_out(model, theta0, x, y, torch.ones(len(y), dtype=x.dtype), cluster, units,
                                      schedule, objective)
    torch.testing.assert_close(full_syn, objective(distilled.params), rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(full_syn, full_real, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(a_syn, a_real, rtol=1e-8, atol=1e-12)
    assert a_real.abs().max() > 1e-4  # the check is not vacuous: removals do change the model


@settings(max_examples=10, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=3, max_size=5), st.integers(0, 100))
def test_duplicated_clusters_replay_with_size_weights_equals_real(copies, seed):
    """Clusters of identical copies: a synset of one copy each, weighted by n_k, replays real training."""
    model, theta0, x0, y0 = tiny(seed, n=len(copies))
    counts = torch.tensor(copies)
    cluster = torch.repeat_interleave(torch.arange(len(copies)), counts)
    x, y = x0[cluster], y0[cluster]
    sizes = cluster_sizes(cluster, len(copies))
    assert int(sizes.sum()) == len(y) and sizes.tolist() == copies
    schedule = Schedule(steps=5, lr=0.4)
    objective = loss_objective(model, x0, y0, 3)
    units = list(range(len(copies)))
    _, a_syn = leave_one_out(model, theta0, x0, y0, sizes.to(x.dtype), torch.arange(len(copies)), units,
                             schedule, objective)
    _, a_real = leave_one_out(model, theta0, x, y, torch.ones(len(y), dtype=x.dtype), cluster, units,
                              schedule, objective)
    torch.testing.assert_close(a_syn, a_real, rtol=1e-8, atol=1e-12)


def test_first_order_approximates_leave_one_out_for_small_steps():
    model, theta0, x, y = tiny(4, n=12)
    cluster = torch.arange(12) // 3
    sizes = cluster_sizes(cluster, 4)
    schedule = Schedule(steps=4, lr=0.02)
    fo = FirstOrder(model, x, y, sizes)
    reverse_gradient_matching(model, theta0, x, y, cluster, x[::3].clone(), y[::3].clone(), schedule,
                              Matching(every=1, steps=0), first_order=fo)
    _, a_real = leave_one_out(model, theta0, x, y, torch.ones(12, dtype=x.dtype), cluster, range(4), schedule,
                              loss_objective(model, x, y, 3))
    assert torch.linalg.norm(fo.scores - a_real) < 0.05 * torch.linalg.norm(a_real)


def test_minibatch_order_is_shared_and_leave_one_out_masks_only_the_unit():
    schedule = Schedule(steps=7, lr=0.1, batch_size=4, order_seed=3)
    order = schedule.batch_order(10)
    assert len(order) == 7 and all(len(b) == 4 for b in order)
    assert sorted(torch.cat(order[:2]).tolist()) == sorted(set(torch.cat(order[:2]).tolist()))
    assert [b.tolist() for b in order] == [b.tolist() for b in schedule.batch_order(10)]
    assert schedule.full_batch().batch_order(10) is None
    model, theta0, x, y = tiny(5, n=10)
    w = torch.ones(10, dtype=x.dtype)
    w[:3] = 0  # a removed unit: the result must not depend on the removed rows' content
    x2 = x.clone()
    x2[:3] = 0.5
    a = weighted_descent(model, theta0, x, y, w, schedule)
    b = weighted_descent(model, theta0, x2, y, w, schedule)
    for name in a:
        torch.testing.assert_close(a[name], b[name])


@pytest.mark.parametrize("batch_size, momentum", [(0, 0.0), (4, 0.7)])
def test_stacked_replays_equal_one_by_one(batch_size, momentum):
    """Every leave-one-out run in one stacked computation gives the numbers of retraining one after another,
    with minibatches (a batch may lose all its rows), momentum, weight decay and a cosine decay."""
    model, theta0, x, y = tiny(6, n=10)
    cluster = torch.tensor([0, 0, 1, 1, 1, 2, 3, 3, 4, 4])
    weights = torch.rand(10, dtype=x.dtype, generator=torch.Generator().manual_seed(1)) + 0.5
    schedule = Schedule(steps=9, lr=0.4, momentum=momentum, weight_decay=0.01, decay="cosine",
                        batch_size=batch_size, order_seed=2)
    objective = loss_objective(model, x, y, 3)
    one_by_one = leave_one_out(model, theta0, x, y, weights, cluster, range(5), schedule, objective, stack=1)
    for stack in (0, 2):
        stacked = leave_one_out(model, theta0, x, y, weights, cluster, range(5), schedule, objective, stack=stack)
        torch.testing.assert_close(stacked[0], one_by_one[0], rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(stacked[1], one_by_one[1], rtol=1e-9, atol=1e-12)
    assert one_by_one[1].abs().max() > 1e-3
    runs = leave_one_out_weights(weights, cluster, [1, 3])
    thetas = stacked_descent(model, theta0, x, y, runs, schedule)
    for r in range(3):
        want = weighted_descent(model, theta0, x, y, runs[r], schedule)
        for name in want:
            torch.testing.assert_close(thetas[name][r], want[name], rtol=1e-10, atol=1e-12)


def test_mlp_stacked_forward_equals_vmap_and_any_model_stacks():
    model, theta0, x, y = tiny(7, n=6)
    stacked = {k: torch.stack([v, 2 * v, -v]) for k, v in theta0.items()}
    want = torch.func.vmap(lambda p, xb: torch.func.functional_call(model, p, (xb,)), in_dims=(0, None))(stacked, x)
    torch.testing.assert_close(MLP.stacked(stacked, x), want, rtol=1e-12, atol=1e-12)
    torch.manual_seed(0)  # a model without a stacked forward goes through vmap
    plain = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(5, 3)).double()
    theta = {k: v.detach() for k, v in plain.named_parameters()}
    runs = torch.tensor([[1.0] * 6, [0.0, 1, 1, 1, 1, 1], [2.0, 0, 1, 1, 0, 1]], dtype=x.dtype)
    schedule = Schedule(steps=5, lr=0.3, momentum=0.5)
    got = stacked_descent(plain, theta, x, y, runs, schedule)
    for r in range(3):
        for name, want_r in weighted_descent(plain, theta, x, y, runs[r], schedule).items():
            torch.testing.assert_close(got[name][r], want_r, rtol=1e-10, atol=1e-12)


def test_sample_gradients_count_the_kept_rows_of_every_batch():
    weights = torch.tensor([1.0, 0.0, 2.0, 1.0, 1.0])
    assert sample_gradients(weights, Schedule(steps=3, lr=0.1)) == 12
    assert sample_gradients(torch.stack([weights, torch.ones(5)]), Schedule(steps=3, lr=0.1)) == 27
    schedule = Schedule(steps=4, lr=0.1, batch_size=2, order_seed=0)
    want = sum(int((weights[b] > 0).sum()) for b in schedule.batch_order(5))
    assert sample_gradients(weights, schedule) == want and want < 8


def test_compressed_schedule_keeps_the_sum_of_rates():
    constant = Schedule(steps=100, lr=0.05, momentum=0.9)
    assert sum(constant.compressed(10).lr_at(t) for t in range(10)) == pytest.approx(5.0, rel=1e-12)
    schedule = Schedule(steps=100, lr=0.05, momentum=0.9, decay="cosine")
    short = schedule.compressed(10)
    assert short.steps == 10 and short.momentum == 0.9 and short.lr_at(9) < short.lr_at(0) / 10
    total = sum(schedule.lr_at(t) for t in range(100))  # equal up to the sum's discretisation: one step's rate
    assert abs(sum(short.lr_at(t) for t in range(10)) - total) < short.lr_at(0) / 2
    assert schedule.compressed(0) == schedule and schedule.compressed(100) == schedule
    with pytest.raises(ValueError, match="replay_steps"):
        schedule.compressed(-1)


def test_cluster_per_class_units_sum_to_n_and_medoids_are_members():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), [7, 5, 9])
    feats = rng.normal(size=(len(y), 4))
    cluster, medoid = cluster_per_class(feats, y, 2, 3)
    assert np.bincount(cluster, minlength=6).sum() == len(y)
    assert (np.bincount(cluster, minlength=6) > 0).all()
    assert (cluster[medoid] == np.arange(6)).all()
    assert (y[medoid] == np.repeat(np.arange(3), 2)).all()


def test_bad_inputs_are_clear_errors():
    y = np.array([0, 0, 0, 1, 1])
    with pytest.raises(ValueError, match="clusters_per_class=3 is more than the 2 training samples of class 1"):
        cluster_per_class(np.zeros((5, 2)), y, 3, 2)
    model, _, x, _ = tiny()
    with pytest.raises(ValueError, match=r"evaluation set: labels \[7\] are not among the model's 3 classes"):
        loss_objective(model, x[:2], torch.tensor([0, 7]), 3)
    with pytest.raises(ValueError, match="cluster ids must lie in"):
        cluster_sizes(torch.tensor([0, 5]), 3)
    with pytest.raises(ValueError, match="schedule"):
        Schedule(steps=0, lr=0.1)
    with pytest.raises(ValueError, match="weights"):
        weighted_descent(model, dict(model.named_parameters()), x, torch.zeros(len(x), dtype=torch.long),
                         -torch.ones(len(x)), Schedule(steps=1, lr=0.1))
