"""The chapter's experiment: distil LinFusion into the zoo's DDPM, then judge it at 1x, 2x and 4x resolution.

Quality proxies (all on the digits' *test* split, never trained on):
- held-out noise-prediction error ``E ||eps_theta(x_t, t, c) - eps||^2`` on test digits resized to the
  judged size (deterministic given the seed: the same ``x_t, t`` for every model);
- refinement (SDEdit, the paper's route to high resolution): a test digit upsampled to the judged size is
  noised to ``strength`` of the schedule and denoised by the model with guided DDIM; the zoo classifier
  (at its 16 px) judges whether the result still shows the digit it was asked for, and a kernel distance
  (KID, unbiased MMD^2 with the cubic polynomial kernel) compares its features with real test digits.

Narrated in notebooks/linfusion.py, "Distillation" and "Resolution transfer".
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..core.progress import progress
from ..core.seeding import seed_everything
from ..core.train import batches, cycle
from ..data.digits import digits, resize
from ..data.domains import source_train
from ..zoo.ddpm import NULL_CLASS, ClassConditionalUNet, guided_eps, make_scheduler
from .models import LinFusion
from .training import distill_loop


@dataclass(frozen=True)
class DistillRecipe:
    """The miniature's distillation: AdamW steps, batch size, learning rate and the loss weights."""

    steps: int
    batch_size: int
    lr: float
    alpha: float = 0.5
    beta: float = 0.5


@dataclass(frozen=True)
class RefineRecipe:
    """Refinement at a larger size: test digits per class, noise strength, DDIM steps, guidance scale."""

    per_class: int
    strength: float
    steps: int
    guidance: float


@dataclass
class Distilled:
    """A distilled student, its LinFusion add-on and the loss terms per step."""

    student: ClassConditionalUNet
    linfusion: LinFusion
    losses: dict[str, list[float]] = field(default_factory=lambda: {"total": [], "noise": [], "kd": [], "feat": []})


def make_student(teacher: ClassConditionalUNet, normalize: bool = True, mid_dim: int | None = None) -> Distilled:
    """A copy of ``teacher`` with LinFusion on every ``attn1`` (teacher's projections, ``f_Q = f_K = 0``).

    For the raw-sum ablation (``normalize=False``) each layer's output is multiplied by a *fixed*
    ``1 / N_l``, ``N_l`` its token count at the training size, so that the ablation starts at the right
    magnitude where it is trained; unlike the normalised layer it cannot adapt when ``N`` changes.
    """
    student = copy.deepcopy(teacher)
    linfusion = LinFusion.construct_for(student.unet, mid_dim=mid_dim, normalize=normalize)
    if not normalize:
        tokens = token_counts(student, student.unet.config.sample_size)
        for name, proc in zip(linfusion.module_names, linfusion.processors):
            proc.raw_scale = 1.0 / tokens[name]
    return Distilled(student.eval(), linfusion)


@torch.no_grad()
def token_counts(model: ClassConditionalUNet, size: int) -> dict[str, int]:
    """Tokens ``N_l`` each self-attention layer sees at ``size`` px (one probe forward)."""
    from .models import self_attention_layers

    counts: dict[str, int] = {}
    hooks = [m.register_forward_pre_hook(lambda m, args, name=name: counts.__setitem__(name, args[0].shape[1]))
             for name, m in self_attention_layers(model.unet).items()]
    try:
        device = next(model.parameters()).device
        channels = model.unet.config.in_channels
        model(torch.zeros(1, channels, size, size, device=device), torch.zeros(1, dtype=torch.long, device=device),
              torch.zeros(1, dtype=torch.long, device=device))
    finally:
        for h in hooks:
            h.remove()
    return counts


def distill(teacher: ClassConditionalUNet, recipe: DistillRecipe, normalize: bool = True, seed: int = 0,
            device: torch.device | str = "cpu", p_uncond: float = 0.1, desc: str = "distil") -> Distilled:
    """Distil a LinFusion student from the frozen ``teacher`` on the source train split.

    Only the ``attn1`` layers (``f_Q, f_K`` and their projections) train, with AdamW (weight decay 0),
    through the same :func:`distill_loop` as Stable Diffusion at full scale; ``p_uncond`` of the labels
    become the null class so that guided sampling keeps working.
    """
    seed_everything(seed)
    teacher = teacher.to(device).eval().requires_grad_(False)
    out = make_student(teacher, normalize)
    out.student.to(device)
    x, y = source_train(teacher.unet.config.sample_size)

    def prepare(batch: tuple) -> tuple[torch.Tensor, torch.Tensor]:
        x0, labels = batch
        drop = torch.rand(len(labels), device=labels.device) < p_uncond
        return x0, torch.where(drop, torch.full_like(labels, NULL_CLASS), labels)

    out.losses = distill_loop(out.student, teacher, out.linfusion,
                              cycle(batches(x * 2 - 1, y, recipe.batch_size, seed)), prepare,
                              make_scheduler("ddpm"), recipe.steps, recipe.lr, recipe.alpha, recipe.beta,
                              weight_decay=0.0, device=device, desc=desc)
    return out


