"""The DSI experiment: the pipeline (benchmark and source-only inverter), classifiers, source-only
selection, evaluation, tables and figures. The same functions serve the Digits miniature and the
full-scale domain folders (built by :mod:`paperlib.dsi.full`).

Classifiers are trained on the source train split (ERM, and mixup as a DG method). The fixed step ``T*``
and the threshold ``tau`` are chosen by :func:`select_on_source`, which reads source validation data only
and takes no target data. Narrated in notebooks/dsi.py, "The experiment".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from torch import nn

from ..core.seeding import seed_everything
from ..core.train import batches, fit, predict
from ..data.domains import Domain, dg_benchmark
from ..zoo.classifier import SmallCNN, random_shift
from .benchmark import Benchmark, SourceSplits, assert_no_target_in, diffusion_training_data, digits_benchmark
from .full import FolderSetup, folder_benchmark, source_diffusion, timm_classifier
from .kernels import adaptive_logits, check_threshold, max_softmax
from .models import ShiftInverter

METHODS = ("erm", "mixup")


@dataclass
class Pipeline:
    """What a run works on: the benchmark, the source-only inverter, and facts about its diffusion model."""

    bench: Benchmark
    inverter: ShiftInverter
    facts: dict


def prepare(scale: str, n_test: int, ddim_stride: int, seed: int = 0, device: torch.device | str = "cpu",
            folders: FolderSetup | None = None) -> Pipeline:
    """The benchmark and the source-only diffusion model.

    ``folders=None``: the data kit's Digits benchmark and the zoo's DDPM at ``scale``, fed its null class;
    its training set is rebuilt from its recorded recipe and checked against every evaluation image.
    Otherwise the domain folders and Stable Diffusion fine-tuned on the source-train images (or a
    fine-tuned folder with its record), checked against every target image. Either way a leak raises
    :class:`~paperlib.dsi.benchmark.TargetLeakError`.
    """
    if folders is None:
        from .. import zoo

        bench = digits_benchmark(n_test, seed)
        ddpm, meta = zoo.create("ddpm", scale)
        assert_no_target_in(diffusion_training_data(meta), dg_benchmark(16), "diffusion training data")
        inverter = ShiftInverter.from_zoo(ddpm.to(device), zoo.NULL_CLASS, ddim_stride=ddim_stride)
        return Pipeline(bench, inverter, {"diffusion": "zoo DDPM (null class)",
                                          "final_loss": float(meta["facts"]["final_loss"])})
    bench = folder_benchmark(folders.data_dir, folders.target_domain, folders.source_domains, folders.image_size,
                             n_test, seed)
    model, record = source_diffusion(folders.diffusion_weights, bench, folders.diffusion_steps,
                                     folders.diffusion_size, seed, device)
    inverter = ShiftInverter.from_latent_diffusion(model, folders.image_size, ddim_stride)
    return Pipeline(bench, inverter, {"diffusion": f"{folders.diffusion_weights} fine-tuned on "
                                                   f"{', '.join(bench.source.domains)}",
                                      "final_loss": float(record.get("final_loss", float("nan")))})


# -------------------------------------------------------------------------------------- classifiers
def augment(x: torch.Tensor, shift: int = 1, flip: bool = False) -> torch.Tensor:
    """The training augmentation: a random translation by up to ``shift`` pixels, and (natural images
    only; digits are not mirror-symmetric) a random horizontal flip of half the batch."""
    x = random_shift(x, shift)
    if flip:
        mirror = torch.rand(len(x), device=x.device) < 0.5
        x = torch.where(mirror[:, None, None, None], x.flip(-1), x)
    return x


def mixup_loss(model: nn.Module, batch: tuple, alpha: float = 0.2, shift: int = 1, flip: bool = False) -> torch.Tensor:
    """Mixup (Zhang et al., 2018): ``CE(f(lam x_i + (1 - lam) x_j), lam y_i + (1 - lam) y_j)``, lam ~ Beta(a, a)."""
    x, y = batch
    lam = float(np.random.beta(alpha, alpha))
    perm = torch.randperm(len(x), device=x.device)
    logits = model(augment(lam * x + (1 - lam) * x[perm], shift, flip))
    ce = nn.functional.cross_entropy
    return lam * ce(logits, y) + (1 - lam) * ce(logits, y[perm])


def erm_loss(model: nn.Module, batch: tuple, shift: int = 1, flip: bool = False) -> torch.Tensor:
    """Empirical risk minimisation with the zoo's small random shifts."""
    return nn.functional.cross_entropy(model(augment(batch[0], shift, flip)), batch[1])


