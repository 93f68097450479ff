"""HeLlO's label generators: the multi-weak-teacher pool ``Y'`` and the projector built from a CLIP.

    Y'(x) = (1/K) Σ_k softmax(T_k(x) / T)        (K checkpoints along one teacher's training run)

Narrated in notebooks/hello.py, "Weak teachers".
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import nn
import torch.nn.functional as F

from ..core.seeding import seed_everything
from ..core.train import fit
from ..zoo.classifier import SmallCNN, random_shift
from ..zoo.clip import TEMPLATES as ZOO_TEMPLATES  # the tiny CLIP's captions
from ..zoo.pretrained import LoadedClip
from .kernels import Projector, check_class_names, soften


class TeacherPool(nn.Module):
    """Averaged probabilities of several teachers at temperature ``T``: ``x: (B, 3, H, W) -> (B, C)``."""

    def __init__(self, teachers: Sequence[nn.Module], num_classes: int, probe: torch.Tensor | None = None,
                 temperature: float = 1.0):
        super().__init__()
        self.temperature = temperature
        if not teachers:
            raise ValueError("teachers: expected at least one teacher checkpoint")
        self.teachers = nn.ModuleList(teachers)
        self.num_classes = num_classes
        if probe is not None:
            check_teacher(self, probe, num_classes)
        self.eval()

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([soften(t.eval()(x), self.temperature) for t in self.teachers]).mean(0)


def check_teacher(teacher: nn.Module, probe: torch.Tensor, num_classes: int) -> None:
    """A teacher must score exactly the dataset's ``num_classes`` classes."""
    mods = teacher.teachers if isinstance(teacher, TeacherPool) else [teacher]
    for i, t in enumerate(mods):
        was = t.training
        t.eval()
        with torch.no_grad():
            out = t(probe[:2])
        t.train(was)
        if out.dim() != 2 or out.shape[1] != num_classes:
            raise ValueError(f"teacher {i}: it scores {out.shape[-1]} classes but the dataset has {num_classes}")


def make_teacher(arch: str, num_classes: int, in_channels: int = 3, width: int = 16) -> nn.Module:
    """A fresh teacher network: ``small_cnn`` (the miniature) or a torchvision ``resnet18`` (full scale)."""
    if arch == "small_cnn":
        return SmallCNN(in_channels, width, num_classes)
    if arch == "resnet18":
        from torchvision.models import resnet18

        return resnet18(num_classes=num_classes)
    raise ValueError(f"teacher_arch: expected 'small_cnn' or 'resnet18', got {arch!r}")


@dataclass(frozen=True)
class TeacherRecipe:
    """One teacher's training run and the ``checkpoints`` kept along it (the weak teachers)."""

    steps: int
    checkpoints: int = 5
    batch_size: int = 64
    lr: float = 1e-2
    arch: str = "small_cnn"
    width: int = 16


def weak_teacher_trajectory(loader, num_classes: int, recipe: TeacherRecipe, seed: int = 0,
                            device: torch.device | str = "cpu") -> list[nn.Module]:
    """Train one teacher for ``recipe.steps`` on ``loader``'s batches and keep ``recipe.checkpoints``
    snapshots spread evenly (at steps ``steps·k/K``, k = 1..K): early ones are weak, the last is the
    trained teacher."""
    steps, checkpoints = recipe.steps, recipe.checkpoints
    if checkpoints < 1 or checkpoints > steps:
        raise ValueError(f"teacher_checkpoints: expected 1..{steps} checkpoints, got {checkpoints}")
    seed_everything(seed)
    model = make_teacher(recipe.arch, num_classes, width=recipe.width).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=1e-4)
    at = {round(steps * (k + 1) / checkpoints) - 1 for k in range(checkpoints)}
    snaps: list[nn.Module] = []

    def keep(step: int) -> None:
        if step in at:
            snap = copy.deepcopy(model).eval()
            snaps.append(snap.requires_grad_(False))

    fit(model, loader, lambda m, b: nn.functional.cross_entropy(m(random_shift(b[0], 1)), b[1]),
        opt, steps, device=torch.device(device), desc="weak teachers", on_step=keep)
    return snaps


def text_head(clip: nn.Module, tokenizer: Callable, names: Sequence[str], templates: Sequence[str]) -> torch.Tensor:
    """``W_0`` rows: the normalised mean over templates of CLIP's normalised text embeddings, per class. ``(C, d_f)``."""
    device = next(clip.parameters()).device
    rows = []
    with torch.no_grad():
        for name in names:
            emb = F.normalize(clip.encode_text(tokenizer([t.format(name) for t in templates]).to(device)), dim=-1)
            rows.append(F.normalize(emb.mean(0), dim=-1))
    return torch.stack(rows)


PHOTO_TEMPLATES = ("a photo of a {}.",)  # the card's one fixed prompt per class for a real CLIP


def build_projector(clip: LoadedClip, class_names: Sequence[str], dataset_classes: Sequence[str],
                    templates: Sequence[str], rank_encoder: int, rank_head: int, head: str = "text",
                    seed: int = 0) -> Projector:
    """The projector for a dataset: ``W_0`` from the prompts of ``class_names`` (checked against the dataset's
    classes), the CLIP's own preprocessing in front of its image encoder."""
    names = check_class_names(class_names, dataset_classes)
    text = text_head(clip.model, clip.tokenize, names, templates)  # (C, d_f): rebuilt from the names, never stored
    return Projector(clip.model, text, rank_encoder, rank_head, head=head, preprocess=clip.preprocess, seed=seed)


class TinyStudent(nn.Module):
    """The student: a ConvNet that downsamples at once (``(B, C, 16, 16) -> (B, K)``), cheap on a CPU."""

    def __init__(self, in_channels: int = 3, width: int = 16, num_classes: int = 10):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, w, 3, stride=2, padding=1), nn.BatchNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(2 * w, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


def make_student(in_channels: int = 3, width: int = 16, num_classes: int = 10, arch: str = "tiny") -> nn.Module:
    """The student trained from scratch on the distilled set: a fresh :class:`TinyStudent` or ResNet-18."""
    if arch == "tiny":
        return TinyStudent(in_channels, width, num_classes)
    if arch == "resnet18":
        from torchvision.models import resnet18

        return resnet18(num_classes=num_classes)
    raise ValueError(f"student: expected 'tiny' or 'resnet18', got {arch!r}")
