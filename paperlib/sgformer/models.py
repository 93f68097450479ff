"""The staged SG-Former (S / M / B and the chapter's miniature), registered with timm.

Macro design (the official sgformer.py): a conv stem (3x3 convs with GroupNorm(1), total stride 4;
stride 2 in the miniature), a sin-cos-initialised positional embedding, stages of pre-norm blocks
(attention + FFN with a depthwise 3x3), 1x1 -> depthwise 3x3 s2 -> 1x1 patch merging between stages,
mean pooling, a linear head. In every stage with a reduction ratio s > 1, even blocks are hybrid-scale
(they produce S) and odd blocks are significance-guided (they consume S); a stage with s = 1 uses
plain multi-head attention.

``attention="sg"`` is SG-Former; ``"sra"`` replaces every attention of the s > 1 stages by uniform
spatial reduction (the PVT-like baseline); ``"global"`` uses full attention everywhere.
``ranking="random"`` is the random-rank ablation. Narrated in notebooks/sgformer.py.
"""
from __future__ import annotations

import math
from functools import partial
from typing import Sequence

import torch
from timm.layers import DropPath, resample_abs_pos_embed, trunc_normal_
from timm.models import register_model
from torch import nn

from .kernels import (OFFICIAL_GUIDES, GlobalAttention, HybridScaleAttention, SignificanceGuidedAttention,
                      SpatialReductionAttention, part_bounds, sincos_pos_embed)

ATTENTIONS = ("sg", "sra", "global")
VARIANTS = {
    # name: (dims, heads, depths); all: MLP ratio 4, qkv bias, sr 8-4-2-1 (card, official sgformer.py)
    "sgformer_s": ((64, 128, 256, 512), (2, 4, 8, 16), (2, 4, 16, 1)),
    "sgformer_m": ((64, 128, 256, 512), (2, 4, 8, 16), (2, 6, 28, 2)),
    "sgformer_b": ((96, 192, 384, 768), (4, 6, 12, 24), (4, 6, 24, 2)),
}
# The miniature (card): 28x28 input, stem stride 2 -> 14x14 tokens, C = 48, 4 heads, s = 2 with
# (49, 7, 1) merge groups over the bottom 25 % / middle 50 % / top 25 % ranks -> 1 + 14 + 49 = 64 KV tokens.
MINI_GUIDE = ((0.25, 49), (0.5, 7), (0.25, 1))


class ConvNorm(nn.Sequential):
    """Conv2d (no bias) + GroupNorm(1) (the official ``Conv2d_BN``)."""

    def __init__(self, a: int, b: int, ks: int = 1, stride: int = 1, pad: int = 0, groups: int = 1):
        super().__init__()
        self.add_module("c", nn.Conv2d(a, b, ks, stride, pad, groups=groups, bias=False))
        self.add_module("bn", nn.GroupNorm(1, b))


