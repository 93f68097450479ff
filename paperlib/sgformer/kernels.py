"""SG-Former's attention kernels: hybrid-scale attention, the significance map, significance-guided
token reallocation (Ren et al., ICCV 2023, arXiv 2308.12216), and the two baselines' attentions.

Symbols (the chapter's): a feature map of ``N = H W`` tokens ``X: (B, N, C)``, ``h`` heads of width
``d = C / h``, spatial-reduction ratio ``s``, window side ``w``.

* Hybrid-scale attention: half of the heads attend globally to ``N/s^2`` reduced keys
  ``GELU(LN(Conv_{s x s, stride s}(X)))``; the other half attend inside ``w x w`` windows at full
  resolution. The attention each key *receives* (averaged over heads and queries, detached) gives the
  significance map

      S = up_nearest( (1/N) sum_q Abar^glob_{q,.} ) + (1/w^2) sum_{q in window} Abar^loc_{q,.}   (B, H, W)

* Significance-guided attention (the next block): sort the tokens by S (ascending), split the ranks
  into parts (e.g. bottom 25 % / middle 50 % / top 25 %), and in part ``i`` merge each group of
  ``r_i`` consecutive ranks into one token with a learned ``Linear(r_i -> 1)`` shared over channels;
  salient parts use the smallest ``r_i``. Queries keep full length; keys and values come from the
  ``sum_i c_i`` merged tokens.

Everything here is plain torch. Hybrid-scale attention always forms the weights (S needs them); the
other attentions use torch's fused kernel unless :class:`explicit_attention` is active (FLOP counts,
the benchmark), which gives the official code's explicit matmuls. Narrated in notebooks/sgformer.py, Method.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

# The official code's reallocation table (sgformer.py, Attention.__init__ / forward) for 224 input:
# per reduction ratio s, (fraction of the ranks, merge group size r) from the least to the most salient.
OFFICIAL_GUIDES: dict[int, tuple[tuple[float, int], ...]] = {
    8: ((0.25, 196), (0.5, 56), (0.25, 28)),   # 3136 tokens -> 4 + 28 + 28 = 60
    4: ((0.25, 49), (0.5, 14), (0.25, 7)),     # 784 tokens  -> 4 + 28 + 28 = 60
    2: ((0.5, 2), (0.5, 1)),                   # 196 tokens  -> 49 + 98 = 147
}


_EXPLICIT = [False]


class explicit_attention:
    """Context manager: compute every attention as explicit matmuls (q k^T, softmax, A v), as the
    official code does, so that FLOP counters see them and memory includes the N x N weights."""

    def __enter__(self):
        self._old, _EXPLICIT[0] = _EXPLICIT[0], True
        return self

    def __exit__(self, *exc):
        _EXPLICIT[0] = self._old


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float,
              key_mask: torch.Tensor | None = None,
              need_weights: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
    """softmax(q k^T * scale) v. q: (..., Nq, d), k, v: (..., Nk, d).

    ``key_mask`` (broadcastable to (..., Nq, Nk), True = keep) removes padded keys.
    Returns the output (..., Nq, d) and the weights A (..., Nq, Nk); without ``need_weights`` (and
    outside :class:`explicit_attention`) torch's fused kernel computes the same output, weights None.
    """
    if not need_weights and not _EXPLICIT[0]:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask, scale=scale), None
    logits = (q @ k.transpose(-2, -1)) * scale
    if key_mask is not None:
        logits = logits.masked_fill(~key_mask, float("-inf"))
    weights = logits.softmax(dim=-1)
    return weights @ v, weights


def pad_to_multiple(x: torch.Tensor, H: int, W: int, m: int) -> tuple[torch.Tensor, int, int]:
    """Zero-pad a token grid x: (B, h, H*W, d) at the bottom/right to multiples of m -> (B, h, Hp, Wp, d)."""
    B, h, _, d = x.shape
    Hp, Wp = math.ceil(H / m) * m, math.ceil(W / m) * m
    x = x.reshape(B, h, H, W, d)
    if (Hp, Wp) != (H, W):
        x = F.pad(x, (0, 0, 0, Wp - W, 0, Hp - H))
    return x, Hp, Wp


def to_windows(x: torch.Tensor, w: int) -> torch.Tensor:
    """(B, h, Hp, Wp, d) -> (B, h, nW, w*w, d), windows in row-major order."""
    B, h, Hp, Wp, d = x.shape
    x = x.reshape(B, h, Hp // w, w, Wp // w, w, d).permute(0, 1, 2, 4, 3, 5, 6)
    return x.reshape(B, h, (Hp // w) * (Wp // w), w * w, d)


def from_windows(x: torch.Tensor, Hp: int, Wp: int, w: int) -> torch.Tensor:
    """Inverse of :func:`to_windows`: (B, h, nW, w*w, d) -> (B, h, Hp, Wp, d)."""
    B, h, _, _, d = x.shape
    x = x.reshape(B, h, Hp // w, Wp // w, w, w, d).permute(0, 1, 2, 4, 3, 5, 6)
    return x.reshape(B, h, Hp, Wp, d)


def local_window_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, H: int, W: int, window: int,
                           scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention inside non-overlapping ``window x window`` windows of an H x W grid.

    q, k, v: (B, h, N, d) with N = H W. A grid that is not a multiple of the window is zero-padded at
    the bottom/right and the padded keys are masked out. Returns the output (B, h, N, d) and the local
    significance (B, H, W): the attention each key receives, averaged over heads and over the valid
    queries of its window (so it sums to 1 within every window), detached.
    """
    B, h, N, d = q.shape
    (qp, Hp, Wp), kp, vp = pad_to_multiple(q, H, W, window), pad_to_multiple(k, H, W, window)[0], \
        pad_to_multiple(v, H, W, window)[0]
    valid = torch.zeros(Hp, Wp, dtype=torch.bool, device=q.device)
    valid[:H, :W] = True
    valid_w = to_windows(valid.view(1, 1, Hp, Wp, 1), window)[0, 0, :, :, 0]  # (nW, w*w)
    qw, kw, vw = to_windows(qp, window), to_windows(kp, window), to_windows(vp, window)
    mask = None if (Hp, Wp) == (H, W) else valid_w[:, None, :]
    out, weights = attention(qw, kw, vw, scale, key_mask=mask)  # A: (B, h, nW, w*w, w*w)
    out = from_windows(out, Hp, Wp, window)[:, :, :H, :W].reshape(B, h, N, d)
    with torch.no_grad():
        qvalid = valid_w.to(weights.dtype)[None, :, :, None]  # (1, nW, w*w queries, 1)
        received = (weights.detach().mean(1) * qvalid).sum(2) / qvalid.sum(2)  # (B, nW, w*w keys)
        sig = from_windows(received[:, None, :, :, None], Hp, Wp, window)[:, 0, :H, :W, 0]
    return out, sig


