"""SG-Former kernels against float64 loop references, and their properties (paperlib/sgformer/kernels.py)."""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from paperlib.sgformer.kernels import (OFFICIAL_GUIDES, HybridScaleAttention, SignificanceGuidedAttention,
                                       local_window_attention, part_bounds, rank_merge, reallocation_counts,
                                       significance_map, sincos_pos_embed)

torch.set_num_threads(1)


def ref_local(q, k, v, H, W, w, scale):
    """Loop reference: every token attends to the valid tokens of its own window."""
    B, h, N, d = q.shape
    out = torch.zeros_like(q)
    received = torch.zeros(B, H, W, dtype=q.dtype)
    for wi in range(math.ceil(H / w)):
        for wj in range(math.ceil(W / w)):
            cells = [(i, j) for i in range(wi * w, min(H, wi * w + w)) for j in range(wj * w, min(W, wj * w + w))]
            idx = torch.tensor([i * W + j for i, j in cells])
            a = ((q[:, :, idx] @ k[:, :, idx].transpose(-1, -2)) * scale).softmax(-1)  # (B, h, n, n)
            out[:, :, idx] = a @ v[:, :, idx]
            r = a.mean(1).mean(1)  # mean over heads, then over the window's queries
            for t, (i, j) in enumerate(cells):
                received[:, i, j] = r[:, t]
    return out, received


@pytest.mark.parametrize("H,W", [(7, 7), (14, 7), (9, 12), (5, 3)])
def test_local_window_attention_matches_loop_reference(H, W):
    g = torch.Generator().manual_seed(H * 31 + W)
    q, k, v = (torch.randn(2, 2, H * W, 4, generator=g, dtype=torch.float64) for _ in range(3))
    out, sig = local_window_attention(q, k, v, H, W, 7, 0.5)
    ref_out, ref_sig = ref_local(q, k, v, H, W, 7, 0.5)
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(sig, ref_sig)


