"""HeLlO's label generators: the multi-weak-teacher pool ``Y'`` and the projector built from a CLIP.

    Y'(x) = (1/K) Σ_k softmax(T_k(x) / T)        (K checkpoints along one teacher's training run)

Narrated in notebooks/hello.py, "Weak teachers".
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import nn
import torch.nn.functional as F

from ..core.seeding import seed_everything
from ..core.train import fit
from ..zoo.classifier import SmallCNN, random_shift
from ..zoo.clip import class_text_embeddings, normalize as clip_normalize
from .kernels import Projector, check_class_names, soften


class TeacherPool(nn.Module):
    """Averaged probabilities of several teachers at temperature ``T``: ``x: (B, 3, H, W) -> (B, C)``."""

    def __init__(self, teachers: Sequence[nn.Module], num_classes: int, probe: torch.Tensor | None = None,
                 temperature: float = 1.0):
        super().__init__()
        self.temperature = temperature
        if not teachers:
            raise ValueError("teachers: expected at least one teacher checkpoint")
        self.teachers = nn.ModuleList(teachers)
        self.num_classes = num_classes
        if probe is not None:
            check_teacher(self, probe, num_classes)
        self.eval()

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([soften(t.eval()(x), self.temperature) for t in self.teachers]).mean(0)


def check_teacher(teacher: nn.Module, probe: torch.Tensor, num_classes: int) -> None:
    """A teacher must score exactly the dataset's ``num_classes`` classes."""
    mods = teacher.teachers if isinstance(teacher, TeacherPool) else [teacher]
    for i, t in enumerate(mods):
        was = t.training
        t.eval()
        with torch.no_grad():
            out = t(probe[:2])
        t.train(was)
        if out.dim() != 2 or out.shape[1] != num_classes:
            raise ValueError(f"teacher {i}: it scores {out.shape[-1]} classes but the dataset has {num_classes}")


def make_teacher(arch: str, num_classes: int, in_channels: int = 3, width: int = 16) -> nn.Module:
    """A fresh teacher network: ``small_cnn`` (the miniature) or a torchvision ``resnet18`` (full scale)."""
    if arch == "small_cnn":
        return SmallCNN(in_channels, width, num_classes)
    if arch == "resnet18":
        from torchvision.models import resnet18

        return resnet18(num_classes=num_classes)
    raise ValueError(f"teacher_arch: expected 'small_cnn' or 'resnet18', got {arch!r}")


def weak_teacher_trajectory(loader, num_classes: int, steps: int, checkpoints: int, arch: str = "small_cnn",
                            width: int = 16, lr: float = 3e-3, seed: int = 0,
                            device: torch.device | str = "cpu") -> list[nn.Module]:
    """Train one teacher for ``steps`` on ``loader``'s batches and keep ``checkpoints`` snapshots spread evenly.

    The snapshots are the weak teachers (early ones are weak, the last is the trained teacher).
    """
    if checkpoints < 1 or checkpoints > steps:
        raise ValueError(f"weak_ckpts: expected 1..{steps} checkpoints, got {checkpoints}")
    seed_everything(seed)
    model = make_teacher(arch, num_classes, width=width).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    at = {round(steps * (k + 1) / checkpoints) - 1 for k in range(checkpoints)}
    snaps: list[nn.Module] = []

    def keep(step: int) -> None:
        if step in at:
            snap = copy.deepcopy(model).eval()
            snaps.append(snap.requires_grad_(False))

    fit(model, loader, lambda m, b: nn.functional.cross_entropy(m(random_shift(b[0], 1)), b[1]),
        opt, steps, device=torch.device(device), desc="weak teachers", on_step=keep)
    return snaps


def load_teacher_checkpoints(folder: str | Path, arch: str, num_classes: int,
                             device: torch.device | str = "cpu") -> list[nn.Module]:
    """Weak teachers saved along one training run: every ``*.safetensors`` in ``folder``, in name order.

    Each file is a ``state_dict`` of ``make_teacher(arch, num_classes)`` (e.g. ResNet-18 at epochs 1..9).
    """
    from safetensors.torch import load_file

    root = Path(folder).expanduser()
    files = sorted(root.glob("*.safetensors")) if root.is_dir() else []
    if not files:
        raise FileNotFoundError(f"teacher_ckpts: expected a folder of teacher checkpoints (*.safetensors, one per "
                                f"point of one training run, in name order), found none in {str(root)!r}")
    out = []
    for f in files:
        model = make_teacher(arch, num_classes)
        try:
            model.load_state_dict(load_file(str(f)))
        except RuntimeError as err:
            raise ValueError(f"teacher_ckpts: {f.name} is not a {arch} with {num_classes} classes "
                             f"({str(err).splitlines()[0]})") from err
        out.append(model.to(device).eval().requires_grad_(False))
    return out


def text_head(clip: nn.Module, tokenizer: Callable, names: Sequence[str], templates: Sequence[str]) -> torch.Tensor:
    """``W_0`` rows: the normalised mean over templates of CLIP's normalised text embeddings, per class. ``(C, d_f)``."""
    device = next(clip.parameters()).device
    rows = []
    with torch.no_grad():
        for name in names:
            emb = F.normalize(clip.encode_text(tokenizer([t.format(name) for t in templates]).to(device)), dim=-1)
            rows.append(F.normalize(emb.mean(0), dim=-1))
    return torch.stack(rows)