def upsample_nearest(sig: torch.Tensor, s: int, H: int, W: int) -> torch.Tensor:
    """Replicate each reduced key's value over its s x s patch and crop: (B, Hs, Ws) -> (B, H, W)."""
    return sig.repeat_interleave(s, dim=1).repeat_interleave(s, dim=2)[:, :H, :W]


def significance_map(global_received: torch.Tensor, local_received: torch.Tensor, s: int) -> torch.Tensor:
    """S = up_nearest(global) + local. global_received: (B, Hs, Ws), local_received: (B, H, W) -> (B, H, W)."""
    H, W = local_received.shape[-2:]
    return upsample_nearest(global_received, s, H, W) + local_received


def part_bounds(N: int, fractions: Sequence[float]) -> list[int]:
    """Rank boundaries [0, b_1, ..., N] splitting N sorted tokens by ``fractions`` (floor, last = N)."""
    cum, bounds = 0.0, [0]
    for f in fractions[:-1]:
        cum += f
        bounds.append(int(math.floor(N * cum + 1e-9)))
    return bounds + [N]


def reallocation_counts(N: int, guide: Sequence[tuple[float, int]]) -> tuple[int, ...]:
    """Merged tokens per part for a layout of N tokens: c_i = max(1, round(n_i / r_i))."""
    bounds = part_bounds(N, [f for f, _ in guide])
    return tuple(max(1, round((bounds[i + 1] - bounds[i]) / r)) for i, (_, r) in enumerate(guide))


