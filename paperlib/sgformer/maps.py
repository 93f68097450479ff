"""Does the significance map find the object? Stage 1's maps, the tokens on the object, and the chance rate.

Narrated in notebooks/sgformer.py, Does the map find the digit?
"""
from __future__ import annotations

import torch

from .models import SGFormer


def token_boxes(boxes: torch.Tensor, grid: int, stride: int) -> torch.Tensor:
    """(N, grid, grid) mask of the tokens whose stride x stride pixel patch overlaps the object's box.

    boxes: (N, 4) = (top, left, height, width) in pixels."""
    top, left, h, w = boxes.unbind(1)
    lo = torch.arange(grid) * stride
    rows = (lo[None] + stride > top[:, None]) & (lo[None] < (top + h)[:, None])
    cols = (lo[None] + stride > left[:, None]) & (lo[None] < (left + w)[:, None])
    return rows[:, :, None] & cols[:, None, :]


def peak_hits(maps: torch.Tensor, boxes: torch.Tensor, stride: int) -> tuple[float, float, float]:
    """(hit rate, chance rate, top-quarter precision) of significance maps (N, g, g) against the boxes.

    The hit rate is how often the map's peak lies on the object; the chance rate is the fraction of tokens
    on the object (what a token drawn uniformly at random scores, averaged over the images); the precision is
    the fraction of the top 25 % tokens by significance that lie on the object."""
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
