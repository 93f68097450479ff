"""Real data for distillation: the canonical digits in memory, or class folders read on demand.

Both give the same small interface (``num_classes``, ``count(c)``, ``sample_class(c, n, gen)``,
``loader(batch, seed)``, ``test_batches``), so the distillation loops do not care which it is.
Narrated in notebooks/teddy.py, "Data".
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import torch
from torch import Tensor

from ..core.train import batches as tensor_batches
from ..data.digits import digits
from ..data.folders import DataFolderError, check_image_folder


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


class FolderData:
    """An ImageFolder (``root/<class>/<image>``) read on demand, resized to ``size``, in [0, 1]."""

    def __init__(self, root: str | Path, size: int, param: str = "data_root"):
        from torchvision import datasets, transforms

        classes = check_image_folder(root, param)
        if len(classes) < 2:
            raise DataFolderError(f"{param}: distillation needs at least 2 classes, but {str(root)!r} "
                                  f"holds {len(classes)} ({', '.join(classes)})")
        tf = transforms.Compose([transforms.Resize(size), transforms.CenterCrop(size), transforms.ToTensor()])
        self.dataset = datasets.ImageFolder(str(Path(root).expanduser()), transform=tf)
        targets = torch.tensor(self.dataset.targets)
        self.num_classes = len(self.dataset.classes)
        self.index = [torch.nonzero(targets == c).flatten() for c in range(self.num_classes)]
        self.shape = tuple(self.dataset[0][0].shape)

    def count(self, c: int) -> int:
        return len(self.index[c])

    def _load(self, idx: Tensor) -> Tensor:
        return torch.stack([self.dataset[int(i)][0] for i in idx])

    def sample_class(self, c: int, n: int, gen: torch.Generator, replace: bool = True) -> Tensor:
        idx = self.index[c]
        pick = (torch.randint(len(idx), (n,), generator=gen) if replace
                else torch.randperm(len(idx), generator=gen)[:n])
        return self._load(idx[pick])

    def sample(self, n: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        pick = torch.randint(len(self.dataset), (n,), generator=gen)
        return self._load(pick), torch.tensor([self.dataset.targets[int(i)] for i in pick])

    def loader(self, batch_size: int, seed: int):
        return torch.utils.data.DataLoader(self.dataset, batch_size=batch_size, shuffle=True, drop_last=True,
                                           num_workers=min(4, os.cpu_count() or 1), generator=torch.Generator().manual_seed(seed))

    def test_batches(self, batch_size: int = 256) -> Iterator[tuple[Tensor, Tensor]]:
        yield from torch.utils.data.DataLoader(self.dataset, batch_size=batch_size, num_workers=min(4, os.cpu_count() or 1))


Data = TensorData | FolderData


def load_real(data_root: str | None, image_size: int) -> tuple[Data, Data, Data]:
    """``(train, val, test)``: the canonical digits' splits (``data_root=None``), or ``data_root/train``
    and ``data_root/val`` as class folders (``val/`` then serves as both; it only reports, never selects)."""
    if data_root is None:
        train, val, test = (digits(s, image_size) for s in ("train", "val", "test"))
        return TensorData(train.x, train.y, 10), TensorData(val.x, val.y, 10), TensorData(test.x, test.y, 10)
    root = Path(data_root).expanduser()
    train = FolderData(root / "train", image_size)
    test = FolderData(root / "val", image_size, param="data_root (val/)")
    if test.num_classes != train.num_classes:
        raise DataFolderError(f"data_root: train/ has {train.num_classes} classes but val/ has {test.num_classes}")
    return train, test, test