def rank_merge(x: torch.Tensor, order: torch.Tensor, fractions: Sequence[float], counts: Sequence[int],
               groups: Sequence[int], weights: Sequence[torch.Tensor],
               biases: Sequence[torch.Tensor | None]) -> torch.Tensor:
    """Significance-guided token reallocation.

    x: (B, N, C) tokens; order: (B, N) token indices sorted by ascending significance. Part i holds
    the ranks ``part_bounds(N, fractions)[i:i+2]``; its n_i tokens (as a sequence over ranks) are
    area-resampled to ``c_i r_i`` when n_i != c_i r_i (an identity at the layout the model was built
    for), grouped into c_i runs of r_i consecutive ranks and merged by ``Linear(r_i -> 1)`` with
    weight ``weights[i]: (1, r_i)`` shared over channels:  F_{r_i}(X_{pi_i})_g = sum_j w_j x_{pi(g r_i + j)} + b.
    Returns (B, sum_i c_i, C), least salient part first.
    """
    B, N, C = x.shape
    bounds = part_bounds(N, fractions)
    xs = torch.gather(x, 1, order.unsqueeze(-1).expand(B, N, C))  # (B, N, C) sorted ascending
    merged = []
    for i, (c, r) in enumerate(zip(counts, groups)):
        n_i = bounds[i + 1] - bounds[i]
        if n_i < c:
            raise ValueError(f"rank part {i} holds {n_i} tokens but must give {c} merged tokens: "
                             f"the input is too small for this layout")
        seq = xs[:, bounds[i]:bounds[i + 1]].transpose(1, 2)  # (B, C, n_i)
        if n_i != c * r:
            seq = F.adaptive_avg_pool1d(seq, c * r)  # resample along the rank axis
        seq = seq.reshape(B, C, c, r)
        merged.append(F.linear(seq, weights[i], biases[i]).squeeze(-1))  # (B, C, c)
    return torch.cat(merged, dim=-1).transpose(1, 2)


