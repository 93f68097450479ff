"""The mutual-modality attack experiment: the miniature's setup, every attack at one budget, success rates,
how far the defense re-matches, and where the adversarial images land (class histograms).

Success rate of an attack on a target = the fraction of test images the target classifies correctly
when clean whose adversarial version it misclassifies (untargeted ASR, not post-attack accuracy).
Narrated in notebooks/mutual_attack.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..core.params import Params
from ..core.seeding import seed_everything
from ..core.train import predict
from ..data.digits import CLASS_NAMES, digits
from ..zoo.pretrained import load_clip
from .full import build_folders
from .kernels import (GameRecipe, PerturbationGenerator, PromptLearner, as_surrogate, check_budget, check_classes,
                      fgsm, generate, image_embedding, mi_fgsm, mutual_train, pgd, random_noise, zero_shot_logits)
from .models import miniature_surrogate, miniature_targets
from .setup import Setup, World, tensor_sampler

METHODS = ("noise", "fgsm", "pgd", "mi_fgsm", "clip_visual", "mutual")
LABELS = {"noise": "random noise", "fgsm": "FGSM (CNN surrogate)", "pgd": "PGD (CNN surrogate)",
          "mi_fgsm": "MI-FGSM (CNN surrogate)", "clip_visual": "CLIP visual attack, fixed prompts",
          "mutual": "mutual attack (visual + textual defense)"}
TARGET_LABELS = {"cnn": "CNN", "mlp": "MLP", "vit": "ViT (timm)", "resnet": "ResNet (timm)",
                 "random_forest": "random forest (sklearn)"}


@dataclass(frozen=True)
class AttackRecipe:
    """The gradient baselines' iterations and the batch of attacks and predictions."""

    pgd_steps: int = 10
    eval_batch_size: int = 512


@dataclass
class SeedRun:
    """One seed at one budget: ``table[method][target]`` success rates, the targets' clean accuracies, how the
    defense re-matched (CLIP accuracies, mutual attack only), ``landing[method]`` class counts of the
    adversarial images as CLIP (hand-made prompt) and as the targets (pooled) label them, and the adversarial
    images themselves when kept."""

    seed: int
    table: dict[str, dict[str, float]]
    clean: dict[str, float]
    defense: dict[str, float]
    landing: dict[str, dict[str, list[int]]]
    adversarial: dict[str, torch.Tensor] | None = None


def build(p: Params) -> Setup:
    """Everything the attacks need: the digits miniature (the zoo's tiny CLIP trained on ``clip_domains``, or
    the CLIP of ``clip_dir``; targets and white box trained per seed and cached) or, with ``data_dir``,
    ImageNet-style folders, a pretrained CLIP and timm models (:func:`~paperlib.mutual_attack.full.build_folders`)."""
    if p.data_dir is not None:
        return build_folders(p)
    check_classes(CLASS_NAMES, 10)
    clip = load_clip(clip_dir=p.clip_dir) if p.clip_dir else load_clip(
        "tiny_clip", scale=p.scale, variant={"domains": list(p.clip_domains)})
    train, test = digits("train", p.image_size, channels=3), digits("test", p.image_size, channels=3)
    n = min(p.n_test, len(test))

    @lru_cache(maxsize=None)
    def world(seed: int) -> World:
        targets = miniature_targets(p.targets, p.target_steps, seed)
        return World({TARGET_LABELS[k]: v for k, v in targets.items()}, miniature_surrogate(p.target_steps, seed))

    return Setup(as_surrogate(clip), test.x[:n], test.y[:n], tensor_sampler(train.x, train.y), world,
                 prompt_init=p.prompt_init)


def train_generator(s: Setup, game: GameRecipe, eps: float, seed: int, defense: bool,
                    device: torch.device) -> tuple[PerturbationGenerator, PromptLearner, dict]:
    """The mutual attack (``defense=True``) or the visual attack alone, trained on the train split only. Both
    arms of a seed start from the same generator and see the same batches."""
    seed_everything(seed)
    clip = s.clip.to(device)
    prompt = PromptLearner(clip, s.class_names, s.prompt_init, per_class=game.per_class_prompt).to(device)
    gen = PerturbationGenerator(eps, width=game.generator_width).to(device)
    hist = mutual_train(clip, prompt, gen, s.train_sampler(game.batch_size, seed, device), game, defense)
    return gen, prompt, hist


