"""The SG-Former chapter's experiment: a small digit on a textured canvas, SG-Former vs FLOP-matched
uniform spatial reduction (PVT-like), a plain ViT, and random ranks; significance maps; costs.

Also the full-scale path (ImageNet folder, the card's recipe through timm's training utilities).
Narrated in notebooks/sgformer.py.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from paperlib.core import accuracy, batches, cross_entropy_loss, fit, seed_everything
from paperlib.data import textured_canvas

from .kernels import explicit_attention
from .models import SGFormer, create

KINDS = ("sgformer", "random", "sra", "vit")
LABELS = {"sgformer": "SG-Former (significance ranks)", "random": "SG-Former, random ranks",
          "sra": "uniform spatial reduction (PVT-like)", "vit": "ViT (full attention)"}
# the miniature (scaled down from the card's C = 48 so that 12 trainings fit the CPU budget)
MINI = dict(embed_dims=(32, 64), num_heads=(2, 2), depths=(2, 2))


@dataclass
class CanvasData:
    """Train and test canvases: x (N, 3, S, S), y (N,), boxes (N, 4) = (top, left, height, width)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    boxes_test: torch.Tensor

    def standardized(self) -> "CanvasData":
        """Both splits shifted and scaled by the training canvases' per-channel mean and std (the
        normalisation every ImageNet recipe applies, the card's included; the canvases are in [0, 1])."""
        mean = self.x_train.mean((0, 2, 3), keepdim=True)
        std = self.x_train.std((0, 2, 3), keepdim=True).clamp_min(1e-6)
        return CanvasData((self.x_train - mean) / std, self.y_train, (self.x_test - mean) / std, self.y_test,
                          self.boxes_test)


def canvas_data(canvas: int, digit_size: int, n_train: int | None = None, n_test: int | None = None,
                seed: int = 0) -> CanvasData:
    """Digits of the train split (training) and the test split (evaluation) at random places."""
    x, y, _ = textured_canvas("train", canvas, digit_size, seed=seed, n=n_train)
    xt, yt, bt = textured_canvas("test", canvas, digit_size, seed=seed + 1, n=n_test)
    return CanvasData(x, y, xt, yt, bt)


def vit(canvas: int, depth: int, dim: int = 32, heads: int = 2, patch: int = 2, mlp_ratio: float = 4.0,
        pool: str = "avg") -> nn.Module:
    """timm's VisionTransformer on the same token grid (patch 2), mean-pooled.

    Its attention follows :class:`explicit_attention` (fused kernel otherwise), like ours."""
    from timm.models.vision_transformer import VisionTransformer

    model = VisionTransformer(img_size=canvas, patch_size=patch, num_classes=10, embed_dim=dim, depth=depth,
                              num_heads=heads, mlp_ratio=mlp_ratio, class_token=False, global_pool=pool)
    for m in model.modules():
        if hasattr(m, "fused_attn"):
            m.forward = _vit_attention_forward(m)
    return model


def _vit_attention_forward(module: nn.Module):
    fused_forward = module.forward

    def forward(*args, **kwargs):
        from .kernels import _EXPLICIT

        module.fused_attn = not _EXPLICIT[0]
        return fused_forward(*args, **kwargs)
    return forward


def build(kind: str, canvas: int, vit_shape: tuple[int, float] | None = None, pool: str = "avg") -> nn.Module:
    """One of the chapter's models (``KINDS``), on a ``canvas`` x ``canvas`` input; ``vit_shape`` =
    (depth, MLP ratio) of the ViT; ``pool``: how every model pools its tokens (avg | max | avgmax)."""
    if kind == "vit":
        depth, ratio = vit_shape or (2, 4.0)
        return vit(canvas, depth, dim=MINI["embed_dims"][0], heads=2, mlp_ratio=ratio, pool=pool)
    kw = {"sgformer": {}, "random": {"ranking": "random"}, "sra": {"attention": "sra"}}
    if kind not in kw:
        raise ValueError(f"model kind: expected one of {KINDS}, got {kind!r}")
    return create("sgformer_mini", img_size=canvas, global_pool=pool, **mini_layout(canvas), **MINI, **kw[kind])


