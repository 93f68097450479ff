"""MindBridge's kernels: voxel aggregation, the SoftCLIP / MSE objectives, reconstruction and the cycle.

Symbols follow the chapter: :math:`V_s \\in \\mathbb R^{F_s}` the voxels of subject :math:`s`,
:math:`v_s = f(V_s)` the aggregated voxels, :math:`\\mathcal E_s` the embedder, :math:`\\mathcal B_s`
the builder, :math:`\\hat e_I, \\hat e_T` the predicted CLIP image and text embeddings.
Torch only: no data, no zoo. Narrated in notebooks/mindbridge.py, "The method".
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

POOL_KINDS = ("max", "avg", "interp")


def check_voxels(V: torch.Tensor, voxels: int | None = None, name: str = "V") -> torch.Tensor:
    """Reject what the model cannot read: not ``(B, F)``, the wrong voxel count, NaN or inf values."""
    if not isinstance(V, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor of shape (B, F), got {type(V).__name__}")
    if V.ndim != 2:
        raise ValueError(f"{name}: expected voxel data of shape (B, F) (one flattened voxel vector per "
                         f"sample), got shape {tuple(V.shape)}")
    if voxels is not None and V.shape[1] != voxels:
        raise ValueError(f"{name}: this subject has {voxels} voxels, got data with {V.shape[1]}")
    if not torch.isfinite(V).all():
        bad = int((~torch.isfinite(V)).sum())
        raise ValueError(f"{name}: the fMRI holds {bad} NaN or infinite value(s); clean or impute them first")
    return V


def aggregate(V: torch.Tensor, pool_num: int, kind: str = "max") -> torch.Tensor:
    """Aggregation to a common size: :math:`v_s = \\mathrm{AdaptiveMaxPool1d}_{P}(V_s)`.

    ``V: (B, F_s)`` with any ``F_s`` -> ``(B, P)``. ``kind``: ``max`` (the paper's choice), ``avg`` or
    ``interp`` (linear interpolation), the three variants of the paper's ablation. Pools along the
    flattened voxel order: neighbouring indices are neighbouring voxels, so never shuffle them.
    """
    check_voxels(V)
    if kind not in POOL_KINDS:
        raise ValueError(f"kind: expected one of {POOL_KINDS}, got {kind!r}")
    if pool_num < 1:
        raise ValueError(f"pool_num: expected an integer >= 1, got {pool_num!r}")
    x = V.unsqueeze(1)  # (B, 1, F_s)
    if kind == "max":
        out = F.adaptive_max_pool1d(x, pool_num)
    elif kind == "avg":
        out = F.adaptive_avg_pool1d(x, pool_num)
    else:
        out = F.interpolate(x, size=pool_num, mode="linear", align_corners=False)
    return out.squeeze(1)  # (B, P)


def soft_clip_loss(pred: torch.Tensor, target: torch.Tensor, tau: float = 0.005) -> torch.Tensor:
    """SoftCLIP: cross-entropy of prediction-target similarities against target-target soft labels.

    .. math:: \\mathcal L = -\\tfrac1N\\sum_{i,j} \\mathrm{softmax}_j(t_i\\cdot t_j/\\tau)
              \\log \\mathrm{softmax}_j(p_i\\cdot t_j/\\tau)

    averaged with the same term on the transposed similarity matrix. ``pred, target: (N, D)``, both
    L2-normalised (the caller flattens and normalises).
    """
    if pred.shape != target.shape or pred.ndim != 2:
        raise ValueError(f"pred and target: expected equal (N, D) shapes, got {tuple(pred.shape)} and "
                         f"{tuple(target.shape)}")
    soft = (target @ target.T / tau).softmax(-1)  # (N, N) soft labels
    logits = pred @ target.T / tau  # (N, N)
    rows = -(soft * logits.log_softmax(-1)).sum(-1).mean()
    cols = -(soft * logits.T.log_softmax(-1)).sum(-1).mean()
    return (rows + cols) / 2


def prediction_loss(pred: torch.Tensor, target: torch.Tensor, mse_mult: float, tau: float = 0.005) -> torch.Tensor:
    """:math:`\\mathcal L_{SoftCLIP}(\\hat e, e) + \\lambda\\,\\mathrm{MSE}(\\hat e, e)` on flattened,
    L2-normalised embeddings. ``pred, target: (N, ...)``."""
    p = F.normalize(pred.flatten(1), dim=-1)
    t = F.normalize(target.flatten(1), dim=-1)
    return soft_clip_loss(p, t, tau) + mse_mult * F.mse_loss(p, t)


def reconstruction_loss(embedder: nn.Module, builder: nn.Module, v: torch.Tensor) -> torch.Tensor:
    """:math:`\\mathcal L_{rec} = \\mathrm{MSE}(\\mathcal B_s(\\mathcal E_s(v_s)), v_s)`. ``v: (B, P)``."""
    return F.mse_loss(builder(embedder(v)), v)


def cycle_loss(e_a: torch.Tensor, embedder_b: nn.Module, builder_b: nn.Module) -> torch.Tensor:
    """:math:`\\mathcal L_{cyc} = \\mathrm{MSE}(\\mathcal E_b(\\mathcal B_b(e_a)), e_a)`, no stop-gradient.

    ``e_a: (B, h)`` is subject a's embedding; :math:`\\mathcal B_b(e_a)` is the novel (pseudo) fMRI of
    subject b for a's stimuli, :math:`v_{a\\to b}`.
    """
    return F.mse_loss(embedder_b(builder_b(e_a)), e_a)


def synthesize(v_a: torch.Tensor, embedder_a: nn.Module, builder_b: nn.Module) -> torch.Tensor:
    """Novel fMRI: :math:`v_{a\\to b} = \\mathcal B_b(\\mathcal E_a(v_a))`. ``(B, P) -> (B, P)``."""
    return builder_b(embedder_a(v_a))


def freeze_for_reset(model: nn.Module, keep: Callable[[str], bool]) -> list[str]:
    """Reset-tuning's freeze: ``requires_grad=False`` on every parameter except those whose name
    ``keep(name)`` accepts. Returns the names left trainable."""
    trainable = []
    for name, param in model.named_parameters():
        param.requires_grad_(keep(name))
        if keep(name):
            trainable.append(name)
    return trainable


def retrieval_top1(pred: torch.Tensor, target: torch.Tensor, n: int) -> float:
    """Top-1 retrieval among ``n`` candidates: in each block of ``n`` test stimuli, is the true
    embedding the most cosine-similar to the prediction? ``pred, target: (M, ...)``; averages over
    the ``M // n`` full blocks (``n`` is clipped to ``M``)."""
    p = F.normalize(pred.flatten(1), dim=-1)
    t = F.normalize(target.flatten(1), dim=-1)
    n = min(n, len(p))
    hits, total = 0, 0
    for start in range(0, len(p) - n + 1, n):
        sims = p[start:start + n] @ t[start:start + n].T  # (n, n)
        hits += int((sims.argmax(1) == torch.arange(n, device=sims.device)).sum())
        total += n
    return hits / total


def embedding_cosine(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Mean cosine between flattened predicted and true embeddings. ``(M, ...)`` each."""
    return F.cosine_similarity(pred.flatten(1), target.flatten(1), dim=-1).mean().item()
