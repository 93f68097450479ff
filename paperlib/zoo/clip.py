"""The tiny CLIP: open_clip's own ``CLIP`` class from a small JSON config, trained on digit captions.

Images are ``(B, 3, 16, 16)`` in [0, 1]; :func:`normalize` maps them to the model's input range.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import nn
import torch.nn.functional as F

from ..data.digits import CLASS_NAMES

CONFIG_PATH = Path(__file__).with_name("tiny_clip.json")
TEMPLATES = ("a photo of the digit {}.", "the number {}.", "a handwritten {}.", "{}")


def tiny_clip_config() -> dict:
    return json.loads(CONFIG_PATH.read_text())


def _register() -> None:
    import open_clip

    if "tiny_clip" not in open_clip.list_models():
        open_clip.add_model_config(CONFIG_PATH)  # registered under the file's stem, "tiny_clip"


def make_tiny_clip() -> nn.Module:
    import open_clip

    _register()
    logging.disable(logging.WARNING)  # open_clip warns that no pretrained weights were loaded: intended
    try:
        return open_clip.create_model("tiny_clip", pretrained=None)
    finally:
        logging.disable(logging.NOTSET)


def tokenizer() -> Callable:
    import open_clip

    _register()
    return open_clip.get_tokenizer("tiny_clip")


def normalize(x: torch.Tensor) -> torch.Tensor:
    """[0, 1] pixels to the tiny CLIP's input range [-1, 1]."""
    return x * 2 - 1


def captions(labels: torch.Tensor, generator: torch.Generator | None = None) -> list[str]:
    """One caption per label from a random template (class names, not digits, like CLIP's prompts)."""
    picks = torch.randint(len(TEMPLATES), (len(labels),), generator=generator).tolist()
    return [TEMPLATES[t].format(CLASS_NAMES[int(y)]) for t, y in zip(picks, labels)]


@torch.no_grad()
def class_text_embeddings(model: nn.Module, class_names: Sequence[str] = CLASS_NAMES,
                          templates: Sequence[str] = TEMPLATES) -> torch.Tensor:
    """Zero-shot head: the mean normalised text embedding over templates, per class. ``(K, D)``."""
    tok = tokenizer()
    device = next(model.parameters()).device
    heads = []
    for name in class_names:
        emb = F.normalize(model.encode_text(tok([t.format(name) for t in templates]).to(device)), dim=-1)
        heads.append(F.normalize(emb.mean(0), dim=-1))
    return torch.stack(heads)


class ZeroShotClassifier(nn.Module):
    """CLIP as a classifier: cosine similarity of image embeddings to class text embeddings, scaled."""

    def __init__(self, clip: nn.Module, text_embeddings: torch.Tensor, preprocess: Callable = normalize):
        super().__init__()
        self.clip = clip
        self.preprocess = preprocess
        self.register_buffer("text_embeddings", text_embeddings)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        image = F.normalize(self.clip.encode_image(self.preprocess(x)), dim=-1)
        return self.clip.logit_scale.exp() * image @ self.text_embeddings.T


def clip_loss(model: nn.Module, images: torch.Tensor, texts: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE of CLIP (image-to-text and text-to-image cross-entropy)."""
    img = F.normalize(model.encode_image(normalize(images)), dim=-1)
    txt = F.normalize(model.encode_text(texts), dim=-1)
    logits = model.logit_scale.exp() * img @ txt.T
    target = torch.arange(len(images), device=images.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
