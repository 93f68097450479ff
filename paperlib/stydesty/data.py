"""StyDeSty's data: the single-source DG container, the Digits miniature, and the source batch sampler.

Full-scale folders (Digits, PACS, CIFAR-10-C) are read by :mod:`paperlib.stydesty.full`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import torch
import torch.nn.functional as F


@dataclass
class DGData:
    """Source training/validation tensors and the evaluation domains (name -> (x, y)).

    Images are float in [0, 1] (the miniature) or uint8 (full scale, 4x less memory; see :func:`as_float`).
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    domains: dict[str, tuple[torch.Tensor, torch.Tensor]]
    source: str = "source"
    targets: tuple[str, ...] = field(default_factory=tuple)
    digests: dict[str, str] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return int(self.y_train.max()) + 1


def check_label_space(y_source: torch.Tensor, domains: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> None:
    """A target domain whose labels the source never shows cannot be evaluated: a clear error."""
    seen = set(y_source.unique().tolist())
    for name, (_, y) in domains.items():
        unseen = sorted(set(y.unique().tolist()) - seen)
        if unseen:
            raise ValueError(f"target domain {name!r} has classes unseen in the source: {unseen} "
                             f"(single-domain generalization needs the source's label space)")


def miniature_data(image_size: int = 16) -> DGData:
    """The data kit's Digits DG benchmark: train on the source's train split, test on source + 5 targets."""
    from paperlib.data import TARGETS, dg_benchmark, source_train

    x, y = source_train(image_size)
    xv, yv = source_train(image_size, split="val")
    bench = dg_benchmark(image_size)
    domains = {name: (d.x, d.y) for name, d in bench.items()}
    check_label_space(y, domains)
    digests = {name: f"{d.recipe.digest}/{d.data_digest}" for name, d in bench.items()}
    return DGData(x, y, xv, yv, domains, "source", tuple(TARGETS), digests)


def as_float(x: torch.Tensor) -> torch.Tensor:
    """Full-scale images are kept as uint8; the miniature's are float in [0, 1]."""
    return x.float().div_(255) if x.dtype == torch.uint8 else x


def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random horizontal flip; at 32 px also a random crop of the 4-px zero-padded image (CIFAR recipe)."""
    flip = torch.rand(len(x), generator=generator) < 0.5
    x = torch.where(flip.view(-1, 1, 1, 1).to(x.device), x.flip(-1), x)
    if x.shape[-1] == 32:
        pad = F.pad(x, (4, 4, 4, 4))
        offsets = torch.randint(0, 9, (len(x), 2), generator=generator).tolist()
        x = torch.stack([pad[b, :, i:i + 32, j:j + 32] for b, (i, j) in enumerate(offsets)])
    return x


def source_batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, generator: torch.Generator, device,
                   flip_crop: bool = False) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless batches drawn with replacement, as the official RandomSampler(replacement=True) does."""
    while True:
        idx = torch.randint(0, len(y), (batch_size,), generator=generator)
        xb = as_float(x[idx])
        yield (augment(xb, generator) if flip_crop else xb).to(device), y[idx].to(device)
