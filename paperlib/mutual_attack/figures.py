"""The chapter's figures: success rate against the budget, the perturbations, where adversarial images land."""
from __future__ import annotations

import numpy as np
import torch

from .experiment import LABELS, METHODS


def budget_figure(budgets: list[float], curve: dict[str, list[float]]):
    """Mean transfer success rate across targets against the budget, one line per method."""
    import matplotlib.pyplot as plt

    from ..core.plotting import BASELINE_COLOR, METHOD_COLOR

    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    styles = {"noise": ":", "fgsm": "--", "pgd": "-.", "mi_fgsm": (0, (5, 1)), "clip_visual": "-", "mutual": "-"}
    for m in METHODS:
        color = METHOD_COLOR if m == "mutual" else (BASELINE_COLOR if m == "clip_visual" else None)
        ax.plot(budgets, curve[m], marker="o", ls=styles[m], color=color, label=LABELS[m])
    ax.set_xlabel("budget eps (L-infinity, pixels in [0, 1])")
    ax.set_ylabel("mean success rate over targets")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def perturbation_figure(x: torch.Tensor, adversarial: dict[str, torch.Tensor], eps: float, n: int = 8):
    """Rows: clean images, then per method its adversarial images and its perturbation (scaled to +-eps)."""
    from ..core.plotting import image_grid

    rows = {"clean": x[:n]}
    for m in ("mi_fgsm", "clip_visual", "mutual"):
        rows[m] = adversarial[m][:n]
        rows[f"{m} delta"] = ((adversarial[m][:n] - x[:n]) / (2 * max(eps, 1e-12)) + 0.5).clamp(0, 1)
    return image_grid(rows, size=0.55)


def landing_figure(landing: dict[str, dict[str, list[int]]], class_names: tuple[str, ...]):
    """Share of adversarial images per predicted class, as the surrogate CLIP (hand-made prompt) and as the
    targets (pooled) label them: one panel per view, one bar group per attack. A collapsed attack is one bar."""
    import matplotlib.pyplot as plt

    from ..core.plotting import BASELINE_COLOR, METHOD_COLOR

    colors = {"mi_fgsm": "0.6", "clip_visual": BASELINE_COLOR, "mutual": METHOD_COLOR}
    fig, axes = plt.subplots(1, 2, figsize=(8.0, 2.8), sharey=True)
    k = len(class_names)
    width = 0.8 / len(landing)
    for ax, view, title in zip(axes, ("clip", "targets"), ("surrogate CLIP, hand-made prompt", "targets (pooled)")):
        for j, (m, counts) in enumerate(landing.items()):
            share = np.asarray(counts[view], dtype=float)
            ax.bar(np.arange(k) + (j - (len(landing) - 1) / 2) * width, share / share.sum(), width,
                   color=colors.get(m), label=LABELS[m])
        ax.set_xticks(range(k), class_names if k <= 10 else [""] * k, rotation=45, fontsize=7)
        ax.set_title(title, fontsize=9)
    axes[0].set_ylabel("share of adversarial images")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig
