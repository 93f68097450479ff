"""Full-scale inputs of the mutual-modality attack: ImageNet-style folders, a pretrained open_clip CLIP,
and timm classifiers as targets, all from local paths (never a download).

Tested on small folders, a tiny open_clip model folder and tiny timm weights that the tests write into
``tmp_path`` (tests/test_mutual_attack_imagenet.py), through the same calls the full-scale run makes.
Narrated in notebooks/mutual_attack.py, "At full scale".
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import nn
import torch.nn.functional as F

from ..data.folders import check_image_folder, image_folder
from ..zoo.pretrained import WEIGHT_SUFFIXES, WeightsNotFound, open_clip_folder
from .kernels import ClassMismatchError, ClipSurrogate, as_surrogate

WNID = re.compile(r"^n\d{8}$")


def class_names_of(classes: Sequence[str]) -> list[str]:
    """Prompt words for the folder's classes: the 1,000 ImageNet wnid folders get open_clip's ImageNet class
    names (in the standard sorted-wnid order); any other folder names are used as they are (``_`` -> space)."""
    if len(classes) == 1000 and all(WNID.match(c) for c in classes):
        from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES

        return list(IMAGENET_CLASSNAMES)
    if any(WNID.match(c) for c in classes):
        raise ClassMismatchError(f"data_root: {len(classes)} ImageNet wnid folders, but the class prompts and the "
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


def load_clip(name: str, scale: str) -> ClipSurrogate:
    """``tiny_clip``: the zoo's tiny CLIP. Otherwise an open_clip model folder (``open_clip_config.json`` and
    weights: the layout of open_clip's hub repositories, e.g. ``timm/vit_base_patch32_clip_224.openai`` for
    ViT-B/32 'openai'), as a path or a hub id in the local Hugging Face cache; its own resolution, mean, std
    and tokenizer come with it."""
    if name == "tiny_clip":
        from ..zoo import create

        return as_surrogate(create("tiny_clip", "smoke" if scale == "smoke" else "cpu")[0])
    model, tokenize, side, mean, std = open_clip_folder(name, "clip_model")
    return ClipSurrogate(model, side, mean, std, tokenize)


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


def weights_file(name: str, folder: str | Path) -> Path:
    """``<name>.safetensors`` (or .pth/.bin), or ``<name>/model.safetensors`` / ``pytorch_model.bin``."""
    folder = Path(folder).expanduser()
    candidates = [folder / f"{name}{s}" for s in WEIGHT_SUFFIXES]
    candidates += [folder / name / f for f in ("model.safetensors", "pytorch_model.bin")]
    for path in candidates:
        if path.is_file():
            return path
    raise WeightsNotFound(f"target_weights: no weights for timm model {name!r} in {str(folder)!r}; expected "
                          f"{name}.safetensors (or .pth/.bin, or {name}/model.safetensors as timm's hub folders "
                          "hold them), saved on a connected machine")


def load_timm(name: str, folder: str | Path, num_classes: int) -> PixelInput:
    """A pretrained timm classifier from a local weights file, in eval mode, behind its own preprocessing.

    The classifier must have ``num_classes`` outputs, one per class folder (and class prompt)."""
    import timm

    path = weights_file(name, folder)
    try:
        model = timm.create_model(name, pretrained=True, num_classes=num_classes,
                                  pretrained_cfg_overlay={"file": str(path), "num_classes": num_classes})
    except RuntimeError as err:
        if "size mismatch" in str(err):
            raise ClassMismatchError(f"targets: {name!r} from {str(path)!r} does not have {num_classes} outputs, one "
                                     f"per class folder of data_root (class prompts and targets must share the "
                                     f"classes): {str(err).splitlines()[0]}") from None
        raise
    cfg = model.pretrained_cfg
    return PixelInput(model.eval(), cfg["input_size"][-1], cfg["mean"], cfg["std"]).eval()


def check_same_classes(data_root: str | Path, train_root: str | Path) -> list[str]:
    """Both folders must hold the same class sub-folders (labels are indices into the sorted names)."""
    val, train = check_image_folder(data_root, "data_root"), check_image_folder(train_root, "train_root")
    if val != train:
        missing = sorted(set(val) ^ set(train))[:5]
        raise ClassMismatchError(f"train_root: expected the same class folders as data_root ({len(val)}), got "
                                 f"{len(train)}; differing: {missing}")
    return val
