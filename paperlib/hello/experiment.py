"""The miniature HeLlO experiment: RDED-lite distilled set, projector training, students per label mode.

Label modes for the same distilled images ``X_s`` (every student sees the same augmented views):
hard one-hot; FKD-style stored teacher soft labels (one per view, i.e. per epoch); the same stored
labels compressed to the projector's byte budget; HeLlO's online projector labels; zero-shot CLIP
labels (the projector without factors). Narrated in notebooks/hello.py, "The experiment".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
from torch import nn

from ..core.progress import progress
from ..core.seeding import seed_everything
from ..core.train import accuracy, batches, fit
from ..zoo.classifier import random_shift
from .kernels import (FORMATS, LabelFn, OnlineLabelStream, Projector, StoredLabels, bytes_per_view, label_loss,
                      projector_labels, store_labels, stored_label_fn, views_for_budget)
from .models import make_student


@torch.no_grad()
def select_rded(x: torch.Tensor, y: torch.Tensor, teacher: nn.Module, ipc: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """RDED-lite initialisation: per class, the ``ipc`` real images the teacher is most confident on.

    Score ``s(x) = −CE(T(x), y)`` (RDED's realism score without patch stitching). Returns
    ``(X_s (C·ipc, 3, H, W), Y_s, indices into x)``, classes in order.
    """
    if ipc < 1:
        raise ValueError(f"ipc: expected an integer >= 1, got {ipc!r}")
    teacher.eval()
    probs = torch.cat([teacher(x[i:i + 512]) for i in range(0, len(x), 512)])
    if (probs.sum(-1) - 1).abs().max() > 1e-3:
        probs = probs.softmax(-1)
    score = probs[torch.arange(len(y)), y]
    picks = []
    for c in torch.unique(y).tolist():
        idx = torch.nonzero(y == c).flatten()
        if len(idx) < ipc:
            raise ValueError(f"ipc: class {c} has only {len(idx)} images, fewer than ipc={ipc}")
        picks.append(idx[score[idx].argsort(descending=True)[:ipc]])
    idx = torch.cat(picks)
    return x[idx].clone(), y[idx].clone(), idx


def train_projector(projector: Projector, x: torch.Tensor, y: torch.Tensor, teachers: Callable[[torch.Tensor], torch.Tensor],
                    steps: int, lam: float = 0.1, lr: float = 3e-3, batch_size: int = 128, seed: int = 0,
                    temperature: float = 1.0, device: torch.device | str = "cpu") -> list[float]:
    """Fit the factors on the original data: ``MSE(softmax(f_θ(A(X))/T), Y'(A(X))) + λ·CE(f_θ(A(X)), Y)``.

    ``Y'`` comes from ``teachers`` (e.g. a :class:`TeacherPool`) on the same shifted batch.
    """
    seed_everything(seed)
    device = torch.device(device)
    projector.to(device)
    params = [p for p in projector.parameters() if p.requires_grad]
    if not params or steps == 0:
        projector.eval()
        return []
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)

    def loss_fn(model: nn.Module, batch: tuple) -> torch.Tensor:
        xa = random_shift(batch[0], 1)  # one augmented tensor for projector and teachers
        with torch.no_grad():
            target = teachers(xa)
        return label_loss(model(xa), target, batch[1], lam, temperature)

    hist = fit(projector, batches(x, y, batch_size, seed), loss_fn, opt, steps, device=device,
               desc="projector", scheduler=sched)
    projector.eval()
    return hist.loss


@dataclass
class StudentRecipe:
    """The student's training budget (identical for every label mode)."""

    steps: int = 300
    lr: float = 3e-3
    beta: float = 1.0
    temperature: float = 1.0
    width: int = 8
    shift: int = 1
    noise: float = 0.05


def train_student(x_s: torch.Tensor, y_s: torch.Tensor, label_fn: LabelFn | None, recipe: StudentRecipe,
                  seed: int, views: int | None = None, device: torch.device | str = "cpu",
                  num_classes: int = 10) -> nn.Module:
    """A fresh student trained on ``X_s`` for ``recipe.steps`` full-batch steps of
    ``MSE(softmax φ(A(X_s)), Y*) + β·CE(φ(A(X_s)), Y_s)`` (plain CE for hard labels)."""
    device = torch.device(device)
    seed_everything(seed)
    student = make_student(x_s.shape[1], recipe.width, num_classes).to(device)
    stream = OnlineLabelStream(x_s.to(device), y_s.to(device), label_fn, seed=seed, views=views,
                               shift=recipe.shift, noise=recipe.noise)
    opt = torch.optim.AdamW(student.parameters(), lr=recipe.lr, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, recipe.steps)

    def loss_fn(model: nn.Module, batch: tuple) -> torch.Tensor:
        target = batch[2] if len(batch) == 3 else None
        return label_loss(model(batch[0]), target, batch[1], recipe.beta, recipe.temperature)

    fit(student, stream, loss_fn, opt, recipe.steps, device=device, desc="student", scheduler=sched)
    return student


def teacher_stored_labels(teacher: Callable[[torch.Tensor], torch.Tensor], x_s: torch.Tensor, y_s: torch.Tensor,
                          views: int, seed: int, recipe: StudentRecipe, fmt: str = "fp32") -> StoredLabels:
    """FKD-style storage: the teacher's probabilities on each of ``views`` augmented views of ``X_s``.

    The views are exactly the ones a student with this ``seed`` will draw (same stream, same seeds).
    """
    stream = OnlineLabelStream(x_s, y_s, None, seed=seed, views=views, shift=recipe.shift, noise=recipe.noise)
    with torch.no_grad():
        probs = torch.stack([teacher(stream.view(e)[0]) for e in range(views)])
    return store_labels(probs, fmt)


@dataclass
class ArmResult:
    """One label mode: test accuracy per seed and the bytes its labels cost."""

    name: str
    accuracy: list[float] = field(default_factory=list)
    label_bytes: int = 0
    note: str = ""

    @property
    def mean(self) -> float:
        return sum(self.accuracy) / len(self.accuracy)


def run_arm(name: str, x_s: torch.Tensor, y_s: torch.Tensor, make_labels: Callable[[int], tuple[LabelFn | None, int | None, int]],
            recipe: StudentRecipe, seeds: Sequence[int], test: tuple[torch.Tensor, torch.Tensor],
            device: torch.device | str = "cpu", note: str = "") -> ArmResult:
    """Train one student per seed; ``make_labels(seed) -> (label_fn, views, label_bytes)``."""
    result = ArmResult(name, note=note)
    for seed in progress(list(seeds), desc=name):
        label_fn, views, nbytes = make_labels(seed)
        student = train_student(x_s, y_s, label_fn, recipe, seed, views, device)
        result.accuracy.append(accuracy(student, test[0].to(device), test[1].to(device)))
        result.label_bytes = nbytes
    return result


def stored_arm(teacher: Callable, x_s: torch.Tensor, y_s: torch.Tensor, recipe: StudentRecipe, fmt: str,
               budget: int | None = None, cache: dict | None = None) -> Callable[[int], tuple[LabelFn, int, int]]:
    """``make_labels`` for stored teacher labels in ``fmt``: one view per step, or as many as ``budget`` allows.

    ``cache`` (a dict shared between arms) keeps the fp32 labels of every view per seed, so compressed
    arms reuse the teacher passes of the full one (view ``e`` of a seed is the same tensor in every arm).
    """
    n, C = len(y_s), int(y_s.max()) + 1

    def make(seed: int) -> tuple[LabelFn, int, int]:
        views = recipe.steps if budget is None else views_for_budget(budget, n, C, fmt, recipe.steps)
        if cache is None:
            stored = teacher_stored_labels(teacher, x_s, y_s, views, seed, recipe, fmt)
        else:
            if seed not in cache:
                cache[seed] = teacher_stored_labels(teacher, x_s, y_s, recipe.steps, seed, recipe, "fp32").decode()
            stored = store_labels(cache[seed][:views], fmt)
        return stored_label_fn(stored), views, stored.nbytes
    return make


def projector_arm(projector: Projector, temperature: float = 1.0) -> Callable[[int], tuple[LabelFn, None, int]]:
    """``make_labels`` for HeLlO: labels online, a fresh view every step, bytes = the stored factors."""
    return lambda seed: (projector_labels(projector, temperature), None, projector.stored_bytes())


def hard_arm() -> Callable[[int], tuple[None, None, int]]:
    """``make_labels`` for hard labels (one byte per image for the class index, counted as 0 extra)."""
    return lambda seed: (None, None, 0)


def best_compressed(results: Sequence[ArmResult]) -> ArmResult:
    """The compressed-storage arm with the best mean accuracy (the strongest budget-matched baseline)."""
    return max(results, key=lambda r: r.mean)


def full_label_bytes(steps: int, n_images: int, num_classes: int) -> int:
    """FKD storage at full precision: one fp32 label per (epoch, image), ``K · N_s · C · 4``."""
    return steps * bytes_per_view(n_images, num_classes, "fp32")


COMPRESSED_FORMATS = ("fp16", "int8", "top1", "top2")


@dataclass
class Setting:
    """What one run works on: original train data, the test split, class names, CLIP and the teacher."""

    x: torch.Tensor
    y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    class_names: tuple[str, ...]
    clip: nn.Module
    teacher: nn.Module
    facts: dict = field(default_factory=dict)

    @property
    def test(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.test_x, self.test_y


def load_setting(params) -> Setting:
    """The miniature's setting: digits train split (RGB 16 px), test split, zoo tiny CLIP and classifier.

    Only the ``digits`` miniature is wired up; ImageNet folders raise a clear error (see the chapter's
    "At full scale").
    """
    from ..core.params import ParameterError
    from ..data import CLASS_NAMES, digits, source_train
    from ..zoo import create

    if params.dataset != "digits" or params.clip_model != "tiny_clip":
        raise ParameterError(
            f"hello: dataset={params.dataset!r} with clip_model={params.clip_model!r} is not wired up yet; this "
            "chapter runs the digits miniature (dataset='digits', clip_model='tiny_clip'). The full-scale "
            "pipeline (ImageFolder streaming, open_clip RN50 from clip_weights, ResNet-18 checkpoints) is "
            "described in 'At full scale'")
    scale = "cpu" if params.scale == "full" else params.scale
    clip, clip_meta = create("tiny_clip", scale)
    teacher, teacher_meta = create("classifier", scale)
    x, y = source_train(16)
    test = digits("test", 16, channels=3)
    return Setting(x, y, test.x, test.y, tuple(CLASS_NAMES), clip, teacher,
                   {"clip": clip_meta.get("facts", {}), "teacher": teacher_meta.get("facts", {})})


def label_modes(setting: Setting, x_s: torch.Tensor, y_s: torch.Tensor, projector: Projector, zero_shot: Projector,
                teacher_probs: Callable[[torch.Tensor], torch.Tensor], recipe: StudentRecipe, seeds: Sequence[int],
                formats: Sequence[str] = ("fp16", "int8", "top1"),
                device: torch.device | str = "cpu") -> dict[str, ArmResult]:
    """Every label mode on the same distilled images, budget and seeds (the chapter's main table).

    Keys: ``hard``, ``stored_fp32``, ``stored_<fmt>`` (compressed to the projector's bytes),
    ``hello``, ``zero_shot``.
    """
    T = recipe.temperature
    budget = projector.stored_bytes()
    test = setting.test
    cache: dict = {}
    out = {"hard": run_arm("hard", x_s, y_s, hard_arm(), recipe, seeds, test, device, "class index only"),
           "stored_fp32": run_arm("stored_fp32", x_s, y_s, stored_arm(teacher_probs, x_s, y_s, recipe, "fp32",
                                                                      cache=cache),
                                  recipe, seeds, test, device, "one fp32 label per (epoch, image)")}
    for fmt in formats:
        make = stored_arm(teacher_probs, x_s, y_s, recipe, fmt, budget, cache)
        views = views_for_budget(budget, len(y_s), int(y_s.max()) + 1, fmt, recipe.steps)
        out[f"stored_{fmt}"] = run_arm(f"stored_{fmt}", x_s, y_s, make, recipe, seeds, test, device,
                                       f"{fmt}, {views} stored views cycled")
    out["hello"] = run_arm("hello", x_s, y_s, projector_arm(projector, T), recipe, seeds, test, device,
                           "online projector labels")
    out["zero_shot"] = run_arm("zero_shot", x_s, y_s, projector_arm(zero_shot, T), recipe, seeds, test, device,
                               "projector without factors")
    return out


def results_table(results: dict[str, ArmResult]) -> str:
    """A Markdown table: mean ± std of test accuracy, seeds, label bytes and how, one row per mode."""
    rows = ["| label mode | test accuracy | seeds | label bytes | how |", "|---|---|---|---|---|"]
    for key, r in results.items():
        m = torch.tensor(r.accuracy)
        spread = f" ± {m.std().item():.3f}" if len(m) > 1 else ""
        rows.append(f"| {key} | {m.mean().item():.3f}{spread} | {len(m)} | {r.label_bytes:,} | {r.note} |")
    return "\n".join(rows)
