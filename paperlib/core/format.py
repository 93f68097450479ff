"""How measured numbers are written in tables (the claim tables, the dashboard, the parameters table)."""
from __future__ import annotations

import math
from typing import Any


def fmt_number(x: Any, digits: int = 4) -> str:
    """A number with ``digits`` significant digits (ints as they are); anything else as ``str``."""
    if isinstance(x, bool) or x is None:
        return str(x)
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        return f"{x:.{digits}g}" if math.isfinite(x) else str(x)
    return str(x)


def fmt_spread(side: dict) -> str:
    """``mean ± std (n=k)`` for one arm of a claim (``std`` is None for a single value)."""
    text = fmt_number(side["mean"])
    if side.get("std") is not None:
        text += f" ± {fmt_number(side['std'], 2)} (n={side['n']})"
    return text


def fmt_claim_side(side: dict, unit: str = "") -> str:
    """``label: mean ± std (n=k) unit``."""
    return f"{side['label']}: {fmt_spread(side)}" + (f" {unit}" if unit else "")


def fmt_effect(claim: dict) -> str:
    """The gain in the claimed direction with its one-sided 95 % bounds, or the deterministic value."""
    effect = claim.get("effect")
    if effect is None:
        value = claim.get("value")
        return "—" if value is None else fmt_number(value)
    text = f"{effect['mean']:+.3g}"
    if effect.get("ci95"):
        lo, hi = effect["ci95"]
        text += f" [{lo:+.3g}, {hi:+.3g}]"
    return text
