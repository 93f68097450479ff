"""Models of this chapter that ``paperlib warm`` trains and caches before a workshop."""
from __future__ import annotations

from collections.abc import Iterator

from .models import motion_model


def warm(scale: str) -> Iterator[str]:
    motion_model(scale)
    yield "motion-digit video model"