def test_significance_map_sums_and_has_no_gradient():
    torch.manual_seed(0)
    s, H, W, window = 2, 14, 14, 7
    attn = HybridScaleAttention(16, 4, s, window).double()
    x = torch.randn(3, H * W, 16, dtype=torch.float64, requires_grad=True)
    out, sig = attn(x, H, W)
    assert out.shape == (3, H * W, 16) and sig.shape == (3, H * W)
    assert not sig.requires_grad and sig.grad_fn is None
    # global part: received attention sums to 1 over the N/s^2 keys, replicated s^2 times;
    # local part: sums to 1 inside each of the N/w^2 windows
    expected = s * s + (H // window) * (W // window)
    torch.testing.assert_close(sig.sum(1), torch.full((3,), float(expected), dtype=torch.float64))
    assert (sig > 0).all()
    out.sum().backward()  # the output still carries gradients
    assert x.grad is not None


def test_significance_map_upsamples_nearest():
    glob = torch.arange(4.0).reshape(1, 2, 2)
    loc = torch.zeros(1, 3, 4)
    sig = significance_map(glob, loc, 2)
    assert sig.tolist() == [[[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3]]]


def ref_merge(x, sig, guide, counts):
    """float64 loop reference of the rank merge at the build layout, weights all distinct."""
    B, N, C = x.shape
    order = sig.argsort(dim=1)
    bounds = part_bounds(N, [f for f, _ in guide])
    out = []
    for b in range(B):
        toks = []
        for i, ((_, r), c) in enumerate(zip(guide, counts)):
            wts = torch.arange(1, r + 1, dtype=x.dtype) / r
            for gidx in range(c):
                ranks = range(bounds[i] + gidx * r, bounds[i] + (gidx + 1) * r)
                toks.append(sum(wts[j] * x[b, order[b, rk]] for j, rk in enumerate(ranks)) + 0.5)
        out.append(torch.stack(toks))
    return torch.stack(out)


@pytest.mark.parametrize("s,H", [(8, 56), (4, 28), (2, 14)])
def test_rank_merge_matches_loop_reference_and_official_counts(s, H):
    guide = OFFICIAL_GUIDES[s]
    counts = reallocation_counts(H * H, guide)
    assert sum(counts) == {8: 60, 4: 60, 2: 147}[s]  # the card's counts at 224
    g = torch.Generator().manual_seed(s)
    x = torch.randn(2, H * H, 3, generator=g, dtype=torch.float64)
    sig = torch.rand(2, H * H, generator=g, dtype=torch.float64)
    ws = [(torch.arange(1, r + 1, dtype=torch.float64) / r)[None] for _, r in guide]
    bs = [torch.tensor([0.5], dtype=torch.float64) for _ in guide]
    got = rank_merge(x, sig.argsort(1), [f for f, _ in guide], counts, [r for _, r in guide], ws, bs)
    torch.testing.assert_close(got, ref_merge(x, sig, guide, counts))


@settings(max_examples=25, deadline=None)
@given(N=st.integers(60, 700), scheme=st.sampled_from([8, 4, 2]), layout=st.integers(100, 800))
def test_kv_count_equals_configured_count_at_every_size(N, scheme, layout):
    guide = OFFICIAL_GUIDES[scheme]
    counts = reallocation_counts(layout, guide)
    bounds = part_bounds(N, [f for f, _ in guide])
    if any(bounds[i + 1] - bounds[i] < c for i, c in enumerate(counts)):
        with pytest.raises(ValueError, match="too small"):
            rank_merge(torch.randn(1, N, 2), torch.arange(N)[None], [f for f, _ in guide], counts,
                       [r for _, r in guide], [torch.ones(1, r) for _, r in guide], [None] * len(guide))
        return
    out = rank_merge(torch.randn(2, N, 5), torch.randperm(N).expand(2, N), [f for f, _ in guide], counts,
                     [r for _, r in guide], [torch.ones(1, r) for _, r in guide], [None] * len(guide))
    assert out.shape == (2, sum(counts), 5)


def test_planted_map_merges_salient_tokens_in_smaller_groups():
    """Tokens are one-hot so each merged token reveals which tokens went into it."""
    N = 64
    guide = ((0.25, 16), (0.5, 4), (0.25, 1))
    counts = reallocation_counts(N, guide)
    assert counts == (1, 8, 16)
    attn = SignificanceGuidedAttention(8, 2, guide, N)
    with torch.no_grad():
        for i in range(3):
            getattr(attn, f"f{i + 1}").weight.fill_(1.0), getattr(attn, f"f{i + 1}").bias.zero_()
    x = torch.eye(N)[None]  # token n = e_n
    g = torch.Generator().manual_seed(1)
    planted = torch.rand(1, N, generator=g)
    merged = attn.reallocate(x, planted)[0]  # (25, N): row = indicator of the group
    group_of = merged.argmax(0)  # which merged token each original token joined
    size = merged.sum(1)  # group sizes
    assert torch.equal(merged.sum(0), torch.ones(N))  # every token in exactly one group
    token_group_size = size[group_of]
    rank = planted[0].argsort().argsort()
    # higher significance never sits in a larger group than lower significance
    order = rank.argsort()
    sizes_by_rank = token_group_size[order]
    assert torch.all(sizes_by_rank[1:] <= sizes_by_rank[:-1])
    top = planted[0].topk(N // 4).indices
    assert torch.all(token_group_size[top] == 1) and torch.all(token_group_size[planted[0].topk(N // 4, largest=False).indices] == 16)


def test_guided_attention_random_ranking_ignores_the_map():
    torch.manual_seed(0)
    attn = SignificanceGuidedAttention(8, 2, ((0.5, 4), (0.5, 1)), 32, ranking="random")
    x = torch.randn(1, 32, 8)
    a, b = attn.reallocate(x, torch.zeros(1, 32)), attn.reallocate(x, torch.zeros(1, 32))
    assert a.shape == (1, 20, 8) and not torch.allclose(a, b)


def test_sincos_pos_embed_matches_the_formula():
    pe = sincos_pos_embed(8, 3)
    assert pe.shape == (9, 8)
    # token (row 1, col 2): first half encodes the column (official meshgrid(w, h) order), second the row
    omega = 1.0 / 10000 ** (torch.arange(2, dtype=torch.float64) / 2.0)
    expect = torch.cat([(2 * omega).sin(), (2 * omega).cos(), (1 * omega).sin(), (1 * omega).cos()]).float()
    torch.testing.assert_close(pe[1 * 3 + 2], expect)


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="halves"):
        HybridScaleAttention(9, 3, 2)
    with pytest.raises(ValueError, match="reduction ratio"):
        HybridScaleAttention(8, 2, 1)
    with pytest.raises(ValueError, match="fractions must sum to 1"):
        SignificanceGuidedAttention(8, 2, ((0.5, 2), (0.6, 1)), 16)
    with pytest.raises(ValueError, match="ranking"):
        SignificanceGuidedAttention(8, 2, ((0.5, 2), (0.5, 1)), 16, ranking="best")
    with pytest.raises(ValueError, match="significance map"):
        SignificanceGuidedAttention(8, 2, ((0.5, 2), (0.5, 1)), 16)(torch.randn(1, 16, 8), 4, 4, None)
