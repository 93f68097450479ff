"""Full scale of the mutual-modality attack: ImageNet-style folders, a pretrained open_clip CLIP, and timm
classifiers as targets and white-box surrogate, all from local paths (never a download).

Tested on small folders, a tiny open_clip model folder and tiny timm weights that the tests write into
``tmp_path`` (tests/test_mutual_attack_full.py), through the same calls the full-scale run makes.
Narrated in notebooks/mutual_attack.py, "At full scale".
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import nn
import torch.nn.functional as F

from ..core.params import Params
from ..data.folders import check_image_folder, image_folder
from ..zoo.pretrained import load_clip, weights_file
from .kernels import ClassMismatchError, as_surrogate, check_classes, check_images
from .setup import Setup, World

WNID = re.compile(r"^n\d{8}$")


def class_names_of(classes: Sequence[str]) -> list[str]:
    """Prompt words for the folder's classes: the 1,000 ImageNet wnid folders get open_clip's ImageNet class
    names (in the standard sorted-wnid order); any other folder names are used as they are (``_`` -> space)."""
    if len(classes) == 1000 and all(WNID.match(c) for c in classes):
        from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES

        return list(IMAGENET_CLASSNAMES)
    if any(WNID.match(c) for c in classes):
        raise ClassMismatchError(f"data_dir: {len(classes)} ImageNet wnid folders, but the class prompts and the "
                                 "timm targets' 1,000 outputs need all 1,000 (a subset of the images in each of "
                                 "the 1,000 class folders is fine)")
    return [c.replace("_", " ") for c in classes]


def folder_dataset(root: str | Path, size: int, param: str):
    """The folder as an ``ImageFolder`` of ``(3, size, size)`` images in [0, 1] (resize, centre crop)."""
    return image_folder(root, size, param=param)


def load_subset(dataset, n: int, seed: int = 0, workers: int = 0, batch_size: int = 100):
    """A fixed seeded subset of ``n`` images (all if fewer) as tensors ``x (n, 3, S, S)``, ``y (n,)``."""
    from torch.utils.data import DataLoader, Subset

    gen = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(dataset), generator=gen)[:n].sort().values.tolist()
    xs, ys = [], []
    for x, y in DataLoader(Subset(dataset, idx), batch_size=batch_size, num_workers=workers):
        xs.append(x)
        ys.append(y)
    return torch.cat(xs), torch.cat(ys)


def loader_sampler(dataset, batch_size: int, seed: int, device: torch.device,
                   workers: int = 0) -> Callable[[], tuple[torch.Tensor, torch.Tensor]]:
    """Endless seeded shuffled batches of a dataset, moved to ``device`` (the full-scale ``sample()``)."""
    from torch.utils.data import DataLoader

    gen = torch.Generator().manual_seed(seed)
    loader = DataLoader(dataset, batch_size=min(batch_size, len(dataset)), shuffle=True, generator=gen,
                        num_workers=workers, drop_last=len(dataset) >= batch_size,
                        persistent_workers=workers > 0)
    state = {"it": iter(loader)}

    def sample():
        try:
            x, y = next(state["it"])
        except StopIteration:
            state["it"] = iter(loader)
            x, y = next(state["it"])
        return x.to(device), y.to(device)

    return sample


class PixelInput(nn.Module):
    """A classifier that takes [0, 1] pixels: resized to its own input side, then its own mean and std.

    The attack perturbs the final image; each target preprocesses it as it was trained to (card, pitfalls).
    """

    def __init__(self, model: nn.Module, side: int, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        self.model = model
        self.side = int(side)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.side, self.side):
            x = F.interpolate(x, size=(self.side, self.side), mode="bilinear", align_corners=False)
        return self.model((x - self.mean) / self.std)


def load_timm(name: str, folder: str | Path, num_classes: int) -> PixelInput:
    """A pretrained timm classifier from a local weights file, in eval mode, behind its own preprocessing.

    The classifier must have ``num_classes`` outputs, one per class folder (and class prompt)."""
    import timm

    path = weights_file(folder, name, "target_weights")
    try:
        model = timm.create_model(name, pretrained=True, num_classes=num_classes,
                                  pretrained_cfg_overlay={"file": str(path), "num_classes": num_classes})
    except RuntimeError as err:
        if "size mismatch" in str(err):
            raise ClassMismatchError(f"targets: {name!r} from {str(path)!r} does not have {num_classes} outputs, one "
                                     f"per class folder of data_dir (class prompts and targets must share the "
                                     f"classes): {str(err).splitlines()[0]}") from None
        raise
    cfg = model.pretrained_cfg
    return PixelInput(model.eval(), cfg["input_size"][-1], cfg["mean"], cfg["std"]).eval()


def check_same_classes(data_dir: str | Path, train_dir: str | Path) -> list[str]:
    """Both folders must hold the same class sub-folders (labels are indices into the sorted names)."""
    val, train = check_image_folder(data_dir, "data_dir"), check_image_folder(train_dir, "train_dir")
    if val != train:
        missing = sorted(set(val) ^ set(train))[:5]
        raise ClassMismatchError(f"train_dir: expected the same class folders as data_dir ({len(val)}), got "
                                 f"{len(train)}; differing: {missing}")
    return val


def build_folders(p: Params) -> Setup:
    """Full scale: ``data_dir`` (attacked, a fixed seeded subset of ``n_test``), ``train_dir`` (the generator's
    training images), the CLIP of ``clip_dir``, timm ``targets`` and ``surrogate`` from ``target_weights``: the
    same pretrained models for every seed."""
    classes = check_same_classes(p.data_dir, p.train_dir)
    names = class_names_of(classes)
    check_classes(names, len(classes))
    clip = as_surrogate(load_clip(clip_dir=p.clip_dir))
    world = World({name: load_timm(name, p.target_weights, len(classes)) for name in p.targets},
                  load_timm(p.surrogate, p.target_weights, len(classes)))
    test = folder_dataset(p.data_dir, p.image_size, "data_dir")
    x_test, y_test = load_subset(test, p.n_test, seed=0, workers=p.workers, batch_size=p.eval_batch_size)
    check_images(x_test)
    train = folder_dataset(p.train_dir, p.image_size, "train_dir")

    def sampler(batch_size: int, seed: int, device: torch.device):
        return loader_sampler(train, batch_size, seed, device, p.workers)

    return Setup(clip, x_test, y_test, sampler, lambda seed: world, class_names=tuple(names),
                 prompt_init=p.prompt_init)
