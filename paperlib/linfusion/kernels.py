"""LinFusion's generalized linear attention (Liu et al., 2024), and the softmax kernels it replaces.

For one head with head dim ``d``, queries ``q_i``, keys ``k_j`` and values ``v_j`` (``j = 1..N``):

    phi(u) = ELU(u) + 1                                                   (a positive feature map)
    S = (1/N) sum_j phi(k_j) v_j^T          (d x d)      z = (1/N) sum_j phi(k_j)       (d)
    y_i = phi(q_i)^T S / (phi(q_i)^T z + eps)                               (normalised, non-causal)

which equals ``y = D^-1 A V`` with the kernel matrix ``A_ij = phi(q_i)^T phi(k_j) / N`` and ``D`` its
row sums (plus ``eps``), computed in ``O(N d^2)`` without any ``N x N`` matrix. ``phi(K)`` and ``V`` are
each scaled by ``N^-1/2`` before their product (as the official code does) so that half precision does
not overflow at millions of tokens. The ablation ``normalize=False`` is the raw-sum linear attention the
paper starts from, ``y_i = phi(q_i)^T sum_j phi(k_j) v_j^T`` (no denominator and no ``1/N``). Without
autograd the sums and the outputs are computed over chunks of tokens, so that the call allocates little
more than its output (no more than PyTorch's fused softmax kernel from about a thousand tokens on).

In the layer, ``q_i = W_Q (x_i + f_Q(x_i))``, ``k_j = W_K (x_j + f_K(x_j))``, ``v_j = W_V x_j`` and the
output is ``W_O y_i``; ``f_Q, f_K`` are small residual MLPs held by :class:`GeneralizedLinearAttnProcessor`,
a diffusers attention processor set on the UNet's self-attention (``attn1``) layers only.

Narrated in notebooks/linfusion.py, "The method".
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-4  # the official code's denominator guard


def phi(u: torch.Tensor) -> torch.Tensor:
    """The feature map ``phi(u) = ELU(u) + 1`` (positive, so every kernel weight is positive)."""
    return F.elu(u) + 1.0


def _check_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
        raise ValueError(f"attention: expected q, k, v shaped (B, H, N, d), got {tuple(q.shape)}, "
                         f"{tuple(k.shape)}, {tuple(v.shape)}")
    if q.shape[-1] != k.shape[-1] or k.shape[:-1] != v.shape[:-1] or q.shape[:2] != k.shape[:2]:
        raise ValueError(f"attention: q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)} do not fit "
                         "(q and k share the head dim, k and v the token count)")


def linear_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, normalize: bool = True,
                     eps: float = EPS, chunk: int | None = None) -> torch.Tensor:
    """Generalized linear attention ``y_i = phi(q_i)^T S / (phi(q_i)^T z + eps)`` in ``O(N d^2)``.

    q: (B, H, N, d), k: (B, H, M, d), v: (B, H, M, e) -> (B, H, N, e). ``normalize=False`` gives the
    raw-sum form ``phi(q_i)^T sum_j phi(k_j) v_j^T`` (the ablation).

    Without autograd (inference) the tokens are processed ``chunk`` at a time (default: ``ceil(N / 2d)``,
    at least 16K numbers a block), so that besides its output the call holds only two ``(B, H, chunk, d)``
    blocks of features, together the size of the one-number-per-query-and-head statistics a fused softmax
    kernel keeps, and never an ``N x d`` copy of ``phi(Q)``, ``phi(K)`` or ``phi(Q) S``. The output is laid out as
    ``(B, N, H, e)`` (returned as a transposed view), which is what merging the heads wants next. When a
    gradient is needed the plain form below runs instead: autograd keeps those copies for the backward
    pass anyway, and it cannot differentiate the chunked form's in-place accumulation.
    """
    _check_qkv(q, k, v)
    if torch.is_grad_enabled() and (q.requires_grad or k.requires_grad or v.requires_grad):
        return _linear_attention_graph(q, k, v, normalize, eps)
    with torch.no_grad():
        return _linear_attention_chunked(q, k, v, normalize, eps, chunk)


def _linear_attention_graph(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, normalize: bool,
                            eps: float) -> torch.Tensor:
    """:func:`linear_attention` in whole-tensor operations (differentiable)."""
    if not normalize:
        kv = phi(k).transpose(-2, -1) @ v                      # sum_j phi(k_j) v_j^T: (B, H, d, e)
        return phi(q) @ kv
    scale = k.shape[-2] ** -0.5                                # N^-1/2 on each factor: fp16-safe
    phi_k = phi(k) * scale                                     # (B, H, M, d)
    kv = phi_k.transpose(-2, -1) @ (v * scale)                 # S = (1/N) sum_j phi(k_j) v_j^T: (B, H, d, e)
    z = phi_k.sum(-2, keepdim=True).transpose(-2, -1) * scale  # z = (1/N) sum_j phi(k_j): (B, H, d, 1)
    del phi_k
    phi_q = phi(q)                                             # (B, H, N, d)
    return (phi_q @ kv) / (phi_q @ z + eps)                    # (B, H, N, e)


def _phi_(u: torch.Tensor) -> torch.Tensor:
    """``phi(u)`` in one new tensor (ELU, then ``+ 1`` in place)."""
    return F.elu(u).add_(1.0)


MIN_CHUNK_ELEMENTS = 1 << 14  # 64 KB of float32 per chunk: below that, Python's per-chunk cost dominates


def _chunk_tokens(tokens: int, batch_heads: int, d: int) -> int:
    """Tokens per chunk: ``ceil(N / 2d)``, so that two ``(B, H, c, d)`` blocks of features hold ``B H N``
    numbers (the size of a fused softmax kernel's per-row statistics), but at least
    :data:`MIN_CHUNK_ELEMENTS` numbers per block."""
    return max(-(-tokens // (2 * d)), -(-MIN_CHUNK_ELEMENTS // (batch_heads * d)), 1)


def _linear_attention_chunked(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, normalize: bool, eps: float,
                              chunk: int | None) -> torch.Tensor:
    """:func:`linear_attention` over token chunks: pass 1 sums ``S`` and ``z`` over chunks of keys, pass 2
    writes each chunk of queries' outputs into place. Sums accumulate in at least float32."""
    b, h, n, d = q.shape
    m, e = k.shape[-2], v.shape[-1]
    if chunk is not None and chunk < 1:
        raise ValueError(f"linear_attention: chunk must be a positive token count, got {chunk}")
    acc = torch.promote_types(q.dtype, torch.float32)
    scale = m ** -0.5 if normalize else 1.0                    # N^-1/2 on each factor: fp16-safe
    s = torch.zeros(b, h, d, e, dtype=acc, device=q.device)   # S: (B, H, d, e)
    z = torch.zeros(b, h, d, 1, dtype=acc, device=q.device)   # z: (B, H, d, 1)
    step = chunk or _chunk_tokens(m, b * h, d)
    for k_c, v_c in zip(k.split(step, -2), v.split(step, -2)):
        f = _phi_(k_c).mul_(scale)                             # N^-1/2 phi(k_j): (B, H, c, d)
        s += f.transpose(-2, -1) @ v_c                         # (the other N^-1/2 is applied below)
        z += f.sum(-2).unsqueeze(-1)
        del f
    s = s.mul_(scale).to(q.dtype)                              # S = (1/N) sum_j phi(k_j) v_j^T
    z = z.mul_(scale).to(q.dtype)                              # z = (1/N) sum_j phi(k_j)
    out = q.new_empty(b, n, h, e).transpose(1, 2)              # (B, H, N, e), laid out as (B, N, H, e)
    step = chunk or _chunk_tokens(n, b * h, d)
    for q_c, out_c in zip(q.split(step, -2), out.split(step, -2)):
        f = _phi_(q_c)                                         # phi(q_i): (B, H, c, d)
        if normalize:
            torch.div(f @ s, (f @ z).add_(eps), out=out_c)     # phi(q_i)^T S / (phi(q_i)^T z + eps)
        else:
            out_c.copy_(f @ s)
        del f
    return out


def kernel_matrix_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, normalize: bool = True,
                            eps: float = EPS) -> torch.Tensor:
    """The quadratic-form reference: ``A = phi(Q) phi(K)^T / N`` (N x N), ``y = A V / (A 1 + eps)``.

    Same shapes as :func:`linear_attention`; for tests and small illustrations only (O(N^2) memory).
    """
    _check_qkv(q, k, v)
    a = phi(q) @ phi(k).transpose(-2, -1)                      # A_ij = phi(q_i)^T phi(k_j): (B, H, N, M)
    if not normalize:
        return a @ v
    a = a / k.shape[-2]
    return (a @ v) / (a.sum(-1, keepdim=True) + eps)


