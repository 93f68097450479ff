"""Where HeLlO's images come from: the digits in memory (:class:`TensorSource`), or class folders read on
demand at full scale (:class:`paperlib.hello.full.FolderSource`).

Both sources give one small interface, so the teacher run, projector training, RDED-lite selection and
evaluation do not care which it is:

- ``num_classes``, ``classes`` (folder names, in label order), ``image_size``;
- ``loader(batch_size, seed)``: shuffled ``(x (B, 3, S, S) in [0, 1], y (B,))`` batches (one pass);
- ``class_pool(c, n, seed)``: up to ``n`` images of class ``c`` (RDED-lite's candidates);
- ``eval_batches(batch_size)``: every image once, in order.

Narrated in notebooks/hello.py, "The experiment".
"""
from __future__ import annotations

from typing import Iterator, Sequence

import torch
from torch import Tensor

from ..core.train import batches as tensor_batches


class TensorSource:
    """Images ``x: (N, 3, S, S)`` in [0, 1] and labels ``y: (N,)`` held in memory."""

    def __init__(self, x: Tensor, y: Tensor, classes: Sequence[str]):
        self.x, self.y, self.classes = x, y, tuple(classes)
        self.num_classes = len(self.classes)
        self.image_size = int(x.shape[-1])

    def __len__(self) -> int:
        return len(self.y)

    def loader(self, batch_size: int, seed: int):
        return tensor_batches(self.x, self.y, batch_size, seed)

    def class_pool(self, c: int, n: int | None = None, seed: int = 0) -> Tensor:
        idx = torch.nonzero(self.y == c).flatten()
        if n is not None and n < len(idx):
            idx = idx[torch.randperm(len(idx), generator=torch.Generator().manual_seed(seed))[:n]]
        return self.x[idx]

    def eval_batches(self, batch_size: int = 512) -> Iterator[tuple[Tensor, Tensor]]:
        for i in range(0, len(self.y), batch_size):
            yield self.x[i:i + batch_size], self.y[i:i + batch_size]
