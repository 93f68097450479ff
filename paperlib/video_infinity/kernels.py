"""Video-Infinity's clip parallelism: the three temporal modules made exact (or dual-scope) across ranks.

The latent video ``z: (B, C, F, h, w)`` is cut along time into ``N`` equal clips of ``F_l = F / N``
frames; rank ``r`` holds frames ``r F_l ... (r+1) F_l - 1``. Spatial layers act per frame and need
nothing. The temporal modules of a diffusers video UNet get their context from the other ranks, with
torch.distributed collectives only (:class:`ClipComm`):

* :class:`ClipParallelTemporalConv` wraps ``TemporalConvLayer`` (4 x [GroupNorm, SiLU, Conv3d k=3] + a
  residual, receptive field +-4 frames): the 4 boundary frames of the layer input come from each
  neighbour, the layer runs on ``[left | own | right]`` and the halo is cropped. The ends of the video
  take no halo, so the layer's own zero padding acts there as in the unsplit model.
* :func:`synced_group_norm` / :class:`SyncedGroupNorm`: GroupNorms that span frames take their
  statistics over the whole video, ``mu = sum_r S1_r / n``, ``var = sum_r S2_r / n`` with
  ``S2_r = sum (x - mu)^2`` (two all-reduces of ``B G`` scalars).
* :class:`ClipParallelAttnProcessor`: dual-scope temporal attention,

  .. math:: o_i = \\mathrm{softmax}\\big(\\lambda q_i [K^{loc}_i; K^{glob}]^\\top/\\sqrt d
            + [b_{loc}(t) 1; b_{glob}(t) 1]\\big) [V^{loc}_i; V^{glob}]

  with local keys the frames ``i-p ... i+p`` (halos of ``p`` frames from each neighbour, never padded
  keys) and global keys ``k`` evenly spaced frames gathered from all ranks; ``(b_loc, b_glob) =
  (0, beta)`` for ``t >= t_phase`` and ``(beta, 0)`` below. :class:`DualScopeAttnProcessor` is the same
  pattern computed on the whole video in one process (the reference the split must equal).

Narrated in notebooks/video_infinity.py, Method.
"""
from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from ..core.cost import uncounted
from ..core.launch import needs_cpu_staging

__all__ = ["ClipComm", "DualScope", "ClipParallelState", "shared_frame_indices", "global_frame_indices",
           "local_key_frames", "phase_biases", "synced_group_norm", "SyncedGroupNorm",
           "ClipParallelTemporalConv", "ClipParallelAttnProcessor", "DualScopeAttnProcessor",
           "make_clip_parallel", "set_dual_scope_reference", "temporal_receptive_field", "bytes_per_layer_formula"]


