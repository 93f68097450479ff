"""Full-scale loaders for real data on disk (ImageNet, Tiny-ImageNet, PACS, ... as class folders).

The same code path is tested on small folders the tests create. A missing, empty or malformed folder
is a clear error naming the parameter, never a stack trace from deep inside torchvision.
"""
from __future__ import annotations

from pathlib import Path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".ppm", ".tif", ".tiff")


class DataFolderError(ValueError):
    """The data folder given for a full-scale run is missing or not laid out as expected."""


def check_image_folder(root: str | Path, param: str = "data_root") -> list[str]:
    """Validate an ImageFolder layout (``root/<class>/<image>``) and return the class names."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataFolderError(f"{param}: expected a folder of class sub-folders, but {str(root)!r} does not exist")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataFolderError(f"{param}: {str(root)!r} holds no class sub-folders (expected root/<class>/<image>)")
    empty = [c for c in classes if not any(f.suffix.lower() in IMAGE_SUFFIXES for f in (root / c).iterdir())]
    if empty:
        raise DataFolderError(f"{param}: class folder(s) without images in {str(root)!r}: {', '.join(empty[:5])}")
    return classes


def image_folder(root: str | Path, size: int, param: str = "data_root", train: bool = False):
    """A torchvision ``ImageFolder`` resized to ``size`` with values in [0, 1] (after validation)."""
    from torchvision import datasets, transforms

    check_image_folder(root, param)
    steps = [transforms.Resize(size), transforms.CenterCrop(size)]
    if train:
        steps = [transforms.RandomResizedCrop(size), transforms.RandomHorizontalFlip()]
    return datasets.ImageFolder(str(Path(root).expanduser()), transform=transforms.Compose(steps + [transforms.ToTensor()]))
