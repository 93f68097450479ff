"""Teddy's kernels against float64 references: Taylor vs unrolled, exact saved bytes, distances."""
from __future__ import annotations

import math

import pytest
import torch
from torch.nn.functional import cross_entropy as F_cross_entropy
from hypothesis import given, settings
from hypothesis import strategies as st

from paperlib.core.cost import FlopCount, SavedBytes, flops_of
from paperlib.teddy import (MAX_GRAPH_IMAGES, ConvNet, bn_statistics_loss, classifier_loss,
                            cosine_distance, dot_distance, gradient_match, jittered, prune_channels,
                            taylor_grad, taylor_objective, teddy_grad, trajectory, unrolled_grad, unrolled_objective,
                            weights_of)
from paperlib.teddy.kernels import channel_cosine_distance

D64 = torch.float64


def quadratic_problem(seed: int = 0, d: int = 5, n_syn: int = 8, n_real: int = 40):
    """Linear regression: L_X(theta) = mean((x w + b - y)^2) / 2, a quadratic in theta."""
    g = torch.Generator().manual_seed(seed)

    def loss(theta, x, y):
        return 0.5 * ((x @ theta["w"] + theta["b"] - y) ** 2).mean()

    x_syn = torch.randn(n_syn, d, generator=g, dtype=D64)
    y_syn = torch.randn(n_syn, generator=g, dtype=D64)
    x_real = torch.randn(n_real, d, generator=g, dtype=D64)
    y_real = x_real @ torch.randn(d, generator=g, dtype=D64) + 0.1 * torch.randn(n_real, generator=g, dtype=D64)
    theta0 = {"w": torch.randn(d, generator=g, dtype=D64), "b": torch.zeros((), dtype=D64)}
    return loss, theta0, x_syn, y_syn, x_real, y_real


def reference_unrolled(x_syn, y_syn, x_real, y_real, w0, b0, K, alpha):
    """Plain loop: the closed-form gradient step of linear regression, differentiated by autograd."""
    x = x_syn.clone().requires_grad_(True)
    w, b = w0.clone(), b0.clone()
    for _ in range(K):
        r = x @ w + b - y_syn
        w, b = w - alpha * (x.T @ r) / len(r), b - alpha * r.mean()
    obj = 0.5 * ((x_real @ w + b - y_real) ** 2).mean()
    return obj, torch.autograd.grad(obj, x)[0]


