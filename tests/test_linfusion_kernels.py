"""LinFusion's kernel against its quadratic-form reference, and the properties the paper relies on."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings, strategies as st

from paperlib.linfusion import (GeneralizedLinearAttnProcessor, kernel_matrix_attention, linear_attention,
                                phi, residual_mlp, sdpa_attention, softmax_attention)


def qkv(b=2, h=3, n=17, d=5, m=None, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    m = m or n
    return (torch.randn(b, h, n, d, generator=g, dtype=dtype), torch.randn(b, h, m, d, generator=g, dtype=dtype),
            torch.randn(b, h, m, d, generator=g, dtype=dtype))


def loop_reference(q, k, v, eps=1e-4):
    """Token by token: y_i = sum_j w_ij v_j / (sum_j w_ij + eps), w_ij = phi(q_i).phi(k_j) / N."""
    out = torch.zeros_like(q)
    n_k = k.shape[-2]
    for b in range(q.shape[0]):
        for h in range(q.shape[1]):
            for i in range(q.shape[2]):
                w = torch.stack([phi(q[b, h, i]) @ phi(k[b, h, j]) / n_k for j in range(n_k)])
                out[b, h, i] = (w[:, None] * v[b, h]).sum(0) / (w.sum() + eps)
    return out


def test_linear_equals_loop_reference_float64():
    q, k, v = qkv(b=1, h=2, n=9, d=4)
    torch.testing.assert_close(linear_attention(q, k, v), loop_reference(q, k, v), atol=1e-12, rtol=1e-10)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 40), m=st.integers(1, 40), d=st.integers(1, 9), seed=st.integers(0, 10_000),
       normalize=st.booleans())
def test_linear_equals_kernel_matrix(n, m, d, seed, normalize):
    q, k, v = qkv(n=n, m=m, d=d, seed=seed)
    torch.testing.assert_close(linear_attention(q, k, v, normalize=normalize),
                               kernel_matrix_attention(q, k, v, normalize=normalize), atol=1e-8, rtol=1e-8)


def test_causal_variant_differs():
    """A cumsum (causal) form is a different operator: the layer must use global sums."""
    q, k, v = qkv(n=12)
    pk = phi(k) / k.shape[-2]
    causal = (phi(q)[..., None, :] @ torch.cumsum(pk[..., :, None] * v[..., None, :], -3)).squeeze(-2)
    causal = causal / ((phi(q) * torch.cumsum(pk, -2)).sum(-1, keepdim=True) + 1e-4)
    assert (causal - linear_attention(q, k, v)).abs().max() > 1e-2


def test_permuting_tokens_permutes_outputs():
    q, k, v = qkv(n=23)
    perm = torch.randperm(23, generator=torch.Generator().manual_seed(1))
    out = linear_attention(q, k, v)
    torch.testing.assert_close(linear_attention(q[:, :, perm], k[:, :, perm], v[:, :, perm]), out[:, :, perm])


@pytest.mark.parametrize("copies", [2, 4])
def test_duplicating_tokens_leaves_output_unchanged(copies):
    """The mean over keys (1/N) makes the layer resolution-agnostic; the raw sum grows with copies."""
    q, k, v = qkv(n=11)
    rep = lambda t: t.repeat_interleave(copies, dim=-2)
    torch.testing.assert_close(linear_attention(rep(q), rep(k), rep(v)), rep(linear_attention(q, k, v)))
    raw = linear_attention(q, k, v, normalize=False)
    torch.testing.assert_close(linear_attention(rep(q), rep(k), rep(v), normalize=False), rep(raw) * copies)


def test_large_token_count_half_precision_is_finite():
    """The N^-1/2 pre-scaling keeps fp16 finite where the plain sum over 2^17 tokens overflows."""
    q, k, v = qkv(b=1, h=1, n=1 << 17, d=8, dtype=torch.float32)
    k, v = k.abs() + 3, v.abs() + 3  # large positive features and values
    device = "cuda" if torch.cuda.is_available() else "cpu"
    half = [t.to(device, torch.float16) for t in (q, k, v)]
    assert not torch.isfinite(phi(half[1]).transpose(-2, -1) @ half[2]).all()  # the unscaled sum overflows
    out = linear_attention(*half)
    assert torch.isfinite(out).all()
    ref = linear_attention(q.double(), k.double(), v.double()).to(out.device)
    assert (out.double() - ref).abs().max() < 0.05 * ref.abs().max()


def test_softmax_kernels_agree():
    q, k, v = qkv(n=30, m=21, dtype=torch.float32)
    torch.testing.assert_close(softmax_attention(q, k, v), sdpa_attention(q, k, v), atol=1e-5, rtol=1e-5)


def test_bad_shapes_are_named():
    q, k, v = qkv()
    with pytest.raises(ValueError, match="do not fit"):
        linear_attention(q, k[..., :3], v)
    with pytest.raises(ValueError, match=r"\(B, H, N, d\)"):
        linear_attention(q[0], k[0], v[0])


def test_residual_mlp_starts_at_zero():
    mlp = residual_mlp(12)
    assert torch.count_nonzero(mlp(torch.randn(5, 12))) == 0


def test_processor_rejects_head_dim_that_does_not_divide():
    with pytest.raises(ValueError, match="heads do not divide"):
        GeneralizedLinearAttnProcessor(30, heads=8)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    q, k, v = qkv(b=1, h=8, n=4096, d=64, dtype=torch.float32)
    ref = linear_attention(q, k, v)
    out = linear_attention(q.cuda(), k.cuda(), v.cuda()).cpu()
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)
    half = linear_attention(q.cuda().half(), k.cuda().half(), v.cuda().half()).float().cpu()
    torch.testing.assert_close(half, ref, atol=2e-2, rtol=2e-2)