def build_projector(clip: nn.Module, class_names: Sequence[str], dataset_classes: Sequence[str],
                    rank_encoder: int, rank_head: int, head: str = "text", seed: int = 0,
                    tokenizer: Callable | None = None, templates: Sequence[str] | None = None,
                    preprocess: Callable = clip_normalize) -> Projector:
    """The projector for a dataset: prompts from ``class_names`` (checked against the dataset's classes).

    ``tokenizer``/``templates``/``preprocess`` default to the zoo's tiny CLIP; a real CLIP passes its own.
    """
    names = check_class_names(class_names, dataset_classes)
    if tokenizer is None:
        text = class_text_embeddings(clip, names)  # (C, d_f): rebuilt from the names, never stored
    else:
        text = text_head(clip, tokenizer, names, templates or IMAGENET_TEMPLATES)
    return Projector(clip, text, rank_encoder, rank_head, head=head, preprocess=preprocess, seed=seed)


IMAGENET_TEMPLATES = ("a photo of a {}.",)  # the card's one fixed prompt per class


@dataclass
class ClipBundle:
    """A CLIP and what its projector needs: pixel preprocessing, tokenizer and prompt templates."""

    model: nn.Module
    preprocess: Callable[[torch.Tensor], torch.Tensor]  # [0, 1] pixels -> the model's input
    tokenizer: Callable | None  # None: the zoo's tiny-CLIP tokenizer
    templates: Sequence[str] | None
    image_size: int
    facts: dict = field(default_factory=dict)

    def projector(self, class_names: Sequence[str], dataset_classes: Sequence[str], rank_encoder: int,
                  rank_head: int, head: str = "text", seed: int = 0) -> Projector:
        return build_projector(self.model, class_names, dataset_classes, rank_encoder, rank_head, head, seed,
                               self.tokenizer, self.templates, self.preprocess)


class PixelNormalize(nn.Module):
    """``(x − mean) / std`` per channel, resizing to the model's input size first if needed."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], size: int):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.size or x.shape[-2] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return (x - self.mean.to(x.device)) / self.std.to(x.device)


def load_clip(clip_model: str, clip_weights: str | None, scale: str = "cpu") -> ClipBundle:
    """The CLIP for the projector: the zoo's ``tiny_clip``, or an open_clip architecture with local weights.

    ``clip_model`` is an open_clip name (``RN50``) or the path of an open_clip JSON config (registered
    under its file stem); ``clip_weights`` a local checkpoint file or Hugging Face snapshot (never a download).
    """
    if clip_model == "tiny_clip":
        from ..zoo import create

        model, meta = create("tiny_clip", "cpu" if scale == "full" else scale)
        return ClipBundle(model, clip_normalize, None, None, int(model.visual.image_size[0])
                          if isinstance(model.visual.image_size, (tuple, list)) else int(model.visual.image_size),
                          meta.get("facts", {}))
    import open_clip
    from ..zoo.pretrained import open_clip_pretrained

    arch = clip_model
    cfg = Path(clip_model).expanduser()
    if cfg.suffix == ".json":
        if not cfg.is_file():
            raise FileNotFoundError(f"clip_model: the open_clip config {str(cfg)!r} does not exist")
        open_clip.add_model_config(cfg)
        arch = cfg.stem
    if arch not in open_clip.list_models():
        raise ValueError(f"clip_model: {clip_model!r} is neither an open_clip architecture (e.g. 'RN50') nor "
                         "an open_clip JSON config file")
    if clip_weights is None:
        raise ValueError(f"clip_weights: clip_model={clip_model!r} needs local pretrained weights (a .safetensors/"
                         ".bin open_clip checkpoint or a Hugging Face snapshot folder); nothing is downloaded")
    model, _, _ = open_clip_pretrained(arch, clip_weights, "clip_weights")
    model.eval()
    size = model.visual.image_size
    size = int(size[0] if isinstance(size, (tuple, list)) else size)
    pcfg = getattr(model.visual, "preprocess_cfg", {}) or {}
    mean = pcfg.get("mean", open_clip.OPENAI_DATASET_MEAN)
    std = pcfg.get("std", open_clip.OPENAI_DATASET_STD)
    return ClipBundle(model, PixelNormalize(mean, std, size), open_clip.get_tokenizer(arch), IMAGENET_TEMPLATES,
                      size, {"arch": arch, "weights": str(clip_weights)})


class TinyStudent(nn.Module):
    """The student: a ConvNet that downsamples at once (``(B, C, 16, 16) -> (B, K)``), cheap on a CPU."""

    def __init__(self, in_channels: int = 3, width: int = 16, num_classes: int = 10):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, w, 3, stride=2, padding=1), nn.BatchNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(2 * w, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


def make_student(in_channels: int = 3, width: int = 16, num_classes: int = 10, arch: str = "tiny") -> nn.Module:
    """The student trained from scratch on the distilled set: a fresh :class:`TinyStudent` or ResNet-18."""
    if arch == "tiny":
        return TinyStudent(in_channels, width, num_classes)
    if arch == "resnet18":
        from torchvision.models import resnet18

        return resnet18(num_classes=num_classes)
    raise ValueError(f"student: expected 'tiny' or 'resnet18', got {arch!r}")
