"""The chapter's miniature: SG-Former on a small canvas and its same-macro baselines, their layout and costs.

Every arm is the same two-stage model (``sgformer_mini``: conv stem of stride 2, stage 1 at full token
resolution, patch merging, stage 2, max pooling, LayerNorm, linear head) and differs only in stage 1's
attention: significance-guided (SG-Former), guided by random ranks (the paper's ablation), uniform spatial
reduction (PVT-like) or full global attention. Global attention costs more multiply-adds at the same width,
so its width is chosen to match SG-Former's count. Narrated in notebooks/sgformer.py, The experiment.
"""
from __future__ import annotations

import math
import time

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .kernels import explicit_attention
from .models import SGFormer, create

KINDS = ("sgformer", "global", "sra", "random")
LABELS = {"sgformer": "SG-Former (significance ranks)", "global": "global attention (FLOP-matched width)",
          "sra": "uniform spatial reduction (PVT-like)", "random": "SG-Former, random ranks"}
ATTENTION = {"sgformer": {}, "global": {"attention": "global"}, "sra": {"attention": "sra"},
             "random": {"ranking": "random"}}
# Scaled down from the card's C = 48 / 4 heads so that twelve trainings fit the CPU budget. The canvas's object is
# small: no per-token LayerNorm in the stem, max pooling, LayerNorm after pooling (see SGFormer), every arm alike.
MINI = dict(embed_dims=(32, 64), num_heads=(2, 2), depths=(2, 2), stem_norm=False, global_pool="max",
            head_norm="pooled")


def mini_layout(canvas: int) -> dict:
    """Window and reallocation table of the miniature for a ``canvas`` input (stem stride 2, g x g tokens).

    Two x two windows of side g/2, and the card's rule at g = 14, (49, 7, 1) over the bottom quarter /
    middle half / top quarter of the ranks, written for any g: the bottom quarter becomes one token, the
    middle half is merged in runs of g/2, the top quarter is kept token by token. g = 16 (32 px):
    (64, 8, 1) -> 1 + 16 + 64 = 81 key/value tokens where uniform reduction keeps 64."""
    g = math.ceil(canvas / 2)
    if g < 4:
        raise ValueError(f"canvas: expected at least 8 pixels (4 x 4 tokens), got {canvas}")
    return dict(window=math.ceil(g / 2), guides=(((0.25, max(1, g * g // 4)), (0.5, max(1, g // 2)), (0.25, 1)), None))


def build(kind: str, canvas: int, width: int | None = None) -> SGFormer:
    """One of the chapter's models (``KINDS``) on a ``canvas`` x ``canvas`` input; ``width`` replaces stage 1's
    width (stage 2 keeps twice it)."""
    if kind not in ATTENTION:
        raise ValueError(f"model kind: expected one of {KINDS}, got {kind!r}")
    cfg = dict(MINI)
    if width is not None:
        cfg["embed_dims"] = (width, 2 * width)
    return create("sgformer_mini", img_size=canvas, **mini_layout(canvas), **cfg, **ATTENTION[kind])


def count_macs(model: nn.Module, size: int, batch: int = 1) -> float:
    """Multiply-adds of one forward pass (torch's FLOP counter / 2; sorts and gathers are not counted)."""
    was = model.training
    model.eval()
    with torch.no_grad(), explicit_attention(), FlopCounterMode(display=False) as counter:
        model(torch.rand(batch, 3, size, size, device=next(model.parameters()).device))
    model.train(was)
    return counter.get_total_flops() / 2 / batch


def matched_width(kind: str, canvas: int, target_macs: float, widths: range = range(8, 129, 4)) -> int:
    """The stage-1 width (a multiple of 4: two heads, sin-cos embedding) whose model of ``kind`` has the
    multiply-adds closest to ``target_macs``."""
    return min(widths, key=lambda w: abs(count_macs(build(kind, canvas, w), canvas) / target_macs - 1))


def cpu_latency(model: nn.Module, size: int, batch: int = 32, repeats: int = 3) -> float:
    """Median forward time in ms for a batch on the CPU (after one warm-up). Shown, never judged."""
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
