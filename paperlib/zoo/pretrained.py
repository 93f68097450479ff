"""Full-scale weights from a local path or the local Hugging Face cache: offline is detected at once.

No download is ever attempted at run time: a model id that is not in the local cache is a clear error
(naming the parameter and how to fetch the weights on a connected machine), not a 50-second retry loop.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import nn
import torch.nn.functional as F

#: weight-file suffixes, in the order a folder's files are tried
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt")


class WeightsNotFound(FileNotFoundError):
    """Pretrained weights asked for at full scale are not on this machine."""


def local_snapshot(model_id: str, param: str = "model_id") -> Path:
    """A folder holding ``model_id``: the path itself if it exists, else its local hub snapshot."""
    path = Path(model_id).expanduser()
    if path.exists():
        return path
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(model_id, local_files_only=True))
    except (LocalEntryNotFoundError, ValueError, OSError) as err:
        raise WeightsNotFound(
            f"{param}: {model_id!r} is neither a local path nor in the local Hugging Face cache; on a "
            f"machine with network run `huggingface-cli download {model_id}` (or pass a folder)") from err


def weights_file(weights: str | Path, name: str | None = None, param: str = "weights") -> Path:
    """One weights file from ``weights``: the path itself if it is a file; else, in that folder (or hub
    snapshot in the local cache), ``<name>.safetensors`` (.bin/.pth/.pt) or ``<name>/model.safetensors`` /
    ``<name>/pytorch_model.bin`` when ``name`` is given (a folder holding several models' weights, as timm's
    hub folders are laid out), or its first weights file in suffix order."""
    path = Path(weights).expanduser()
    if path.is_file():
        return path
    folder = local_snapshot(str(weights), param)
    if name is not None:
        candidates = [folder / f"{name}{s}" for s in WEIGHT_SUFFIXES]
        candidates += [folder / name / f for f in ("model.safetensors", "pytorch_model.bin")]
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        raise WeightsNotFound(f"{param}: no weights for {name!r} in {str(folder)!r}; expected {name}.safetensors "
                              f"(or .bin/.pth/.pt, or {name}/model.safetensors as timm's hub folders hold them)")
    for suffix in WEIGHT_SUFFIXES:
        files = sorted(folder.glob(f"*{suffix}"))
        if files:
            return files[0]
    raise WeightsNotFound(f"{param}: no {', '.join(WEIGHT_SUFFIXES)} weights in {str(folder)!r}")


def open_clip_pretrained(arch: str, checkpoint: str, param: str = "clip_checkpoint"):
    """An open_clip model from a local checkpoint file (``.bin``/``.safetensors``) or a hub snapshot."""
    import open_clip

    path = Path(checkpoint).expanduser()
    if not path.is_file():
        folder = local_snapshot(checkpoint, param)
        files = sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin"))
        if not files:
            raise WeightsNotFound(f"{param}: no .safetensors or .bin weights in {str(folder)!r}")
        path = files[0]
    model, _, preprocess = open_clip.create_model_and_transforms(arch, pretrained=str(path))
    return model, preprocess, open_clip.get_tokenizer(arch)


def open_clip_folder(model_id: str, param: str = "clip_dir"):
    """An open_clip model folder (``open_clip_config.json`` and weights: the layout of open_clip's hub
    repositories, e.g. ``timm/vit_base_patch32_clip_224.openai``), as a path or a hub id in the local cache.

    Returns ``(model, tokenizer, side, mean, std)``: the model in eval mode and the input side and
    normalisation its own config names.
    """
    import open_clip

    folder = local_snapshot(model_id, param)
    if not (folder / "open_clip_config.json").is_file():
        raise WeightsNotFound(f"{param}: {str(folder)!r} has no open_clip_config.json; expected an open_clip model "
                              "folder (open_clip_config.json and open_clip_model.safetensors or "
                              "open_clip_pytorch_model.bin), e.g. a local copy of an open_clip hub repository")
    if not any(f.suffix in WEIGHT_SUFFIXES for f in folder.iterdir()):
        raise WeightsNotFound(f"{param}: no weights (.safetensors, .bin, .pth) in {str(folder)!r}")
    spec = f"local-dir:{folder}"
    model = open_clip.create_model(spec)  # config and weights from the folder
    cfg = model.visual.preprocess_cfg
    side = cfg["size"] if isinstance(cfg["size"], int) else cfg["size"][0]
    return model.eval(), open_clip.get_tokenizer(spec), side, tuple(cfg["mean"]), tuple(cfg["std"])


@dataclass
class LoadedClip:
    """A CLIP and how to feed it: the input side and normalisation it was trained with, and its tokenizer.

    ``preprocess`` maps ``(B, 3, H, W)`` pixels in [0, 1] to the model's input (resize, then mean and std);
    ``mean = std = 0.5`` is the tiny CLIP's ``2x - 1``. ``facts``: what is known about the weights.
    """

    model: nn.Module
    tokenize: Callable
    image_size: int
    mean: tuple[float, ...] = (0.5, 0.5, 0.5)
    std: tuple[float, ...] = (0.5, 0.5, 0.5)
    facts: dict = field(default_factory=dict)

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.image_size, self.image_size):
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)
        return (x - x.new_tensor(self.mean).view(1, -1, 1, 1)) / x.new_tensor(self.std).view(1, -1, 1, 1)


def _side(model: nn.Module) -> int:
    size = model.visual.image_size
    return int(size[0] if isinstance(size, (tuple, list)) else size)


def load_clip(clip_arch: str | None = "tiny_clip", clip_dir: str | Path | None = None,
              weights: str | Path | None = None, scale: str = "cpu", variant: dict | None = None,
              weights_param: str = "weights") -> LoadedClip:
    """The one CLIP loader. Never downloads.

    - ``clip_dir``: an open_clip model folder (``open_clip_config.json`` and weights, the layout of open_clip's
      hub repositories, e.g. ``timm/vit_base_patch32_clip_224.openai``), as a path or a hub id in the local
      Hugging Face cache; its config names the architecture, input side, mean and std (``clip_arch`` unused).
    - else ``clip_arch="tiny_clip"``: the zoo's tiny CLIP, trained in situ at ``scale`` (``full`` takes the
      ``cpu`` recipe); ``variant`` overrides fields of its zoo recipe (e.g. what it is trained on).
    - else ``clip_arch``: an open_clip architecture name (``RN50``) or the path of an open_clip JSON config
      (registered under its file stem), with ``weights`` a local checkpoint file or hub snapshot.
    """
    import open_clip

    if clip_dir is not None:
        model, tokenize, side, mean, std = open_clip_folder(str(clip_dir), "clip_dir")
        return LoadedClip(model, tokenize, side, mean, std, {"clip_dir": str(clip_dir)})
    if clip_arch == "tiny_clip":
        from .clip import tokenizer
        from .registry import create

        model, meta = create("tiny_clip", "cpu" if scale == "full" else scale, **(variant or {}))
        return LoadedClip(model, tokenizer(), _side(model), facts=meta.get("facts", {}))
    if clip_arch is None:
        raise ValueError("clip_arch: expected 'tiny_clip' or an open_clip architecture, or clip_dir: an open_clip "
                         "model folder; got neither")
    arch = clip_arch
    config = Path(clip_arch).expanduser()
    if config.suffix == ".json":
        if not config.is_file():
            raise FileNotFoundError(f"clip_arch: the open_clip config {str(config)!r} does not exist")
        open_clip.add_model_config(config)
        arch = config.stem
    if arch not in open_clip.list_models():
        raise ValueError(f"clip_arch: {clip_arch!r} is neither 'tiny_clip', an open_clip architecture (e.g. "
                         "'RN50') nor an open_clip JSON config file")
    if weights is None:
        raise ValueError(f"{weights_param}: clip_arch={clip_arch!r} needs local pretrained weights (a .safetensors/"
                         ".bin open_clip checkpoint or a Hugging Face snapshot folder); nothing is downloaded")
    model, _, _ = open_clip_pretrained(arch, str(weights), weights_param)
    cfg = getattr(model.visual, "preprocess_cfg", {}) or {}
    return LoadedClip(model.eval(), open_clip.get_tokenizer(arch), _side(model),
                      tuple(cfg.get("mean", open_clip.OPENAI_DATASET_MEAN)),
                      tuple(cfg.get("std", open_clip.OPENAI_DATASET_STD)), {"arch": arch, "weights": str(weights)})


def diffusers_pretrained(cls, model_id: str, subfolder: str | None = None, param: str = "model_id", **kwargs):
    """``cls.from_pretrained`` from a local folder or the local hub cache only."""
    folder = local_snapshot(model_id, param)
    return cls.from_pretrained(str(folder), subfolder=subfolder, local_files_only=True, **kwargs)