@pytest.mark.parametrize("K", [1, 3, 6])
def test_unrolled_matches_closed_form_loop(K):
    loss, theta0, xs, ys, xr, yr = quadratic_problem()
    obj, grad = unrolled_grad(loss, theta0, xs, ys, xr, yr, K, 0.05)
    ref_obj, ref_grad = reference_unrolled(xs, ys, xr, yr, theta0["w"], theta0["b"], K, 0.05)
    torch.testing.assert_close(obj, ref_obj.detach(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("K", [1, 4, 8])
def test_taylor_gradient_matches_unrolled_to_second_order(K):
    """|grad Taylor - grad unrolled| = O(alpha^2): halving alpha divides the error by about 4."""
    loss, theta0, xs, ys, xr, yr = quadratic_problem(seed=K)
    errors = []
    for alpha in (0.02, 0.01):
        _, g_unrolled = unrolled_grad(loss, theta0, xs, ys, xr, yr, K, alpha)
        g_taylor = taylor_grad(loss, theta0, xs, ys, xr, yr, K, alpha)
        errors.append((g_unrolled - g_taylor).norm().item())
        # the gradient itself is O(alpha): the approximation is good to first order
        assert errors[-1] < 0.2 * g_unrolled.norm().item()
    ratio = errors[0] / errors[1]
    assert 3.4 < ratio < 4.6, f"error ratio {ratio:.3f} for alpha halved, expected about 4"


def test_taylor_grad_equals_gradient_of_taylor_objective():
    loss, theta0, xs, ys, xr, yr = quadratic_problem(seed=3)
    K, alpha = 5, 0.03
    thetas = list(trajectory(loss, theta0, xs, ys, K, alpha))
    x = xs.clone().requires_grad_(True)
    obj = taylor_objective(loss, thetas, x, ys, xr, yr, alpha)
    ref = torch.autograd.grad(obj, x)[0]
    torch.testing.assert_close(taylor_grad(loss, theta0, xs, ys, xr, yr, K, alpha), ref, rtol=1e-12, atol=1e-14)
    # and its value is the first-order expansion: L_T(theta_0) - alpha * sum <g_T, g_S>
    manual = loss(theta0, xr, yr)
    for t in thetas:
        t = {k: v.clone().requires_grad_(True) for k, v in t.items()}
        g_t = torch.autograd.grad(loss(t, xr, yr), list(t.values()))
        g_s = torch.autograd.grad(loss(t, xs, ys), list(t.values()))
        manual = manual - alpha * sum((a * b).sum() for a, b in zip(g_t, g_s))
    torch.testing.assert_close(obj.detach(), manual.detach(), rtol=1e-12, atol=1e-14)


def test_trajectory_is_sgd_on_the_synthetic_set():
    loss, theta0, xs, ys, xr, yr = quadratic_problem()
    points = list(trajectory(loss, theta0, xs, ys, 3, 0.1))
    assert len(points) == 3
    r = xs @ theta0["w"] + theta0["b"] - ys
    torch.testing.assert_close(points[1]["w"], theta0["w"] - 0.1 * xs.T @ r / len(r))


def small_convnet_problem(ipc: int = 2, size: int = 8):
    torch.manual_seed(0)
    model = ConvNet(1, 4, 3)
    loss = classifier_loss(model)
    theta = weights_of(model)
    x = torch.rand(3 * ipc, 1, size, size)
    y = torch.arange(3).repeat_interleave(ipc)
    xr, yr = torch.rand(12, 1, size, size), torch.arange(3).repeat(4)
    return model, loss, theta, x, y, xr, yr


def test_saved_bytes_unrolled_grow_linearly_taylor_flat():
    """Exact bytes held for backward: unrolled a + b K with b > 0, the Taylor form's independent of K."""
    _, loss, theta, x, y, xr, yr = small_convnet_problem()
    unrolled, taylor = [], []
    for K in (1, 2, 3, 4, 8):
        with SavedBytes() as u:
            unrolled_grad(loss, theta, x, y, xr, yr, K, 0.1)
        with SavedBytes() as t:
            taylor_grad(loss, theta, x, y, xr, yr, K, 0.1)
        unrolled.append(u.peak)
        taylor.append(t.peak)
        assert u.current == 0 and t.current == 0  # every graph was freed
    steps = [b - a for a, b in zip(unrolled[:4], unrolled[1:4])]
    assert steps[0] > 0 and len(set(steps)) == 1, f"unrolled bytes not linear in K: {unrolled}"
    assert unrolled[4] == unrolled[0] + 7 * steps[0]
    assert len(set(taylor)) == 1, f"Taylor bytes depend on K: {taylor}"


def test_saved_bytes_counts_exactly():
    a = torch.randn(100, dtype=torch.float32, requires_grad=True)
    b = torch.randn(100, dtype=torch.float32, requires_grad=True)
    with SavedBytes() as s:
        out = (a * b).sum()  # mul saves a and b: 2 * 400 bytes
        assert s.current == 800
        out.backward()
        del out
    assert s.peak == 800 and s.total == 800 and s.current == 0


def test_teddy_grad_equals_gradient_of_classwise_sum():
    model, loss, theta, x, y, xr, yr = small_convnet_problem()
    real = {c: xr[yr == c] for c in range(3)}
    for dist in (dot_distance, cosine_distance, channel_cosine_distance):
        value, grad = teddy_grad(loss, theta, x, y, real, dist)
        xs = x.clone().requires_grad_(True)
        total = 0.0
        for c in range(3):
            m = y == c
            total = total + gradient_match(loss, theta, xs[m], y[m], real[c], torch.full((4,), c), dist)
        ref = torch.autograd.grad(total, xs)[0]
        torch.testing.assert_close(grad, ref, rtol=1e-5, atol=1e-8)
        assert math.isclose(value, float(total.detach()), rel_tol=1e-5)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.1, 10.0))
