"""Where HeLlO's images come from: the digits in memory, or class folders read on demand (full scale).

Both sources give one small interface, so the teacher run, projector training, RDED-lite selection and
evaluation do not care which it is:

- ``num_classes``, ``classes`` (folder names, in label order), ``image_size``;
- ``loader(batch_size, seed)``: shuffled ``(x (B, 3, S, S) in [0, 1], y (B,))`` batches (one pass);
- ``class_pool(c, n, seed)``: up to ``n`` images of class ``c`` (RDED-lite's candidates);
- ``eval_batches(batch_size)``: every image once, in order.

Narrated in notebooks/hello.py, "At full scale".
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, Sequence

import torch
from torch import Tensor

from ..core.train import batches as tensor_batches
from ..data.folders import DataFolderError, check_image_folder


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


class FolderSource:
    """An ImageFolder (``root/<class>/<image>``) resized and centre-cropped to ``size``, in [0, 1]."""

    def __init__(self, root: str | Path, size: int, param: str = "data_root", workers: int | None = None):
        from torchvision import datasets, transforms

        classes = check_image_folder(root, param)
        if len(classes) < 2:
            raise DataFolderError(f"{param}: distillation needs at least 2 classes, but {str(root)!r} holds "
                                  f"{len(classes)} ({', '.join(classes)})")
        tf = transforms.Compose([transforms.Resize(size),
                                 transforms.CenterCrop(size), transforms.ToTensor()])
        self.dataset = datasets.ImageFolder(str(Path(root).expanduser()), transform=tf)
        self.classes = tuple(self.dataset.classes)
        self.num_classes = len(self.classes)
        self.image_size = size
        self.targets = torch.tensor(self.dataset.targets)
        self.workers = min(8, os.cpu_count() or 1) if workers is None else workers

    def __len__(self) -> int:
        return len(self.targets)

    def loader(self, batch_size: int, seed: int):
        return torch.utils.data.DataLoader(self.dataset, batch_size=min(batch_size, len(self)), shuffle=True,
                                           drop_last=len(self) >= batch_size, num_workers=self.workers,
                                           generator=torch.Generator().manual_seed(seed),
                                           persistent_workers=self.workers > 0)

    def class_pool(self, c: int, n: int | None = None, seed: int = 0) -> Tensor:
        idx = torch.nonzero(self.targets == c).flatten()
        if n is not None and n < len(idx):
            idx = idx[torch.randperm(len(idx), generator=torch.Generator().manual_seed(seed))[:n]]
        return torch.stack([self.dataset[int(i)][0] for i in idx])

    def eval_batches(self, batch_size: int = 256) -> Iterator[tuple[Tensor, Tensor]]:
        yield from torch.utils.data.DataLoader(self.dataset, batch_size=batch_size, num_workers=self.workers)


Source = TensorSource | FolderSource


def folder_sources(data_root: str | Path, size: int) -> tuple[FolderSource, FolderSource]:
    """``(train, test)`` from ``data_root/train`` and ``data_root/val`` (the same classes in both)."""
    root = Path(data_root).expanduser()
    for split in ("train", "val"):
        if not (root / split).is_dir():
            raise DataFolderError(f"data_root: expected {str(root / split)!r} (an ImageFolder of class "
                                  "sub-folders): HeLlO distils from train/ and evaluates students on val/")
    train = FolderSource(root / "train", size, "data_root (train/)")
    test = FolderSource(root / "val", size, "data_root (val/)")
    if train.classes != test.classes:
        raise DataFolderError(f"data_root: train/ has {train.num_classes} classes but val/ has {test.num_classes}"
                              " (or other names); they must be the same folders")
    return train, test


def read_class_names(path: str | Path | None, classes: Sequence[str]) -> list[str]:
    """The prompt name of every class, in label order.

    ``path=None``: the folder names themselves (underscores read as spaces). Otherwise a text file with
    one line per class, either ``<folder> <TAB or :> <name>`` (checked against the folders) or just
    ``<name>`` in folder order (checked by count).
    """
    if path is None:
        return [c.replace("_", " ") for c in classes]
    file = Path(path).expanduser()
    if not file.is_file():
        raise FileNotFoundError(f"class_names_file: {str(file)!r} does not exist (expected one class name per "
                                "line, in the order of the class folders)")
    lines = [ln.strip() for ln in file.read_text().splitlines() if ln.strip()]
    keyed = [ln.replace(":", "\t", 1).split("\t", 1) if ("\t" in ln or ":" in ln) else None for ln in lines]
    if lines and all(k is not None for k in keyed):
        folders = [k[0].strip() for k in keyed]
        if folders != list(classes):
            missing = [c for c in classes if c not in folders]
            extra = [f for f in folders if f not in classes]
            raise ValueError(f"class_names_file: its {len(folders)} folder names do not match the dataset's "
                             f"{len(classes)} classes (missing {missing[:5]}, unknown {extra[:5]}, or another order)")
        return [k[1].strip() for k in keyed]
    if len(lines) != len(classes):
        raise ValueError(f"class_names_file: {len(lines)} names for the dataset's {len(classes)} classes; "
                         "label i must be prompt i (one line per class folder, in sorted folder order)")
    return lines
