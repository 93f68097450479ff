"""The one verdict rule every claim check uses.

**Over seeds:** a one-sided Student-t test at 95 % on the gain in the claimed direction. Paired (the
default) when both arms ran on the same seeds (seed *i* gives both the same split and initialisation): the
test looks at the per-seed gains ``d_i = ±(method_i - baseline_i)``, ``t = mean(d) / (sd(d) / sqrt(n))``
with ``n - 1`` degrees of freedom. Unpaired arms use Welch's test. The claim

- *holds* when ``t > t_{0.95, df}`` (the gain is positive at 95 % confidence),
- *fails* when ``t < -t_{0.95, df}`` (the method is worse at 95 % confidence),
- is *inconclusive* otherwise, and always with fewer than two values a side.

A non-inferiority claim ("at least as good, within ``margin``") tests ``gain + margin`` instead: it holds
when the method is significantly no worse than the baseline minus the margin.

The effect is reported as the mean gain with its one-sided 95 % bounds ``gain ± t_{0.95, df} · se`` (the
two-sided 90 % interval): exactly the bounds the test uses, so a claim holds precisely when the lower bound
(plus the margin) is above zero and fails precisely when the upper one is below it.

**Deterministic quantities** (bytes, FLOPs, a ratio of counts): a stated threshold decides.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from scipy import stats

HOLDS, FAILS, INCONCLUSIVE = "holds", "fails", "inconclusive"
CONFIDENCE = 0.95


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


@dataclass(frozen=True)
class Test:
    """The outcome of the seeds rule: the verdict, the gain in the claimed direction and its one-sided 95 % bounds."""

    verdict: str
    gain: float
    ci95: tuple[float, float] | None  # one-sided 95 % bounds; None when the spread cannot be estimated (n < 2)
    t: float | None
    df: float | None
    rule: str

    def as_dict(self) -> dict:
        return {"mean": self.gain, "ci95": list(self.ci95) if self.ci95 else None, "t": self.t, "df": self.df}


def t_test(method: Measurement, baseline: Measurement, higher_is_better: bool = True, *,
           paired: bool = True, margin: float = 0.0) -> Test:
    """The seeds rule (module docstring). ``paired``: ``method.values[i]`` pairs with ``baseline.values[i]``."""
    if margin < 0:
        raise ValueError(f"margin: expected a non-negative number (in the metric's units), got {margin}")
    sign = 1.0 if higher_is_better else -1.0
    if paired:
        if method.n != baseline.n:
            raise ValueError(f"baseline: a paired verdict needs one value per seed on each side, "
                             f"got {method.n} for the method and {baseline.n} for the baseline")
        gains = Measurement.of([sign * (m - b) for m, b in zip(method.values, baseline.values)])
        gain, n = gains.mean, gains.n
        se = gains.sem if n >= 2 else math.nan
        df = float(n - 1)
        rule = f"paired t, {CONFIDENCE:.0%}, n={n}"
    else:
        gain = sign * (method.mean - baseline.mean)
        n = min(method.n, baseline.n)
        se, df = _welch(method, baseline) if n >= 2 else (math.nan, math.nan)
        rule = f"Welch t, {CONFIDENCE:.0%}, n={method.n}/{baseline.n}"
    if margin:
        rule += f", margin {margin:g}"
    if n < 2 or not math.isfinite(se):
        return Test(INCONCLUSIVE, gain, None, None, None, rule)
    if se == 0:  # identical gains on every seed: the sign decides
        t = math.copysign(math.inf, gain + margin) if gain + margin else 0.0
        return Test(_decide(t, math.inf), gain, (gain, gain), t, df, rule)
    t = (gain + margin) / se
    half = float(stats.t.ppf(CONFIDENCE, df)) * se
    return Test(_decide(t, df), gain, (gain - half, gain + half), t, df, rule)


def _welch(a: Measurement, b: Measurement) -> tuple[float, float]:
    """Welch's standard error of the difference of means and its Welch-Satterthwaite degrees of freedom."""
    va, vb = a.sem ** 2, b.sem ** 2
    se = math.sqrt(va + vb)
    if se == 0:
        return 0.0, float(a.n + b.n - 2)
    df = (va + vb) ** 2 / (va ** 2 / (a.n - 1) + vb ** 2 / (b.n - 1))
    return se, df


def _decide(t: float, df: float) -> str:
    critical = stats.t.ppf(CONFIDENCE, df) if math.isfinite(df) else stats.norm.ppf(CONFIDENCE)
    if t > critical:
        return HOLDS
    if t < -critical:
        return FAILS
    return INCONCLUSIVE


def verdict_threshold(value: float, threshold: float, higher_is_better: bool = True) -> str:
    """For deterministic quantities: holds when ``value`` is on the claimed side of ``threshold``."""
    if not math.isfinite(value):
        return INCONCLUSIVE
    beats = value > threshold if higher_is_better else value < threshold
    return HOLDS if beats else FAILS
