"""The SG-Former chapter's experiment: a small digit on a textured canvas; SG-Former against the FLOP-matched
global-attention model of the same macro design, and two ablations (uniform spatial reduction, random ranks),
all on the same data, seeds and step budget; significance maps and costs.

Narrated in notebooks/sgformer.py, The experiment.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
from torch import nn

from paperlib.core import accuracy, batches, cross_entropy_loss, fit, seed_everything
from paperlib.data import textured_canvas

from .maps import peak_hits, stage1_map
from .miniature import KINDS, MINI, build, count_macs, cpu_latency, matched_width
from .models import SGFormer


@dataclass(frozen=True)
class CanvasRecipe:
    """The data: digits of ``digit_size`` pixels at random places on ``canvas`` x ``canvas`` photo textures."""

    canvas: int
    digit_size: int
    n_train: int
    n_test: int


@dataclass(frozen=True)
class TrainRecipe:
    """One training of one arm: AdamW, linear warm-up over ``warmup`` of the steps, then cosine decay to zero."""

    steps: int
    batch_size: int
    lr: float
    weight_decay: float
    warmup: float = 0.1


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


def canvas_data(recipe: CanvasRecipe, seed: int = 0) -> CanvasData:
    """Digits of the train split (training) and the test split (evaluation) at random places."""
    x, y, _ = textured_canvas("train", recipe.canvas, recipe.digit_size, seed=seed, n=recipe.n_train)
    xt, yt, bt = textured_canvas("test", recipe.canvas, recipe.digit_size, seed=seed + 1, n=recipe.n_test)
    return CanvasData(x, y, xt, yt, bt)


def cosine_warmup(optimizer: torch.optim.Optimizer, steps: int, warmup: float = 0.1):
    """Linear warmup for ``warmup`` of the steps, then cosine decay to zero (per step)."""
    n_warm = max(1, int(warmup * steps))
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / n_warm if s < n_warm else 0.5 * (1 + math.cos(math.pi * (s - n_warm) / max(1, steps - n_warm))))


@dataclass
class Trained:
    kind: str
    seed: int
    model: nn.Module
    acc: float
    loss: list[float]
    snapshots: list[tuple[int, torch.Tensor]] = field(default_factory=list)  # (step, maps of fixed images)


def train(kind: str, data: CanvasData, seed: int, recipe: TrainRecipe, device: torch.device, width: int | None = None,
          snap_x: torch.Tensor | None = None, n_snaps: int = 4) -> Trained:
    """Train one arm from ``seed`` (initialisation and batch order) and measure its test accuracy; with
    ``snap_x``, keep stage 1's significance maps of those images at ``n_snaps`` points of training."""
    seed_everything(seed)
    model = build(kind, data.x_train.shape[-1], width).to(device)
    loader = batches(data.x_train, data.y_train, recipe.batch_size, seed=seed)
    opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    steps = recipe.steps
    snaps: list[tuple[int, torch.Tensor]] = []
    snap_at = set() if snap_x is None else {round(k * (steps - 1) / max(1, n_snaps - 1)) for k in range(n_snaps)}

    def on_step(step: int) -> None:
        if step in snap_at and isinstance(model, SGFormer):
            model.eval()
            snaps.append((step + 1, stage1_map(model, snap_x.to(device)).cpu()))
            model.train()

    history = fit(model, loader, cross_entropy_loss, opt, steps, device=device, desc=f"{kind} seed {seed}",
                  scheduler=cosine_warmup(opt, steps, recipe.warmup), on_step=on_step)
    return Trained(kind, seed, model, accuracy(model, data.x_test, data.y_test), history.loss, snaps)


def arm_widths(canvas: int) -> dict[str, int]:
    """Stage-1 width of every arm: the miniature's for SG-Former and its ablations, the FLOP-matched one for
    global attention."""
    width = MINI["embed_dims"][0]
    target = count_macs(build("sgformer", canvas), canvas)
    # at equal width global attention costs more, so its match is never wider
    return {k: matched_width(k, canvas, target, range(4, width + 1, 4)) if k == "global" else width for k in KINDS}


def run_miniature(data: CanvasData, recipe: TrainRecipe, seeds: Sequence[int], device: torch.device,
                  n_snap_images: int = 4, latency_batch: int = 32, log: Callable[[str], None] = print) -> dict:
    """Every arm x seed on the same data, seeds and steps; returns accuracies, costs, maps and hit rates.

    Arm ``k`` of seed ``i`` is trained from seed ``i``, so the claims pair the arms seed by seed. ``data`` are
    raw canvases in [0, 1]; every arm is trained and tested on their standardized copy."""
    data = data.standardized()
    canvas = data.x_train.shape[-1]
    widths = arm_widths(canvas)
    out: dict = {"widths": widths, "acc": {k: [] for k in KINDS}, "hits": {k: [] for k in ("sgformer", "random")},
                 "precision": {k: [] for k in ("sgformer", "random")}, "chance": [], "loss": {}}
    models = {k: build(k, canvas, widths[k]) for k in KINDS}
    out["macs"] = {k: count_macs(m, canvas) for k, m in models.items()}
    out["params"] = {k: sum(t.numel() for t in m.parameters()) for k, m in models.items()}
    grid = math.ceil(canvas / 2)
    stride = canvas // grid
    snap_x = data.x_test[:n_snap_images]
    for seed in seeds:
        for k in KINDS:
            first = seed == seeds[0]
            r = train(k, data, seed, recipe, device, widths[k], snap_x if (k == "sgformer" and first) else None)
            out["acc"][k].append(r.acc)
            if k in out["hits"]:
                maps = stage1_map(r.model, data.x_test.to(device)).cpu()
                hit, chance, precision = peak_hits(maps, data.boxes_test, stride)
                out["hits"][k].append(hit), out["precision"][k].append(precision)
                if k == "sgformer":
                    out["chance"].append(chance)
                    if first:
                        out["snapshots"], out["test_maps"] = r.snapshots, maps[:n_snap_images]
            if first:
                out["loss"][k] = r.loss
            log(f"{k:8s} seed {seed}: test accuracy {r.acc:.3f}")
    out["latency_ms"] = {k: cpu_latency(m, canvas, latency_batch) for k, m in models.items()}
    return out
