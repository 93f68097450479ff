"""StyDeSty kernels and models: float64 references, properties, bad inputs."""
import math

import pytest
import torch
from hypothesis import given, settings, strategies as st

from paperlib.stydesty import (CANDIDATES, DGLeNet, ProbHead, Stylizer, alignment_loss, check_label_space,
                               club_loss, likelihood_loss, mmd_rbf, straight_through_onehot, stylize)

torch.set_num_threads(1)


# -- the stylizer ----------------------------------------------------------------------------------------
@settings(max_examples=15, deadline=None)
@given(size=st.sampled_from([8, 12, 16]), a=st.floats(0.0, 1.0), frozen=st.booleans(), seed=st.integers(0, 10_000))
def test_stylizer_preserves_shape_and_range(size, a, frozen, seed):
    torch.manual_seed(seed)
    G = Stylizer(size)
    x = torch.rand(4, 3, size, size)
    out = stylize(G, x, a, frozen=frozen)
    assert out.shape == x.shape
    assert torch.isfinite(out).all()
    assert out.min() >= 0 and out.max() <= 1


def test_stylizer_frozen_is_deterministic_random_is_not():
    torch.manual_seed(0)
    G = Stylizer(16)
    x = torch.rand(4, 3, 16, 16)
    assert torch.equal(G(x, frozen=True), G(x, frozen=True))
    assert not torch.allclose(G(x, frozen=False), G(x, frozen=False))


def test_stylizer_learns_only_scale_and_shift():
    G = Stylizer(16, kernels=(3, 5))
    shapes = sorted(tuple(p.shape) for p in G.parameters())
    assert shapes == sorted([(3, 14, 14)] * 2 + [(3, 12, 12)] * 2)
    x = torch.rand(2, 3, 16, 16)
    stylize(G, x, 1.0, frozen=True).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in G.parameters())


def test_stylizer_bad_inputs():
    with pytest.raises(ValueError, match="kernels"):
        Stylizer(4, kernels=(3, 5))
    G = Stylizer(16)
    with pytest.raises(ValueError, match="expected"):
        G(torch.rand(2, 3, 32, 32))
    with pytest.raises(ValueError, match="aug_weight"):
        stylize(G, torch.rand(2, 3, 16, 16), 1.5)


# -- losses against float64 loops ------------------------------------------------------------------------
def test_alignment_zero_for_identical_inputs_and_matches_reference():
    f = torch.randn(3, 4, 5, 5, dtype=torch.float64)
    assert alignment_loss(f, f.clone()).item() == 0.0
    g = torch.randn_like(f)
    ref = sum(((f - g) ** 2).flatten().tolist()) / f.numel()
    assert math.isclose(alignment_loss(f, g).item(), ref, rel_tol=1e-12)
    with pytest.raises(ValueError, match="shapes differ"):
        alignment_loss(f, g[:2])


def test_likelihood_is_gaussian_nll_and_official_sign():
    torch.manual_seed(1)
    mu, lv, e = (torch.randn(4, 3, dtype=torch.float64) for _ in range(3))
    ref = sum((mu[i, d] - e[i, d]) ** 2 / math.exp(lv[i, d]) + lv[i, d] for i in range(4) for d in range(3)) / 12
    assert math.isclose(likelihood_loss(mu, lv, e).item(), float(ref), rel_tol=1e-12)
    official = sum((mu[i, d] - e[i, d]) ** 2 / math.exp(lv[i, d]) - lv[i, d] for i in range(4) for d in range(3)) / 12
    assert math.isclose(likelihood_loss(mu, lv, e, official_sign=True).item(), float(official), rel_tol=1e-12)
    # the paper's NLL has its minimum over log_var at log (mu - e)^2; the official sign has none
    r2 = torch.tensor([[4.0]], dtype=torch.float64)
    grid = torch.linspace(-3, 5, 801, dtype=torch.float64)
    nll = torch.stack([likelihood_loss(torch.zeros(1, 1, dtype=torch.float64), v.view(1, 1), r2.sqrt()) for v in grid])
    assert abs(grid[nll.argmin()].item() - math.log(4.0)) < 0.02


def test_club_matches_loop_reference():
    torch.manual_seed(2)
    mu, lv, e = (torch.randn(5, 3, dtype=torch.float64) for _ in range(3))
    perm = torch.tensor([3, 0, 4, 1, 2])
    ref = 0.0
    for i in range(5):
        for d in range(3):
            ref += ((mu[i, d] - e[perm[i], d]) ** 2 - (mu[i, d] - e[i, d]) ** 2) / math.exp(lv[i, d])
    ref = float(ref) / 5 / 2
    assert math.isclose(club_loss(mu, lv, e, perm).item(), ref, rel_tol=1e-12)
    assert club_loss(mu, lv, e, torch.arange(5)).item() == 0.0


