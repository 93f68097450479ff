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


@pytest.mark.parametrize("chunk", [None, 1, 3, 7, 100])
def test_chunked_inference_equals_the_differentiable_form_float64(chunk):
    """Inference runs over token chunks; autograd runs the whole-tensor form: the same numbers either way."""
    q, k, v = qkv(b=2, h=3, n=29, m=23, d=5)
    graph = [t.clone().requires_grad_(True) for t in (q, k, v)]
    for normalize in (True, False):
        torch.testing.assert_close(linear_attention(q, k, v, normalize=normalize, chunk=chunk),
                                   linear_attention(*graph, normalize=normalize), atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(linear_attention(q, k, v, chunk=chunk), loop_reference(q, k, v[..., :5]),
                               atol=1e-12, rtol=1e-10)


def test_head_dim_of_values_may_differ_and_layout_merges_heads_for_free():
    q, k, _ = qkv(b=2, h=3, n=10, d=4)
    v = torch.randn(2, 3, 10, 6, dtype=torch.float64)
    out = linear_attention(q, k, v)
    assert out.shape == (2, 3, 10, 6)
    assert out.transpose(1, 2).is_contiguous()          # (B, N, H, e): merging the heads needs no copy
    torch.testing.assert_close(out, kernel_matrix_attention(q, k, v), atol=1e-10, rtol=1e-10)


def test_gradients_flow_through_the_differentiable_form():
    q, k, v = (t.requires_grad_(True) for t in qkv(n=8, d=3))
    linear_attention(q, k, v).pow(2).sum().backward()
    ref = [t.detach().clone().requires_grad_(True) for t in (q, k, v)]
    kernel_matrix_attention(*ref).pow(2).sum().backward()
    for mine, theirs in zip((q, k, v), ref):
        torch.testing.assert_close(mine.grad, theirs.grad, atol=1e-10, rtol=1e-8)


def test_bad_chunk_is_named():
    with pytest.raises(ValueError, match="chunk must be a positive"):
        linear_attention(*qkv(), chunk=0)


@pytest.mark.parametrize("tokens", [1024, 4096])
def test_linear_allocates_less_than_fused_sdpa(tokens):
    """Exact allocator accounting (output and temporaries): at or below the fused kernel from 1K tokens on,
    where the whole-tensor form needs several N x d copies more."""
    from paperlib.core.cost import allocated_peak
    from paperlib.linfusion.scaling import attention_inputs
    from paperlib.linfusion.kernels import _linear_attention_graph

    q, k, v = attention_inputs(tokens, 8, 64)
    with torch.no_grad():
        linear = allocated_peak(lambda: linear_attention(q, k, v))
        fused = allocated_peak(lambda: sdpa_attention(q, k, v))
        whole = allocated_peak(lambda: _linear_attention_graph(q, k, v, True, 1e-4))
    output = q.numel() * 4
    assert output <= linear <= fused
    assert whole - output >= 2 * output                   # phi(Q) and phi(Q) S besides the output


def test_layer_allocates_no_more_than_diffusers_fused_softmax_layer():
    """f_Q and f_K's intermediates are freed before attention runs: the layer's peak is not raised."""
    from paperlib.linfusion.scaling import layer_allocated_peaks

    peaks = layer_allocated_peaks(dim=64, heads=2, tokens=2048)
    assert peaks["linear"] <= peaks["sdpa"]


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
    out = linear_attention(*half)                            # the chunked form (no autograd)
    assert torch.isfinite(out).all()
    assert torch.isfinite(linear_attention(*[t.clone().requires_grad_(True) for t in half])).all()
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


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_float64_equals_reference_and_allocates_about_as_much_as_sdpa():
    from paperlib.core.cost import allocated_peak

    q, k, v = qkv(b=1, h=2, n=33, d=4)
    torch.testing.assert_close(linear_attention(q.cuda(), k.cuda(), v.cuda()).cpu(), loop_reference(q, k, v),
                               atol=1e-12, rtol=1e-10)
    q, k, v = (t.cuda() for t in qkv(b=1, h=8, n=65536, d=64, dtype=torch.float32))
    with torch.no_grad():
        linear = allocated_peak(lambda: linear_attention(q, k, v), "cuda")
        fused = allocated_peak(lambda: sdpa_attention(q, k, v), "cuda")
    assert linear <= 1.01 * fused
