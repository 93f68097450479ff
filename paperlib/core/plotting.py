"""One plotting style for every chapter, and the image grids most chapters need."""
from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import torch

#: Method in orange, baseline in blue, everywhere.
METHOD_COLOR, BASELINE_COLOR = "#d55e00", "#0072b2"


def use_style() -> None:
    mpl.rcParams.update({
        "figure.dpi": 100, "savefig.dpi": 100, "figure.figsize": (6.4, 3.6), "font.size": 10,
        "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3,
        "legend.frameon": False, "image.cmap": "gray",
    })


def to_display(images: torch.Tensor) -> np.ndarray:
    """``(N, C, H, W)`` in [0, 1] (or [-1, 1] when negative values occur) to ``(N, H, W, C)`` for imshow."""
    images = images.detach().float().cpu()
    if images.min() < 0:
        images = (images + 1) / 2
    images = images.clamp(0, 1)
    if images.shape[1] == 1:
        images = images.repeat(1, 3, 1, 1)
    return images.permute(0, 2, 3, 1).numpy()


def image_grid(rows: dict[str, torch.Tensor], ncols: int | None = None, size: float = 0.7,
               title: str | None = None) -> plt.Figure:
    """One row of images per entry of ``rows`` (label -> ``(N, C, H, W)``), labels on the left."""
    ncols = ncols or max(len(v) for v in rows.values())
    fig, axes = plt.subplots(len(rows), ncols, figsize=(ncols * size + 1.2, len(rows) * size + 0.3),
                             squeeze=False)
    for axrow, (label, images) in zip(axes, rows.items()):
        shown = to_display(images[:ncols])
        for j, ax in enumerate(axrow):
            ax.set_xticks([]), ax.set_yticks([]), ax.grid(False)
            for spine in ax.spines.values():
                spine.set_visible(False)
            if j < len(shown):
                ax.imshow(shown[j], interpolation="nearest")
        axrow[0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout(pad=0.2)
    return fig
