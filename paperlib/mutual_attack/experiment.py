"""The mutual-modality attack experiment: targets, every attack on one budget, success rates, figures.

Success rate of an attack on a target = the fraction of test images the target classifies correctly
when clean whose adversarial version it misclassifies (untargeted ASR, not post-attack accuracy).
Narrated in notebooks/mutual_attack.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from ..core.params import Params
from ..core.seeding import seed_everything
from ..core.train import predict
from ..data.digits import CLASS_NAMES, digits
from ..zoo.registry import create
from .kernels import (PerturbationGenerator, PromptLearner, check_budget, check_classes, check_images, fgsm,
                      generate, image_embedding, mi_fgsm, mutual_train, pgd, random_noise, zero_shot_logits)
from .models import random_forest, train_target

METHODS = ("noise", "fgsm", "pgd", "mi_fgsm", "clip_visual", "mutual")
LABELS = {"noise": "random noise", "fgsm": "FGSM (CNN surrogate)", "pgd": "PGD (CNN surrogate)",
          "mi_fgsm": "MI-FGSM (CNN surrogate)", "clip_visual": "CLIP visual attack, fixed prompts",
          "mutual": "mutual attack (visual + textual defense)"}
PROMPT_INIT = "a photo of the digit"


def labels_of(target: Any, x: torch.Tensor) -> torch.Tensor:
    """Predicted labels of a torch classifier or of a :class:`SklearnTarget`."""
    if hasattr(target, "labels"):
        return target.labels(x)
    return predict(target, x).argmax(1)


def success_rate(clean_pred: torch.Tensor, adv_pred: torch.Tensor, y: torch.Tensor) -> float:
    """``#{clean correct and adversarial wrong} / #{clean correct}``."""
    correct = clean_pred == y
    if not bool(correct.any()):
        raise ValueError("success rate: the target gets no clean image right; nothing to attack")
    return (correct & (adv_pred != y)).sum().item() / correct.sum().item()


@dataclass
class Setup:
    """Surrogate CLIP, the gradient baselines' CNN surrogate, the black-box targets, train and test data."""

    clip: nn.Module
    surrogate: nn.Module
    targets: dict[str, Any]
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    examples: dict[str, torch.Tensor] | None = None  # seed 0's adversarial test images at p.eps


def build(p: Params) -> Setup:
    """Everything the attacks need at ``p.scale`` (zoo models from the cache; targets trained or cached)."""
    if p.data_root is not None:
        raise NotImplementedError(f"mutual_attack: data_root={p.data_root!r}: the full-scale ImageNet pipeline "
                                  "(open_clip ViT-B/32, timm targets) is not written yet; run without data_root")
    check_classes(CLASS_NAMES, 10)
    clip, _ = create("tiny_clip", p.scale)
    zoo_cnn, _ = create("classifier", p.scale)
    surrogate, _ = train_target("cnn_surrogate", p.target_steps, seed=2)
    targets = {"zoo CNN": zoo_cnn}
    for arch, name in (("mlp", "MLP"), ("vit", "ViT (timm)"), ("resnet", "ResNet (timm)")):
        targets[name] = train_target(arch, p.target_steps, seed=1)[0]
    targets["random forest (sklearn)"] = random_forest(seed=0)
    train, test = digits("train", 16, channels=3), digits("test", 16, channels=3)
    n = min(p.n_test, len(test))
    return Setup(clip, surrogate, targets, train.x, train.y, test.x[:n], test.y[:n])


def batch_sampler(x: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int,
                  device: torch.device) -> Callable[[], tuple[torch.Tensor, torch.Tensor]]:
    """Seeded random training batches, moved to ``device``."""
    gen = torch.Generator().manual_seed(seed)

    def sample():
        idx = torch.randint(len(x), (min(batch_size, len(x)),), generator=gen)
        return x[idx].to(device), y[idx].to(device)

    return sample


def train_generator(clip: nn.Module, x: torch.Tensor, y: torch.Tensor, p: Params, eps: float, seed: int,
                    defense: bool, device: torch.device) -> tuple[PerturbationGenerator, PromptLearner, dict]:
    """The mutual attack (``defense=True``) or the visual attack alone, trained on the train split only."""
    check_images(x)
    seed_everything(seed)
    clip = clip.to(device)
    prompt = PromptLearner(clip, CLASS_NAMES, PROMPT_INIT).to(device)
    gen = PerturbationGenerator(eps, width=p.gen_width).to(device)
    hist = mutual_train(clip, prompt, gen, batch_sampler(x, y, p.batch_size, seed, device), rounds=p.rounds,
                        steps_attack=p.steps_attack, steps_defense=p.steps_defense, lr_generator=p.lr_generator,
                        lr_prompt=p.lr_prompt, lam=p.lam, gamma=p.gamma, defense=defense)
    return gen, prompt, hist