def sincos_pos_embed(dim: int, grid: int) -> torch.Tensor:
    """2-D sin-cos positional embedding (MAE's recipe, as the official pos_embed.py): (grid*grid, dim)."""
    if dim % 4:
        raise ValueError(f"sin-cos embedding needs a width divisible by 4, got {dim}")
    coords = torch.arange(grid, dtype=torch.float64)
    gh, gw = torch.meshgrid(coords, coords, indexing="xy")  # official: meshgrid(w, h) then stack
    omega = 1.0 / 10000 ** (torch.arange(dim // 4, dtype=torch.float64) / (dim / 4.0))

    def one(pos: torch.Tensor) -> torch.Tensor:
        out = pos.reshape(-1, 1) * omega[None]
        return torch.cat([out.sin(), out.cos()], dim=1)

    return torch.cat([one(gh), one(gw)], dim=1).float()


class _AttentionBase(nn.Module):
    """Shared parts: heads, scale, LePE (DWConv3x3(Linear(X)) added before the projection), projection."""

    def __init__(self, dim: int, num_heads: int, attn_drop: float = 0.0, proj_drop: float = 0.0):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"width {dim} is not divisible by {num_heads} heads")
        self.dim, self.num_heads = dim, num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.lepe_linear = nn.Linear(dim, dim)
        self.lepe_conv = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def lepe(self, x: torch.Tensor, H: int, W: int) -> torch.Tensor:
        B, N, C = x.shape
        y = self.lepe_linear(x).transpose(1, 2).reshape(B, C, H, W)
        return self.lepe_conv(y).flatten(2).transpose(1, 2)

    def heads(self, t: torch.Tensor, n_heads: int) -> torch.Tensor:
        """(B, N, n_heads*d) -> (B, n_heads, N, d)."""
        B, N, _ = t.shape
        return t.reshape(B, N, n_heads, self.head_dim).transpose(1, 2)

    def kv_heads(self, t: torch.Tensor, n_heads: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, M, 2*n_heads*d) -> k, v: (B, n_heads, M, d) each (the official kv layout)."""
        B, M, _ = t.shape
        kv = t.reshape(B, M, 2, n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        return kv[0], kv[1]

    def finish(self, out: torch.Tensor, x: torch.Tensor, H: int, W: int) -> torch.Tensor:
        """out: (B, h, N, d) or (B, N, C) -> proj(out + LePE(x))."""
        if out.dim() == 4:
            out = out.transpose(1, 2).flatten(2)
        return self.proj_drop(self.proj(out + self.lepe(x, H, W)))


class HybridScaleAttention(_AttentionBase):
    """Half the heads global over N/s^2 reduced keys, half in w x w windows; also returns S (detached).

    forward(x: (B, N, C), H, W) -> (out: (B, N, C), S: (B, N) row-major). Narrated in notebooks/sgformer.py.
    """

    def __init__(self, dim: int, num_heads: int, sr_ratio: int, window: int = 7, qkv_bias: bool = True,
                 attn_drop: float = 0.0, proj_drop: float = 0.0):
        super().__init__(dim, num_heads, attn_drop, proj_drop)
        if num_heads < 2 or num_heads % 2:
            raise ValueError(f"hybrid-scale attention splits the heads in two halves; got {num_heads} heads")
        if sr_ratio < 2:
            raise ValueError(f"hybrid-scale attention needs a reduction ratio >= 2, got {sr_ratio}")
        self.sr_ratio, self.window = sr_ratio, window
        self.sr = nn.Conv2d(dim, dim, kernel_size=sr_ratio, stride=sr_ratio)
        self.norm = nn.LayerNorm(dim)
        self.act = nn.GELU()
        self.q1 = nn.Linear(dim, dim // 2, bias=qkv_bias)   # global queries (h/2 heads)
        self.kv1 = nn.Linear(dim, dim, bias=qkv_bias)       # global keys/values from reduced tokens
        self.q2 = nn.Linear(dim, dim // 2, bias=qkv_bias)   # local queries
        self.kv2 = nn.Linear(dim, dim, bias=qkv_bias)       # local keys/values at full resolution

    def reduce(self, x: torch.Tensor, H: int, W: int) -> tuple[torch.Tensor, int, int]:
        """GELU(LN(Conv_{s x s, stride s}(X))) on the zero-padded grid: (B, N, C) -> (B, Hs*Ws, C)."""
        B, N, C = x.shape
        s = self.sr_ratio
        grid = x.transpose(1, 2).reshape(B, C, H, W)
        Hs, Ws = math.ceil(H / s), math.ceil(W / s)
        if (Hs * s, Ws * s) != (H, W):
            grid = F.pad(grid, (0, Ws * s - W, 0, Hs * s - H))
        red = self.sr(grid).flatten(2).transpose(1, 2)
        return self.act(self.norm(red)), Hs, Ws

    def forward(self, x: torch.Tensor, H: int, W: int) -> tuple[torch.Tensor, torch.Tensor]:
        B, N, C = x.shape
        half = self.num_heads // 2
        # global half: Q full length, K, V from the N/s^2 reduced tokens
        red, Hs, Ws = self.reduce(x, H, W)
        k1, v1 = self.kv_heads(self.kv1(red), half)
        out1, a1 = attention(self.heads(self.q1(x), half), k1, v1, self.scale)
        # local half: full resolution inside windows
        k2, v2 = self.kv_heads(self.kv2(x), half)
        out2, sig_local = local_window_attention(self.heads(self.q2(x), half), k2, v2, H, W, self.window,
                                                 self.scale)
        # S: attention received per key, mean over heads and queries, no gradient
        sig_global = a1.detach().mean(1).mean(1).reshape(B, Hs, Ws)
        sig = significance_map(sig_global, sig_local, self.sr_ratio).reshape(B, N)
        out = torch.cat([self.attn_drop(out1), self.attn_drop(out2)], dim=1)  # (B, h, N, d)
        return self.finish(out, x, H, W), sig


class SignificanceGuidedAttention(_AttentionBase):
    """Q from all N tokens; K, V from the significance-ranked, merged tokens (counts fixed at build time).

    ``guide``: ((fraction, r), ...) from the least to the most salient part; ``layout_tokens`` is N at
    the input size the model is built for, which fixes the counts c_i = round(n_i / r_i).
    forward(x: (B, N, C), H, W, S: (B, N)) -> (B, N, C). ``ranking="random"`` ranks by fresh random
    scores (the paper's ablation). Narrated in notebooks/sgformer.py.
    """

    def __init__(self, dim: int, num_heads: int, guide: Sequence[tuple[float, int]], layout_tokens: int,
                 qkv_bias: bool = True, attn_drop: float = 0.0, proj_drop: float = 0.0,
                 ranking: str = "significance"):
        super().__init__(dim, num_heads, attn_drop, proj_drop)
        if num_heads < 2 or num_heads % 2:
            raise ValueError(f"guided attention splits the heads in two halves; got {num_heads} heads")
        if ranking not in ("significance", "random"):
            raise ValueError(f"ranking: expected 'significance' or 'random', got {ranking!r}")
        if abs(sum(f for f, _ in guide) - 1.0) > 1e-6 or any(r < 1 for _, r in guide):
            raise ValueError(f"guide: fractions must sum to 1 and group sizes be >= 1, got {guide}")
        self.ranking = ranking
        self.fractions = tuple(float(f) for f, _ in guide)
        self.groups = tuple(int(r) for _, r in guide)
        self.counts = reallocation_counts(layout_tokens, guide)
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        # two K/V projections, one per half of the heads, as the official kv1/kv2 (see Fidelity box)
        self.kv1 = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv2 = nn.Linear(dim, dim, bias=qkv_bias)
        for i, r in enumerate(self.groups):
            setattr(self, f"f{i + 1}", nn.Linear(r, 1))  # F_{r_i}: one weight per rank in the group

    @property
    def kv_tokens(self) -> int:
        return sum(self.counts)

    def reallocate(self, x: torch.Tensor, sig: torch.Tensor) -> torch.Tensor:
        """(B, N, C), S: (B, N) -> the merged tokens (B, sum c_i, C)."""
        scores = torch.rand_like(sig) if self.ranking == "random" else sig
        order = torch.sort(scores.detach(), dim=1).indices  # ascending: index 0 = least salient
        fs = [getattr(self, f"f{i + 1}") for i in range(len(self.groups))]
        return rank_merge(x, order, self.fractions, self.counts, self.groups, [f.weight for f in fs],
                          [f.bias for f in fs])

    def forward(self, x: torch.Tensor, H: int, W: int, sig: torch.Tensor) -> torch.Tensor:
        if sig is None:
            raise ValueError("significance-guided attention needs the significance map of the block before it")
        half = self.num_heads // 2
        merged = self.reallocate(x, sig)
        k1, v1 = self.kv_heads(self.kv1(merged), half)
        k2, v2 = self.kv_heads(self.kv2(merged), half)
        k, v = torch.cat([k1, k2], 1), torch.cat([v1, v2], 1)
        out, _ = attention(self.heads(self.q(x), self.num_heads), k, v, self.scale, need_weights=False)
        return self.finish(self.attn_drop(out), x, H, W)


class SpatialReductionAttention(_AttentionBase):
    """PVT-style baseline: every head attends to the N/s^2 tokens GELU(LN(Conv_s(X))) (uniform reduction).

    forward(x: (B, N, C), H, W) -> (B, N, C).
    """

    def __init__(self, dim: int, num_heads: int, sr_ratio: int, qkv_bias: bool = True,
                 attn_drop: float = 0.0, proj_drop: float = 0.0):
        super().__init__(dim, num_heads, attn_drop, proj_drop)
        self.sr_ratio = sr_ratio
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(dim, 2 * dim, bias=qkv_bias)
        self.sr = nn.Conv2d(dim, dim, kernel_size=sr_ratio, stride=sr_ratio)
        self.norm = nn.LayerNorm(dim)
        self.act = nn.GELU()

    reduce = HybridScaleAttention.reduce

    def forward(self, x: torch.Tensor, H: int, W: int) -> torch.Tensor:
        red = self.reduce(x, H, W)[0] if self.sr_ratio > 1 else x
        k, v = self.kv_heads(self.kv(red), self.num_heads)
        out, _ = attention(self.heads(self.q(x), self.num_heads), k, v, self.scale, need_weights=False)
        return self.finish(self.attn_drop(out), x, H, W)


class GlobalAttention(SpatialReductionAttention):
    """Plain multi-head self-attention over all N tokens with LePE (SG-Former's last stage; the
    full-global-attention baseline). forward(x: (B, N, C), H, W) -> (B, N, C)."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True, attn_drop: float = 0.0,
                 proj_drop: float = 0.0):
        _AttentionBase.__init__(self, dim, num_heads, attn_drop, proj_drop)
        self.sr_ratio = 1
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(dim, 2 * dim, bias=qkv_bias)
