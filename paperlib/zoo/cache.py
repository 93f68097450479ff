"""The zoo's cache: weights keyed by recipe, written atomically, verified before use.

An entry is ``<cache>/zoo/<name>-<digest>/`` with ``model.safetensors`` and ``meta.json`` (the recipe
and the weights' SHA-256). ``meta.json`` is written last, so an entry without it is unfinished; an
entry whose hash or tensors do not match is corrupt. Either way it is deleted and rebuilt, never used.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ..core.atomic import atomic_path, write_json
from ..core.paths import cache_dir


def recipe_digest(recipe: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(recipe, sort_keys=True, default=str).encode()).hexdigest()[:16]


def entry_dir(name: str, recipe: dict[str, Any]) -> Path:
    return cache_dir() / "zoo" / f"{name}-{recipe_digest(recipe)}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def _lock(folder: Path) -> Iterator[None]:
    """One builder per entry at a time (several notebooks may ask for the same model at once)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f".{folder.name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _try_load(folder: Path, model: nn.Module, recipe: dict[str, Any]) -> dict[str, Any] | None:
    weights, meta_path = folder / "model.safetensors", folder / "meta.json"
    if not (weights.is_file() and meta_path.is_file()):
        return None
    try:
        meta = json.loads(meta_path.read_text())
        if meta["recipe"] != json.loads(json.dumps(recipe, default=str)) or meta["sha256"] != file_sha256(weights):
            return None
        model.load_state_dict(load_file(weights), strict=True)
    except (ValueError, KeyError, RuntimeError, OSError, json.JSONDecodeError):
        return None
    return meta


def cached_model(name: str, recipe: dict[str, Any], make: Callable[[], nn.Module],
                 train: Callable[[nn.Module], dict[str, Any]]) -> tuple[nn.Module, dict[str, Any]]:
    """Load ``name`` trained by ``recipe`` from the cache, or build it with ``make()``, ``train(model)``.

    ``train`` returns facts worth keeping (e.g. accuracies), stored in ``meta.json`` beside the weights.
    Returns the model (in eval mode, on the CPU) and the meta data.
    """
    folder = entry_dir(name, recipe)
    with _lock(folder):
        model = make()
        meta = _try_load(folder, model, recipe)
        if meta is not None:
            return model.eval(), meta
        shutil.rmtree(folder, ignore_errors=True)  # unfinished or corrupt: rebuild from scratch
        folder.mkdir(parents=True)
        facts = train(model)
        model = model.cpu().eval()
        state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
        with atomic_path(folder / "model.safetensors") as tmp:
            save_file(_unshare(state), str(tmp))
        meta = {"name": name, "recipe": recipe, "sha256": file_sha256(folder / "model.safetensors"),
                "facts": facts}
        write_json(folder / "meta.json", meta)
        return model, json.loads((folder / "meta.json").read_text())


def _unshare(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """safetensors refuses tensors sharing memory (tied weights): give each its own copy."""
    seen: set[int] = set()
    out = {}
    for key, tensor in state.items():
        ptr = tensor.untyped_storage().data_ptr()
        out[key] = tensor.clone() if ptr in seen else tensor
        seen.add(ptr)
    return out
