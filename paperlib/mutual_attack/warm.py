"""Models of this chapter that ``paperlib warm`` trains and caches before a workshop: the miniature's
trained targets and its white-box surrogate, at the scale's preset training length."""
from __future__ import annotations

from collections.abc import Iterator

from .models import TARGET_STEPS, train_target
from .params import SCHEMA


def warm(scale: str) -> Iterator[str]:
    p = SCHEMA.resolve(scale="cpu" if scale == "full" else scale)  # full scale uses released weights
    train_target("cnn_surrogate", p.target_steps, seed=2)
    yield "surrogate CNN"
    for name in p.targets:
        if name in TARGET_STEPS and name != "cnn_surrogate":
            train_target(name, TARGET_STEPS[name] * p.target_steps, seed=1)
            yield f"{name} target"