def softmax_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Softmax attention with the ``N x N`` matrix materialised (diffusers' ``AttnProcessor``, as in the
    paper's PyTorch 1.13 measurements): ``softmax(Q K^T / sqrt(d)) V``. Shapes as above."""
    _check_qkv(q, k, v)
    scores = (q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5  # (B, H, N, M)
    return scores.softmax(-1) @ v


def sdpa_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """PyTorch's fused ``scaled_dot_product_attention`` (flash-style tiling; memory linear in N)."""
    _check_qkv(q, k, v)
    return F.scaled_dot_product_attention(q, k, v)


#: The three kernels the scaling study compares, by name.
KERNELS: dict[str, Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "softmax": softmax_attention, "sdpa": sdpa_attention, "linear": linear_attention,
}


def residual_mlp(dim: int, mid_dim: int | None = None) -> nn.Sequential:
    """``f(x) = Linear(LeakyReLU(LayerNorm(Linear(x))))``, width ``mid_dim`` (default ``dim``), last layer
    zero so that ``x + f(x) = x`` at initialisation (the teacher's projections are kept exactly)."""
    mid = mid_dim or dim
    mlp = nn.Sequential(nn.Linear(dim, mid), nn.LayerNorm(mid), nn.LeakyReLU(), nn.Linear(mid, dim))
    nn.init.zeros_(mlp[-1].weight)
    nn.init.zeros_(mlp[-1].bias)
    return mlp


class GeneralizedLinearAttnProcessor(nn.Module):
    """A diffusers attention processor computing LinFusion's layer with the ``Attention`` module's weights.

    ``q = W_Q (x + f_Q(x))``, ``k = W_K (x + f_K(x))``, ``v = W_V x``, heads split, then
    :func:`linear_attention`, heads merged, ``W_O``. Holds only ``f_Q`` and ``f_K``; ``W_Q, W_K, W_V, W_O``
    stay in the ``Attention`` module it is set on (``unet.set_attn_processor``). Self-attention only.

    hidden_states: (B, N, C) or (B, C, H, W) -> the same shape.
    """

    def __init__(self, dim: int, heads: int, mid_dim: int | None = None, normalize: bool = True,
                 eps: float = EPS):
        super().__init__()
        if dim < 1 or heads < 1 or dim % heads:
            raise ValueError(f"GeneralizedLinearAttnProcessor: head dim does not fit: {heads} heads do not "
                             f"divide {dim} channels")
        self.dim, self.heads, self.normalize, self.eps = dim, heads, normalize, eps
        self.raw_scale = 1.0  # ablation only: a fixed factor on the raw sum (it does not adapt to N)
        self.f_q = residual_mlp(dim, mid_dim)
        self.f_k = residual_mlp(dim, mid_dim)

    def extra_repr(self) -> str:
        extra = "" if self.normalize else f", raw_scale={self.raw_scale:.3g}"
        return f"dim={self.dim}, heads={self.heads}, normalize={self.normalize}{extra}"

    def forward(self, attn: nn.Module, hidden_states: torch.Tensor,
                encoder_hidden_states: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                temb: torch.Tensor | None = None, **kwargs) -> torch.Tensor:
        if encoder_hidden_states is not None or attention_mask is not None:
            raise ValueError("GeneralizedLinearAttnProcessor is for self-attention (attn1) without a mask; "
                             "got encoder_hidden_states or attention_mask")
        if attn.heads != self.heads or attn.to_q.in_features != self.dim:
            raise ValueError(f"GeneralizedLinearAttnProcessor(dim={self.dim}, heads={self.heads}) set on an "
                             f"attention layer with dim={attn.to_q.in_features}, heads={attn.heads}")
        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        input_ndim = hidden_states.ndim
        if input_ndim == 4:                                    # (B, C, H, W) -> (B, N, C)
            b, c, h, w = hidden_states.shape
            hidden_states = hidden_states.view(b, c, h * w).transpose(1, 2)
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)
        x = hidden_states                                      # (B, N, C)
        q = attn.to_q(x + self.f_q(x))                         # q_i = W_Q (x_i + f_Q(x_i))
        k = attn.to_k(x + self.f_k(x))                         # k_j = W_K (x_j + f_K(x_j))
        v = attn.to_v(x)                                       # v_j = W_V x_j
        batch, n, inner = q.shape
        split = lambda t: t.view(batch, t.shape[1], self.heads, inner // self.heads).transpose(1, 2)
        y = linear_attention(split(q), split(k), split(v), normalize=self.normalize, eps=self.eps)
        if not self.normalize and self.raw_scale != 1.0:
            y = y * self.raw_scale
        y = y.transpose(1, 2).reshape(batch, n, inner).to(q.dtype)  # (B, N, C)
        y = attn.to_out[1](attn.to_out[0](y))                  # W_O, then dropout
        if input_ndim == 4:
            y = y.transpose(-1, -2).reshape(b, c, h, w)
        if attn.residual_connection:
            y = y + residual
        return y / attn.rescale_output_factor
