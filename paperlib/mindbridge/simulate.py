"""Simulated subjects for the MindBridge miniature (no brain data can be downloaded here).

Subject :math:`s` answers stimulus :math:`x` with
:math:`V_s = \\mathrm{ReLU}(\\mathrm{std}(A_s z(x)) - \\theta) + \\epsilon` per repeat, where :math:`z(x)` is
the tiny CLIP's normalised image embedding, :math:`\\theta` silences about 70% of the voxels and
:math:`\\epsilon \\sim \\mathcal N(0, \\sigma^2)`. The voxel gains :math:`A_s \\in \\mathbb R^{F_s\\times d}` are
smooth along the voxel index: :math:`A_s = \\sqrt{\\rho}\\,T(w_s(\\cdot)) + \\sqrt{1-\\rho}\\,O_s + J_s`, a
"cortex" template :math:`T` common to all subjects read through a subject-specific monotone warp
:math:`w_s`, a smooth template :math:`O_s` of the subject's own, and per-voxel jitter :math:`J_s`. The share
:math:`\\rho` is how much structure subjects share (1: one template for all, 0: independent templates).
Every seed draws its own templates, warps, noise and split of the stimuli among subjects.
Narrated in notebooks/mindbridge.py, "The simulated subjects".
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..data.digits import CLASS_NAMES, digits
from ..zoo.pretrained import LoadedClip
from .targets import clip_targets

#: voxel counts relative to the first subject: NSD subjects 1, 2, 5, 7 (15724, 14278, 13039, 12682), then more
VOXEL_RATIOS = (1.0, 0.908, 0.829, 0.807, 0.85, 0.95, 0.87, 0.78, 0.93)
TEMPLATE = "a photo of the digit {}."
SILENT_THRESHOLD = 0.52  # standard-normal quantile: about 70% of voxels silent for a given stimulus
TEMPLATE_ANCHORS = 48  # smooth templates are interpolated between this many random rows
JITTER = 0.3  # per-voxel idiosyncrasy, relative to a template row


@dataclass
class Subject:
    """One subject: voxel count, its training stimuli and fMRI.

    ``train_V: (N, R, F)`` (R repeats), ``test_V: (M, R, F)`` on the shared test stimuli,
    ``train_idx``: rows of the stimulus bank, ``clean_test: (M, F)`` the noise-free response (NSD: the mean
    over repeats).
    """

    id: str
    voxels: int
    train_idx: torch.Tensor
    train_V: torch.Tensor
    test_V: torch.Tensor
    clean_test: torch.Tensor

    def first(self, n: int) -> "Subject":
        """The subject with only its first ``n`` training stimuli (the official ``--length``)."""
        n = max(2, min(n, len(self.train_idx)))
        return Subject(self.id, self.voxels, self.train_idx[:n], self.train_V[:n], self.test_V, self.clean_test)

    def subset(self, fraction: float) -> "Subject":
        return self.first(round(fraction * len(self.train_idx)))


@dataclass
class Setting:
    """The stimulus bank (train pool, then the shared test stimuli), CLIP targets and subjects."""

    images: torch.Tensor  # (S, C, H, W), for figures
    labels: torch.Tensor  # (S,)
    image_tokens: torch.Tensor  # (S, L_I, D), e_I
    text_tokens: torch.Tensor  # (S, L_T, D), e_T
    test_idx: torch.Tensor  # (M,)
    sources: list[Subject]
    new: Subject
    meta: dict = field(default_factory=dict)

    def subject(self, sid: str) -> Subject:
        for s in self.sources + [self.new]:
            if s.id == sid:
                return s
        known = ", ".join(s.id for s in self.sources + [self.new])
        raise KeyError(f"subject {sid!r}: no data for it; subjects are {known}")

    @property
    def image_shape(self) -> tuple[int, int]:
        return tuple(self.image_tokens.shape[1:])

    @property
    def text_shape(self) -> tuple[int, int]:
        return tuple(self.text_tokens.shape[1:])


@dataclass(frozen=True)
class SimRecipe:
    """The simulated experiment's sizes: subjects (sources + 1 new), voxels of the first, stimuli, noise."""

    n_sources: int
    voxels: int
    n_train: int
    n_test: int
    repeats: int
    noise: float


@dataclass
class StimulusBank:
    """Digits as stimuli with their CLIP targets, fixed for the run: a training pool, then the test stimuli."""

    images: torch.Tensor
    labels: torch.Tensor
    image_tokens: torch.Tensor
    text_tokens: torch.Tensor
    n_pool: int  # rows [0, n_pool) are the training pool, the rest the shared test stimuli


