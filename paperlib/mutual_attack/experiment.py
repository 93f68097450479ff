"""The mutual-modality attack experiment: targets, every attack on one budget, success rates, figures.

Success rate of an attack on a target = the fraction of test images the target classifies correctly
when clean whose adversarial version it misclassifies (untargeted ASR, not post-attack accuracy).
Narrated in notebooks/mutual_attack.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from ..core.params import Params
from ..core.seeding import seed_everything
from ..core.train import predict
from ..data.digits import CLASS_NAMES, digits
from ..zoo.registry import create
from .imagenet import (check_same_classes, class_names_of, folder_dataset, load_clip, load_subset, load_timm,
                       loader_sampler)
from .kernels import (PerturbationGenerator, PromptLearner, check_budget, check_classes, check_images, fgsm,
                      generate, image_embedding, mi_fgsm, mutual_train, pgd, random_noise, zero_shot_logits)
from .models import TARGET_STEPS, random_forest, train_target

METHODS = ("noise", "fgsm", "pgd", "mi_fgsm", "clip_visual", "mutual")
LABELS = {"noise": "random noise", "fgsm": "FGSM (CNN surrogate)", "pgd": "PGD (CNN surrogate)",
          "mi_fgsm": "MI-FGSM (CNN surrogate)", "clip_visual": "CLIP visual attack, fixed prompts",
          "mutual": "mutual attack (visual + textual defense)"}
TARGET_LABELS = {"zoo_cnn": "zoo CNN", "mlp": "MLP", "vit": "ViT (timm)", "resnet": "ResNet (timm)",
                 "random_forest": "random forest (sklearn)"}
PROMPT_INIT = "a photo of the digit"


@torch.no_grad()
def labels_of(target: Any, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Predicted labels of a torch classifier or of a :class:`SklearnTarget`, in batches, on the CPU."""
    if hasattr(target, "labels"):
        return target.labels(x)
    return predict(target, x, batch_size).argmax(1)


def success_rate(clean_pred: torch.Tensor, adv_pred: torch.Tensor, y: torch.Tensor) -> float:
    """``#{clean correct and adversarial wrong} / #{clean correct}``."""
    correct = clean_pred == y
    if not bool(correct.any()):
        raise ValueError("success rate: the target gets no clean image right; nothing to attack")
    return (correct & (adv_pred != y)).sum().item() / correct.sum().item()


@dataclass
class Setup:
    """Surrogate CLIP, the gradient baselines' CNN surrogate, the black-box targets, train and test data.

    The generator trains on ``x_train, y_train`` (the miniature) or, when given, streams ``train_set`` (a
    full-scale folder dataset). ``class_names`` are the prompts' class words, in label order.
    """

    clip: nn.Module
    surrogate: nn.Module
    targets: dict[str, Any]
    x_train: torch.Tensor | None
    y_train: torch.Tensor | None
    x_test: torch.Tensor
    y_test: torch.Tensor
    examples: dict[str, torch.Tensor] | None = None  # seed 0's adversarial test images at p.eps
    class_names: tuple[str, ...] = CLASS_NAMES
    prompt_init: str = PROMPT_INIT
    train_set: Any = None
    workers: int = 0
    defense_info: list[dict[str, float]] = field(default_factory=list)  # CLIP accuracies, per mutual run


def build(p: Params) -> Setup:
    """Everything the attacks need at ``p.scale``: the digits miniature (zoo models from the cache, targets
    trained or cached) or, with ``p.data_root``, ImageNet-style folders, a pretrained CLIP and timm targets."""
    if p.data_root is not None:
        return build_folders(p)
    unknown = [t for t in p.targets if t not in TARGET_LABELS]
    if unknown or p.surrogate != "cnn_surrogate":
        raise ValueError(f"targets: the miniature's targets are {list(TARGET_LABELS)} and its surrogate "
                         f"'cnn_surrogate' (timm names need data_root); got targets {unknown}, surrogate "
                         f"{p.surrogate!r}")
    check_classes(CLASS_NAMES, 10)
    clip = load_clip(p.clip_model, p.scale)
    surrogate, _ = train_target("cnn_surrogate", p.target_steps, seed=2)
    targets: dict[str, Any] = {}
    for name in p.targets:
        if name == "zoo_cnn":
            targets[TARGET_LABELS[name]] = create("classifier", p.scale)[0]
        elif name == "random_forest":
            targets[TARGET_LABELS[name]] = random_forest(seed=0)
        else:
            targets[TARGET_LABELS[name]] = train_target(name, TARGET_STEPS.get(name, 1) * p.target_steps, seed=1)[0]
    train, test = digits("train", p.image_size, channels=3), digits("test", p.image_size, channels=3)
    n = min(p.n_test, len(test))
    return Setup(clip, surrogate, targets, train.x, train.y, test.x[:n], test.y[:n], prompt_init=p.prompt_init)