class Stem(nn.Module):
    """conv3x3 s2 -> GELU -> conv3x3 -> GELU -> conv3x3 s(stride/2), then LayerNorm over tokens (``norm``)."""

    def __init__(self, dim: int, stride: int = 4, in_chans: int = 3, norm: bool = True):
        super().__init__()
        if stride not in (2, 4):
            raise ValueError(f"stem stride: expected 2 or 4, got {stride}")
        self.conv = nn.Sequential(ConvNorm(in_chans, dim, 3, 2, 1), nn.GELU(), ConvNorm(dim, dim, 3, 1, 1),
                                  nn.GELU(), ConvNorm(dim, dim, 3, stride // 2, 1))
        self.norm = nn.LayerNorm(dim) if norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
        x = self.conv(x)
        H, W = x.shape[-2:]
        return self.norm(x.flatten(2).transpose(1, 2)), H, W


class PatchMerging(nn.Module):
    """1x1 -> GELU -> depthwise 3x3 s2 -> GELU -> 1x1, each with GroupNorm(1): (B, C, H, W) -> tokens."""

    def __init__(self, dim: int, out_dim: int):
        super().__init__()
        self.act = nn.GELU()
        self.conv1 = ConvNorm(dim, out_dim, 1)
        self.conv2 = ConvNorm(out_dim, out_dim, 3, 2, 1, groups=out_dim)
        self.conv3 = ConvNorm(out_dim, out_dim, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
        x = self.conv3(self.act(self.conv2(self.act(self.conv1(x)))))
        H, W = x.shape[-2:]
        return x.flatten(2).transpose(1, 2), H, W


class DWConv(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 3, 1, 1, groups=dim)

    def forward(self, x: torch.Tensor, H: int, W: int) -> torch.Tensor:
        B, N, C = x.shape
        return self.dwconv(x.transpose(1, 2).reshape(B, C, H, W)).flatten(2).transpose(1, 2)


class Mlp(nn.Module):
    """fc1 -> (+ depthwise 3x3) -> GELU -> fc2."""

    def __init__(self, dim: int, hidden: int, drop: float = 0.0):
        super().__init__()
        self.fc1, self.dwconv, self.act = nn.Linear(dim, hidden), DWConv(hidden), nn.GELU()
        self.fc2, self.drop = nn.Linear(hidden, dim), nn.Dropout(drop)

    def forward(self, x: torch.Tensor, H: int, W: int) -> torch.Tensor:
        x = self.fc1(x)
        x = self.drop(self.act(x + self.dwconv(x, H, W)))
        return self.drop(self.fc2(x))


class Block(nn.Module):
    """x + DropPath(Attn(LN(x))); x + DropPath(MLP(LN(x))). ``kind``: hybrid | guided | sra | global."""

    def __init__(self, dim: int, num_heads: int, kind: str, sr_ratio: int, mlp_ratio: float = 4.0,
                 drop_path: float = 0.0, window: int = 7, guide=None, layout_tokens: int = 0,
                 ranking: str = "significance", drop: float = 0.0, attn_drop: float = 0.0):
        super().__init__()
        self.kind = kind
        norm = partial(nn.LayerNorm, eps=1e-6)
        self.norm1, self.norm2 = norm(dim), norm(dim)
        if kind == "hybrid":
            self.attn = HybridScaleAttention(dim, num_heads, sr_ratio, window, attn_drop=attn_drop, proj_drop=drop)
        elif kind == "guided":
            self.attn = SignificanceGuidedAttention(dim, num_heads, guide, layout_tokens, attn_drop=attn_drop,
                                                    proj_drop=drop, ranking=ranking)
        elif kind == "sra":
            self.attn = SpatialReductionAttention(dim, num_heads, sr_ratio, attn_drop=attn_drop, proj_drop=drop)
        elif kind == "global":
            self.attn = GlobalAttention(dim, num_heads, attn_drop=attn_drop, proj_drop=drop)
        else:
            raise ValueError(f"block kind: expected hybrid, guided, sra or global, got {kind!r}")
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop)

    def forward(self, x: torch.Tensor, H: int, W: int, sig: torch.Tensor | None = None):
        """Returns (x, S): S is the new significance map after a hybrid block, else None."""
        y = self.norm1(x)
        if self.kind == "hybrid":
            y, sig = self.attn(y, H, W)
        elif self.kind == "guided":
            y, sig = self.attn(y, H, W, sig), None
        else:
            y, sig = self.attn(y, H, W), None
        x = x + self.drop_path(y)
        return x + self.drop_path(self.mlp(self.norm2(x), H, W)), sig


POOLS = ("avg", "max", "avgmax")
HEAD_NORMS = ("tokens", "pooled")


def pool_tokens(x: torch.Tensor, how: str) -> torch.Tensor:
    """(B, N, C) -> (B, C): mean over tokens (the paper's head), max, or their average (timm's avgmax)."""
    if how == "avg":
        return x.mean(dim=1)
    if how == "max":
        return x.amax(dim=1)
    return 0.5 * (x.mean(dim=1) + x.amax(dim=1))


class SGFormer(nn.Module):
    """Self-guided transformer. forward(x: (B, 3, H, W)) -> logits (B, num_classes).

    ``img_size`` fixes the layout (the positional-embedding grid and the guided blocks' KV counts);
    other input sizes work as long as every guided block's rank parts hold at least as many tokens as
    they must give (``check_input`` says which size is too small). ``guides`` overrides, per stage,
    the ((fraction, r), ...) table; default: the official one for s = 8, 4, 2.

    Per-token LayerNorm gives every background token the scale of the object's tokens: harmless for
    ImageNet's large objects, it hides a small one (the chapter's miniature). ``stem_norm=False`` drops the
    stem's per-token LayerNorm (its convolutions keep their GroupNorm over the whole image);
    ``head_norm="pooled"`` applies the last stage's LayerNorm to the pooled vector (timm's ``fc_norm``) instead
    of every token before pooling (``"tokens"``, official).
    """

    def __init__(self, img_size: int = 224, in_chans: int = 3, num_classes: int = 1000,
                 embed_dims: Sequence[int] = (64, 128, 256, 512), num_heads: Sequence[int] = (2, 4, 8, 16),
                 depths: Sequence[int] = (2, 4, 16, 1), sr_ratios: Sequence[int] = (8, 4, 2, 1),
                 mlp_ratio: float = 4.0, drop_rate: float = 0.0, attn_drop_rate: float = 0.0,
                 drop_path_rate: float = 0.0, stem_stride: int = 4, window: int = 7,
                 guides: Sequence | None = None, attention: str = "sg", ranking: str = "significance",
                 global_pool: str = "avg", head_norm: str = "tokens", stem_norm: bool = True, **kwargs):
        super().__init__()
        for timm_key in ("pretrained_cfg", "pretrained_cfg_overlay", "cache_dir"):  # timm passes these
            kwargs.pop(timm_key, None)
        if kwargs:
            raise TypeError(f"SGFormer got unexpected arguments: {sorted(kwargs)}")
        if global_pool not in POOLS:
            raise ValueError(f"global_pool: expected one of {POOLS}, got {global_pool!r}")
        if head_norm not in HEAD_NORMS:
            raise ValueError(f"head_norm: expected one of {HEAD_NORMS}, got {head_norm!r}")
        if attention not in ATTENTIONS:
            raise ValueError(f"attention: expected one of {ATTENTIONS}, got {attention!r}")
        n = len(depths)
        if not (len(embed_dims) == len(num_heads) == len(sr_ratios) == n):
            raise ValueError("embed_dims, num_heads, depths and sr_ratios need one entry per stage")
        self.num_classes, self.num_features, self.img_size = num_classes, embed_dims[-1], img_size
        self.attention, self.stem_stride, self.window = attention, stem_stride, window
        self.global_pool, self.head_norm = global_pool, head_norm
        total = sum(depths)
        dpr = [drop_path_rate * k / max(total - 1, 1) for k in range(total)]  # stochastic depth rule
        grid, cur = math.ceil(img_size / stem_stride), 0
        self.pos_grid = grid
        for i in range(n):
            s = sr_ratios[i]
            guide = (guides[i] if guides is not None else None) or OFFICIAL_GUIDES.get(s)
            if attention == "sg" and s > 1:
                if depths[i] % 2:
                    raise ValueError(f"stage {i + 1}: hybrid and guided blocks alternate, depth must be even")
                if guide is None:
                    raise ValueError(f"stage {i + 1}: no reallocation table for s = {s}; pass guides=")
                kinds = ["hybrid" if j % 2 == 0 else "guided" for j in range(depths[i])]
            elif attention in ("sg", "sra") and s == 1:
                kinds = ["global"] * depths[i]
            else:
                kinds = [attention] * depths[i] if attention == "global" else ["sra"] * depths[i]
            embed = Stem(embed_dims[0], stem_stride, in_chans, stem_norm) if i == 0 else \
                PatchMerging(embed_dims[i - 1], embed_dims[i])
            blocks = nn.ModuleList(
                Block(embed_dims[i], num_heads[i], kind, s, mlp_ratio, dpr[cur + j], window, guide, grid * grid,
                      ranking, drop_rate, attn_drop_rate) for j, kind in enumerate(kinds))
            setattr(self, f"patch_embed{i + 1}", embed)
            setattr(self, f"block{i + 1}", blocks)
            setattr(self, f"norm{i + 1}", nn.LayerNorm(embed_dims[i], eps=1e-6))
            cur += depths[i]
            grid = math.ceil(grid / 2)
        self.num_stages = n
        self.pos_embed = nn.Parameter(torch.zeros(1, self.pos_grid ** 2, embed_dims[0]))
        self.head = nn.Linear(embed_dims[-1], num_classes) if num_classes > 0 else nn.Identity()
        self.apply(self._init_weights)
        self.pos_embed.data.copy_(sincos_pos_embed(embed_dims[0], self.pos_grid).unsqueeze(0))

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        """As the official code: truncated normal linears, fan-out normal convs, unit norms."""
        if isinstance(m, nn.Linear):
            trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.LayerNorm, nn.GroupNorm)):
            nn.init.ones_(m.weight), nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Conv2d):
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
            m.weight.data.normal_(0, math.sqrt(2.0 / fan_out))
            if m.bias is not None:
                m.bias.data.zero_()

    @torch.jit.ignore
    def no_weight_decay(self) -> set[str]:
        return {"pos_embed"}

    def get_classifier(self) -> nn.Module:
        return self.head

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        if global_pool is not None:
            if global_pool not in POOLS:
                raise ValueError(f"global_pool: expected one of {POOLS}, got {global_pool!r}")
            self.global_pool = global_pool
        self.num_classes = num_classes
        self.head = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

    def stage_grids(self, H: int, W: int) -> list[tuple[int, int]]:
        """Token grid of every stage for an H x W input."""
        grids, h, w = [], math.ceil(H / self.stem_stride), math.ceil(W / self.stem_stride)
        for _ in range(self.num_stages):
            grids.append((h, w))
            h, w = math.ceil(h / 2), math.ceil(w / 2)
        return grids

    def min_input_size(self) -> int:
        """Smallest square input every guided block accepts."""
        size = self.stem_stride
        while self._too_small(size, size) is not None:
            size += self.stem_stride
        return size

    def _too_small(self, H: int, W: int) -> str | None:
        for i, (h, w) in enumerate(self.stage_grids(H, W)):
            for blk in getattr(self, f"block{i + 1}"):
                if blk.kind != "guided":
                    continue
                a = blk.attn
                bounds = part_bounds(h * w, a.fractions)
                if any(bounds[k + 1] - bounds[k] < c for k, c in enumerate(a.counts)):
                    return (f"stage {i + 1} has {h}x{w} tokens, but its guided attention keeps {a.kv_tokens} "
                            f"key/value tokens {a.counts} over rank parts {tuple(a.fractions)}")
                break
        return None

    def check_input(self, H: int, W: int) -> None:
        """Raise a clear ValueError when an H x W input is too small for the layout."""
        why = self._too_small(H, W)
        if why is not None:
            raise ValueError(f"input {H}x{W} is too small for this SG-Former (built for {self.img_size}): {why}; "
                             f"use inputs of at least {self.min_input_size()} or build it with img_size={max(H, W)}")

    def positional(self, H: int, W: int) -> torch.Tensor:
        if (H, W) == (self.pos_grid, self.pos_grid):
            return self.pos_embed
        return resample_abs_pos_embed(self.pos_embed, (H, W), (self.pos_grid, self.pos_grid), num_prefix_tokens=0)

    def forward_features(self, x: torch.Tensor, return_significance: bool = False):
        """(B, 3, H, W) -> pooled features (B, C_last); with ``return_significance`` also every hybrid
        block's S as a list of (stage, block, (B, h, w)) maps."""
        if x.dim() != 4:
            raise ValueError(f"expected images (B, C, H, W), got a tensor of shape {tuple(x.shape)}")
        self.check_input(*x.shape[-2:])
        B, maps = x.shape[0], []
        for i in range(self.num_stages):
            x, H, W = getattr(self, f"patch_embed{i + 1}")(x)
            if i == 0:
                x = x + self.positional(H, W)
            sig = None
            for j, blk in enumerate(getattr(self, f"block{i + 1}")):
                x, sig = blk(x, H, W, sig)
                if sig is not None and return_significance:
                    maps.append((i + 1, j, sig.reshape(B, H, W)))
            if i != self.num_stages - 1:
                x = getattr(self, f"norm{i + 1}")(x).transpose(1, 2).reshape(B, -1, H, W)
        norm = getattr(self, f"norm{self.num_stages}")
        pooled = norm(pool_tokens(x, self.global_pool)) if self.head_norm == "pooled" else \
            pool_tokens(norm(x), self.global_pool)
        return (pooled, maps) if return_significance else pooled

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return x if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def significance(self, x: torch.Tensor) -> list[tuple[int, int, torch.Tensor]]:
        """Every hybrid block's significance map for a batch (no gradient)."""
        with torch.no_grad():
            return self.forward_features(x, return_significance=True)[1]

    def kv_tokens(self) -> dict[str, int]:
        """Key/value tokens of every guided block at the build layout, keyed ``stage.block``."""
        return {f"{i + 1}.{j}": blk.attn.kv_tokens for i in range(self.num_stages)
                for j, blk in enumerate(getattr(self, f"block{i + 1}")) if blk.kind == "guided"}


