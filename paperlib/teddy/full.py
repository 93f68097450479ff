"""Teddy at full scale: ImageFolder data (Tiny-ImageNet, ImageNet-1K) read on demand.

``data_dir/train/<class>/<image>`` is split, per class and seeded, into the training images and a held-out
validation share (which selects, e.g. the baseline's learning rates); ``data_dir/val/<class>/<image>`` is the test
set (it only reports). The ResNet-18 comes from :func:`~paperlib.teddy.models.make_model`, the batch-norm-statistics
objective from :func:`~paperlib.teddy.kernels.bn_statistics_loss`. Narrated in notebooks/teddy.py, "At full scale".
"""
from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Iterator

import torch
from torch import Tensor

from ..data.folders import DataFolderError, check_image_folder

#: Share of each class of ``train/`` held out as the validation split (at least one image).
VAL_FRACTION = 0.02


class FolderData:
    """An ImageFolder (``root/<class>/<image>``) read on demand, resized to ``size``, in [0, 1]."""

    def __init__(self, root: str | Path, size: int, param: str = "data_dir"):
        from torchvision import datasets, transforms

        classes = check_image_folder(root, param)
        if len(classes) < 2:
            raise DataFolderError(f"{param}: distillation needs at least 2 classes, but {str(root)!r} "
                                  f"holds {len(classes)} ({', '.join(classes)})")
        tf = transforms.Compose([transforms.Resize(size), transforms.CenterCrop(size), transforms.ToTensor()])
        self.dataset = datasets.ImageFolder(str(Path(root).expanduser()), transform=tf)
        self.num_classes = len(self.dataset.classes)
        self.shape = tuple(self.dataset[0][0].shape)
        self._select(torch.arange(len(self.dataset)))

    def _select(self, rows: Tensor) -> None:
        targets = torch.tensor(self.dataset.targets)
        self.rows = rows  # the images of this split
        self.index = [rows[targets[rows] == c] for c in range(self.num_classes)]

    def split(self, rows: Tensor) -> "FolderData":
        """The same folder restricted to the images ``rows`` (no second scan of the folder)."""
        part = copy.copy(self)
        part._select(rows)
        return part

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
        pick = self.rows[torch.randint(len(self.rows), (n,), generator=gen)]
        return self._load(pick), torch.tensor([self.dataset.targets[int(i)] for i in pick])

    def _subset(self) -> torch.utils.data.Dataset:
        return torch.utils.data.Subset(self.dataset, self.rows.tolist())

    def loader(self, batch_size: int, seed: int):
        return torch.utils.data.DataLoader(self._subset(), batch_size=batch_size, shuffle=True, drop_last=True,
                                           num_workers=min(4, os.cpu_count() or 1),
                                           generator=torch.Generator().manual_seed(seed))

    def test_batches(self, batch_size: int = 256) -> Iterator[tuple[Tensor, Tensor]]:
        yield from torch.utils.data.DataLoader(self._subset(), batch_size=batch_size,
                                               num_workers=min(4, os.cpu_count() or 1))


def load_folders(data_dir: str | Path, image_size: int, seed: int = 0) -> tuple[FolderData, FolderData, FolderData]:
    """``(train, val, test)``: ``train/`` less a seeded :data:`VAL_FRACTION` of each class (at least one image),
    that held-out share, and ``val/`` as the test set."""
    root = Path(data_dir).expanduser()
    whole = FolderData(root / "train", image_size)
    gen = torch.Generator().manual_seed(seed)
    held = []
    for idx in whole.index:
        if len(idx) < 2:
            raise DataFolderError(f"data_dir: every class of train/ needs at least 2 images (one is held out for "
                                  f"validation); {len(idx)} found")
        held.append(idx[torch.randperm(len(idx), generator=gen)[:max(1, round(VAL_FRACTION * len(idx)))]])
    val_rows = torch.cat(held).sort().values
    train_rows = whole.rows[~torch.isin(whole.rows, val_rows)]
    train, val = whole.split(train_rows), whole.split(val_rows)
    test = FolderData(root / "val", image_size, param="data_dir (val/)")
    if test.num_classes != train.num_classes:
        raise DataFolderError(f"data_dir: train/ has {train.num_classes} classes but val/ has {test.num_classes}")
    return train, val, test
