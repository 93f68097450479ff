"""The datamodel chapter's figures: attribution matrices, cluster totals, agreement with the ground truth.

Narrated in notebooks/datamodel.py, "The experiment".
"""
from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from ..core.plotting import BASELINE_COLOR, METHOD_COLOR

LABELS = {"gt": "real retraining (truth)", "ddm": "DDM synset replay", "medoid": "medoid-only synset",
          "first_order": "first-order (TracIn-style)"}


def _mark_noisy(ax, units: list[int], noisy: list[int]) -> None:
    for r, u in enumerate(units):
        if u in noisy:
            ax.axhline(r, color="red", lw=0.6, alpha=0.8)


def attribution_matrices(result: dict[str, Any], noisy: list[int], columns: int = 120) -> plt.Figure:
    """Clusters x test points, one panel per estimate; red lines mark the planted noisy clusters.

    Columns are the ``columns`` test points with the largest ground-truth effects, ordered by true class.
    Each panel has its own symmetric colour scale (the estimates differ in scale, not only in rank).
    """
    gt = result["A_gt"].numpy()
    cols = np.argsort(-np.abs(gt).max(0))[:columns]
    cols = np.sort(cols)
    fig, axes = plt.subplots(1, 4, figsize=(11, 3.6), sharey=True)
    for ax, key in zip(axes, ("gt", "ddm", "medoid", "first_order")):
        a = result[f"A_{key}"].numpy()[:, cols]
        v = np.abs(a).max() or 1.0
        ax.imshow(a, aspect="auto", cmap="RdBu_r", vmin=-v, vmax=v, interpolation="nearest")
        ax.set_title(LABELS[key], fontsize=9)
        ax.set_xlabel("test point")
        ax.grid(False)
        _mark_noisy(ax, result["units"], noisy)
    axes[0].set_ylabel("cluster (class-major)")
    fig.suptitle("A[k, j] = loss of test point j after removing cluster k - loss with every cluster "
                 "(red: removal raises the loss, the cluster helped)", fontsize=9)
    fig.tight_layout()
    return fig


def cluster_totals(result: dict[str, Any], noisy: list[int]) -> plt.Figure:
    """Total attribution per cluster (sum over test points): truth and DDM side by side, planted ones hatched."""
    units = result["units"]
    x = np.arange(len(units))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    for ax, key, color in ((axes[0], "gt", "0.4"), (axes[1], "ddm", METHOD_COLOR)):
        total = result[f"A_{key}"].sum(1).numpy()
        bars = ax.bar(x, total, color=color)
        for r, u in enumerate(units):
            if u in noisy:
                bars[r].set_color("red")
        ax.axhline(0, color="black", lw=0.5)
        ax.set_title(f"{LABELS[key]}: total effect per cluster", fontsize=9)
        ax.set_xlabel("cluster (red: planted, relabelled)")
    axes[0].set_ylabel("sum over test points of A[k, j]")
    fig.tight_layout()
    return fig


def agreement(result: dict[str, Any], noisy: list[int]) -> plt.Figure:
    """Every entry of each estimate against the ground truth (ranks are what Spearman compares)."""
    gt = result["A_gt"].numpy().ravel()
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.2))
    for ax, key, color in zip(axes, ("ddm", "medoid", "first_order"), (METHOD_COLOR, BASELINE_COLOR, "0.5")):
        ax.scatter(gt, result[f"A_{key}"].numpy().ravel(), s=2, alpha=0.3, color=color)
        lim = np.abs(gt).max()
        ax.plot([-lim, lim], [-lim, lim], color="black", lw=0.5) if key != "first_order" else None
        ax.set_xlabel("real leave-one-out effect")
        ax.set_title(LABELS[key], fontsize=9)
    axes[0].set_ylabel("estimated effect")
    fig.tight_layout()
    return fig


def matching_curve(results: list[dict[str, Any]]) -> plt.Figure:
    """Mean matching distance the synset arrives with at each checkpoint, per seed."""
    fig, ax = plt.subplots(figsize=(5, 2.8))
    for r in results:
        ax.plot(r["distance"], color=METHOD_COLOR, alpha=0.7, label=f"seed {r['seed']}")
    ax.set_xlabel("checkpoint (every few real steps)")
    ax.set_ylabel("mean d(synthetic, cluster gradient)")
    ax.legend()
    fig.tight_layout()
    return fig


def recorded_benchmark(size: str = "cpu", device: str = "cpu") -> str:
    """The last recorded run of ``benchmarks/datamodel.py`` as a Markdown table (read from its JSON record)."""
    import json

    from ..core.bench import bench_dir

    path = bench_dir() / f"datamodel.{size}-{device}.json"
    if not path.is_file():
        return f"*No recorded benchmark run: `python benchmarks/datamodel.py --size {size}` records one.*"
    record = json.loads(path.read_text())
    prov = record["provenance"]
    rows = ["| N | runs | real, one by one (s) | real, stacked (s) | synset, one by one (s) | synset, stacked (s) "
            "| speedup | counted bound N/K |", "|---|---|---|---|---|---|---|---|"]
    for r in record["rows"]:
        rows.append(f"| {r['N']} | {r['runs']} | {r['real_one_by_one_s']:.2f} | {r['real_stacked_s']:.2f} | "
                    f"{r['synset_one_by_one_s']:.2f} | {r['synset_stacked_s']:.3f} | {r['speedup']:.1f}x | "
                    f"{r['counted_ratio']:.0f}x |")
    rows.append(f"\nRecorded {prov['date']} on {prov['device_name']} ({prov['threads']} thread(s)), commit "
                f"`{(prov.get('commit') or 'unknown')[:10]}`; CPU seconds of the benchmark's process.")
    return "\n".join(rows)
