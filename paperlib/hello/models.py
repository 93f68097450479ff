"""HeLlO's label generators: the multi-weak-teacher pool ``Y'`` and the projector built from a CLIP.

    Y'(x) = (1/K) Σ_k softmax(T_k(x) / T)        (K checkpoints along one teacher's training run)

Narrated in notebooks/hello.py, "Weak teachers".
"""
from __future__ import annotations

import copy
from typing import Sequence

import torch
from torch import nn

from ..core.seeding import seed_everything
from ..core.train import batches, fit
from ..zoo.classifier import SmallCNN, random_shift
from ..zoo.clip import class_text_embeddings, normalize as clip_normalize
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


def weak_teacher_trajectory(x: torch.Tensor, y: torch.Tensor, steps: int, checkpoints: int, width: int = 16,
                            lr: float = 3e-3, batch_size: int = 64, seed: int = 0,
                            device: torch.device | str = "cpu") -> list[nn.Module]:
    """Train one ``SmallCNN`` for ``steps`` and keep ``checkpoints`` snapshots spread evenly along the run.

    The snapshots are the weak teachers (early ones are weak, the last is the trained teacher).
    """
    if checkpoints < 1 or checkpoints > steps:
        raise ValueError(f"weak_ckpts: expected 1..{steps} checkpoints, got {checkpoints}")
    seed_everything(seed)
    model = SmallCNN(x.shape[1], width, int(y.max()) + 1).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    at = {round(steps * (k + 1) / checkpoints) - 1 for k in range(checkpoints)}
    snaps: list[nn.Module] = []

    def keep(step: int) -> None:
        if step in at:
            snap = copy.deepcopy(model).eval()
            snaps.append(snap.requires_grad_(False))

    fit(model, batches(x, y, batch_size, seed), lambda m, b: nn.functional.cross_entropy(m(random_shift(b[0], 1)), b[1]),
        opt, steps, device=torch.device(device), desc="weak teachers", on_step=keep)
    return snaps


def build_projector(clip: nn.Module, class_names: Sequence[str], dataset_classes: Sequence[str],
                    rank_encoder: int, rank_head: int, head: str = "text", seed: int = 0) -> Projector:
    """The projector for a dataset: prompts from ``class_names`` (checked against the dataset's classes)."""
    names = check_class_names(class_names, dataset_classes)
    text = class_text_embeddings(clip, names)  # (C, d_f): rebuilt from the names, never stored
    return Projector(clip, text, rank_encoder, rank_head, head=head, preprocess=clip_normalize, seed=seed)


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


def make_student(in_channels: int = 3, width: int = 16, num_classes: int = 10) -> nn.Module:
    """The student trained from scratch on the distilled set (a fresh :class:`TinyStudent`)."""
    return TinyStudent(in_channels, width, num_classes)
