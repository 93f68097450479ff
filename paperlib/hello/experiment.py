"""The HeLlO experiment: RDED-lite distilled set, projector training, students per label mode, ablations.

Label modes for the same distilled images ``X_s`` (every student sees the same augmented views):
hard one-hot; FKD-style stored soft labels of the weak-teacher pool (one per view, i.e. per step); the
same stored labels compressed to the projector's byte budget; HeLlO's online projector labels; zero-shot
CLIP labels (the projector without factors). Narrated in notebooks/hello.py, "The experiment".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

import torch
from torch import nn

from ..core.progress import progress
from ..core.seeding import seed_everything
from ..core.train import accuracy, fit
from ..zoo.classifier import random_shift
from .full import folder_setting
from .kernels import (LabelFn, OnlineLabelStream, Projector, StoredLabels, bytes_per_view, downsample,
                      fidelity_gap, label_loss, projector_labels, store_labels, stored_label_fn, update_images,
                      upsample, views_for_budget)
from .models import TeacherPool, make_student
from .setting import Setting, digits_setting

if TYPE_CHECKING:
    from .data import TensorSource
    from .full import FolderSource

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


def select_rded_source(source: TensorSource | FolderSource, teacher: nn.Module, ipc: int, candidates: int | None = None,
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


@dataclass(frozen=True)
class ProjectorRecipe:
    """How the projector's factors are fitted on the original data (λ = ``ce_weight``)."""

    steps: int
    batch_size: int = 64
    lr: float = 3e-3
    ce_weight: float = 0.1
    temperature: float = 4.0
    label_space: str = "probs"


def train_projector(projector: Projector, setting: Setting, teachers: Callable[[torch.Tensor], torch.Tensor],
                    recipe: ProjectorRecipe, seed: int = 0, device: torch.device | str = "cpu") -> list[float]:
    """Fit the factors on the original data: ``MSE(f_θ(A(X)), Y'(A(X))) + λ·CE(f_θ(A(X)), Y)``.

    Batches of ``setting.train`` (cycled); ``Y'`` comes from ``teachers`` (e.g. a :class:`TeacherPool`) on
    the same shifted batch; the MSE is taken in ``recipe.label_space`` (see
    :func:`~paperlib.hello.kernels.label_loss`). Returns the loss per step.
    """
    seed_everything(seed)
    device = torch.device(device)
    projector.to(device)
    params = [p for p in projector.parameters() if p.requires_grad]
    if not params or recipe.steps == 0:
        projector.eval()
        return []
    opt = torch.optim.Adam(params, lr=recipe.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, recipe.steps)

    def loss_fn(model: nn.Module, batch: tuple) -> torch.Tensor:
        xa = random_shift(batch[0], 1)  # one augmented tensor for projector and teachers
        with torch.no_grad():
            target = teachers(xa)
        return label_loss(model(xa), target, batch[1], recipe.ce_weight, recipe.temperature, recipe.label_space)

    hist = fit(projector, setting.train.loader(recipe.batch_size, seed), loss_fn, opt, recipe.steps, device=device,
               desc="projector", scheduler=sched)
    projector.eval()
    return hist.loss


@dataclass(frozen=True)
class StudentRecipe:
    """The student's training budget (identical for every label mode); β = ``ce_weight``."""

    steps: int = 300
    lr: float = 3e-3
    ce_weight: float = 1.0
    temperature: float = 1.0
    width: int = 8
    shift: int = 1
    noise: float = 0.05
    mix: float = 0.0  # CutMix probability per step (0: off)
    batch_size: int | None = None  # images per step (None: the whole distilled set)
    arch: str = "tiny"  # the student: "tiny" (TinyStudent) or "resnet18"
    label_space: str = "probs"  # where the label MSE is taken: "probs" or "logits"


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
        return label_loss(model(batch[0]), target, batch[1], recipe.ce_weight, recipe.temperature,
                          recipe.label_space)

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


def per_step(recipe: StudentRecipe, n_images: int) -> int:
    """Images one student step sees (and one stored view labels)."""
    return n_images if recipe.batch_size is None else min(recipe.batch_size, n_images)


