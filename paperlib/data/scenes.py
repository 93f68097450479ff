"""Larger scenes built from the digits: a small digit on a textured canvas, and moving-digit clips."""
from __future__ import annotations

import torch


from .digits import digits
from .photos import random_patches


def textured_canvas(split: str = "train", canvas: int = 32, digit_size: int = 10, seed: int = 0,
                    n: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Digits of ``split`` pasted small at a random place on a dimmed photo texture.

    Returns ``x: (N, 3, canvas, canvas)`` in [0, 1], ``y: (N,)`` and ``boxes: (N, 4)`` (top, left,
    height, width) of the digit: a small salient object in a large, busy image.
    """
    if not 4 <= digit_size <= canvas:
        raise ValueError(f"digit_size: expected an integer in [4, canvas={canvas}], got {digit_size}")
    data = digits(split, digit_size, channels=1)
    x, y = (data.x, data.y) if n is None else (data.x[:n], data.y[:n])
    gen = torch.Generator().manual_seed(seed)
    background = 0.5 * random_patches(len(x), canvas, gen, scale=(0.1, 0.4))
    tops = torch.randint(canvas - digit_size + 1, (len(x),), generator=gen)
    lefts = torch.randint(canvas - digit_size + 1, (len(x),), generator=gen)
    out = background.clone()
    for i, (t, l) in enumerate(zip(tops.tolist(), lefts.tolist())):
        region = out[i, :, t:t + digit_size, l:l + digit_size]
        out[i, :, t:t + digit_size, l:l + digit_size] = torch.maximum(region, x[i])
    boxes = torch.stack([tops, lefts, torch.full_like(tops, digit_size), torch.full_like(tops, digit_size)], 1)
    return out, y, boxes


def moving_digits(n: int = 8, frames: int = 16, size: int = 24, digit_size: int = 10, split: str = "train",
                  seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Clips of one digit moving at constant speed and bouncing off the borders.

    Returns ``video: (n, frames, 1, size, size)`` in [0, 1] and the digit labels ``(n,)``.
    """
    if frames < 1 or n < 1:
        raise ValueError(f"n and frames: expected integers >= 1, got n={n}, frames={frames}")
    if not 4 <= digit_size <= size:
        raise ValueError(f"digit_size: expected an integer in [4, size={size}], got {digit_size}")
    data = digits(split, digit_size, channels=1)
    gen = torch.Generator().manual_seed(seed)
    pick = torch.randint(len(data), (n,), generator=gen)
    room = size - digit_size
    pos = torch.rand(n, 2, generator=gen) * room
    vel = (torch.rand(n, 2, generator=gen) * 2 - 1) * 1.5 + 0.5 * torch.sign(torch.rand(n, 2, generator=gen) - 0.5)
    video = torch.zeros(n, frames, 1, size, size)
    for t in range(frames):
        for i in range(n):
            top, left = pos[i].round().long().tolist()
            video[i, t, :, top:top + digit_size, left:left + digit_size] = data.x[pick[i]]
        pos += vel
        bounce = (pos < 0) | (pos > room)
        vel[bounce] = -vel[bounce]
        pos.clamp_(0, room)
    return video, data.y[pick]


def style_images(n: int = 16, size: int = 16, seed: int = 0) -> torch.Tensor:
    """Style references: random crops of the bundled photos, ``(n, 3, size, size)`` in [0, 1]."""
    return random_patches(n, size, torch.Generator().manual_seed(seed), scale=(0.05, 0.5))


