"""MindBridge's modules: subject-specific embedder and builder, the shared translator and its heads.

.. math:: \\hat e_I, \\hat e_T = \\mathrm{heads}(\\mathcal T(\\mathcal E_s(f(V_s)))),\\qquad
          \\hat v_s = \\mathcal B_s(\\mathcal E_s(v_s))

Shapes: voxels ``(B, F_s)``, aggregated ``(B, P)``, embeddings ``(B, h)``, image target
``(B, L_I, D)``, text target ``(B, L_T, D)``. Narrated in notebooks/mindbridge.py, "The method".
"""
from __future__ import annotations

import math
from typing import Iterable

import torch
from torch import nn

from .kernels import aggregate, check_voxels


class Adapter(nn.Module):
    """Residual bottleneck, LoRA-initialised: :math:`x + W_{up}\\,\\mathrm{ReLU}(W_{down} x)`, :math:`W_{up}=0`."""

    def __init__(self, dim: int, rank: int):
        super().__init__()
        self.down = nn.Linear(dim, rank)
        self.up = nn.Linear(rank, dim)
        nn.init.kaiming_uniform_(self.down.weight, a=math.sqrt(5))
        nn.init.zeros_(self.down.bias)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.up(torch.relu(self.down(x)))


def embedder(pool_num: int, hidden: int, rank: int, dropout: float = 0.5) -> nn.Sequential:
    """:math:`\\mathcal E_s`: Adapter -> Linear(P, h) -> LayerNorm -> GELU -> Dropout. ``(B, P) -> (B, h)``."""
    return nn.Sequential(Adapter(pool_num, rank), nn.Linear(pool_num, hidden), nn.LayerNorm(hidden), nn.GELU(),
                         nn.Dropout(dropout))


def builder(pool_num: int, hidden: int, rank: int) -> nn.Sequential:
    """:math:`\\mathcal B_s`: Linear(h, P) -> LayerNorm -> GELU -> Adapter. ``(B, h) -> (B, P)``."""
    return nn.Sequential(nn.Linear(hidden, pool_num), nn.LayerNorm(pool_num), nn.GELU(), Adapter(pool_num, rank))


class Translator(nn.Module):
    """:math:`\\mathcal T`: residual MLP blocks [Linear, LayerNorm, GELU, Dropout], shared by all subjects,
    then linear heads to the image tokens ``(L_I, D)`` and text tokens ``(L_T, D)``."""

    def __init__(self, hidden: int, blocks: int, image_shape: tuple[int, int], text_shape: tuple[int, int],
                 dropout: float = 0.15):
        super().__init__()
        self.blocks = nn.ModuleList(nn.Sequential(nn.Linear(hidden, hidden), nn.LayerNorm(hidden), nn.GELU(),
                                                  nn.Dropout(dropout)) for _ in range(blocks))
        self.image_shape, self.text_shape = tuple(image_shape), tuple(text_shape)
        self.head_image = nn.Linear(hidden, math.prod(image_shape))
        self.head_text = nn.Linear(hidden, math.prod(text_shape))

    def forward(self, e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for block in self.blocks:
            e = e + block(e)  # residual
        return (self.head_image(e).view(len(e), *self.image_shape),
                self.head_text(e).view(len(e), *self.text_shape))


class MindBridge(nn.Module):
    """One model for several subjects: per-subject :math:`\\mathcal E_s, \\mathcal B_s` around a shared
    :math:`\\mathcal T`. With one subject and ``with_builders=False`` it is the per-subject baseline
    (the official code's MindSingle: embedder, translator, heads).

    ``voxels``: subject id -> voxel count :math:`F_s` (checked on every call).
    """

    def __init__(self, voxels: dict[str, int], pool_num: int, hidden: int, blocks: int, rank: int,
                 image_shape: tuple[int, int], text_shape: tuple[int, int], pool: str = "max",
                 with_builders: bool = True):
        super().__init__()
        self.pool_num, self.hidden, self.rank, self.pool = pool_num, hidden, rank, pool
        self.with_builders = with_builders
        self.voxels: dict[str, int] = {}
        self.embedders = nn.ModuleDict()
        self.builders = nn.ModuleDict()
        self.translator = Translator(hidden, blocks, image_shape, text_shape)
        for s, f in voxels.items():
            self.add_subject(s, f)

    @property
    def subjects(self) -> list[str]:
        return list(self.voxels)

    def add_subject(self, subject: str, voxels: int) -> None:
        """A fresh :math:`\\mathcal E_s` and :math:`\\mathcal B_s` for a (new) subject; replaces any old ones."""
        if voxels < 1:
            raise ValueError(f"voxels: expected a positive voxel count for subject {subject!r}, got {voxels}")
        self.voxels[subject] = int(voxels)
        device = next(self.translator.parameters()).device
        self.embedders[subject] = embedder(self.pool_num, self.hidden, self.rank).to(device)
        if self.with_builders:
            self.builders[subject] = builder(self.pool_num, self.hidden, self.rank).to(device)

    def _known(self, subject: str) -> str:
        if subject not in self.voxels:
            raise KeyError(f"subject {subject!r}: this model has no embedder for it; known subjects: "
                           f"{', '.join(self.subjects)} (add it with add_subject / reset_tuning)")
        return subject

    def pool_voxels(self, subject: str, V: torch.Tensor) -> torch.Tensor:
        """:math:`v_s = f(V_s)`: checks ``V: (B, F_s)`` and aggregates it to ``(B, P)``."""
        check_voxels(V, self.voxels[self._known(subject)], name=f"voxels of subject {subject!r}")
        return aggregate(V, self.pool_num, self.pool)

    def embed(self, subject: str, v: torch.Tensor) -> torch.Tensor:
        """:math:`e_s = \\mathcal E_s(v_s)`, ``(B, P) -> (B, h)``."""
        return self.embedders[self._known(subject)](v)

    def forward(self, subject: str, V: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw voxels ``(B, F_s)`` -> predicted image and text embeddings."""
        return self.translator(self.embed(subject, self.pool_voxels(subject, V)))

    def shared_parameters(self, excluding: Iterable[str] = ()) -> dict[str, torch.Tensor]:
        """Every parameter not belonging to the subjects in ``excluding`` (for the freeze test)."""
        skip = tuple(f"{kind}.{s}." for s in excluding for kind in ("embedders", "builders"))
        return {n: p for n, p in self.named_parameters() if not n.startswith(skip)}


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
