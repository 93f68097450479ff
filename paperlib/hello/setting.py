"""What one HeLlO run works on: the original data, the test split, class prompts, the CLIP and the weak teachers.

:func:`digits_setting` builds the miniature's (the digits and the zoo's tiny CLIP trained on font-rendered
digits only, so it never saw a handwritten digit); :func:`paperlib.hello.full.folder_setting` builds the
full-scale one from class folders and an open_clip model folder. Narrated in notebooks/hello.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import nn

from ..zoo.pretrained import LoadedClip, load_clip
from .data import TensorSource
from .kernels import Projector
from .models import PHOTO_TEMPLATES, ZOO_TEMPLATES, TeacherRecipe, build_projector, weak_teacher_trajectory

#: What the miniature's CLIP is trained on: rendered glyphs of the bundled fonts, never a handwritten digit
#: (a zoo variant of the tiny CLIP; the stand-in for a CLIP pretrained on other data than the dataset's).
CLIP_TRAINED_ON = ("font",)


@dataclass
class Setting:
    """The run's data and models. ``train`` / ``test``: data sources (see :mod:`paperlib.hello.data`);
    ``class_names``: the dataset's classes in label order; ``prompts``: the name each gets in CLIP's prompt."""

    train: object
    test: object
    class_names: tuple[str, ...]
    prompts: tuple[str, ...]
    clip: LoadedClip
    templates: Sequence[str]
    checkpoints: list[nn.Module] | None = None  # saved weak teachers; None: train the run here
    facts: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def probe(self, n: int = 256) -> torch.Tensor:
        """The first ``n`` test images (for checks such as Proposition 1)."""
        return next(iter(self.test.eval_batches(n)))[0]

    def projector(self, rank_encoder: int, rank_head: int, head: str = "text", seed: int = 0) -> Projector:
        """A fresh projector for this dataset (prompts checked against its classes)."""
        return build_projector(self.clip, self.prompts, self.prompts, self.templates, rank_encoder, rank_head, head,
                               seed)

    def teachers(self, recipe: TeacherRecipe, seed: int = 0, device: torch.device | str = "cpu") -> list[nn.Module]:
        """The weak teachers, in training order: the saved checkpoints, or one run of ``recipe`` trained here
        on the original data. The last one is the trained teacher (RDED-lite's observer)."""
        if self.checkpoints is not None:
            return [t.to(device).eval() for t in self.checkpoints]
        return weak_teacher_trajectory(self.train.loader(recipe.batch_size, seed), self.num_classes, recipe, seed,
                                       device)


def digits_setting(scale: str, image_size: int | None = None) -> Setting:
    """The canonical digits (train split to distil from, test split for the students) as RGB
    ``image_size`` px (16 by default) and the zoo's tiny CLIP trained on font-rendered digits only."""
    from ..data import CLASS_NAMES, digits, source_train

    clip = load_clip("tiny_clip", scale="cpu" if scale == "full" else scale,
                     variant={"domains": list(CLIP_TRAINED_ON)})
    size = image_size or 16
    x, y = source_train(size)
    test = digits("test", size, channels=3)
    return Setting(TensorSource(x, y, CLASS_NAMES), TensorSource(test.x, test.y, CLASS_NAMES), tuple(CLASS_NAMES),
                   tuple(CLASS_NAMES), clip, ZOO_TEMPLATES, None,
                   {"clip": clip.facts, "clip_trained_on": list(CLIP_TRAINED_ON)})

