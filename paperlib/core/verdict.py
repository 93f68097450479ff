"""The one verdict rule every claim check uses.

Over seeds: the claim *holds* when the method beats the baseline in the claimed direction by more than
two standard errors of the difference of means, *fails* when it loses by more than that, and is
*inconclusive* otherwise (including when either side has fewer than two seeds). When both arms ran on
the same seeds (same data split and initialisation for seed *i*), the paired form applies the same two
standard errors to the per-seed differences instead: seed-to-seed spread shared by both arms then no
longer hides a method that wins on every seed. For deterministic quantities (bytes, FLOPs, a ratio of
counts) a stated threshold decides instead.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

HOLDS, FAILS, INCONCLUSIVE = "holds", "fails", "inconclusive"


@dataclass(frozen=True)
class Measurement:
    """Values of one quantity over seeds or repeats."""

    values: tuple[float, ...]

    @classmethod
    def of(cls, values: float | Sequence[float]) -> "Measurement":
        if isinstance(values, (int, float)):
            values = [values]
        values = tuple(float(v) for v in values)
        if not values:
            raise ValueError("a measurement needs at least one value")
        return cls(values)

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return sum(self.values) / self.n

    @property
    def std(self) -> float:
        """Sample standard deviation (ddof=1); NaN for a single value."""
        if self.n < 2:
            return math.nan
        m = self.mean
        return math.sqrt(sum((v - m) ** 2 for v in self.values) / (self.n - 1))

    @property
    def sem(self) -> float:
        return self.std / math.sqrt(self.n)

    def as_dict(self) -> dict:
        std = self.std
        return {"mean": self.mean, "std": None if math.isnan(std) else std, "n": self.n,
                "values": list(self.values)}


def verdict_over_seeds(method: Measurement, baseline: Measurement, higher_is_better: bool = True) -> str:
    """Two-standard-error rule on the difference of means (see module docstring)."""
    if method.n < 2 or baseline.n < 2:
        return INCONCLUSIVE
    gain = (method.mean - baseline.mean) * (1 if higher_is_better else -1)
    se = math.sqrt(method.sem ** 2 + baseline.sem ** 2)
    if gain > 2 * se:
        return HOLDS
    if gain < -2 * se:
        return FAILS
    return INCONCLUSIVE


def verdict_paired(method: Measurement, baseline: Measurement, higher_is_better: bool = True) -> str:
    """Two-standard-error rule on the per-seed differences; ``method.values[i]`` pairs with ``baseline.values[i]``."""
    if method.n != baseline.n:
        raise ValueError(f"baseline: a paired verdict needs one value per seed on each side, "
                         f"got {method.n} for the method and {baseline.n} for the baseline")
    if method.n < 2:
        return INCONCLUSIVE
    sign = 1 if higher_is_better else -1
    gains = Measurement.of([sign * (m - b) for m, b in zip(method.values, baseline.values)])
    if gains.mean > 2 * gains.sem:
        return HOLDS
    if gains.mean < -2 * gains.sem:
        return FAILS
    return INCONCLUSIVE


def verdict_threshold(value: float, threshold: float, higher_is_better: bool = True) -> str:
    """For deterministic quantities: holds when ``value`` is on the claimed side of ``threshold``."""
    if not math.isfinite(value):
        return INCONCLUSIVE
    beats = value > threshold if higher_is_better else value < threshold
    return HOLDS if beats else FAILS