@torch.no_grad()
def hand_prompt(s: Setup, device: torch.device) -> torch.Tensor:
    """Class text embeddings of the hand-made prompt (``prompt_init`` + class name), ``(K, D)``."""
    return PromptLearner(s.clip.to(device), s.class_names, s.prompt_init).to(device)()


@torch.no_grad()
def clip_labels(clip: nn.Module, text_emb: torch.Tensor, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """The surrogate CLIP's zero-shot labels of ``x`` against class text embeddings ``text_emb``, on the CPU."""
    dev = text_emb.device
    return torch.cat([zero_shot_logits(clip, image_embedding(clip, x[i:i + batch_size].to(dev)), text_emb)
                      .argmax(1).cpu() for i in range(0, len(x), batch_size)])


def clip_accuracy(clip: nn.Module, text_emb: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                  batch_size: int = 512) -> float:
    """Zero-shot accuracy of the surrogate CLIP on ``x`` against class text embeddings ``text_emb``."""
    return (clip_labels(clip, text_emb, x, batch_size) == y).float().mean().item()


def clip_zero_shot_accuracy(s: Setup, device: torch.device, batch_size: int = 512) -> float:
    """Zero-shot accuracy of the surrogate CLIP on the clean test images with the hand-made prompt."""
    acc = clip_accuracy(s.clip, hand_prompt(s, device), s.x_test, s.y_test, batch_size)
    s.clip.cpu()
    return acc


def _batched(fn: Callable, x: torch.Tensor, y: torch.Tensor, batch_size: int, device: torch.device) -> torch.Tensor:
    return torch.cat([fn(x[i:i + batch_size].to(device), y[i:i + batch_size].to(device)).cpu()
                      for i in range(0, len(x), batch_size)])


def attack_all(s: Setup, surrogate: nn.Module, game: GameRecipe, attack: AttackRecipe, eps: float, seed: int,
               device: torch.device, methods: Sequence[str] = METHODS
               ) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    """Adversarial test images of every method at budget ``eps`` (CPU tensors), and how well the mutual
    attack's prompts re-match: the surrogate CLIP's zero-shot accuracy on clean and on the mutual attack's
    images, with the hand-made prompt (``*_initial``) and with the defended one (``*_final``)."""
    eps = check_budget(eps)
    x, y = s.x_test, s.y_test
    noise_gen = torch.Generator().manual_seed(seed)
    sur = surrogate.to(device).eval()
    b = attack.eval_batch_size
    out: dict[str, torch.Tensor] = {}
    defense: dict[str, float] = {}
    for m in methods:
        if m == "noise":
            out[m] = random_noise(x, eps, noise_gen)
        elif m == "fgsm":
            out[m] = _batched(lambda xb, yb: fgsm(sur, xb, yb, eps), x, y, b, device)
        elif m == "pgd":
            out[m] = _batched(lambda xb, yb: pgd(sur, xb, yb, eps, attack.pgd_steps, generator=noise_gen),
                              x, y, b, device)
        elif m == "mi_fgsm":
            out[m] = _batched(lambda xb, yb: mi_fgsm(sur, xb, yb, eps, attack.pgd_steps), x, y, b, device)
        elif m in ("clip_visual", "mutual"):
            gen, prompt, _ = train_generator(s, game, eps, seed, m == "mutual", device)
            out[m] = generate(gen, x, b)
            if m == "mutual":
                with torch.no_grad():
                    final, initial = prompt(), hand_prompt(s, device)
                defense = {"clean_initial": clip_accuracy(s.clip, initial, x, y, b),
                           "adv_initial": clip_accuracy(s.clip, initial, out[m], y, b),
                           "adv_final": clip_accuracy(s.clip, final, out[m], y, b),
                           "clean_final": clip_accuracy(s.clip, final, x, y, b)}
        else:
            raise ValueError(f"method: expected one of {METHODS}, got {m!r}")
    surrogate.cpu()
    s.clip.cpu()
    return out, defense


@torch.no_grad()
def labels_of(target: Any, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Predicted labels of a torch classifier or of a :class:`SklearnTarget`, in batches, on the CPU."""
    if hasattr(target, "labels"):
        return target.labels(x)
    return predict(target, x, batch_size).argmax(1)


def target_predictions(targets: dict[str, Any], x: torch.Tensor, adversarial: dict[str, torch.Tensor],
                       device: torch.device | None = None, batch_size: int = 512) -> dict[str, dict[str, torch.Tensor]]:
    """``{target: {"clean": labels, method: labels}}``; torch targets visit ``device`` one at a time."""
    out = {}
    for t, model in targets.items():
        on = isinstance(model, nn.Module) and device is not None
        model = model.to(device) if on else model
        out[t] = {"clean": labels_of(model, x, batch_size),
                  **{m: labels_of(model, xa, batch_size) for m, xa in adversarial.items()}}
        if on:
            model.cpu()
    return out


def success_rate(clean_pred: torch.Tensor, adv_pred: torch.Tensor, y: torch.Tensor) -> float:
    """``#{clean correct and adversarial wrong} / #{clean correct}``."""
    correct = clean_pred == y
    if not bool(correct.any()):
        raise ValueError("success rate: the target gets no clean image right; nothing to attack")
    return (correct & (adv_pred != y)).sum().item() / correct.sum().item()


def success_table(preds: dict[str, dict[str, torch.Tensor]], y: torch.Tensor) -> dict[str, dict[str, float]]:
    """``{method: {target: success rate}}`` from :func:`target_predictions`."""
    methods = [m for m in next(iter(preds.values())) if m != "clean"]
    return {m: {t: success_rate(p["clean"], p[m], y) for t, p in preds.items()} for m in methods}


def class_counts(labels: torch.Tensor, num_classes: int) -> list[int]:
    return torch.bincount(labels.flatten(), minlength=num_classes).tolist()


def run_seed(s: Setup, game: GameRecipe, attack: AttackRecipe, eps: float, seed: int, device: torch.device,
             keep_images: bool = False) -> SeedRun:
    """Every method at ``eps`` with ``seed`` against that seed's World: success rates, clean accuracies, the
    defense's re-match and the landing classes of the two CLIP attacks."""
    world = s.world(seed)
    adversarial, defense = attack_all(s, world.surrogate, game, attack, eps, seed, device)
    preds = target_predictions(world.targets, s.x_test, adversarial, device, attack.eval_batch_size)
    k = len(s.class_names)
    text = hand_prompt(s, device)
    landing = {m: {"clip": class_counts(clip_labels(s.clip, text, adversarial[m], attack.eval_batch_size), k),
                   "targets": class_counts(torch.stack([p[m] for p in preds.values()]), k)}
               for m in ("mi_fgsm", "clip_visual", "mutual")}
    s.clip.cpu()
    clean = {t: (p["clean"] == s.y_test).float().mean().item() for t, p in preds.items()}
    return SeedRun(seed, success_table(preds, s.y_test), clean, defense, landing,
                   adversarial if keep_images else None)


def run_seeds(s: Setup, game: GameRecipe, attack: AttackRecipe, eps: float, seeds: Sequence[int],
              device: torch.device) -> list[SeedRun]:
    """:func:`run_seed` for each seed (every method of a seed on the same images, targets and seed, so the
    claims pair them); the first seed keeps its adversarial images for the figures."""
    return [run_seed(s, game, attack, eps, seed, device, keep_images=i == 0) for i, seed in enumerate(seeds)]


def summarize(per_seed: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, Any]]:
    """Per seed: mean over targets, std across targets, the worst target's rate; then averaged over seeds."""
    out = {}
    for m, tables in per_seed.items():
        means = [float(np.mean(list(t.values()))) for t in tables]
        spreads = [float(np.std(list(t.values()))) for t in tables]
        worsts = [min(t.values()) for t in tables]
        out[m] = {"mean": float(np.mean(means)), "spread": float(np.mean(spreads)), "means": means,
                  "spreads": spreads, "worsts": worsts, "worst": float(np.mean(worsts))}
    return out


def budget_sweep(s: Setup, game: GameRecipe, attack: AttackRecipe, budgets: Sequence[float], seed: int,
                 device: torch.device, known: dict[float, dict[str, dict[str, float]]] | None = None
                 ) -> dict[str, list[float]]:
    """Mean success rate across targets at each budget (one seed): ``{method: [...]}``. ``known`` maps a budget
    to an already measured success table of this seed (reused, not recomputed)."""
    known = known or {}
    curve: dict[str, list[float]] = {m: [] for m in METHODS}
    for eps in budgets:
        table = known.get(eps) or run_seed(s, game, attack, eps, seed, device).table
        for m in METHODS:
            curve[m].append(float(np.mean(list(table[m].values()))))
    return curve
