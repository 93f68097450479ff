"""What the chapter measures on a long video: frame-to-frame coherence, seams, and the digit in each frame.

Videos are ``(F, C, H, W)`` tensors in [0, 1]. The scale for "unrelated" is the mean absolute difference
between the same frame of two different videos: a frame-to-frame change that large means the next frame
is as unrelated as a frame of another video.

The digit read-out reconstructs each frame of a moving-digit video as one training digit on a black
canvas, at the best position: the frame's *error* is what that reconstruction misses, its *label* the
digit's. :func:`appearance_drift` compares each frame with the first wherever the content moved.
Narrated in notebooks/video_infinity.py, Experiment 3.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["frame_steps", "unrelated_distance", "temporal_coherence", "coherence_profile", "seam_ratio",
           "DigitReadout", "digit_readout", "appearance_drift"]


def frame_steps(video: torch.Tensor) -> torch.Tensor:
    """Mean ``|x_{f+1} - x_f|`` per pair of neighbouring frames: ``(F - 1,)``."""
    return (video[1:] - video[:-1]).abs().flatten(1).mean(1)


def unrelated_distance(videos: list[torch.Tensor]) -> float:
    """Mean ``|x_f - y_f|`` between the same frame of two different videos, over all pairs of videos."""
    if len(videos) < 2:
        raise ValueError("unrelated_distance: needs at least two videos")
    return float(torch.stack([(a - b).abs().mean() for i, a in enumerate(videos) for b in videos[i + 1:]]).mean())


def temporal_coherence(videos: list[torch.Tensor], scale: float | None = None) -> float:
    """Mean frame-to-frame change over :func:`unrelated_distance` (or ``scale``): about 1 when neighbouring
    frames are as unrelated as frames of different videos, small when content persists from frame to frame."""
    scale = unrelated_distance(videos) if scale is None else scale
    return float(torch.cat([frame_steps(v) for v in videos]).mean() / scale)


def coherence_profile(videos: list[torch.Tensor], scale: float) -> torch.Tensor:
    """Frame-to-frame change along the video, over ``scale``: ``(F - 1,)``, mean over videos."""
    return torch.stack([frame_steps(v) for v in videos]).mean(0) / scale


def seam_ratio(video: torch.Tensor, clip_frames: int) -> float:
    """Mean frame-to-frame change across clip boundaries over the same within clips (1: seams as smooth as
    the motion inside a clip). ``video: (F, ...)``."""
    steps = frame_steps(video)
    cross = torch.tensor([(f + 1) % clip_frames == 0 for f in range(len(steps))])
    if not cross.any() or cross.all():
        raise ValueError(f"seam_ratio: a video of {len(video)} frames has no seams at clip length {clip_frames}")
    return float(steps[cross].mean() / steps[~cross].mean())


@dataclass(frozen=True)
class DigitReadout:
    """Per frame of a video: ``error`` (F,) and ``label`` (F,) of its best reconstruction by one digit."""

    error: torch.Tensor
    label: torch.Tensor


def digit_readout(video: torch.Tensor, bank: torch.Tensor, bank_labels: torch.Tensor) -> DigitReadout:
    """Reconstruct each frame of ``video: (F, 1, H, W)`` as one digit of ``bank: (N, 1, s, s)`` placed on a
    black canvas, at the best of every position: ``error`` is that reconstruction's mean squared error per
    pixel, ``label`` the digit's.

    ``|| x - place(d) ||^2 = ||x||^2 - 2 <window, d> + ||d||^2`` for each window of ``x``, so all positions
    and digits cost one matrix product."""
    s = bank.shape[-1]
    frames = video[:, :1].to(bank.dtype)
    windows = F.unfold(frames, s).transpose(1, 2)  # (F, positions, s*s)
    d = bank.flatten(1)  # (N, s*s)
    sq = frames.flatten(1).pow(2).sum(1)[:, None, None] - 2 * windows @ d.T + d.pow(2).sum(1)  # (F, positions, N)
    best, where = sq.flatten(1).min(1)
    return DigitReadout(best.clamp(min=0) / frames[0].numel(), bank_labels[where % len(d)])


def appearance_drift(video: torch.Tensor, reach: int | None = None) -> torch.Tensor:
    """How far each frame is from the first one once moved onto it: ``min_shift mean |shift(x_f) - x_0|``
    over translations of up to ``reach`` pixels (default: half the frame), zero-filled. ``(F,)``: 0 while the
    same content moves about, large when it changes. ``video: (F, C, H, W)``."""
    f, c, h, w = video.shape
    reach = h // 2 if reach is None else reach
    first = F.pad(video[:1], [reach] * 4)  # (1, C, H + 2r, W + 2r)
    shifted = F.unfold(first, (h, w))[0].T  # (shifts, C H W): the first frame at every translation
    return torch.cdist(video.flatten(1), shifted, p=1).min(1).values / (c * h * w)