def _cfg(**kw) -> dict:
    return {"num_classes": 1000, "input_size": (3, 224, 224), "pool_size": None, "crop_pct": 0.9,
            "interpolation": "bicubic", "mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225),
            "first_conv": "patch_embed1.conv.0.c", "classifier": "head", **kw}


def _variant(name: str, pretrained: bool, **kwargs) -> SGFormer:
    if pretrained:
        raise ValueError(f"{name}: no hub weights here; load the official checkpoint's state_dict_ema "
                         "with paperlib.sgformer.load_official(model, path)")
    dims, heads, depths = VARIANTS[name]
    model = SGFormer(embed_dims=dims, num_heads=heads, depths=depths, sr_ratios=(8, 4, 2, 1), **kwargs)
    model.default_cfg = model.pretrained_cfg = _cfg()
    return model


@register_model
def sgformer_s(pretrained: bool = False, **kwargs) -> SGFormer:
    """SG-Former-S: dims 64-128-256-512, heads 2-4-8-16, depths 2-4-16-1 (23M, 4.8G MACs)."""
    return _variant("sgformer_s", pretrained, **kwargs)


@register_model
def sgformer_m(pretrained: bool = False, **kwargs) -> SGFormer:
    """SG-Former-M: dims 64-128-256-512, heads 2-4-8-16, depths 2-6-28-2 (39M, 7.5G MACs)."""
    return _variant("sgformer_m", pretrained, **kwargs)


