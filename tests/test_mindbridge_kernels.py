"""MindBridge kernels and modules: aggregation, SoftCLIP, the cycle, the reset-tuning freeze, bad input."""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from paperlib.mindbridge import (Adapter, MindBridge, aggregate, check_voxels, cycle_loss, freeze_for_reset,
                                 prediction_loss, reconstruction_loss, retrieval_top1, soft_clip_loss, synthesize)

torch.set_num_threads(1)


def _model(voxels=None, **kw):
    return MindBridge(voxels or {"s1": 50, "s2": 37}, pool_num=16, hidden=8, blocks=2, rank=4, image_shape=(3, 5),
                      text_shape=(2, 5), **kw)


@settings(max_examples=40, deadline=None)
@given(F=st.integers(1, 300), P=st.integers(1, 64), B=st.integers(1, 4), kind=st.sampled_from(["max", "avg", "interp"]))
def test_aggregation_accepts_any_voxel_count_and_gives_the_fixed_size(F, P, B, kind):
    V = torch.randn(B, F, dtype=torch.float64)
    v = aggregate(V, P, kind)
    assert v.shape == (B, P) and v.dtype == torch.float64 and torch.isfinite(v).all()
    if kind == "max":  # every output is one of the voxels, and the global max survives
        assert torch.isin(v, V).all()
        assert torch.equal(v.max(1).values, V.max(1).values) or F < P