def full_label_bytes(steps: int, n_images: int, num_classes: int) -> int:
    """FKD storage at full precision: one fp32 label per (step, image seen), ``K · N_s · C · 4``."""
    return steps * bytes_per_view(n_images, num_classes, "fp32")


@dataclass(frozen=True)
class SettingRecipe:
    """Which data and models a run uses (see :func:`load_setting`)."""

    scale: str = "cpu"
    dataset: str = "digits"
    data_dir: str | None = None
    clip_dir: str | None = None
    image_size: int | None = None
    class_names_file: str | None = None
    teacher_weights: str | None = None
    teacher_arch: str = "small_cnn"


def load_setting(recipe: SettingRecipe) -> Setting:
    """The run's data and models: the digits miniature (:func:`~paperlib.hello.setting.digits_setting`) or
    class folders with a real CLIP (:func:`~paperlib.hello.full.folder_setting`). Nothing is downloaded."""
    if recipe.dataset == "digits":
        return digits_setting(recipe.scale, recipe.image_size)
    if recipe.data_dir is None:
        raise ValueError(f"data_dir: dataset={recipe.dataset!r} needs a folder with train/ and val/ class sub-folders")
    return folder_setting(recipe.data_dir, recipe.clip_dir, recipe.image_size, recipe.class_names_file,
                          recipe.teacher_weights, recipe.teacher_arch)


@dataclass(frozen=True)
class ImageRecipe:
    """The distilled images: ``ipc`` per class picked RDED-lite style among ``rded_candidates`` per class,
    stored at ``1/downsample`` of their side and moved by ``update_steps`` patch-fidelity steps of rate
    ``update_lr``."""

    ipc: int
    downsample: int = 2
    update_steps: int = 0
    update_lr: float = 0.01
    rded_candidates: int | None = None
    chunk: int | None = None  # images per update pass (memory bound at full scale)


@dataclass
class DistilledSet:
    """RDED-lite's picks ``patches`` (full resolution), what is stored of them with and without the image
    update (``stored``, ``stored_plain``), their labels, and the fidelity gap ``G`` per image before and after."""

    patches: torch.Tensor
    stored_plain: torch.Tensor
    stored: torch.Tensor
    labels: torch.Tensor
    gap_plain: torch.Tensor
    gap: torch.Tensor

    @property
    def images(self) -> torch.Tensor:
        """``X_s = up(s)``: what the students train on (with the update)."""
        return upsample(self.stored, self.patches.shape[-1])

    @property
    def images_plain(self) -> torch.Tensor:
        """``up(down(p))``: the same without the update (the ablation)."""
        return upsample(self.stored_plain, self.patches.shape[-1])


def distil_images(setting: Setting, observer: nn.Module, projector: Projector, recipe: ImageRecipe, seed: int = 0,
                  device: torch.device | str = "cpu") -> DistilledSet:
    """RDED-lite selection by ``observer`` (the last weak teacher), storage at reduced resolution, and the
    patch-fidelity update in the projector's feature space (its encoder with the trained factors)."""
    patches, labels = select_rded_source(setting.train, observer, recipe.ipc, recipe.rded_candidates, seed)
    projector.eval()

    def embed(x: torch.Tensor) -> torch.Tensor:
        return projector.embed(x.to(device)).cpu()

    plain = downsample(patches, recipe.downsample)
    stored = update_images(patches, embed, recipe.downsample, recipe.update_steps, recipe.update_lr, recipe.chunk)
    return DistilledSet(patches, plain, stored, labels, fidelity_gap(embed, patches, plain),
                        fidelity_gap(embed, patches, stored))