@register_model
def sgformer_b(pretrained: bool = False, **kwargs) -> SGFormer:
    """SG-Former-B: dims 96-192-384-768, heads 4-6-12-24, depths 4-6-24-2 (78M, 15.6G MACs)."""
    return _variant("sgformer_b", pretrained, **kwargs)


@register_model
def sgformer_mini(pretrained: bool = False, **kwargs) -> SGFormer:
    """The card's miniature: 28x28 input, stem s2, [48, 96] dims, 4 heads, depths [4, 2], s = [2, 1]. The chapter
    builds it at its own canvas, widths and head (:func:`paperlib.sgformer.miniature.build`)."""
    if pretrained:
        raise ValueError("sgformer_mini has no pretrained weights")
    cfg = dict(img_size=28, num_classes=10, embed_dims=(48, 96), num_heads=(4, 4), depths=(4, 2),
               sr_ratios=(2, 1), stem_stride=2, guides=(MINI_GUIDE, None))
    cfg.update(kwargs)
    model = SGFormer(**cfg)
    model.default_cfg = model.pretrained_cfg = _cfg(num_classes=cfg["num_classes"],
                                                    input_size=(3, cfg["img_size"], cfg["img_size"]))
    return model


def create(name: str, **kwargs) -> SGFormer:
    """``timm.create_model`` for our variants, with a clear error for a name that does not exist."""
    import timm

    known = tuple(VARIANTS) + ("sgformer_mini",)
    if name not in known:
        raise ValueError(f"unknown SG-Former variant {name!r}; known: {', '.join(known)}")
    return timm.create_model(name, **kwargs)


def load_official(model: SGFormer, path: str, key: str = "state_dict_ema") -> list[str]:
    """Load an official checkpoint (its EMA weights by default) into ``model``; returns missing keys.

    The module names follow the official sgformer.py, so the keys match; a pos_embed for another grid
    is resampled.
    """
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = state.get(key, state.get("state_dict", state)) if isinstance(state, dict) else state
    pe = state.get("pos_embed")
    if pe is not None and pe.shape != model.pos_embed.shape:
        g = int(math.isqrt(pe.shape[1]))
        state["pos_embed"] = resample_abs_pos_embed(pe, (model.pos_grid, model.pos_grid), (g, g), num_prefix_tokens=0)
    result = model.load_state_dict(state, strict=False)
    if result.unexpected_keys:
        raise ValueError(f"checkpoint keys the model does not have: {result.unexpected_keys[:5]}")
    return list(result.missing_keys)
