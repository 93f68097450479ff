"""Progress bars: shown to people, silent in tests (``PAPERLIB_QUIET=1``)."""
from __future__ import annotations

import os
import sys
from typing import Iterable, TypeVar

from tqdm import tqdm

T = TypeVar("T")


def quiet() -> bool:
    return os.environ.get("PAPERLIB_QUIET", "") not in ("", "0")


def progress(iterable: Iterable[T], desc: str = "", total: int | None = None, leave: bool = False) -> Iterable[T]:
    """A text progress bar on stderr (the book hides stderr; JupyterLab shows it)."""
    return tqdm(iterable, desc=desc, total=total, leave=leave, disable=quiet(), file=sys.stderr,
                dynamic_ncols=True, mininterval=1.0)