def build_folders(p: Params) -> Setup:
    """Full scale: ``data_root`` (attacked, a fixed seeded subset of ``n_test``), ``train_root`` (the generator's
    training images), the CLIP of ``clip_model``, timm ``targets`` and ``surrogate`` from ``target_weights``."""
    for name in ("train_root", "target_weights"):
        if getattr(p, name) is None:
            raise ValueError(f"{name}: required with data_root (see the parameter's help: `paperlib list`)")
    classes = check_same_classes(p.data_root, p.train_root)
    names = class_names_of(classes)
    check_classes(names, len(classes))
    if p.surrogate in p.targets:
        raise ValueError(f"surrogate: {p.surrogate!r} is also a target; the baselines' white box must stay unseen")
    clip = load_clip(p.clip_model, p.scale)
    targets = {name: load_timm(name, p.target_weights, len(classes)) for name in p.targets}
    surrogate = load_timm(p.surrogate, p.target_weights, len(classes))
    test = folder_dataset(p.data_root, p.image_size, "data_root")
    x_test, y_test = load_subset(test, p.n_test, seed=0, workers=p.workers, batch_size=p.eval_batch)
    check_images(x_test)
    train = folder_dataset(p.train_root, p.image_size, "train_root")
    return Setup(clip, surrogate, targets, None, None, x_test, y_test, class_names=tuple(names),
                 prompt_init=p.prompt_init, train_set=train, workers=p.workers)


def batch_sampler(x: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int,
                  device: torch.device) -> Callable[[], tuple[torch.Tensor, torch.Tensor]]:
    """Seeded random training batches, moved to ``device``."""
    gen = torch.Generator().manual_seed(seed)

    def sample():
        idx = torch.randint(len(x), (min(batch_size, len(x)),), generator=gen)
        return x[idx].to(device), y[idx].to(device)

    return sample


def train_sampler(s: Setup, batch_size: int, seed: int, device: torch.device):
    """The generator's training batches: from the miniature's tensors, or streamed from ``s.train_set``."""
    if s.train_set is not None:
        return loader_sampler(s.train_set, batch_size, seed, device, s.workers)
    check_images(s.x_train)
    return batch_sampler(s.x_train, s.y_train, batch_size, seed, device)


def train_generator(s: Setup, p: Params, eps: float, seed: int, defense: bool,
                    device: torch.device) -> tuple[PerturbationGenerator, PromptLearner, dict]:
    """The mutual attack (``defense=True``) or the visual attack alone, trained on the train split only."""
    seed_everything(seed)
    clip = s.clip.to(device)
    prompt = PromptLearner(clip, s.class_names, s.prompt_init).to(device)
    gen = PerturbationGenerator(eps, width=p.gen_width).to(device)
    hist = mutual_train(clip, prompt, gen, train_sampler(s, p.batch_size, seed, device), rounds=p.rounds,
                        steps_attack=p.steps_attack, steps_defense=p.steps_defense, lr_generator=p.lr_generator,
                        lr_prompt=p.lr_prompt, lam=p.lam, gamma=p.gamma, defense=defense)
    return gen, prompt, hist


@torch.no_grad()
def clip_accuracy(clip: nn.Module, text_emb: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                  batch_size: int = 512) -> float:
    """Zero-shot accuracy of the surrogate CLIP on ``x`` against class text embeddings ``text_emb``."""
    dev = text_emb.device
    right = sum((zero_shot_logits(clip, image_embedding(clip, x[i:i + batch_size].to(dev)), text_emb).argmax(1)
                 == y[i:i + batch_size].to(dev)).sum().item() for i in range(0, len(x), batch_size))
    return right / len(x)


def _batched(fn: Callable, x: torch.Tensor, y: torch.Tensor, batch_size: int, device: torch.device) -> torch.Tensor:
    return torch.cat([fn(x[i:i + batch_size].to(device), y[i:i + batch_size].to(device)).cpu()
                      for i in range(0, len(x), batch_size)])


