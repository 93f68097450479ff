"""Full-scale weights from a local path or the local Hugging Face cache: offline is detected at once.

No download is ever attempted at run time: a model id that is not in the local cache is a clear error
(naming the parameter and how to fetch the weights on a connected machine), not a 50-second retry loop.
"""
from __future__ import annotations

from pathlib import Path


WEIGHT_SUFFIXES = (".safetensors", ".pth", ".bin")


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


def open_clip_folder(model_id: str, param: str = "clip_model"):
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


def diffusers_pretrained(cls, model_id: str, subfolder: str | None = None, param: str = "model_id", **kwargs):
    """``cls.from_pretrained`` from a local folder or the local hub cache only."""
    folder = local_snapshot(model_id, param)
    return cls.from_pretrained(str(folder), subfolder=subfolder, local_files_only=True, **kwargs)