def mini_layout(canvas: int) -> dict:
    """Window and reallocation table of the miniature for a ``canvas`` input (stem stride 2, g x g tokens).

    Two x two windows of side g/2, and the card's rule at g = 14, (49, 7, 1) over the bottom quarter /
    middle half / top quarter of the ranks, written for any g: the bottom quarter becomes one token, the
    middle half is merged in runs of g/2, the top quarter is kept token by token. g = 8 (16 px):
    (16, 4, 1) -> 1 + 8 + 16 = 25 key/value tokens where uniform reduction keeps 16."""
    g = math.ceil(canvas / 2)
    if g < 4:
        raise ValueError(f"canvas: expected at least 8 pixels (4 x 4 tokens), got {canvas}")
    return dict(window=math.ceil(g / 2), guides=(((0.25, max(1, g * g // 4)), (0.5, max(1, g // 2)), (0.25, 1)), None))


def count_macs(model: nn.Module, size: int, batch: int = 1) -> float:
    """Multiply-adds of one forward pass (torch's FLOP counter / 2; sorts and gathers are not counted)."""
    was = model.training
    model.eval()
    with torch.no_grad(), explicit_attention(), FlopCounterMode(display=False) as counter:
        model(torch.rand(batch, 3, size, size, device=next(model.parameters()).device))
    model.train(was)
    return counter.get_total_flops() / 2 / batch


def match_vit(canvas: int, target_macs: float, max_depth: int = 8) -> tuple[int, float]:
    """The ViT (depth, MLP ratio) whose multiply-adds are closest to ``target_macs``."""
    costs = {(d, r): count_macs(vit(canvas, d, dim=MINI["embed_dims"][0], mlp_ratio=r), canvas)
             for d in range(1, max_depth + 1) for r in (2.0, 3.0, 4.0)}
    return min(costs, key=lambda k: abs(costs[k] / target_macs - 1))


def cpu_latency(model: nn.Module, size: int, batch: int = 32, repeats: int = 5) -> float:
    """Median forward time in ms for a batch on the CPU (after one warm-up)."""
    model = model.eval()
    x = torch.rand(batch, 3, size, size)
    times = []
    with torch.no_grad():
        model(x)
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t0)
    return 1000 * sorted(times)[len(times) // 2]


def token_boxes(boxes: torch.Tensor, grid: int, stride: int) -> torch.Tensor:
    """(N, grid, grid) mask of the tokens whose stride x stride pixel patch overlaps the digit's box."""
    top, left, h, w = boxes.unbind(1)
    lo = torch.arange(grid) * stride
    rows = (lo[None] + stride > top[:, None]) & (lo[None] < (top + h)[:, None])
    cols = (lo[None] + stride > left[:, None]) & (lo[None] < (left + w)[:, None])
    return rows[:, :, None] & cols[:, None, :]


def peak_hits(maps: torch.Tensor, boxes: torch.Tensor, stride: int) -> tuple[float, float, float]:
    """How often the significance peak falls on the digit, the chance rate, and the precision of the
    top-25 % tokens. maps: (N, g, g); boxes: (N, 4) in pixels."""
    N, g, _ = maps.shape
    inside = token_boxes(boxes, g, stride).reshape(N, -1)
    flat = maps.reshape(N, -1)
    hit = inside.gather(1, flat.argmax(1, keepdim=True)).float().mean().item()
    chance = inside.float().mean().item()
    top = flat.topk(max(1, flat.shape[1] // 4), dim=1).indices
    precision = inside.gather(1, top).float().mean().item()
    return hit, chance, precision


def stage1_map(model: SGFormer, x: torch.Tensor, batch: int = 256) -> torch.Tensor:
    """Mean of stage 1's hybrid-block significance maps: (N, g, g)."""
    out = []
    for i in range(0, len(x), batch):
        maps = [m for stage, _, m in model.significance(x[i:i + batch]) if stage == 1]
        out.append(torch.stack(maps).mean(0))
    return torch.cat(out)


@dataclass
class Trained:
    kind: str
    seed: int
    model: nn.Module
    acc: float
    loss: list[float]
    snapshots: list[tuple[int, torch.Tensor]] = field(default_factory=list)  # (step, maps of fixed images)


def cosine_warmup(optimizer: torch.optim.Optimizer, steps: int, warmup: float = 0.1):
    """Linear warmup for ``warmup`` of the steps, then cosine decay to zero (per step)."""
    n_warm = max(1, int(warmup * steps))
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / n_warm if s < n_warm else 0.5 * (1 + math.cos(math.pi * (s - n_warm) / max(1, steps - n_warm))))


def train(kind: str, data: CanvasData, seed: int, epochs: int, batch_size: int, lr: float, weight_decay: float,
          device: torch.device, vit_shape: tuple[int, float] | None = None, snap_x: torch.Tensor | None = None,
          n_snaps: int = 4) -> Trained:
    """Train one model on the canvases with AdamW (warmup + cosine) and measure test accuracy."""
    seed_everything(seed)
    canvas = data.x_train.shape[-1]
    model = build(kind, canvas, vit_shape).to(device)
    loader = batches(data.x_train, data.y_train, batch_size, seed=seed)
    steps = epochs * len(loader)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    snaps: list[tuple[int, torch.Tensor]] = []
    snap_at = set() if snap_x is None else {round(k * (steps - 1) / max(1, n_snaps - 1)) for k in range(n_snaps)}

    def on_step(step: int) -> None:
        if step in snap_at and isinstance(model, SGFormer):
            model.eval()
            snaps.append((step + 1, stage1_map(model, snap_x.to(device)).cpu()))
            model.train()

    history = fit(model, loader, cross_entropy_loss, opt, steps, device=device, desc=f"{kind} seed {seed}",
                  scheduler=cosine_warmup(opt, steps), on_step=on_step)
    acc = accuracy(model, data.x_test, data.y_test)
    return Trained(kind, seed, model, acc, history.loss, snaps)


def run_miniature(data: CanvasData, seeds: int, epochs: int, batch_size: int, lr: float, weight_decay: float,
                  device: torch.device, base_seed: int = 0, n_snap_images: int = 4, latency_batch: int = 32,
                  log: Callable[[str], None] = print) -> dict:
    """Every model x seed on the same data and budget; returns accuracies, costs, maps and hit rates.

    ``data`` are raw canvases in [0, 1]; every model is trained and tested on their standardized copy
    (:meth:`CanvasData.standardized`). The three conv-stem models normalise each image in their GroupNorm
    stem anyway; the ViT's linear patch embedding does not, and on raw canvases it stayed at guessing."""
    data = data.standardized()
    canvas = data.x_train.shape[-1]
    sg_macs = count_macs(build("sgformer", canvas), canvas)
    vit_shape = match_vit(canvas, sg_macs)
    out: dict = {"acc": {k: [] for k in KINDS}, "hits": {k: [] for k in ("sgformer", "random")},
                 "chance": [], "precision": {k: [] for k in ("sgformer", "random")}, "vit_shape": vit_shape}
    snap_x = data.x_test[:n_snap_images]
    for k in KINDS:
        m = build(k, canvas, vit_shape)
        out.setdefault("macs", {})[k] = count_macs(m, canvas)
        out.setdefault("params", {})[k] = sum(p.numel() for p in m.parameters())
    stride = canvas // math.ceil(canvas / 2)
    for seed in range(base_seed, base_seed + seeds):
        for k in KINDS:
            t0 = time.perf_counter()
            r = train(k, data, seed, epochs, batch_size, lr, weight_decay, device, vit_shape,
                      snap_x if (k == "sgformer" and seed == base_seed) else None)
            out["acc"][k].append(r.acc)
            if k in out["hits"]:
                maps = stage1_map(r.model, data.x_test.to(device)).cpu()
                hit, chance, precision = peak_hits(maps, data.boxes_test, stride)
                out["hits"][k].append(hit), out["precision"][k].append(precision)
                if k == "sgformer":
                    out["chance"].append(chance)
                    if seed == base_seed:
                        out["snapshots"], out["test_maps"] = r.snapshots, maps[:n_snap_images]
            if seed == base_seed:
                out.setdefault("loss", {})[k] = r.loss
            log(f"{k:8s} seed {seed}: test accuracy {r.acc:.3f} ({time.perf_counter() - t0:.0f} s)")
    out["latency_ms"] = {k: cpu_latency(build(k, canvas, vit_shape), canvas, latency_batch) for k in KINDS}
    return out