@dataclass(frozen=True)
class ClassifierRecipe:
    """How a DSI predictor is trained on the source: ``arch`` is ``small_cnn`` (of ``width``) or a timm
    architecture, from scratch or from local pretrained ``weights``."""

    steps: int
    lr: float = 3e-3
    batch_size: int = 64
    width: int = 16
    arch: str = "small_cnn"
    weights: str | None = None


def make_classifier(arch: str, num_classes: int, width: int = 16, weights: str | None = None) -> nn.Module:
    """``small_cnn`` (the zoo's SmallCNN) or any timm architecture (ImageNet-normalised inside, so clean
    and transformed inputs in [0, 1] share one preprocessing); ``weights``: a local pretrained file/folder."""
    if arch == "small_cnn":
        if weights is not None:
            raise ValueError("classifier_weights: the small_cnn classifier is trained from scratch; pass null")
        return SmallCNN(3, width, num_classes)
    return timm_classifier(arch, num_classes, weights)


def train_classifier(method: str, seed: int, recipe: ClassifierRecipe, source: SourceSplits,
                     num_classes: int = 10, device: torch.device | str = "cpu") -> nn.Module:
    """A classifier trained on ``source.train`` by ``method`` (``erm`` or ``mixup``).

    Digits: random shifts of one pixel. Natural images (folder benchmarks): shifts of 1/16 of the side
    and horizontal flips.
    """
    if method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
    seed_everything(seed)
    x, y = source.train
    natural = source.natural_images
    shift = max(1, x.shape[-1] // 16) if natural else 1
    model = make_classifier(recipe.arch, num_classes, recipe.width, recipe.weights).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe.lr, total_steps=recipe.steps)
    base = erm_loss if method == "erm" else mixup_loss
    loss = lambda m, b: base(m, b, shift=shift, flip=natural)  # noqa: E731
    fit(model, batches(x, y, recipe.batch_size, seed), loss, opt, recipe.steps, desc=f"dsi: {method} seed {seed}",
        scheduler=sched, device=torch.device(device))
    return model.eval()


def train_classifiers(recipe: ClassifierRecipe, source: SourceSplits, seeds: Sequence[int], num_classes: int = 10,
                      device: torch.device | str = "cpu") -> dict[str, list[nn.Module]]:
    """One classifier per method of :data:`METHODS` and seed, in seed order: ``{method: [model, ...]}``."""
    return {m: [train_classifier(m, s, recipe, source, num_classes, device) for s in seeds] for m in METHODS}


# ---------------------------------------------------------------------------------------- transform
Logits = dict[str, dict[int, dict[str, list[torch.Tensor]]]]


@torch.no_grad()
def inversion_logits(inverter: ShiftInverter, sets: dict[str, torch.Tensor], classifiers: dict[str, Sequence[nn.Module]],
                     steps: Sequence[int], draws: int, seed: int, device: torch.device | str = "cpu",
                     batch_size: int = 256, keep: int = 8, progress_bar=None) -> tuple[Logits, dict]:
    """Every image set inverted at every step, ``draws`` noise draws, read by every classifier.

    Returns ``({set: {T: {method: [(N, classes) logits, mean over draws, one per classifier]}}},
    {set: {T: the first `keep` inverted images of draw 0}})``. Only logits are kept, so memory does
    not grow with the number of steps and draws (full scale: thousands of 224x224 images). The draw
    ``d`` of step ``T`` uses seed ``seed + 1000 d + T``: the same for every set and classifier.
    """
    logits: Logits = {name: {} for name in sets}
    examples: dict[str, dict[int, torch.Tensor]] = {name: {} for name in sets}
    jobs = [(name, t) for name in sets for t in steps]
    for name, t in (progress_bar(jobs) if progress_bar else jobs):
        sums = {m: [0.0] * len(group) for m, group in classifiers.items()}
        for d in range(draws):
            x_hat = inverter(sets[name], t, torch.Generator().manual_seed(seed + 1000 * d + t),
                             batch_size=batch_size, device=device)
            if d == 0:
                examples[name][t] = x_hat[:keep].clone()
            for m, group in classifiers.items():
                for i, model in enumerate(group):
                    sums[m][i] = sums[m][i] + predict(model, x_hat)
        logits[name][t] = {m: [s / draws for s in per] for m, per in sums.items()}
    return logits, examples