def held_out_digits(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The test split as RGB in [-1, 1] at ``size`` (the classifier and DDPM use 3 channels)."""
    data = digits("test", size, channels=3)
    return data.x * 2 - 1, data.y


@torch.no_grad()
def eps_mse(models: dict[str, nn.Module], size: int, seed: int, device: torch.device | str = "cpu",
            n: int | None = None, batch_size: int = 128) -> dict[str, float]:
    """Held-out ``E ||eps_theta(x_t, t, c) - eps||^2`` on test digits at ``size``: the same ``(x_0, eps, t)``
    for every model (paired comparison); ``t`` uniform over the training steps."""
    x0, y = held_out_digits(size)
    if n is not None:
        x0, y = x0[:n], y[:n]
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(x0.shape, generator=g)
    t = torch.randint(0, 1000, (len(x0),), generator=g)
    x_t = make_scheduler("ddpm").add_noise(x0, noise, t)
    result = {}
    for name, model in models.items():
        model = model.to(device).eval()
        errors = []
        for i in range(0, len(x0), batch_size):
            sl = slice(i, i + batch_size)
            pred = model(x_t[sl].to(device), t[sl].to(device), y[sl].to(device)).float().cpu()
            errors.append(((pred - noise[sl]) ** 2).flatten(1).mean(1))
        result[name] = torch.cat(errors).mean().item()
    return result


def kid(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """Unbiased MMD^2 with ``k(a, b) = (a.b / dim + 1)^3`` (Binkowski et al., 2018): 0 for equal laws."""
    a, b = features_a.double(), features_b.double()
    dim = a.shape[1]
    kxx, kyy, kxy = ((a @ a.T / dim + 1) ** 3, (b @ b.T / dim + 1) ** 3, (a @ b.T / dim + 1) ** 3)
    m, n = len(a), len(b)
    if m < 2 or n < 2:
        raise ValueError(f"kid: needs at least 2 samples per side, got {m} and {n}")
    xx = (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
    yy = (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1))
    return float(xx + yy - 2 * kxy.mean())


def refine_inputs(size: int, per_class: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``per_class`` test digits of each class, upsampled to ``size`` (bilinear), in [-1, 1]."""
    x, y = held_out_digits(16)
    keep = torch.cat([torch.nonzero(y == c).flatten()[:per_class] for c in range(10)])
    x = x[keep]
    if size != x.shape[-1]:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x, y[keep]


@torch.no_grad()
def refine(model: ClassConditionalUNet, x0: torch.Tensor, labels: torch.Tensor, recipe: RefineRecipe, seed: int,
           device: torch.device | str = "cpu") -> torch.Tensor:
    """SDEdit: noise ``x0`` (in [-1, 1]) to ``t = strength * T``, then guided DDIM back to ``t = 0``
    (``recipe.steps`` spread over the whole schedule, those below ``t`` run). Images in [0, 1]. The same
    seed gives every model the same noise."""
    scheduler = make_scheduler("ddim")
    scheduler.set_timesteps(recipe.steps)
    steps = [t for t in scheduler.timesteps if t <= recipe.strength * scheduler.config.num_train_timesteps]
    model = model.to(device).eval()
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(seed))
    x = scheduler.add_noise(x0, noise, torch.full((len(x0),), int(steps[0]))).to(device)
    labels = labels.to(device)
    for t in steps:
        tt = torch.full((len(x),), int(t), device=device, dtype=torch.long)
        x = scheduler.step(guided_eps(model, x, tt, labels, recipe.guidance), t, x).prev_sample
    return ((x.clamp(-1, 1) + 1) / 2).cpu()


@torch.no_grad()
def judge(images: torch.Tensor, labels: torch.Tensor, classifier: nn.Module, real_features: torch.Tensor,
          ) -> dict[str, float]:
    """Accuracy against the requested class and KID to real test digits, both at the classifier's 16 px."""
    classifier = classifier.cpu().eval()
    small = resize(images.float().cpu(), 16)
    feats = classifier.embed(small)
    acc = (classifier.head(feats).argmax(1) == labels).float().mean().item()
    return {"accuracy": acc, "kid": kid(feats, real_features)}


@torch.no_grad()
def real_features(classifier: nn.Module) -> torch.Tensor:
    """The classifier's features of the real test digits (16 px), the reference for :func:`kid`."""
    x, _ = held_out_digits(16)
    return classifier.cpu().eval().embed((x + 1) / 2)


def refine_and_judge(models: dict[str, ClassConditionalUNet], sizes: Sequence[int], recipe: RefineRecipe,
                     seeds: Sequence[int], classifier: nn.Module, device: torch.device | str = "cpu",
                     ) -> tuple[dict, dict]:
    """Every model refines the same upsampled test digits at every size and seed: scores
    ``{(model, size): [per seed {accuracy, kid}]}``, and the first seed's images ``{(model, size): images}``
    (plus ``("input", size)``: the upsampled digits themselves) for the figures."""
    reference = real_features(classifier)
    scores: dict = {}
    images: dict = {}
    for size in sizes:
        x0, labels = refine_inputs(size, recipe.per_class)
        images[("input", size)] = (x0 + 1) / 2
        for name, s in progress([(name, s) for s in seeds for name in models], desc=f"refine at {size} px"):
            x = refine(models[name], x0, labels, recipe, s, device)
            scores.setdefault((name, size), []).append(judge(x, labels, classifier, reference))
            if s == seeds[0]:
                images[(name, size)] = x
    return scores, images
