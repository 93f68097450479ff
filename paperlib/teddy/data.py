"""Real data for distillation: the canonical digits in memory (class folders: :mod:`.full`).

Both give the same small interface (``num_classes``, ``count(c)``, ``sample_class(c, n, gen)``, ``sample(n, gen)``,
``loader(batch, seed)``, ``test_batches``), so the distillation loops do not care which it is.
Narrated in notebooks/teddy.py, "Data".
"""
from __future__ import annotations

from typing import Iterator

import torch
from torch import Tensor

from ..core.train import batches as tensor_batches
from ..data.digits import digits
from .full import FolderData, load_folders


class TensorData:
    """Images ``x: (N, C, H, W)`` in [0, 1] and labels ``y: (N,)`` held in memory."""

    def __init__(self, x: Tensor, y: Tensor, num_classes: int | None = None):
        self.x, self.y = x, y
        self.num_classes = int(num_classes if num_classes is not None else int(y.max()) + 1)
        self.index = [torch.nonzero(y == c).flatten() for c in range(self.num_classes)]
        self.shape = tuple(x.shape[1:])

    def count(self, c: int) -> int:
        return len(self.index[c])

    def sample_class(self, c: int, n: int, gen: torch.Generator, replace: bool = True) -> Tensor:
        idx = self.index[c]
        pick = (torch.randint(len(idx), (n,), generator=gen) if replace
                else torch.randperm(len(idx), generator=gen)[:n])
        return self.x[idx[pick]]

    def sample(self, n: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        pick = torch.randint(len(self.y), (n,), generator=gen)
        return self.x[pick], self.y[pick]

    def loader(self, batch_size: int, seed: int):
        return tensor_batches(self.x, self.y, batch_size, seed)

    def test_batches(self, batch_size: int = 512) -> Iterator[tuple[Tensor, Tensor]]:
        for i in range(0, len(self.y), batch_size):
            yield self.x[i:i + batch_size], self.y[i:i + batch_size]


Data = TensorData | FolderData


def load_real(data_dir: str | None, image_size: int) -> tuple[Data, Data, Data]:
    """``(train, val, test)``: the canonical digits' three splits (``data_dir=None``), or class folders
    (:func:`~paperlib.teddy.full.load_folders`). Validation selects (the baseline's tuning), test only reports."""
    if data_dir is not None:
        return load_folders(data_dir, image_size)
    train, val, test = (digits(s, image_size) for s in ("train", "val", "test"))
    return TensorData(train.x, train.y, 10), TensorData(val.x, val.y, 10), TensorData(test.x, test.y, 10)