def tv_denoise(x: torch.Tensor, weight: float = 0.1) -> torch.Tensor:
    """Total-variation denoising (Chambolle) of each image: the classical, non-diffusion baseline."""
    from skimage.restoration import denoise_tv_chambolle

    if weight < 0:
        raise ValueError(f"weight: expected a number >= 0, got {weight!r}")
    if weight == 0:
        return x.detach().cpu().float().clone()
    arr = x.detach().cpu().permute(0, 2, 3, 1).double().numpy()
    out = np.stack([denoise_tv_chambolle(a, weight=weight, channel_axis=-1) for a in arr])
    return torch.from_numpy(out).permute(0, 3, 1, 2).float().clamp(0, 1)


# -------------------------------------------------------------------------------- source selection
@dataclass
class Selection:
    """What :func:`select_on_source` chose, and the source-validation curves it chose from."""

    step: int
    adaptive_steps: list[int]
    taus: dict[str, list[float]]
    clean_acc: float
    dsi_acc: dict[int, float] = field(default_factory=dict)
    ensemble_acc: dict[int, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SelectionRecipe:
    """How ``T*`` and ``tau`` are chosen on source validation data (see :func:`select_on_source`)."""

    tolerance: float = 0.05
    quantile: float = 0.1
    n_val: int = 100
    draws: int = 1


def select_on_source(classifiers: dict[str, Sequence[nn.Module]], inverter: ShiftInverter, steps: Sequence[int],
                     recipe: SelectionRecipe, source: SourceSplits, seed: int = 0, device: torch.device | str = "cpu",
                     num_classes: int = 10, batch_size: int = 256) -> tuple[Selection, dict]:
    """Choose ``T*`` and ``tau`` from ``n_val`` images of the source validation split only (no target input).

    ``source`` holds source-domain images only (checked when a benchmark is built).
    ``T*`` = the largest step whose DSI accuracy on source validation (mean over classifiers) stays
    within ``tolerance`` of the clean accuracy (the price we agree to pay in distribution). The
    adaptive candidates are every step > 0 whose clean+DSI ensemble stays within ``tolerance``.
    ``tau`` (per classifier) = the ``quantile`` of its clean max-softmax on source validation, so that
    a test input less confident than most in-distribution inputs is treated as shifted; it must
    exceed chance ``1/C``. Returns the selection and the validation images with inverted examples.
    """
    tolerance, quantile = recipe.tolerance, recipe.quantile
    if not 0 <= tolerance < 1:
        raise ValueError(f"tolerance: expected a number in [0, 1), got {tolerance!r}")
    if not 0 < quantile < 1:
        raise ValueError(f"quantile: expected a number in (0, 1), got {quantile!r}")
    x, y = source.val
    gen = torch.Generator().manual_seed(seed)
    keep = torch.randperm(len(y), generator=gen)[:recipe.n_val].sort().values
    x, y = x[keep], y[keep]
    logits, examples = inversion_logits(inverter, {"source_val": x}, classifiers, steps, recipe.draws, seed + 7, device,
                                        batch_size)
    logits = logits["source_val"]
    clean = {m: [predict(model, x) for model in group] for m, group in classifiers.items()}
    acc = lambda lg: (lg.argmax(1) == y).float().mean().item()  # noqa: E731
    pairs = lambda t: [(lt, c) for m in classifiers for lt, c in zip(logits[t][m], clean[m])]  # noqa: E731
    clean_acc = float(np.mean([acc(c) for group in clean.values() for c in group]))
    dsi_acc = {t: float(np.mean([acc(lt) for lt, _ in pairs(t)])) for t in steps}
    ens_acc = {t: float(np.mean([acc((lt + c) / 2) for lt, c in pairs(t)])) for t in steps}
    ok = [t for t in steps if dsi_acc[t] >= clean_acc - tolerance]
    step = max(ok) if ok else 0
    adaptive = [t for t in steps if t > 0 and ens_acc[t] >= clean_acc - tolerance]
    taus: dict[str, list[float]] = {}
    for method, group in clean.items():
        taus[method] = []
        for c in group:
            tau = float(torch.quantile(max_softmax(c), quantile))
            taus[method].append(check_threshold(min(max(tau, 1.0 / num_classes + 1e-3), 1.0), num_classes))
    return Selection(step, adaptive, taus, clean_acc, dsi_acc, ens_acc), {"x": x, "y": y, "examples": examples["source_val"]}


# -------------------------------------------------------------------------------------- evaluation
def evaluate(classifiers: dict[str, Sequence[nn.Module]], domains: dict[str, Domain], logits: Logits,
             selection: Selection, denoised: dict[str, torch.Tensor]) -> dict:
    """Accuracy of every classifier on every domain: clean, DSI at ``T*``, adaptive DSI, TV-denoised,
    and the DSI curve over all steps (alone and ensembled with clean logits).

    ``logits`` from :func:`inversion_logits` on the same domains and classifiers.
    Returns ``{method: [ {domain: {...}} for each seed ]}`` with values in [0, 1].
    """
    out: dict[str, list[dict]] = {}
    for method, models in classifiers.items():
        out[method] = []
        for i, model in enumerate(models):
            tau = selection.taus[method][i]
            per_domain = {}
            for name, domain in domains.items():
                y = domain.y
                acc = lambda lg: (lg.argmax(1) == y).float().mean().item()  # noqa: E731
                clean = predict(model, domain.x)
                logits_t = {t: logits[name][t][method][i] for t in logits[name]}
                cands = [logits_t[t] for t in selection.adaptive_steps]
                adapt, chosen = adaptive_logits(clean, cands, tau, with_clean=True)
                per_domain[name] = {
                    "clean": acc(clean), "dsi": acc(logits_t[selection.step]), "adaptive": acc(adapt),
                    "tv": acc(predict(model, denoised[name])),
                    "switched": float((chosen > 0).float().mean()),
                    "curve": {t: acc(lt) for t, lt in logits_t.items()},
                    "curve_ensemble": {t: acc((lt + clean) / 2) for t, lt in logits_t.items()},
                }
            out[method].append(per_domain)
    return out


def mean_over(results: list[dict], key: str, domains: Sequence[str]) -> list[float]:
    """Per seed, the accuracy ``key`` averaged over ``domains``."""
    return [float(np.mean([r[d][key] for d in domains])) for r in results]


# ---------------------------------------------------------------------------------- tables, figures
def summary_table(results: dict, domains: Sequence[str], keys=("clean", "dsi", "adaptive", "tv")):
    """A Markdown table: rows (method, domain), columns ``keys``, mean accuracy over seeds (in %)."""
    from IPython.display import Markdown

    lines = ["| method | domain | " + " | ".join(keys) + " |", "|---|---|" + "---|" * len(keys)]
    for method, per_seed in results.items():
        for d in domains:
            cells = [f"{100 * float(np.mean([r[d][k] for r in per_seed])):.1f}" for k in keys]
            lines.append(f"| {method} | {d} | " + " | ".join(cells) + " |")
    return Markdown("\n".join(lines))


def curve_figure(results: dict, steps: Sequence[int], chosen: int, val_curve: dict[int, float] | None = None):
    """Accuracy against the noise step T for every domain (one panel per method), T* marked."""
    import matplotlib.pyplot as plt

    from ..core.plotting import BASELINE_COLOR, METHOD_COLOR

    fig, axes = plt.subplots(1, len(results), figsize=(5.2 * len(results), 3.6), sharey=True, squeeze=False)
    for ax, (method, per_seed) in zip(axes[0], results.items()):
        domains = list(per_seed[0])
        targets = [d for d in domains if d != "source"]
        for d in targets:
            ax.plot(steps, [100 * np.mean([r[d]["curve"][t] for r in per_seed]) for t in steps],
                    color="0.6", lw=1, alpha=0.8)
            ax.annotate(d, (steps[-1], 100 * np.mean([r[d]["curve"][steps[-1]] for r in per_seed])),
                        fontsize=7, color="0.4")
        mean_t = [100 * np.mean([np.mean([r[d]["curve"][t] for d in targets]) for r in per_seed]) for t in steps]
        ax.plot(steps, mean_t, color=METHOD_COLOR, lw=2.5, marker="o", label="target mean")
        ax.plot(steps, [100 * np.mean([r["source"]["curve"][t] for r in per_seed]) for t in steps],
                color=BASELINE_COLOR, lw=2, marker="s", label="source (test)")
        if val_curve:
            ax.plot(steps, [100 * val_curve[t] for t in steps], color=BASELINE_COLOR, ls=":", label="source val (selection)")
        ax.axvline(chosen, color="k", ls="--", lw=1)
        ax.set_title(f"{method}: accuracy vs noise step (T* = {chosen})")
        ax.set_xlabel("noise step T (0 = no DSI)")
    axes[0][0].set_ylabel("accuracy (%)")
    axes[0][0].legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return fig