def attack_all(s: Setup, p: Params, eps: float, seed: int, device: torch.device,
               methods: tuple[str, ...] = METHODS) -> dict[str, torch.Tensor]:
    """Adversarial test images of every method at budget ``eps`` (CPU tensors).

    For the mutual attack, how well the prompts re-match is appended to ``s.defense_info``: the surrogate's
    zero-shot accuracy on its adversarial images with the initial and with the final (defended) prompts.
    """
    eps = check_budget(eps)
    x, y = s.x_test, s.y_test
    noise_gen = torch.Generator().manual_seed(seed)
    sur = s.surrogate.to(device).eval()
    b = p.eval_batch
    out: dict[str, torch.Tensor] = {}
    for m in methods:
        if m == "noise":
            out[m] = random_noise(x, eps, noise_gen)
        elif m == "fgsm":
            out[m] = _batched(lambda xb, yb: fgsm(sur, xb, yb, eps), x, y, b, device)
        elif m == "pgd":
            out[m] = _batched(lambda xb, yb: pgd(sur, xb, yb, eps, p.pgd_steps, generator=noise_gen), x, y, b, device)
        elif m == "mi_fgsm":
            out[m] = _batched(lambda xb, yb: mi_fgsm(sur, xb, yb, eps, p.pgd_steps), x, y, b, device)
        elif m in ("clip_visual", "mutual"):
            gen, prompt, _ = train_generator(s, p, eps, seed, m == "mutual", device)
            out[m] = generate(gen, x, b)
            if m == "mutual":
                with torch.no_grad():
                    final = prompt()
                    initial = PromptLearner(s.clip, s.class_names, s.prompt_init).to(final.device)()
                s.defense_info.append({
                    "eps": eps, "seed": seed,
                    "clean_initial": clip_accuracy(s.clip, initial, x, y, b),
                    "adv_initial": clip_accuracy(s.clip, initial, out[m], y, b),
                    "adv_final": clip_accuracy(s.clip, final, out[m], y, b),
                    "clean_final": clip_accuracy(s.clip, final, x, y, b)})
        else:
            raise ValueError(f"method: expected one of {METHODS}, got {m!r}")
    s.surrogate.cpu()
    s.clip.cpu()
    return out


def _on(target: Any, device: torch.device | None) -> Any:
    return target.to(device) if device is not None and isinstance(target, nn.Module) else target


def success_table(targets: dict[str, Any], x: torch.Tensor, y: torch.Tensor, adversarial: dict[str, torch.Tensor],
                  device: torch.device | None = None, batch_size: int = 512) -> dict[str, dict[str, float]]:
    """``{method: {target: success rate}}`` counted on each target's clean-correct images.

    Torch targets are moved to ``device`` one at a time for their predictions, then back to the CPU."""
    table: dict[str, dict[str, float]] = {meth: {} for meth in adversarial}
    for t, model in targets.items():
        model = _on(model, device)
        clean = labels_of(model, x, batch_size)
        for meth, xa in adversarial.items():
            table[meth][t] = success_rate(clean, labels_of(model, xa, batch_size), y)
        _on(model, torch.device("cpu") if device is not None else None)
    return table


def clean_accuracies(targets: dict[str, Any], x: torch.Tensor, y: torch.Tensor,
                     device: torch.device | None = None, batch_size: int = 512) -> dict[str, float]:
    out = {}
    for t, model in targets.items():
        out[t] = (labels_of(_on(model, device), x, batch_size) == y).float().mean().item()
        _on(model, torch.device("cpu") if device is not None else None)
    return out


def clip_zero_shot_accuracy(s: Setup, device: torch.device | None = None, batch_size: int = 512) -> float:
    """Zero-shot accuracy of the surrogate CLIP on the test images with the initial hand-made prompt context."""
    clip = s.clip.to(device) if device is not None else s.clip
    with torch.no_grad():
        text = PromptLearner(clip, s.class_names, s.prompt_init).to(clip.logit_scale.device)()
    acc = clip_accuracy(clip, text, s.x_test, s.y_test, batch_size)
    s.clip.cpu()
    return acc


def run_seeds(s: Setup, p: Params, device: torch.device) -> dict[str, list[dict[str, float]]]:
    """Per seed, the success table of every method at ``p.eps``: ``{method: [{target: asr}, ...]}``."""
    per_seed: dict[str, list[dict[str, float]]] = {m: [] for m in METHODS}
    for seed in range(p.seeds):
        adversarial = attack_all(s, p, p.eps, seed, device)
        if seed == 0:
            s.examples = adversarial  # kept for the perturbation figure
        table = success_table(s.targets, s.x_test, s.y_test, adversarial, device, p.eval_batch)
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
        table = known.get(eps) or success_table(s.targets, s.x_test, s.y_test, attack_all(s, p, eps, seed, device),
                                                device, p.eval_batch)
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