def test_mmd_matches_loop_reference_and_vanishes_on_equal_sets():
    torch.manual_seed(3)
    a, b = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64) + 1
    pooled = torch.cat([a, b]).tolist()
    n2 = len(pooled)
    d2 = [[sum((p - q) ** 2 for p, q in zip(u, v)) for v in pooled] for u in pooled]
    base = sum(map(sum, d2)) / (n2 * n2 - n2) / 2 ** 2
    k = [[sum(math.exp(-d2[i][j] / (base * 2 ** m)) for m in range(5)) for j in range(n2)] for i in range(n2)]
    ref = sum(k[i][j] + k[i + 4][j + 4] - k[i][j + 4] - k[i + 4][j] for i in range(4) for j in range(4)) / 16
    assert math.isclose(mmd_rbf(a, b).item(), ref, rel_tol=1e-10)
    assert abs(mmd_rbf(a, a.clone()).item()) < 1e-12
    assert mmd_rbf(a, b).item() > 0


# -- the search's straight-through one-hot ---------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-5, 5), min_size=2, max_size=8))
def test_onehot_is_exactly_one_position_and_passes_gradients(values):
    logits = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    w = straight_through_onehot(logits)
    assert sorted(w.tolist()) == [0.0] * (len(values) - 1) + [1.0]
    assert int(w.argmax()) == int(torch.softmax(logits.detach(), -1).argmax())
    target = torch.arange(len(values), dtype=torch.float64)
    (w * target).sum().backward()
    soft = torch.softmax(logits.detach(), -1)
    expected = soft * (target - (soft * target).sum())   # d/da of sum softmax(a) * t
    assert torch.allclose(logits.grad, expected)


def test_search_network_routes_one_in_and_trains_alpha():
    torch.manual_seed(4)
    net = DGLeNet("mini", None, search=True)
    x = torch.rand(4, 3, 16, 16)
    with torch.no_grad():
        net.alpha[2] = 1.0
    feats, logits, *_ = net.forward_all(x)
    assert len(feats) == len(CANDIDATES) and logits.shape == (4, 10)
    logits.sum().backward()
    assert net.alpha.grad is not None and net.alpha.grad.abs().sum() > 0
    assert net.norms[2].weight.grad.abs().sum() > 0          # the chosen IN trains
    assert net.norms[0].weight.grad is None or net.norms[0].weight.grad.abs().sum() == 0


# -- the backbone ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("position", range(len(CANDIDATES)))
def test_split_backbone_equals_whole(position):
    torch.manual_seed(position)
    net = DGLeNet("mini", position).eval()
    x = torch.rand(3, 3, 16, 16)
    f = net.features(x)
    assert isinstance(net.layers[position], torch.nn.Module)
    assert torch.allclose(net.classify(f)[0], net(x))
    n_f = sum(p.numel() for p in net.destylizer_parameters())
    n_h = sum(p.numel() for p in net.head_parameters())
    assert n_f + n_h == sum(p.numel() for p in net.parameters())
    # after an affine IN at init, every channel has zero mean and unit variance
    assert torch.allclose(f.mean((2, 3)), torch.zeros(f.shape[:2]), atol=1e-5)


def test_official_lenet_at_32px():
    net = DGLeNet("lenet", 1, image_size=32)
    assert net(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    assert net.features(torch.rand(2, 3, 32, 32)).shape[1] == 64


def test_bad_position_and_variant():
    with pytest.raises(ValueError, match="positions 0..5"):
        DGLeNet("mini", 6)
    with pytest.raises(ValueError, match="positions 0..5"):
        DGLeNet("mini", -1)
    with pytest.raises(ValueError, match="variant"):
        DGLeNet("resnet", 1)
    with pytest.raises(ValueError, match="too small"):
        DGLeNet("lenet", 1, image_size=8)


def test_prob_head_modes():
    head = ProbHead(8, 10, 6)
    x = torch.randn(5, 8)
    logits, lv, mu, e = head.eval()(x)
    assert torch.equal(e, mu) and (lv >= 0).all() and logits.shape == (5, 10)
    head.train()
    assert not torch.equal(head(x)[3], head(x)[3])


def test_unseen_target_classes_are_an_error():
    y = torch.tensor([0, 1, 2, 1])
    check_label_space(y, {"ok": (None, torch.tensor([2, 0]))})
    with pytest.raises(ValueError, match="classes unseen in the source: \\[7\\]"):
        check_label_space(y, {"shifted": (None, torch.tensor([1, 7]))})
