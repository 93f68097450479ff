"""What every attack of a run shares: the surrogate CLIP, the class prompts, the attacked test images, the
generator's training data and, per seed, the black-box targets and the gradient baselines' white box.

Built by :func:`paperlib.mutual_attack.experiment.build`: the digits miniature, or folders at full scale
(:mod:`paperlib.mutual_attack.full`). Narrated in notebooks/mutual_attack.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from ..data.digits import CLASS_NAMES
from .kernels import ClipSurrogate, check_images

Sampler = Callable[[], tuple[torch.Tensor, torch.Tensor]]


@dataclass
class World:
    """One seed's models the attacker never sees (``targets``, by label) and the baselines' white box."""

    targets: dict[str, Any]
    surrogate: nn.Module


@dataclass
class Setup:
    """The surrogate CLIP, the attacked test images, the generator's training batches and, per seed, a World.

    ``train_sampler(batch_size, seed, device)`` gives endless seeded training batches (the train split only);
    ``world(seed)`` the targets and white box of that seed (trained per seed in the miniature, the same
    pretrained models at full scale). ``class_names`` are the prompts' class words, in label order.
    """

    clip: ClipSurrogate
    x_test: torch.Tensor
    y_test: torch.Tensor
    train_sampler: Callable[[int, int, torch.device], Sampler]
    world: Callable[[int], World]
    class_names: tuple[str, ...] = CLASS_NAMES
    prompt_init: str = "a photo of the digit"


def tensor_sampler(x: torch.Tensor, y: torch.Tensor) -> Callable[[int, int, torch.device], Sampler]:
    """Seeded random training batches of ``(x, y)``, moved to ``device``."""
    check_images(x)

    def make(batch_size: int, seed: int, device: torch.device) -> Sampler:
        gen = torch.Generator().manual_seed(seed)

        def sample():
            idx = torch.randint(len(x), (min(batch_size, len(x)),), generator=gen)
            return x[idx].to(device), y[idx].to(device)

        return sample

    return make