def test_adaptive_max_pool_against_a_float64_loop():
    gen = torch.Generator().manual_seed(0)
    for F, P in [(100, 7), (13, 13), (5, 9), (1000, 64)]:
        V = torch.randn(3, F, dtype=torch.float64, generator=gen)
        ref = torch.empty(3, P, dtype=torch.float64)
        for i in range(P):  # bins [floor(iF/P), ceil((i+1)F/P))
            lo, hi = (i * F) // P, -((-(i + 1) * F) // P)
            ref[:, i] = V[:, lo:hi].max(1).values
        assert torch.equal(aggregate(V, P, "max"), ref)
        avg = torch.stack([V[:, (i * F) // P: -((-(i + 1) * F) // P)].mean(1) for i in range(P)], 1)
        torch.testing.assert_close(aggregate(V, P, "avg"), avg)


def test_soft_clip_loss_against_a_float64_loop():
    gen = torch.Generator().manual_seed(1)
    p = torch.nn.functional.normalize(torch.randn(6, 11, dtype=torch.float64, generator=gen), dim=-1)
    t = torch.nn.functional.normalize(torch.randn(6, 11, dtype=torch.float64, generator=gen), dim=-1)
    tau, N = 0.3, 6
    P, T = p.tolist(), t.tolist()
    rows = cols = 0.0
    for i in range(N):
        zs = [sum(T[i][k] * T[j][k] for k in range(11)) / tau for j in range(N)]
        ls = [sum(P[i][k] * T[j][k] for k in range(11)) / tau for j in range(N)]
        lc = [sum(P[j][k] * T[i][k] for k in range(11)) / tau for j in range(N)]  # transposed logits, row i
        soft = [math.exp(z) / sum(math.exp(y) for y in zs) for z in zs]
        lse_r, lse_c = math.log(sum(math.exp(x) for x in ls)), math.log(sum(math.exp(x) for x in lc))
        rows -= sum(s * (l - lse_r) for s, l in zip(soft, ls)) / N
        cols -= sum(s * (l - lse_c) for s, l in zip(soft, lc)) / N
    assert soft_clip_loss(p, t, tau).item() == pytest.approx((rows + cols) / 2, rel=1e-12)


def test_prediction_loss_is_smallest_at_the_target_and_rejects_mismatched_shapes():
    t = torch.randn(8, 3, 5, dtype=torch.float64)
    at = prediction_loss(t * 2.0, t, mse_mult=50.0)  # scale does not matter: both are normalised
    off = prediction_loss(t.roll(1, 0), t, mse_mult=50.0)
    assert at < off
    with pytest.raises(ValueError, match="equal"):
        soft_clip_loss(torch.randn(4, 3), torch.randn(5, 3))


def test_cycle_loss_is_zero_for_an_identity_pair_and_for_an_exact_inverse():
    e_a = torch.randn(5, 8, dtype=torch.float64)
    assert cycle_loss(e_a, nn.Identity(), nn.Identity()).item() == 0.0
    W = torch.randn(8, 8, dtype=torch.float64) + 4 * torch.eye(8, dtype=torch.float64)
    E, B = nn.Linear(8, 8, bias=False).double(), nn.Linear(8, 8, bias=False).double()
    with torch.no_grad():
        E.weight.copy_(W), B.weight.copy_(torch.linalg.inv(W))
    assert cycle_loss(e_a, E, B).item() < 1e-24
    assert cycle_loss(e_a, E, E).item() > 1e-3
    assert reconstruction_loss(nn.Identity(), nn.Identity(), e_a).item() == 0.0
    assert torch.equal(synthesize(e_a, nn.Identity(), nn.Identity()), e_a)


def test_adapter_starts_as_the_identity():
    a = Adapter(12, 3)
    x = torch.randn(4, 12)
    assert torch.equal(a(x), x)


def test_model_shapes_for_subjects_with_different_voxel_counts():
    m = _model()
    for s, f in m.voxels.items():
        pI, pT = m(s, torch.randn(4, f))
        assert pI.shape == (4, 3, 5) and pT.shape == (4, 2, 5)
    assert set(m.builders) == {"s1", "s2"}
    assert len(_model(with_builders=False).builders) == 0


def test_reset_tuning_freeze_leaves_shared_weights_bit_identical():
    m = _model()
    m.add_subject("new", 23)
    before = {n: q.detach().clone() for n, q in m.shared_parameters(excluding=["new"]).items()}
    trainable = freeze_for_reset(m, lambda n: n.startswith(("embedders.new.", "builders.new.")))
    assert trainable and all(n.startswith(("embedders.new.", "builders.new.")) for n in trainable)
    opt = torch.optim.AdamW([q for q in m.parameters() if q.requires_grad], lr=1e-2, weight_decay=1e-2)
    m.train()
    for _ in range(5):  # losses that touch every module: prediction, rec and cycle through a source subject
        v_src, v_new = m.pool_voxels("s1", torch.randn(6, 50)), m.pool_voxels("new", torch.randn(6, 23))
        e_src = m.embed("s1", v_src)
        pI, pT = m.translator(torch.cat([e_src, m.embed("new", v_new)]))
        loss = (pI.square().mean() + pT.square().mean() + reconstruction_loss(m.embedders["new"], m.builders["new"], v_new)
                + cycle_loss(e_src, m.embedders["new"], m.builders["new"]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = m.shared_parameters(excluding=["new"])
    assert before.keys() == after.keys()
    assert all(torch.equal(before[n], after[n]) for n in before)
    assert any(not torch.equal(q, torch.zeros_like(q)) for n, q in m.builders["new"].named_parameters() if "up" in n)


def test_retrieval_top1_is_one_for_perfect_predictions_and_chance_for_constant_ones():
    t = torch.randn(40, 3, 4)
    assert retrieval_top1(t.clone(), t, 10) == 1.0
    assert retrieval_top1(torch.ones_like(t) + 1e-9 * 0, t, 10) in {0.0, 0.1, 0.2, 0.3, 0.4}
    assert retrieval_top1(t, t, 1000) == 1.0  # n clipped to M


def test_bad_input_gives_clear_errors():
    m = _model()
    with pytest.raises(KeyError, match="subject 's9'.*known subjects: s1, s2"):
        m("s9", torch.randn(2, 50))
    with pytest.raises(ValueError, match="has 50 voxels, got data with 49"):
        m("s1", torch.randn(2, 49))
    with pytest.raises(ValueError, match=r"shape \(B, F\)"):
        m("s1", torch.randn(2, 1, 50))
    V = torch.randn(2, 50)
    V[1, 3] = float("nan")
    with pytest.raises(ValueError, match="1 NaN"):
        m("s1", V)
    with pytest.raises(ValueError, match="kind"):
        aggregate(torch.randn(2, 9), 4, "median")
    with pytest.raises(TypeError):
        check_voxels([[1.0, 2.0]])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_model_and_losses_on_cuda_match_cpu():
    torch.manual_seed(0)
    m = _model().double()
    V = torch.randn(6, 50, dtype=torch.float64)
    m.eval()  # no dropout
    ref = m("s1", V)
    got = m.cuda()("s1", V.cuda())
    for r, g in zip(ref, got):
        torch.testing.assert_close(g.cpu(), r)
    t = torch.randn(6, 3, 5, dtype=torch.float64)
    torch.testing.assert_close(prediction_loss(got[0], t.cuda(), 50.0).cpu(), prediction_loss(ref[0], t, 50.0))
