"""StyDeSty at full scale: the paper's benchmarks read from local folders.

- Digits: ``<data_dir>/<domain>/<class>/<image>`` for MNIST, SVHN, MNIST_M, SYN, USPS; the source is
  MNIST's **first 10,000 training images** (official ``dataset.py``), taken in the order of the file
  names' index (export MNIST as ``MNIST/<label>/<train index>.png``).
- PACS: photo, art_painting, cartoon, sketch in the ImageFolder layout.
- CIFAR-10 -> CIFAR-10-C: the train split as ``CIFAR10/<class>/``, Hendrycks and Dietterich's
  ``CIFAR-10-C/<corruption>.npy`` + ``labels.npy``; a target ``<group>-<level>`` is one corruption group at
  one severity.
"""
from __future__ import annotations

import re
from pathlib import Path

import torch
import torch.nn.functional as F

from .data import DGData

#: CIFAR-10-C's corruption groups as the official code evaluates them (4 groups x 5 severity levels)
CIFAR10C_GROUPS = {
    "noise": ("gaussian_noise", "shot_noise", "impulse_noise"),
    "blur": ("defocus_blur", "glass_blur", "motion_blur", "zoom_blur"),
    "weather": ("snow", "frost", "fog", "brightness"),
    "digital": ("contrast", "elastic_transform", "pixelate", "jpeg_compression"),
}
#: CIFAR-10's class order (the index stored in CIFAR-10-C's labels.npy)
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
#: the Digits protocol: the source is MNIST's first 10,000 training images
DIGITS_SOURCE, DIGITS_N_TRAIN = "MNIST", 10000
_CIFAR10C_TARGET = re.compile(r"^(noise|blur|weather|digital)-([1-5])$")


def _folder_tensors(root: Path, image_size: int, param: str) -> tuple[torch.Tensor, torch.Tensor, list[str], list[str]]:
    """uint8 (N, 3, S, S) images, labels, class names and each image's file stem (ImageFolder order)."""
    from paperlib.data import image_folder

    dataset = image_folder(root, image_size, param=param)
    loader = torch.utils.data.DataLoader(dataset, batch_size=256, shuffle=False)
    xs, ys = [], []
    for xb, yb in loader:
        if xb.shape[1] == 1:
            xb = xb.repeat(1, 3, 1, 1)
        xs.append((xb[:, :3] * 255).round().to(torch.uint8))
        ys.append(yb)
    stems = [Path(path).stem for path, _ in dataset.samples]
    return torch.cat(xs), torch.cat(ys), dataset.classes, stems


def first_by_index(stems: list[str], n: int, param: str = "n_train") -> torch.Tensor:
    """Indices of the ``n`` images with the smallest file-name index (``"00042"`` -> 42): the first ``n`` of
    the original dataset order, whatever class folder each image sits in."""
    if not all(s.isdigit() for s in stems):
        bad = next(s for s in stems if not s.isdigit())
        raise ValueError(f"{param}: the first {n} images are taken in the order of their file names' index "
                         f"(e.g. MNIST/5/00000.png for training image 0), but {bad!r} is not a number")
    if n > len(stems):
        raise ValueError(f"{param}: asked for the first {n} images, the source folder has {len(stems)}")
    order = sorted(range(len(stems)), key=lambda i: int(stems[i]))
    return torch.tensor(order[:n])


def cifar10c_tensors(root: str | Path, group: str, level: int,
                     image_size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """One CIFAR-10-C group at one severity: ``root/CIFAR-10-C/<corruption>.npy`` (N*5, 32, 32, 3) uint8
    files and ``labels.npy``; severity ``level`` is the level-th block of 1/5 of each file."""
    import numpy as np

    folder = Path(root).expanduser() / "CIFAR-10-C"
    if group not in CIFAR10C_GROUPS or not 1 <= level <= 5:
        raise ValueError(f"targets: expected <group>-<level> with group in {tuple(CIFAR10C_GROUPS)} and level "
                         f"1..5, got {group}-{level}")
    needed = ["labels.npy"] + [f"{c}.npy" for c in CIFAR10C_GROUPS[group]]
    missing = [n for n in needed if not (folder / n).is_file()]
    if missing:
        raise ValueError(f"data_dir: CIFAR-10-C target {group}-{level} needs {', '.join(missing)} in {str(folder)!r}")
    labels = np.load(folder / "labels.npy", allow_pickle=False)
    n = len(labels) // 5
    xs, ys = [], []
    for c in CIFAR10C_GROUPS[group]:
        arr = np.load(folder / f"{c}.npy", mmap_mode="r", allow_pickle=False)
        if arr.shape[0] != len(labels) or arr.shape[1:] != (32, 32, 3):
            raise ValueError(f"data_dir: {c}.npy has shape {arr.shape}, expected ({len(labels)}, 32, 32, 3)")
        xs.append(torch.from_numpy(np.array(arr[(level - 1) * n: level * n])).permute(0, 3, 1, 2))
        ys.append(torch.from_numpy(labels[(level - 1) * n: level * n].astype("int64")))
    x = torch.cat(xs)
    if image_size != 32:
        x = (F.interpolate(x.float(), size=image_size, mode="bilinear", antialias=True)
             .round().clamp(0, 255).to(torch.uint8))
    return x, torch.cat(ys)


def folder_data(data_dir: str | Path, source: str, targets: list[str], image_size: int, *,
                n_train: int | None = None, val_fraction: float = 0.1, seed: int = 0) -> DGData:
    """The source and target domains of ``data_dir`` (module docstring). Targets are evaluated whole; a
    target class the source lacks is an error. Images are kept as uint8.

    Source split: with ``n_train`` the first ``n_train`` images by file-name index train (the Digits
    protocol) and a validation set of ``val_fraction * n_train`` images is drawn from the rest; without it a
    random ``val_fraction`` of the source is held out for validation.
    """
    root = Path(data_dir).expanduser()
    x, y, classes, stems = _folder_tensors(root / source, image_size, "data_dir/source")
    gen = torch.Generator().manual_seed(seed)
    if n_train is None:
        perm = torch.randperm(len(y), generator=gen)
        n_val = max(1, int(len(y) * val_fraction))
        val, train = perm[:n_val], perm[n_val:]
    else:
        train = first_by_index(stems, n_train)
        rest = torch.ones(len(y), dtype=torch.bool)
        rest[train] = False
        rest = rest.nonzero().flatten()
        if len(rest) == 0:
            raise ValueError(f"n_train: the source folder has only {len(y)} images, none left for validation "
                             f"after the first {n_train}")
        val = rest[torch.randperm(len(rest), generator=gen)[:max(1, int(n_train * val_fraction))]]
    domains = {}
    for name in targets:
        match = _CIFAR10C_TARGET.match(name)
        if match:
            xt, yt = cifar10c_tensors(root, match[1], int(match[2]), image_size)
            tclasses = list(CIFAR10_CLASSES)
        else:
            xt, yt, tclasses, _ = _folder_tensors(root / name, image_size, f"data_dir/{name}")
        present = sorted({tclasses[i] for i in yt.unique().tolist()})
        unseen = [c for c in present if c not in classes]
        if unseen:
            raise ValueError(f"target domain {name!r} has classes unseen in the source: {unseen}")
        remap = torch.tensor([classes.index(c) if c in classes else -1 for c in tclasses])
        domains[name] = (xt, remap[yt])
    domains = {source: (x[val], y[val]), **domains}
    return DGData(x[train], y[train], x[val], y[val], domains, source, tuple(targets))