def attack_all(s: Setup, p: Params, eps: float, seed: int, device: torch.device,
               methods: tuple[str, ...] = METHODS) -> dict[str, torch.Tensor]:
    """Adversarial test images of every method at budget ``eps`` (CPU tensors)."""
    eps = check_budget(eps)
    x, y = s.x_test, s.y_test
    noise_gen = torch.Generator().manual_seed(seed)
    sur = s.surrogate.to(device).eval()
    xd, yd = x.to(device), y.to(device)
    out: dict[str, torch.Tensor] = {}
    for m in methods:
        if m == "noise":
            out[m] = random_noise(x, eps, noise_gen)
        elif m == "fgsm":
            out[m] = fgsm(sur, xd, yd, eps).cpu()
        elif m == "pgd":
            out[m] = pgd(sur, xd, yd, eps, p.pgd_steps, generator=noise_gen).cpu()
        elif m == "mi_fgsm":
            out[m] = mi_fgsm(sur, xd, yd, eps, p.pgd_steps).cpu()
        elif m in ("clip_visual", "mutual"):
            gen, _, _ = train_generator(s.clip, s.x_train, s.y_train, p, eps, seed, m == "mutual", device)
            out[m] = generate(gen, x)
        else:
            raise ValueError(f"method: expected one of {METHODS}, got {m!r}")
    s.surrogate.cpu()
    s.clip.cpu()
    return out


def success_table(targets: dict[str, Any], x: torch.Tensor, y: torch.Tensor,
                  adversarial: dict[str, torch.Tensor]) -> dict[str, dict[str, float]]:
    """``{method: {target: success rate}}`` counted on each target's clean-correct images."""
    clean = {t: labels_of(m, x) for t, m in targets.items()}
    return {meth: {t: success_rate(clean[t], labels_of(m, xa), y) for t, m in targets.items()}
            for meth, xa in adversarial.items()}


def clean_accuracies(targets: dict[str, Any], x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    return {t: (labels_of(m, x) == y).float().mean().item() for t, m in targets.items()}


@torch.no_grad()
def clip_zero_shot_accuracy(clip: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Zero-shot accuracy of the surrogate CLIP with the initial hand-made prompt context."""
    prompt = PromptLearner(clip, CLASS_NAMES, PROMPT_INIT)
    logits = zero_shot_logits(clip, image_embedding(clip, x), prompt())
    return (logits.argmax(1) == y).float().mean().item()


def run_seeds(s: Setup, p: Params, device: torch.device) -> dict[str, list[dict[str, float]]]:
    """Per seed, the success table of every method at ``p.eps``: ``{method: [{target: asr}, ...]}``."""
    per_seed: dict[str, list[dict[str, float]]] = {m: [] for m in METHODS}
    for seed in range(p.seeds):
        adversarial = attack_all(s, p, p.eps, seed, device)
        if seed == 0:
            s.examples = adversarial  # kept for the perturbation figure
        table = success_table(s.targets, s.x_test, s.y_test, adversarial)
        for m in METHODS:
            per_seed[m].append(table[m])
    return per_seed


def summarize(per_seed: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Per seed: mean over targets, std across targets, the worst target's rate; then averaged over seeds."""
    out = {}
    for m, tables in per_seed.items():
        means = [float(np.mean(list(t.values()))) for t in tables]
        spreads = [float(np.std(list(t.values()))) for t in tables]
        out[m] = {"mean": float(np.mean(means)), "spread": float(np.mean(spreads)), "means": means,
                  "spreads": spreads, "worsts": [min(t.values()) for t in tables],
                  "worst": float(np.mean([min(t.values()) for t in tables]))}
    return out


def budget_sweep(s: Setup, p: Params, device: torch.device, seed: int = 0,
                 known: dict[float, dict[str, dict[str, float]]] | None = None) -> dict[str, list[float]]:
    """Mean success rate across targets at each budget of ``p.budgets`` (one seed): ``{method: [...]}``.

    ``known`` maps a budget to an already measured success table of this seed (reused, not recomputed).
    """
    known = known or {}
    curve: dict[str, list[float]] = {m: [] for m in METHODS}
    for eps in p.budgets:
        table = known.get(eps) or success_table(s.targets, s.x_test, s.y_test, attack_all(s, p, eps, seed, device))
        for m in METHODS:
            curve[m].append(float(np.mean(list(table[m].values()))))
    return curve


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
    for m in ("pgd", "clip_visual", "mutual"):
        rows[m] = adversarial[m][:n]
        rows[f"{m} delta"] = ((adversarial[m][:n] - x[:n]) / (2 * max(eps, 1e-12)) + 0.5).clamp(0, 1)
    return image_grid(rows, size=0.55)
