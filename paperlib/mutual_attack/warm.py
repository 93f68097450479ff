"""Models of this chapter that ``paperlib warm`` trains and caches before a workshop: the tiny CLIP variant,
and per seed the miniature's trained targets and its white-box surrogate, at the scale's preset."""
from __future__ import annotations

from collections.abc import Iterator

from ..core.seeding import seed_list
from ..zoo.pretrained import load_clip
from .models import miniature_surrogate, miniature_targets
from .params import SCHEMA


def warm(scale: str) -> Iterator[str]:
    p = SCHEMA.resolve(scale="cpu" if scale == "full" else scale)  # full scale uses released weights
    load_clip("tiny_clip", scale=p.scale, variant={"domains": list(p.clip_domains)})
    yield "surrogate CLIP"
    for seed in seed_list(p.seed, p.seeds):
        miniature_surrogate(p.target_steps, seed)
        miniature_targets([t for t in p.targets if t != "random_forest"], p.target_steps, seed)
        yield f"surrogate CNN and targets, seed {seed}"
