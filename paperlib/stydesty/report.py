"""StyDeSty's tables and figures (Markdown strings and matplotlib figures for the chapter)."""
from __future__ import annotations

import math

import torch

from .data import as_float
from paperlib.core import BASELINE_COLOR, METHOD_COLOR

from .experiment import ARM_LABELS, arm_label
from .kernels import Stylizer, stylize
from .models import CANDIDATES

ARM_COLORS = {"erm": BASELINE_COLOR, "erm_in": "#009e73", "randconv": "#56b4e9", "advsty": "#999999",
              "stydesty": METHOD_COLOR}


def results_table(summary: dict, names: list[str], candidates: tuple[str, ...] = CANDIDATES) -> str:
    """Markdown: one row per (arm, position), mean ± std over seeds per domain."""
    rows = ["| arm | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 1)]
    for (arm, position), cols in summary.items():
        cells = [f"{m:.3f}" + (f" ± {s:.3f}" if math.isfinite(s) else "") for m, s in (cols[n] for n in names)]
        rows.append(f"| {arm_label(arm, position, candidates)} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def sweep_table(swept: dict[tuple[str, int], dict], candidates: tuple[str, ...], marks: dict[int, str]) -> str:
    """Markdown: one row per position, source-val and target-mean accuracy of each swept arm."""
    arms = list(dict.fromkeys(arm for arm, _ in swept))
    positions = sorted({k for _, k in swept})
    head = "| position | after | " + " | ".join(f"{ARM_LABELS[a]}: source val | target mean" for a in arms) + " |"
    rows = [head, "|" + "---|" * (2 + 2 * len(arms))]
    for k in positions:
        cells = [f"{swept[a, k]['acc']['source_val']:.3f} | {swept[a, k]['acc']['target_mean']:.3f}" for a in arms]
        label = f"{k}" + (f" ({marks[k]})" if k in marks else "")
        rows.append(f"| {label} | {candidates[k]} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def plot_accuracies(summary: dict, names: list[str], candidates: tuple[str, ...] = CANDIDATES,
                    primary: int | None = None, colors: dict[str, str] | None = None):
    """Grouped bars: accuracy per domain (mean over seeds, std as error bars), one bar per (arm, position);
    bars of a positioned arm away from the ``primary`` position are hatched."""
    import matplotlib.pyplot as plt

    keys = list(summary)
    width = 0.8 / len(keys)
    fig, ax = plt.subplots(figsize=(9, 3.6))
    for i, (arm, position) in enumerate(keys):
        means = [summary[arm, position][n][0] for n in names]
        stds = [summary[arm, position][n][1] if math.isfinite(summary[arm, position][n][1]) else 0.0 for n in names]
        xs = [j + (i - (len(keys) - 1) / 2) * width for j in range(len(names))]
        ax.bar(xs, means, width, yerr=stds, capsize=2, label=arm_label(arm, position, candidates),
               color=(colors or ARM_COLORS).get(arm), hatch="//" if position not in (None, primary) else None,
               edgecolor="white")
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1)
    ax.axhline(0.1, color="gray", lw=0.8, ls=":")
    ax.legend(ncol=3, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, 1.36))
    fig.tight_layout()
    return fig


def plot_sweep(swept: dict[tuple[str, int], dict], candidates: tuple[str, ...], marks: dict[int, str],
               colors: dict[str, str] | None = None):
    """Target-mean accuracy against the IN layer's position, one line per arm; marked positions labelled."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 2.9))
    for arm in dict.fromkeys(a for a, _ in swept):
        ks = sorted(k for a, k in swept if a == arm)
        ax.plot(ks, [swept[arm, k]["acc"]["target_mean"] for k in ks], "o-", label=ARM_LABELS[arm],
                color=(colors or ARM_COLORS).get(arm))
    ks = sorted({k for _, k in swept})
    ax.set_xticks(ks, [f"{candidates[k]}" + (f"\n({marks[k]})" if k in marks else "") for k in ks], fontsize=8)
    ax.set_xlabel("IN layer after")
    ax.set_ylabel("target mean accuracy")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_search(log: dict, candidates: tuple[str, ...] = CANDIDATES):
    """The architecture logits a over the search's steps, one line per candidate position."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 2.8))
    alpha = log["alpha"]
    for k, name in enumerate(candidates):
        ax.plot(alpha[:, k].numpy(), label=f"{k}: {name}", lw=2.5 if k == log["position"] else 1.0)
    ax.set_xlabel("search step")
    ax.set_ylabel("logit $a_k$")
    ax.legend(fontsize=8, ncol=3)
    fig.tight_layout()
    return fig


def stylized_examples(G: Stylizer, x: torch.Tensor, a: float, n_draws: int = 3, seed: int = 0) -> dict:
    """Rows for an image grid: the source, G with its stored filters, and ``n_draws`` random re-draws."""
    torch.manual_seed(seed)
    device = next(G.buffers()).device
    x = as_float(x).to(device)
    with torch.no_grad():
        rows = {"source": x.cpu(), "G (stored filters)": stylize(G, x, a, frozen=True).cpu()}
        for i in range(n_draws):
            rows[f"G (random draw {i + 1})"] = stylize(G, x, a, frozen=False).cpu()
    return rows
