"""DSI's data: source splits and evaluation domains of a DG benchmark, and the checks that no target image
reaches a source-only model. Shared by the miniature (:func:`digits_benchmark`) and the full-scale domain
folders (:mod:`paperlib.dsi.full`). Narrated in notebooks/dsi.py, "The method".
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import torch

from ..data.digits import split_indices
from ..data.domains import TARGETS, Domain, dg_benchmark, source_train


class TargetLeakError(RuntimeError):
    """A target-domain image was found in the data a source-only model is trained or tuned on."""


@dataclass(frozen=True)
class SourceSplits:
    """Source-domain data only: what the classifiers train on (``train``) and what ``T*`` and ``tau``
    are chosen on (``val``); images ``(N, 3, H, W)`` in [0, 1], labels ``(N,)``."""

    domains: tuple[str, ...]
    train: tuple[torch.Tensor, torch.Tensor]
    val: tuple[torch.Tensor, torch.Tensor]
    natural_images: bool = False  # photos/paintings: horizontal flips are label-preserving (digits: no)


@dataclass(frozen=True)
class Benchmark:
    """A DG benchmark for DSI: the source splits, and the evaluation domains (``"source"`` = the source
    test split, the price paid in distribution, plus the shifted ``targets``), each a fixed subsample."""

    name: str
    source: SourceSplits
    evaluation: dict[str, Domain]
    targets: tuple[str, ...]
    classes: tuple[str, ...]
    image_size: int
    train_hashes: tuple[str, ...] = ()  # sha256 of the source-train image files (folder benchmarks)
    eval_hashes: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def image_hashes(x: torch.Tensor, decimals: int = 3) -> set[str]:
    """One hash per image (pixels rounded to ``decimals``), to detect exact or near-exact copies."""
    arr = np.round(x.detach().cpu().double().numpy(), decimals) + 0.0  # +0.0: -0.0 and 0.0 hash alike
    return {hashlib.sha256(a.tobytes()).hexdigest() for a in arr}


def assert_no_target_in(train_x: torch.Tensor, domains: dict[str, Domain], what: str = "training data") -> None:
    """Raise :class:`TargetLeakError` if any image of any domain (the source *test* split included)
    occurs in ``train_x``, and check that the canonical train and test index sets are disjoint."""
    idx = split_indices()
    if np.intersect1d(idx["train"], idx["test"]).size or np.intersect1d(idx["val"], idx["test"]).size:
        raise TargetLeakError("the canonical digits split overlaps: train/val and test share images")
    seen = image_hashes(train_x)
    for name, domain in domains.items():
        shared = seen & image_hashes(domain.x)
        if shared:
            raise TargetLeakError(f"{what}: {len(shared)} image(s) of the evaluation domain {name!r} occur in it")


def diffusion_training_data(meta: dict, image_size: int = 16) -> torch.Tensor:
    """The images the zoo's DDPM was trained on, rebuilt from its recorded recipe (in [0, 1])."""
    trained_on = str(meta.get("facts", {}).get("trained_on", ""))
    if "source train split" not in trained_on:
        raise TargetLeakError(f"the diffusion model does not record a source-only training set: {trained_on!r}")
    x, _ = source_train(meta.get("recipe", {}).get("image_size", image_size), "train")
    return x


def digits_benchmark(n_test: int, seed: int = 0) -> Benchmark:
    """The data kit's Digits DG benchmark at 16x16: source train/val splits, evaluation subsamples."""
    source = SourceSplits(("source",), source_train(16, "train"), source_train(16, "val"))
    return Benchmark("digits", source, evaluation_domains(n_test, seed), tuple(TARGETS),
                     tuple(str(c) for c in range(10)), 16)


def evaluation_domains(n_test: int, seed: int = 0, size: int = 16) -> dict[str, Domain]:
    """Every domain of the benchmark, each cut to a fixed seeded subsample of ``n_test`` images."""
    out = {}
    for name, domain in dg_benchmark(size).items():
        gen = torch.Generator().manual_seed(seed + sum(map(ord, name)))
        keep = torch.randperm(len(domain.y), generator=gen)[:n_test].sort().values
        out[name] = Domain(name, domain.x[keep].contiguous(), domain.y[keep].contiguous(), domain.recipe)
    return out