def label_modes(setting: Setting, x_s: torch.Tensor, y_s: torch.Tensor, projector: Projector, zero_shot: Projector,
                pool: Callable[[torch.Tensor], torch.Tensor], recipe: StudentRecipe, seeds: Sequence[int],
                formats: Sequence[str] = ("fp16", "int8", "top1"),
                device: torch.device | str = "cpu") -> dict[str, ArmResult]:
    """Every label mode on the same distilled images, budget and seeds (the chapter's main table).

    The stored labels are the probabilities of ``pool``, the weak-teacher pool the projector learned from,
    so storing and generating are compared with one teacher behind both. Keys: ``hard``, ``stored_fp32``,
    ``stored_<fmt>`` (compressed to the projector's bytes), ``hello``, ``zero_shot``.
    """
    T = recipe.temperature
    budget = projector.stored_bytes()
    test = setting.test
    C = setting.num_classes
    cache: dict = {}
    out = {"hard": run_arm("hard", x_s, y_s, hard_arm(), recipe, seeds, test, device, "class index only", C),
           "stored_fp32": run_arm("stored_fp32", x_s, y_s, stored_arm(pool, x_s, y_s, recipe, "fp32", cache=cache),
                                  recipe, seeds, test, device, "one fp32 label per (step, image)", C)}
    for fmt in formats:
        make = stored_arm(pool, x_s, y_s, recipe, fmt, budget, cache)
        views = views_for_budget(budget, per_step(recipe, len(y_s)), C, fmt, recipe.steps)
        out[f"stored_{fmt}"] = run_arm(f"stored_{fmt}", x_s, y_s, make, recipe, seeds, test, device,
                                       f"{fmt}, {views} stored views cycled", C)
    out["hello"] = run_arm("hello", x_s, y_s, projector_arm(projector, T), recipe, seeds, test, device,
                           "online projector labels", C)
    out["zero_shot"] = run_arm("zero_shot", x_s, y_s, projector_arm(zero_shot, T), recipe, seeds, test, device,
                               "projector without factors", C)
    return out


def ablations(setting: Setting, images: DistilledSet, projector: Projector, pool: TeacherPool,
              final_teacher: TeacherPool, projector_recipe: ProjectorRecipe, recipe: StudentRecipe, ranks: Sequence[int],
              seeds: Sequence[int], seed: int = 0, device: torch.device | str = "cpu") -> dict[str, ArmResult]:
    """The paper's ablation rows, one component changed at a time (students on ``seeds``, the main run's first):

    - ``rank r``: encoder rank ``r``, head rank ``2r``;
    - ``random head``: a fully trained random head instead of ``W_0`` + factors (stored in full);
    - ``final teacher only``: the projector fitted to the last checkpoint instead of the weak pool;
    - ``no image update``: the main projector's labels on ``up(down(p))`` instead of the updated images.

    ``label_bytes`` of each is its projector's stored bytes.
    """
    C, T = setting.num_classes, recipe.temperature
    r_e, r_h = projector.rank_encoder, projector.rank_head
    variants = {f"rank {r}": (r, 2 * r, "text", pool) for r in ranks}
    variants["random head"] = (r_e, 0, "random", pool)
    variants["final teacher only"] = (r_e, r_h, "text", final_teacher)
    out = {}
    for name, (rank_encoder, rank_head, head, teachers) in variants.items():
        variant = setting.projector(rank_encoder, rank_head, head=head, seed=seed).to(device)
        train_projector(variant, setting, teachers, projector_recipe, seed, device)
        out[name] = run_arm(name, images.images, images.labels, projector_arm(variant, T), recipe, seeds, setting.test,
                            device, num_classes=C)
    out["no image update"] = run_arm("no image update", images.images_plain, images.labels, projector_arm(projector, T),
                                     recipe, seeds, setting.test, device, num_classes=C)
    return out


def results_table(results: dict[str, ArmResult]) -> str:
    """A Markdown table: mean ± std of test accuracy, seeds, label bytes and how, one row per mode."""
    rows = ["| label mode | test accuracy | seeds | label bytes | how |", "|---|---|---|---|---|"]
    for key, r in results.items():
        m = torch.tensor(r.accuracy)
        spread = f" ± {m.std().item():.3f}" if len(m) > 1 else ""
        rows.append(f"| {key} | {m.mean().item():.3f}{spread} | {len(m)} | {r.label_bytes:,} | {r.note} |")
    return "\n".join(rows)
