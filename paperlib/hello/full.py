"""HeLlO at full scale: ImageNet-style class folders read on demand, prompts from a class-names file, weak
teachers saved along one training run, and the :class:`~paperlib.hello.experiment.Setting` they make with
a real CLIP (an open_clip model folder). The miniature's experiment code consumes what this builds.

Narrated in notebooks/hello.py, "At full scale".
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, Sequence

import torch
from torch import nn
from torch import Tensor

from ..data.folders import DataFolderError, check_image_folder
from ..zoo.pretrained import load_clip
from .models import PHOTO_TEMPLATES, make_teacher
from .setting import Setting


class FolderSource:
    """An ImageFolder (``root/<class>/<image>``) resized and centre-cropped to ``size``, in [0, 1]."""

    def __init__(self, root: str | Path, size: int, param: str = "data_dir", workers: int | None = None):
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


def folder_sources(data_dir: str | Path, size: int) -> tuple[FolderSource, FolderSource]:
    """``(train, test)`` from ``data_dir/train`` and ``data_dir/val`` (the same classes in both)."""
    root = Path(data_dir).expanduser()
    for split in ("train", "val"):
        if not (root / split).is_dir():
            raise DataFolderError(f"data_dir: expected {str(root / split)!r} (an ImageFolder of class "
                                  "sub-folders): HeLlO distils from train/ and evaluates students on val/")
    train = FolderSource(root / "train", size, "data_dir (train/)")
    test = FolderSource(root / "val", size, "data_dir (val/)")
    if train.classes != test.classes:
        raise DataFolderError(f"data_dir: train/ has {train.num_classes} classes but val/ has {test.num_classes}"
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


def load_teacher_checkpoints(folder: str | Path, arch: str, num_classes: int,
                             device: torch.device | str = "cpu") -> list[nn.Module]:
    """Weak teachers saved along one training run: every ``*.safetensors`` in ``folder``, in name order.

    Each file is a ``state_dict`` of ``make_teacher(arch, num_classes)`` (e.g. ResNet-18 at epochs 1..9).
    """
    from safetensors.torch import load_file

    root = Path(folder).expanduser()
    files = sorted(root.glob("*.safetensors")) if root.is_dir() else []
    if not files:
        raise FileNotFoundError(f"teacher_weights: expected a folder of teacher checkpoints (*.safetensors, one per "
                                f"point of one training run, in name order), found none in {str(root)!r}")
    out = []
    for f in files:
        model = make_teacher(arch, num_classes)
        try:
            model.load_state_dict(load_file(str(f)))
        except RuntimeError as err:
            raise ValueError(f"teacher_weights: {f.name} is not a {arch} with {num_classes} classes "
                             f"({str(err).splitlines()[0]})") from err
        out.append(model.to(device).eval().requires_grad_(False))
    return out


def folder_setting(data_dir: str | Path, clip_dir: str | None, image_size: int | None = None,
                   class_names_file: str | Path | None = None, teacher_weights: str | Path | None = None,
                   teacher_arch: str = "resnet18") -> Setting:
    """``data_dir/train`` and ``data_dir/val`` as class folders at ``image_size`` (default: the CLIP's input
    side), the open_clip model in ``clip_dir`` (a folder or a hub id in the local cache; never downloaded),
    prompts "a photo of a {name}." from ``class_names_file``, and the weak teachers saved in
    ``teacher_weights`` (None: one run is trained here). A missing piece is a clear error naming its parameter."""
    if clip_dir is None:
        raise ValueError("clip_dir: class-folder datasets need a real CLIP, an open_clip model folder or hub id in "
                         "the local cache (e.g. timm/resnet50_clip.openai); the zoo's tiny CLIP only knows digits")
    clip = load_clip(clip_dir=clip_dir)
    train, test = folder_sources(data_dir, image_size or clip.image_size)
    prompts = read_class_names(class_names_file, train.classes)
    ckpts = None if teacher_weights is None else load_teacher_checkpoints(teacher_weights, teacher_arch,
                                                                           train.num_classes)
    return Setting(train, test, train.classes, tuple(prompts), clip, PHOTO_TEMPLATES, ckpts,
                   {"clip": clip.facts, "train_images": len(train), "test_images": len(test)})