def stimulus_bank(clip: LoadedClip, n_test: int, device) -> StimulusBank:
    """The digits train and validation splits as the training pool, the first ``n_test`` of a fixed
    permutation of the test split as the shared test stimuli, and their CLIP token targets."""
    pool = [digits("train"), digits("val")]
    test = digits("test")
    if n_test > len(test):
        raise ValueError(f"mindbridge: parameter 'n_test': at most {len(test)} test stimuli, got {n_test}")
    pick = torch.randperm(len(test), generator=torch.Generator().manual_seed(7919))[:n_test]
    images = torch.cat([s.x for s in pool] + [test.x[pick]])
    labels = torch.cat([s.y for s in pool] + [test.y[pick]])
    image_tokens, text_tokens = clip_targets(clip, images, [TEMPLATE.format(CLASS_NAMES[int(y)]) for y in labels],
                                             device, batch=256)
    return StimulusBank(images, labels, image_tokens, text_tokens, len(labels) - n_test)


def smooth_rows(n: int, anchors: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Rows at ``positions`` in [0, 1] linearly interpolated between ``anchors: (K, d)`` -> ``(n, d)``."""
    k = len(anchors)
    t = positions.clamp(0, 1) * (k - 1)
    lo = t.floor().long().clamp(max=k - 2)
    w = (t - lo).unsqueeze(1)
    return anchors[lo] * (1 - w) + anchors[lo + 1] * w


def voxel_gains(voxels: int, template: torch.Tensor, shared: float, gen: torch.Generator) -> torch.Tensor:
    """:math:`A_s = \\sqrt{\\rho}\\,T(w_s) + \\sqrt{1-\\rho}\\,O_s + J_s`, ``(F, d)``: the common ``template``
    ``(K, d)`` along a subject-specific monotone warp, the subject's own smooth template, per-voxel jitter."""
    k, d = template.shape
    bumps = torch.rand(6, generator=gen) + 0.2
    warp = torch.cumsum(torch.repeat_interleave(bumps, (voxels + 5) // 6)[:voxels], 0)
    warp = (warp - warp[0]) / (warp[-1] - warp[0])  # monotone, subject-specific
    own = torch.randn(k, d, generator=gen)
    A = math.sqrt(shared) * smooth_rows(voxels, template, warp)
    A = A + math.sqrt(1 - shared) * smooth_rows(voxels, own, torch.linspace(0, 1, voxels))
    return A + JITTER * torch.randn(voxels, d, generator=gen)


def simulate_responses(z: torch.Tensor, A: torch.Tensor, repeats: int, noise: float,
                       gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """One subject's fMRI for features ``z: (S, d)`` through gains ``A: (F, d)``: noisy ``(S, R, F)`` and
    clean ``(S, F)``. Responses are standardised per voxel, thresholded (ReLU) and get independent Gaussian
    noise per repeat."""
    pre = z @ A.T  # (S, F)
    pre = (pre - pre.mean(0)) / pre.std(0).clamp_min(1e-6)
    clean = torch.relu(pre - SILENT_THRESHOLD)
    noisy = clean[:, None] + noise * torch.randn(len(z), repeats, A.shape[0], generator=gen)
    return noisy, clean


def simulated_setting(bank: StimulusBank, r: SimRecipe, shared: float, seed: int) -> Setting:
    """``r.n_sources + 1`` simulated subjects (the last one is the new subject) for one seed and share
    ``shared`` of common structure: disjoint training stimuli drawn from the pool (as in NSD), every subject on
    the same test stimuli."""
    if not 0 <= shared <= 1:
        raise ValueError(f"mindbridge: parameter 'sharing': expected shares in [0, 1], got {shared!r}")
    n_subj = r.n_sources + 1
    if n_subj * r.n_train > bank.n_pool:
        raise ValueError(f"mindbridge: {n_subj} subjects x {r.n_train} disjoint training stimuli need more than "
                         f"the {bank.n_pool} digits available; lower n_train or n_sources")
    gen = torch.Generator().manual_seed(seed + 7919)
    order = torch.randperm(bank.n_pool, generator=gen)[: n_subj * r.n_train]
    test_idx = torch.arange(bank.n_pool, len(bank.labels))
    z = F.normalize(bank.image_tokens[:, 0].float(), dim=-1)  # the pooled (CLS) image embedding drives the "brain"
    rows = torch.cat([order, test_idx])
    template = torch.randn(TEMPLATE_ANCHORS, z.shape[1], generator=gen)
    subjects = []
    for i in range(n_subj):
        voxels = max(8, round(r.voxels * VOXEL_RATIOS[i]))
        noisy, clean = simulate_responses(z[rows], voxel_gains(voxels, template, shared, gen), r.repeats, r.noise,
                                          gen)
        tr = slice(i * r.n_train, (i + 1) * r.n_train)
        subjects.append(Subject(f"s{i + 1}", voxels, order[tr], noisy[tr], noisy[len(order):],
                                clean[len(order):]))
    return Setting(bank.images, bank.labels, bank.image_tokens, bank.text_tokens, test_idx, subjects[:-1],
                   subjects[-1], {"silent_share": float((subjects[0].clean_test <= 0).float().mean()),
                                  "data": "simulated", "shared": shared, "seed": seed})