class ClipComm:
    """The collectives a rank uses, each timed and its payload counted in bytes.

    ``bytes[kind]`` is the number of bytes this rank hands to collectives of that kind (its input
    tensor: what it contributes, whatever algorithm the backend uses); ``seconds`` is the wall time spent
    inside collectives (waiting for peers included). Without an initialised process group (or with one
    rank) it is the identity and counts nothing. Neighbours swap through ``all_gather`` in the two-rank
    groups ``{i, i+1}``: even ranks go right first, odd ranks left first, so pairs (0,1), (2,3), ... run
    together, then (1,2), (3,4), ...

    ``world_size=n`` splits over the first ``n`` processes of a larger launch only (a sub-group), so one
    launch can hold runs on 1, 2 and 4 processes; every process must still build the ``ClipComm`` (a
    torch.distributed rule for new groups), and ``member`` says whether this one takes part.
    """

    def __init__(self, world_size: int | None = None) -> None:
        self.distributed = dist.is_available() and dist.is_initialized()
        global_rank = dist.get_rank() if self.distributed else 0
        launched = dist.get_world_size() if self.distributed else 1
        world = launched if world_size is None else world_size
        if not 1 <= world <= launched:
            raise ValueError(f"world_size: expected 1 to {launched} processes, got {world}")
        self.rank, self.world_size, self.member = global_rank, world, global_rank < world
        self.group = None  # None: the default group (all processes)
        if self.distributed and world < launched and world > 1:
            self.group = dist.new_group(list(range(world)))
        # every process creates every pair group, in the same order (a torch.distributed rule)
        self.pair_groups = ([dist.new_group([i, i + 1]) for i in range(world - 1)] if world > 1 else [])
        self.reset()

    def reset(self) -> None:
        self.bytes: Counter = Counter()
        self.calls: Counter = Counter()
        self.seconds = 0.0

    @property
    def total_bytes(self) -> int:
        return int(sum(self.bytes.values()))

    def _account(self, kind: str, tensor: torch.Tensor, t0: float) -> None:
        if tensor.is_cuda:
            torch.cuda.synchronize(tensor.device)
        self.seconds += time.perf_counter() - t0
        self.bytes[kind] += tensor.numel() * tensor.element_size()
        self.calls[kind] += 1

    def all_reduce_sum(self, x: torch.Tensor, kind: str = "groupnorm") -> torch.Tensor:
        """Sum of ``x`` over all ranks (a new tensor)."""
        if self.world_size == 1:
            return x
        t0 = time.perf_counter()
        with uncounted():  # the backend's buffer: see paperlib.core.cost.uncounted
            staged = x.to("cpu" if needs_cpu_staging(x) else x.device, copy=True)
            dist.all_reduce(staged, op=dist.ReduceOp.SUM, group=self.group)
        self._account(kind, x, t0)
        return staged.to(x.device, copy=True)

    def all_gather(self, x: torch.Tensor, dim: int, kind: str = "global_kv") -> torch.Tensor:
        """Every rank's ``x`` concatenated along ``dim`` in rank order."""
        if self.world_size == 1:
            return x
        t0 = time.perf_counter()
        out = self._gather(x, self.group)
        self._account(kind, x, t0)
        return torch.cat([o.to(x.device) for o in out], dim=dim)

    @staticmethod
    def _gather(x: torch.Tensor, group) -> list[torch.Tensor]:
        """``all_gather`` of ``x`` over ``group``, through the CPU where the backend needs it, into buffers the
        backend owns (left out of the memory count: see :func:`paperlib.core.cost.uncounted`); callers copy
        out what they keep."""
        with uncounted():
            staged = x.to("cpu" if needs_cpu_staging(x) else x.device, copy=True).contiguous()
            out = [torch.empty_like(staged) for _ in range(dist.get_world_size(group))]
            dist.all_gather(out, staged, group=group)
        return out

    def exchange(self, to_left: torch.Tensor, to_right: torch.Tensor, kind: str
                 ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Send ``to_left`` to rank-1 and ``to_right`` to rank+1; return what they sent (None at an end)."""
        from_left = from_right = None
        order = ("right", "left") if self.rank % 2 == 0 else ("left", "right")
        for side in order:
            if side == "right" and self.rank < self.world_size - 1:
                from_right = self._pair(to_right, self.pair_groups[self.rank], kind, 1)
            elif side == "left" and self.rank > 0:
                from_left = self._pair(to_left, self.pair_groups[self.rank - 1], kind, 0)
        return from_left, from_right

    def _pair(self, x: torch.Tensor, group, kind: str, index: int) -> torch.Tensor:
        """Swap ``x`` within a two-rank group; return the group member ``index``'s tensor."""
        t0 = time.perf_counter()
        out = self._gather(x, group)
        self._account(kind, x, t0)
        return out[index].to(x.device, copy=True)


@dataclass(frozen=True)
class DualScope:
    """The temporal-attention pattern: local half-window ``padding`` (p), ``top_k`` global frames (k),
    the phase threshold ``phase_t`` and its bias ``beta``; ``token_num_scale`` sets
    ``lambda = log(n_keys) / log(16)``. ``padding=None`` turns the local scope off; ``top_k=0`` the global.
    Official defaults: p=8, k=16, t=800, beta=10, no token scaling (examples/config.json)."""

    padding: int | None = 8
    top_k: int = 16
    phase_t: float = 800.0
    bias: float = 10.0
    token_num_scale: bool = False

    def __post_init__(self) -> None:
        if self.padding is not None and self.padding < 0:
            raise ValueError(f"padding: expected an integer >= 0 or None, got {self.padding}")
        if self.top_k < 0 or (self.padding is None and self.top_k == 0):
            raise ValueError(f"top_k: expected an integer >= 0 (> 0 without a local scope), got {self.top_k}")

    @classmethod
    def exact(cls, total_frames: int) -> "DualScope":
        """Global scope over every frame and no local scope: plain full temporal attention."""
        return cls(padding=None, top_k=total_frames, bias=0.0)


@dataclass
class ClipParallelState:
    """What the patched modules share: the current diffusion timestep (set by a UNet forward pre-hook)."""

    t: float | None = None


def shared_frame_indices(frames_per_rank: int, top_k: int, world_size: int) -> list[int]:
    """Local indices of the frames a rank shares globally: ``s = k // N``, stride ``F_l // s``,
    indices ``0, stride, ...`` (``[0]`` when ``s = 0``), as in the official ``get_topk``."""
    if top_k == 0:
        return []
    share = top_k // world_size
    stride = max(frames_per_rank // share, 1) if share else frames_per_rank
    return list(range(0, frames_per_rank, stride))


def global_frame_indices(total_frames: int, world_size: int, top_k: int) -> list[int]:
    """Video frame indices of the global keys: every rank's shared frames, in rank order, first ``k``."""
    f_l = total_frames // world_size
    local = shared_frame_indices(f_l, top_k, world_size)
    return [r * f_l + i for r in range(world_size) for i in local][:top_k]


def local_key_frames(rank: int, world_size: int, frames_per_rank: int, padding: int) -> list[int]:
    """Video frame indices of a rank's local keys ``[left halo | own | right halo]``; the ends of the
    video take no halo on their outer side, so every index is a real frame."""
    start = rank * frames_per_rank - (padding if rank > 0 else 0)
    stop = (rank + 1) * frames_per_rank + (padding if rank < world_size - 1 else 0)
    return list(range(start, stop))


def phase_biases(t: float | None, scope: DualScope) -> tuple[float, float]:
    """``(b_loc, b_glob)``: global scope favoured while ``t >= t_phase`` (noisy steps), local after."""
    if t is None:
        raise RuntimeError("dual-scope attention needs the timestep: call the UNet through make_clip_parallel")
    return (0.0, scope.bias) if t >= scope.phase_t else (scope.bias, 0.0)


def synced_group_norm(norm: nn.GroupNorm, x: torch.Tensor, comm: ClipComm,
                      own: slice | None = None) -> torch.Tensor:
    """GroupNorm of ``x: (B, C, T, H, W)`` with statistics over the whole video.

    ``mu = sum_r S1_r / n`` then ``var = sum_r sum (x - mu)^2 / n`` over each rank's ``own`` frames
    (halo frames are normalised with the same statistics but not counted); clips have equal size.
    """
    b, c = x.shape[:2]
    g = norm.num_groups
    acc = torch.float64 if x.dtype == torch.float64 else torch.float32  # half sums overflow: fp32 stats
    xo = (x if own is None else x[:, :, own]).reshape(b, g, -1).to(acc)
    n = xo.shape[-1] * comm.world_size
    mean = comm.all_reduce_sum(xo.sum(-1)) / n  # (B, G)
    var = comm.all_reduce_sum(((xo - mean[..., None]) ** 2).sum(-1)) / n  # (B, G), biased like GroupNorm
    y = (x.reshape(b, g, -1).to(acc) - mean[..., None]) * torch.rsqrt(var[..., None] + norm.eps)
    y = y.reshape(x.shape).to(x.dtype)
    if norm.affine:
        shape = (1, c) + (1,) * (x.dim() - 2)
        y = y * norm.weight.view(shape) + norm.bias.view(shape)
    return y


class SyncedGroupNorm(nn.Module):
    """Drop-in for a temporal transformer's ``norm`` (input ``(B, C, F_l, H, W)``): video-wide statistics."""

    def __init__(self, norm: nn.GroupNorm, comm: ClipComm):
        super().__init__()
        self.inner, self.comm = norm, comm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return synced_group_norm(self.inner, x, self.comm)


def temporal_receptive_field(layer: nn.Module) -> int:
    """Frames a ``TemporalConvLayer`` reads on each side: the sum of ``(k_t - 1) / 2`` over its Conv3d."""
    return sum((m.kernel_size[0] - 1) // 2 for m in layer.modules() if isinstance(m, nn.Conv3d))


class ClipParallelTemporalConv(nn.Module):
    """``TemporalConvLayer`` on a clip with a halo of its receptive field from each neighbour.

    Input/output ``(B F_l, C, H, W)`` like diffusers'. Runs ``[left | own | right]``, each GroupNorm synced
    over the own frames of all ranks, then crops the halo; ``out = x + h`` on the own frames.
    """

    def __init__(self, layer: nn.Module, comm: ClipComm):
        super().__init__()
        self.layer, self.comm = layer, comm
        self.halo = temporal_receptive_field(layer)

    def forward(self, hidden_states: torch.Tensor, num_frames: int = 1) -> torch.Tensor:
        bf, c, hh, ww = hidden_states.shape
        x = hidden_states.reshape(bf // num_frames, num_frames, c, hh, ww).permute(0, 2, 1, 3, 4)  # (B,C,F_l,H,W)
        if num_frames < self.halo and self.comm.world_size > 1:
            raise ValueError(f"clip of {num_frames} frames is shorter than the temporal conv halo ({self.halo})")
        left, right = self.comm.exchange(x[:, :, :self.halo], x[:, :, -self.halo:], kind="conv_halo")
        h = torch.cat([t for t in (left, x, right) if t is not None], dim=2)
        lo = 0 if left is None else left.shape[2]
        own = slice(lo, lo + num_frames)
        for block in (self.layer.conv1, self.layer.conv2, self.layer.conv3, self.layer.conv4):
            for m in block:
                h = synced_group_norm(m, h, self.comm, own) if isinstance(m, nn.GroupNorm) else m(h)
        out = x + h[:, :, own]  # zero padding contaminates at most `halo` frames per side: own ones are exact
        return out.permute(0, 2, 1, 3, 4).reshape(bf, c, hh, ww)


def _qkv(attn, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor | None):
    """Heads-split ``q, k, v: (N, heads, F, d)`` of a self-attention over frames."""
    if encoder_hidden_states is not None:
        raise ValueError("temporal attention over frames must be self-attention (encoder_hidden_states=None)")
    if attn.group_norm is not None or attn.spatial_norm is not None or attn.residual_connection:
        raise NotImplementedError("Attention with group_norm/spatial_norm/residual_connection is not supported")
    n, f, _ = hidden_states.shape
    q, k, v = attn.to_q(hidden_states), attn.to_k(hidden_states), attn.to_v(hidden_states)
    split = lambda t: t.view(n, f, attn.heads, -1).transpose(1, 2)  # (N, heads, F, d)
    q, k, v = split(q), split(k), split(v)
    if attn.norm_q is not None:
        q, k = attn.norm_q(q), attn.norm_k(k)
    return q, k, v


def _attend(attn, q, k, v, bias, allowed, token_num_scale: bool) -> torch.Tensor:
    """``softmax(lambda q K^T scale + bias, masked) V`` -> projected ``(N, F, C)``.

    ``bias: (F_q, n_keys)``, ``allowed: (F_q, n_keys)`` bool."""
    n, heads, f, d = q.shape
    logits = q @ k.transpose(-1, -2) * attn.scale  # (N, heads, F_q, n_keys)
    if token_num_scale:
        lam = torch.log(allowed.sum(-1).to(q.dtype)) / math.log(16.0)  # (F_q,)
        logits = logits * lam[:, None]
    logits = logits + bias.masked_fill(~allowed, float("-inf"))
    o = torch.softmax(logits, dim=-1) @ v  # (N, heads, F_q, d)
    o = o.transpose(1, 2).reshape(n, f, heads * d)
    o = attn.to_out[1](attn.to_out[0](o))
    return o / attn.rescale_output_factor


class ClipParallelAttnProcessor:
    """Dual-scope temporal attention on one rank's clip (a diffusers attention processor).

    ``hidden_states: (B h w, F_l, C)``. Local keys: ``[left halo p | own | right halo p]`` of K and V from the
    neighbours, window ``|i - j| <= p``; global keys: :func:`shared_frame_indices` of every rank,
    all-gathered and truncated to ``k``. Bias :func:`phase_biases` on each scope.
    """

    def __init__(self, comm: ClipComm, scope: DualScope, state: ClipParallelState):
        self.comm, self.scope, self.state = comm, scope, state

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None,
                 *args, **kwargs):
        q, k, v = _qkv(attn, hidden_states, encoder_hidden_states)
        f_l, rank, world = q.shape[2], self.comm.rank, self.comm.world_size
        s = self.scope
        b_loc, b_glob = phase_biases(self.state.t, s) if s.bias else (0.0, 0.0)
        kv = torch.stack([k, v])  # (2, N, heads, F_l, d)
        qi = torch.arange(f_l, device=q.device) + rank * f_l  # video index of each query frame
        keys, biases, allowed = [], [], []
        if s.padding is not None:
            p = s.padding
            if p > f_l and world > 1:
                raise ValueError(f"clip of {f_l} frames is shorter than the attention halo (padding={p})")
            if p > 0:
                left, right = self.comm.exchange(kv[..., :p, :], kv[..., -p:, :], kind="local_kv")
            else:
                left = right = None
            kv_loc = torch.cat([t for t in (left, kv, right) if t is not None], dim=-2)
            kj = torch.arange(kv_loc.shape[-2], device=q.device) + rank * f_l - (0 if left is None else p)
            keys.append(kv_loc)
            allowed.append((kj[None, :] - qi[:, None]).abs() <= p)
            biases.append(torch.full(allowed[-1].shape, b_loc, dtype=q.dtype, device=q.device))
        if s.top_k > 0:
            idx = shared_frame_indices(f_l, s.top_k, world)
            kv_glob = self.comm.all_gather(kv[..., idx, :], dim=-2)[..., :s.top_k, :]
            keys.append(kv_glob)
            allowed.append(torch.ones(f_l, kv_glob.shape[-2], dtype=torch.bool, device=q.device))
            biases.append(torch.full(allowed[-1].shape, b_glob, dtype=q.dtype, device=q.device))
        kv_all = torch.cat(keys, dim=-2)
        return _attend(attn, q, kv_all[0], kv_all[1], torch.cat(biases, 1), torch.cat(allowed, 1),
                       s.token_num_scale)


class DualScopeAttnProcessor:
    """The same dual-scope pattern on the whole video in one process (the reference for the split run).

    Local keys: all ``F`` frames masked to ``|i - j| <= p``; global keys: frames
    :func:`global_frame_indices` ``(F, N, k)`` as an ``N``-rank split would choose them.
    """

    def __init__(self, scope: DualScope, world_size: int, state: ClipParallelState):
        self.scope, self.world_size, self.state = scope, world_size, state

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None,
                 *args, **kwargs):
        q, k, v = _qkv(attn, hidden_states, encoder_hidden_states)
        f, s = q.shape[2], self.scope
        b_loc, b_glob = phase_biases(self.state.t, s) if s.bias else (0.0, 0.0)
        i = torch.arange(f, device=q.device)
        ks, vs, biases, allowed = [], [], [], []
        if s.padding is not None:
            ks.append(k); vs.append(v)
            allowed.append((i[None, :] - i[:, None]).abs() <= s.padding)
            biases.append(torch.full((f, f), b_loc, dtype=q.dtype, device=q.device))
        if s.top_k > 0:
            g = torch.tensor(global_frame_indices(f, self.world_size, s.top_k), device=q.device)
            ks.append(k[..., g, :]); vs.append(v[..., g, :])
            allowed.append(torch.ones(f, len(g), dtype=torch.bool, device=q.device))
            biases.append(torch.full((f, len(g)), b_glob, dtype=q.dtype, device=q.device))
        return _attend(attn, q, torch.cat(ks, -2), torch.cat(vs, -2), torch.cat(biases, 1),
                       torch.cat(allowed, 1), s.token_num_scale)


def _temporal_prefixes(unet: nn.Module) -> list[str]:
    from diffusers.models.transformers.transformer_temporal import TransformerTemporalModel

    return [name + "." for name, m in unet.named_modules() if isinstance(m, TransformerTemporalModel)]


def _track_timestep(unet: nn.Module, state: ClipParallelState) -> None:
    def hook(module, args, kwargs):
        t = args[1] if len(args) > 1 else kwargs["timestep"]
        state.t = float(t.flatten()[0]) if torch.is_tensor(t) else float(t)
    unet.register_forward_pre_hook(hook, with_kwargs=True)


def make_clip_parallel(unet: nn.Module, comm: ClipComm, scope: DualScope) -> ClipParallelState:
    """Patch a diffusers video UNet in place for clip parallelism on ``comm``'s process group.

    Swaps every ``TemporalConvLayer`` for :class:`ClipParallelTemporalConv`, every temporal transformer's
    ``norm`` for :class:`SyncedGroupNorm`, and sets :class:`ClipParallelAttnProcessor` on the attention
    layers inside temporal transformers (attn1 and attn2: both are self-attention over frames).
    """
    from diffusers.models.resnet import TemporalConvLayer
    from diffusers.models.transformers.transformer_temporal import TransformerTemporalModel

    for module in list(unet.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, TemporalConvLayer):
                setattr(module, child_name, ClipParallelTemporalConv(child, comm))
        if isinstance(module, TransformerTemporalModel) and isinstance(module.norm, nn.GroupNorm):
            module.norm = SyncedGroupNorm(module.norm, comm)
    return _set_temporal_processors(unet, lambda state: ClipParallelAttnProcessor(comm, scope, state))


def set_dual_scope_reference(unet: nn.Module, scope: DualScope, world_size: int) -> ClipParallelState:
    """Set :class:`DualScopeAttnProcessor` on the temporal attention of an unsplit UNet (one process)."""
    return _set_temporal_processors(unet, lambda state: DualScopeAttnProcessor(scope, world_size, state))


def _set_temporal_processors(unet: nn.Module, make) -> ClipParallelState:
    """Give every temporal attention layer ``make(state)`` (one shared state), others unchanged."""
    state = ClipParallelState()
    prefixes = _temporal_prefixes(unet)
    procs = {name: (make(state) if any(name.startswith(p) for p in prefixes) else proc)
             for name, proc in unet.attn_processors.items()}
    unet.set_attn_processor(procs)
    _track_timestep(unet, state)
    return state


def bytes_per_layer_formula(frames_per_rank: int, unit_bytes: int, scope: DualScope, world_size: int,
                            conv_halo: int = 4) -> dict[str, int]:
    """Closed form of one interior rank's payload per temporal layer (unit = one frame, ``B h w C``
    elements): K/V halos ``2 * 2p``, global K/V ``2 * |shared|``, conv halos ``2 * halo``."""
    p = scope.padding or 0
    shared = len(shared_frame_indices(frames_per_rank, scope.top_k, world_size))
    return {"local_kv": 2 * 2 * p * unit_bytes, "global_kv": 2 * shared * unit_bytes,
            "conv_halo": 2 * conv_halo * unit_bytes}
