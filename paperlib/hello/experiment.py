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
from ..core.train import accuracy, fit
from ..zoo.classifier import random_shift
from .kernels import (FORMATS, LabelFn, OnlineLabelStream, Projector, StoredLabels, bytes_per_view, label_loss,
                      projector_labels, store_labels, stored_label_fn, views_for_budget)
from .data import Source, TensorSource, folder_sources, read_class_names
from .models import ClipBundle, load_clip, load_teacher_checkpoints, make_student, weak_teacher_trajectory


@torch.no_grad()
def select_rded(x: torch.Tensor, y: torch.Tensor, teacher: nn.Module, ipc: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """RDED-lite initialisation: per class, the ``ipc`` real images the teacher is most confident on.

    Score ``s(x) = −CE(T(x), y)`` (RDED's realism score without patch stitching). Returns
    ``(X_s (C·ipc, 3, H, W), Y_s, indices into x)``, classes in order.
    """
    if ipc < 1:
        raise ValueError(f"ipc: expected an integer >= 1, got {ipc!r}")
    teacher.eval()
    dev = next(teacher.parameters()).device
    probs = torch.cat([teacher(x[i:i + 512].to(dev)).cpu() for i in range(0, len(x), 512)])
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


def select_rded_source(source: Source, teacher: nn.Module, ipc: int, candidates: int | None = None,
                       seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`select_rded` class by class over a data source, among ``candidates`` random images per class
    (``None``: all of them; RDED too scores a random candidate pool). Returns ``(X_s, Y_s)`` on the CPU."""
    xs, ys = [], []
    for c in range(source.num_classes):
        pool = source.class_pool(c, candidates, seed + c)
        x_c, y_c, _ = select_rded(pool, torch.full((len(pool),), c, dtype=torch.long), teacher, ipc)
        xs.append(x_c.cpu())
        ys.append(y_c)
    return torch.cat(xs), torch.cat(ys)


def evaluate(model: nn.Module, test, device: torch.device | str = "cpu") -> float:
    """Top-1 accuracy on ``test``: a ``(x, y)`` pair of tensors or a data source (streamed in batches)."""
    if isinstance(test, (tuple, list)):
        return accuracy(model, test[0].to(device), test[1].to(device))
    correct = total = 0
    model.eval()
    with torch.no_grad():
        for x, y in test.eval_batches():
            correct += (model(x.to(device)).argmax(1).cpu() == y).sum().item()
            total += len(y)
    return correct / total


def train_projector(projector: Projector, loader, teachers: Callable[[torch.Tensor], torch.Tensor],
                    steps: int, lam: float = 0.1, lr: float = 3e-3, seed: int = 0,
                    temperature: float = 1.0, device: torch.device | str = "cpu", space: str = "probs") -> list[float]:
    """Fit the factors on the original data: ``MSE(f_θ(A(X)), Y'(A(X))) + λ·CE(f_θ(A(X)), Y)``.

    ``loader`` yields the original ``(X, Y)`` batches (e.g. ``source.loader(batch, seed)``, cycled).
    ``Y'`` comes from ``teachers`` (e.g. a :class:`TeacherPool`) on the same shifted batch; the MSE is
    taken in ``space`` (see :func:`~paperlib.hello.kernels.label_loss`).
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
        return label_loss(model(xa), target, batch[1], lam, temperature, space)

    hist = fit(projector, loader, loss_fn, opt, steps, device=device,
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
    mix: float = 0.0  # CutMix probability per step (0: off)
    batch_size: int | None = None  # images per step (None: the whole distilled set)
    arch: str = "tiny"  # the student: "tiny" (TinyStudent) or "resnet18"
    space: str = "probs"  # where the label MSE is taken: "probs" or "logits"


def train_student(x_s: torch.Tensor, y_s: torch.Tensor, label_fn: LabelFn | None, recipe: StudentRecipe,
                  seed: int, views: int | None = None, device: torch.device | str = "cpu",
                  num_classes: int = 10) -> nn.Module:
    """A fresh student trained on ``X_s`` for ``recipe.steps`` full-batch steps of
    ``MSE(softmax φ(A(X_s)), Y*) + β·CE(φ(A(X_s)), Y_s)`` (plain CE for hard labels)."""
    device = torch.device(device)
    seed_everything(seed)
    student = make_student(x_s.shape[1], recipe.width, num_classes, recipe.arch).to(device)
    stream = OnlineLabelStream(x_s.to(device), y_s.to(device), label_fn, seed=seed, views=views,
                               shift=recipe.shift, noise=recipe.noise, mix=recipe.mix, num_classes=num_classes,
                               batch_size=recipe.batch_size)
    opt = torch.optim.AdamW(student.parameters(), lr=recipe.lr, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, recipe.steps)

    def loss_fn(model: nn.Module, batch: tuple) -> torch.Tensor:
        target = batch[2] if len(batch) == 3 else None
        return label_loss(model(batch[0]), target, batch[1], recipe.beta, recipe.temperature, recipe.space)

    fit(student, stream, loss_fn, opt, recipe.steps, device=device, desc="student", scheduler=sched)
    return student


def teacher_stored_labels(teacher: Callable[[torch.Tensor], torch.Tensor], x_s: torch.Tensor, y_s: torch.Tensor,
                          views: int, seed: int, recipe: StudentRecipe, fmt: str = "fp32",
                          num_classes: int | None = None) -> StoredLabels:
    """FKD-style storage: the teacher's probabilities on each of ``views`` augmented views of ``X_s``.

    The views are exactly the ones a student with this ``seed`` will draw (same stream, same seeds).
    """
    dev = next(teacher.parameters()).device if isinstance(teacher, nn.Module) else torch.device("cpu")
    stream = OnlineLabelStream(x_s.to(dev), y_s.to(dev), None, seed=seed, views=views, shift=recipe.shift,
                               noise=recipe.noise, mix=recipe.mix, num_classes=num_classes,
                               batch_size=recipe.batch_size)
    with torch.no_grad():
        probs = torch.stack([teacher(stream.view(e)[0]).cpu() for e in range(views)])
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
            recipe: StudentRecipe, seeds: Sequence[int], test, device: torch.device | str = "cpu", note: str = "",
            num_classes: int | None = None) -> ArmResult:
    """Train one student per seed; ``make_labels(seed) -> (label_fn, views, label_bytes)``.

    ``test``: a ``(x, y)`` pair or a data source (see :func:`evaluate`).
    """
    result = ArmResult(name, note=note)
    C = int(num_classes if num_classes is not None else int(y_s.max()) + 1)
    for seed in progress(list(seeds), desc=name):
        label_fn, views, nbytes = make_labels(seed)
        student = train_student(x_s, y_s, label_fn, recipe, seed, views, device, num_classes=C)
        result.accuracy.append(evaluate(student, test, device))
        result.label_bytes = nbytes
    return result


def stored_arm(teacher: Callable, x_s: torch.Tensor, y_s: torch.Tensor, recipe: StudentRecipe, fmt: str,
               budget: int | None = None, cache: dict | None = None) -> Callable[[int], tuple[LabelFn, int, int]]:
    """``make_labels`` for stored teacher labels in ``fmt``: one view per step, or as many as ``budget`` allows.

    ``cache`` (a dict shared between arms) keeps the fp32 labels of every view per seed, so compressed
    arms reuse the teacher passes of the full one (view ``e`` of a seed is the same tensor in every arm).
    """
    C = int(y_s.max()) + 1
    n = per_step(recipe, len(y_s))

    def make(seed: int) -> tuple[LabelFn, int, int]:
        views = recipe.steps if budget is None else views_for_budget(budget, n, C, fmt, recipe.steps)
        if cache is None:
            stored = teacher_stored_labels(teacher, x_s, y_s, views, seed, recipe, fmt, C)
        else:
            if seed not in cache:
                cache[seed] = teacher_stored_labels(teacher, x_s, y_s, recipe.steps, seed, recipe, "fp32", C).decode()
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


def per_step(recipe: StudentRecipe, n_images: int) -> int:
    """Images one student step sees (and one stored view labels)."""
    return n_images if recipe.batch_size is None else min(recipe.batch_size, n_images)


def full_label_bytes(steps: int, n_images: int, num_classes: int) -> int:
    """FKD storage at full precision: one fp32 label per (step, image seen), ``K · N_s · C · 4``."""
    return steps * bytes_per_view(n_images, num_classes, "fp32")


COMPRESSED_FORMATS = ("fp16", "int8", "top1", "top2")


@dataclass
class Setting:
    """What one run works on: the original train data, the test split, class names and prompts, the CLIP
    (with its preprocessing and tokenizer), the RDED observer / label teacher and, if given, saved weak teachers."""

    train: Source
    test: Source
    class_names: tuple[str, ...]  # the dataset's classes (folder names), label order
    prompts: tuple[str, ...]  # the name each class gets in CLIP's prompt
    clip: ClipBundle
    teacher: nn.Module | None = None  # None: the last weak-teacher checkpoint
    checkpoints: list[nn.Module] | None = None  # None: train the weak-teacher run here
    facts: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def probe(self, n: int = 256) -> torch.Tensor:
        """The first ``n`` test images (for checks such as Proposition 1)."""
        return next(iter(self.test.eval_batches(n)))[0]

    def projector(self, rank_encoder: int, rank_head: int, head: str = "text", seed: int = 0) -> Projector:
        """A fresh projector for this dataset (prompts checked against its classes)."""
        return self.clip.projector(self.prompts, self.prompts, rank_encoder, rank_head, head, seed)

    def teachers(self, params, device: torch.device | str = "cpu") -> tuple[list[nn.Module], nn.Module]:
        """``(weak checkpoints, label teacher)``: saved checkpoints or one teacher run trained here."""
        ckpts = self.checkpoints
        if ckpts is None:
            ckpts = weak_teacher_trajectory(self.train.loader(params.teacher_batch, params.seed), self.num_classes,
                                            params.teacher_steps, params.weak_ckpts, arch=params.teacher_arch,
                                            lr=params.teacher_lr, seed=params.seed, device=device)
        teacher = self.teacher if self.teacher is not None else ckpts[-1]
        return list(ckpts), teacher.to(device).eval()


def load_setting(params) -> Setting:
    """The run's data and models from its parameters.

    ``dataset='digits'``: the canonical digits (train split for distillation, RGB 16 px; test split for
    students), the zoo's tiny CLIP and classifier (or another CLIP via ``clip_model``/``clip_weights``).
    Otherwise ``data_root/train`` and ``data_root/val`` as class folders at ``image_size``, an open_clip
    model from local weights, prompts from ``class_names_file`` and weak teachers from ``teacher_ckpts``
    (or trained here). Nothing is downloaded; a missing piece is a clear error naming its parameter.
    """
    from ..core.params import ParameterError
    from ..data import CLASS_NAMES, digits, source_train

    scale = "cpu" if params.scale == "full" else params.scale
    if params.dataset == "digits":
        if params.data_root is not None:
            raise ParameterError("hello: data_root is for ImageFolder datasets; with dataset='digits' leave it "
                                 "unset (or pick dataset='folder', 'imagenet100' or 'imagenet1k')")
        from ..zoo import create

        clip = load_clip(params.clip_model, params.clip_weights, scale)
        size = params.image_size or 16
        x, y = source_train(size)
        test = digits("test", size, channels=3)
        teacher, meta = create("classifier", scale) if size == 16 else (None, {})
        return Setting(TensorSource(x, y, CLASS_NAMES), TensorSource(test.x, test.y, CLASS_NAMES),
                       tuple(CLASS_NAMES), tuple(CLASS_NAMES), clip, teacher, None,
                       {"clip": clip.facts, "teacher": meta.get("facts", {})})
    if params.data_root is None:
        raise ParameterError(f"hello: dataset={params.dataset!r} needs data_root, a folder with train/ and val/ "
                             "class sub-folders (ImageNet layout)")
    clip = load_clip(params.clip_model, params.clip_weights, scale)
    train, test = folder_sources(params.data_root, params.image_size or clip.image_size)
    prompts = read_class_names(params.class_names_file, train.classes)
    ckpts = None
    if params.teacher_ckpts is not None:
        ckpts = load_teacher_checkpoints(params.teacher_ckpts, params.teacher_arch, train.num_classes)
    return Setting(train, test, train.classes, tuple(prompts), clip, None, ckpts,
                   {"clip": clip.facts, "train_images": len(train), "test_images": len(test)})


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
    C = setting.num_classes
    cache: dict = {}
    out = {"hard": run_arm("hard", x_s, y_s, hard_arm(), recipe, seeds, test, device, "class index only", C),
           "stored_fp32": run_arm("stored_fp32", x_s, y_s, stored_arm(teacher_probs, x_s, y_s, recipe, "fp32",
                                                                      cache=cache),
                                  recipe, seeds, test, device, "one fp32 label per (step, image)", C)}
    for fmt in formats:
        make = stored_arm(teacher_probs, x_s, y_s, recipe, fmt, budget, cache)
        views = views_for_budget(budget, per_step(recipe, len(y_s)), C, fmt, recipe.steps)
        out[f"stored_{fmt}"] = run_arm(f"stored_{fmt}", x_s, y_s, make, recipe, seeds, test, device,
                                       f"{fmt}, {views} stored views cycled", C)
    out["hello"] = run_arm("hello", x_s, y_s, projector_arm(projector, T), recipe, seeds, test, device,
                           "online projector labels", C)
    out["zero_shot"] = run_arm("zero_shot", x_s, y_s, projector_arm(zero_shot, T), recipe, seeds, test, device,
                               "projector without factors", C)
    return out


def results_table(results: dict[str, ArmResult]) -> str:
    """A Markdown table: mean ± std of test accuracy, seeds, label bytes and how, one row per mode."""
    rows = ["| label mode | test accuracy | seeds | label bytes | how |", "|---|---|---|---|---|"]
    for key, r in results.items():
        m = torch.tensor(r.accuracy)
        spread = f" ± {m.std().item():.3f}" if len(m) > 1 else ""
        rows.append(f"| {key} | {m.mean().item():.3f}{spread} | {len(m)} | {r.label_bytes:,} | {r.note} |")
    return "\n".join(rows)