def test_cosine_distances_are_scale_free_and_bounded(seed, scale):
    g = torch.Generator().manual_seed(seed)
    a = [torch.randn(4, 3, generator=g, dtype=D64), torch.randn(4, generator=g, dtype=D64)]
    b = [torch.randn(4, 3, generator=g, dtype=D64), torch.randn(4, generator=g, dtype=D64)]
    for dist, n_terms in ((cosine_distance, 2), (channel_cosine_distance, 4)):
        d = dist(a, b)
        assert 0 <= d <= 2 * n_terms
        torch.testing.assert_close(dist(a, [scale * t for t in b]), d)
        assert dist(a, a) == pytest.approx(0.0, abs=1e-6)
    torch.testing.assert_close(dot_distance(a, b), -sum((x * y).sum() for x, y in zip(a, b)))


def test_prune_channels_zeroes_the_smallest_filters():
    torch.manual_seed(0)
    model = ConvNet(1, 10, 3)
    norms = model.conv1.weight.abs().flatten(1).sum(1)
    masks = prune_channels(model, 0.3)
    zeroed = (model.conv1.weight.flatten(1).abs().sum(1) == 0)
    assert zeroed.sum() == 3 and set(torch.nonzero(zeroed).flatten().tolist()) == set(norms.argsort()[:3].tolist())
    assert (model.conv2.weight.flatten(1).abs().sum(1) == 0).sum() == 6
    assert set(masks) == {"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias"}
    with pytest.raises(ValueError, match="prune ratio"):
        prune_channels(model, 1.0)


def test_unrolled_synthetic_batch_and_the_whole_set_guard():
    loss, theta0, xs, ys, xr, yr = quadratic_problem(n_syn=8)
    gen = torch.Generator().manual_seed(0)
    _, grad = unrolled_grad(loss, theta0, xs, ys, xr, yr, 1, 0.05, syn_batch=3, gen=gen)
    assert (grad.abs().sum(1) > 0).sum() == 3  # one inner step on 3 images: only they get a gradient
    again = unrolled_grad(loss, theta0, xs, ys, xr, yr, 1, 0.05, syn_batch=3, gen=torch.Generator().manual_seed(0))[1]
    torch.testing.assert_close(again, grad)
    torch.testing.assert_close(unrolled_grad(loss, theta0, xs, ys, xr, yr, 2, 0.05, syn_batch=8)[1],
                               unrolled_grad(loss, theta0, xs, ys, xr, yr, 2, 0.05)[1])  # a full batch is all of S
    big = torch.zeros(MAX_GRAPH_IMAGES // 4 + 1, 5, dtype=D64)
    with pytest.raises(ValueError, match="unrolled_syn_batch: the unrolled baseline would hold all 1025 synthetic "
                                         "images x K=4 steps in one graph"):
        unrolled_objective(loss, theta0, big, torch.zeros(len(big), dtype=D64), xr, yr, 4, 0.1)


def test_flop_count_counts_matmuls_through_double_backward():
    a = torch.randn(4, 5, dtype=D64, requires_grad=True)
    b = torch.randn(5, 3, dtype=D64)
    with FlopCount() as count:
        (a @ b).sum()
    assert count.total == 2 * 4 * 5 * 3
    _, loss, theta, x, y, xr, yr = small_convnet_problem()
    forward = flops_of(lambda: loss(theta, x, y))
    one, two, three = (flops_of(lambda k=k: unrolled_grad(loss, theta, x, y, xr, yr, k, 0.1)) for k in (1, 2, 3))
    assert forward > 0 and three - two == two - one > 3 * forward  # each inner step: forward, backward, and back
    real = {c: xr[yr == c] for c in range(3)}
    assert flops_of(lambda: teddy_grad(loss, theta, x, y, real)) > 3 * forward


def test_bn_statistics_loss_matches_a_hand_computation():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3, padding=1), torch.nn.BatchNorm2d(3), torch.nn.ReLU(),
                                torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 2)).double().eval()
    model[1].running_mean.copy_(torch.tensor([0.1, -0.2, 0.3]))
    model[1].running_var.copy_(torch.tensor([1.5, 0.5, 2.0]))
    theta = weights_of(model)
    x = torch.rand(5, 1, 4, 4, dtype=D64, requires_grad=True)
    y = torch.tensor([0, 1, 1, 0, 1])
    got = bn_statistics_loss(model, theta, x, y, bn_weight=0.7)
    h = model[0](x)
    mean, var = h.mean((0, 2, 3)), h.var((0, 2, 3), unbiased=False)
    want = F_cross_entropy(model(x), y) + 0.7 * ((mean - model[1].running_mean).norm()
                                                  + (var - model[1].running_var).norm())
    torch.testing.assert_close(got, want)
    assert torch.autograd.grad(got, x)[0].abs().sum() > 0
    with pytest.raises(ValueError, match="needs a network with batch-norm layers"):
        bn_statistics_loss(ConvNet(1, 4, 3), weights_of(ConvNet(1, 4, 3)), torch.rand(2, 1, 8, 8), torch.tensor([0, 1]),
                           0.1)


def test_jitter_rolls_and_flips_the_batch_by_a_seeded_draw():
    x = torch.arange(2 * 1 * 4 * 4, dtype=torch.float32).view(2, 1, 4, 4)
    views = [jittered(x, 1, torch.Generator().manual_seed(s)) for s in range(8)]
    assert all(torch.equal(v.sort(dim=-1).values.flatten().sort().values, x.flatten().sort().values) for v in views)
    assert len({tuple(v.flatten().tolist()) for v in views}) > 1
    torch.testing.assert_close(jittered(x, 1, torch.Generator().manual_seed(3)), views[3])
    assert torch.equal(jittered(x, 0, torch.Generator()), x)


def test_bad_K_is_a_clear_error():
    loss, theta0, xs, ys, xr, yr = quadratic_problem()
    with pytest.raises(ValueError, match="K: expected an integer >= 1"):
        unrolled_objective(loss, theta0, xs, ys, xr, yr, 0, 0.1)
    with pytest.raises(ValueError, match="K: expected an integer >= 1"):
        taylor_grad(loss, theta0, xs, ys, xr, yr, 0, 0.1)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_taylor_memory_flat_unrolled_grows():
    dev = torch.device("cuda")
    torch.manual_seed(0)
    model = ConvNet(1, 16, 10).to(dev)
    loss, theta = classifier_loss(model), {k: v.to(dev) for k, v in weights_of(model).items()}
    x, y = torch.rand(100, 1, 16, 16, device=dev), torch.arange(10, device=dev).repeat_interleave(10)
    xr, yr = torch.rand(256, 1, 16, 16, device=dev), torch.randint(0, 10, (256,), device=dev)
    peaks = {}
    for name, fn in (("unrolled", lambda K: unrolled_grad(loss, theta, x, y, xr, yr, K, 0.1)),
                     ("taylor", lambda K: taylor_grad(loss, theta, x, y, xr, yr, K, 0.1))):
        for K in (2, 16):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            start = torch.cuda.memory_allocated()
            fn(K)
            torch.cuda.synchronize()
            peaks[name, K] = torch.cuda.max_memory_allocated() - start
    assert peaks["unrolled", 16] > 3 * peaks["unrolled", 2]
    assert peaks["taylor", 16] <= 1.1 * peaks["taylor", 2]
