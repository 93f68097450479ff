"""``metrics.json``: provenance, named metrics and claims of one run, written atomically.

Every number a chapter's prose shows goes through :meth:`Run.metric` (recorded *and* glued).
"""
from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import torch

from . import atomic
from .device import device_name, pick_device
from .format import fmt_claim_side, fmt_effect
from .paths import repo_root, run_dir
from .verdict import HOLDS, INCONCLUSIVE, Measurement, t_test, verdict_threshold

if TYPE_CHECKING:
    from .params import Params

TRACKED_PACKAGES = ("torch", "numpy", "diffusers", "open_clip_torch", "timm", "scikit-learn", "paperlib")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def git_commit() -> str | None:
    """The checkout's commit, with ``+dirty`` when files differ from it; None outside git."""
    try:
        root = repo_root()
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=10).stdout.strip()
        if not sha:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def paperlib_modules() -> list[str]:
    """Source files of the paperlib modules loaded in this process (what a chapter's result depends on)."""
    root = repo_root()
    files = set()
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if name.startswith("paperlib") and path:
            try:
                files.add(str(Path(path).resolve().relative_to(root)))
            except ValueError:
                files.add(path)
    return sorted(files)


def kept_runs(paper: str) -> list[dict[str, Any]]:
    """The runs of ``paper`` kept under ``results/<paper>/`` (e.g. full-scale GPU runs)."""
    out = []
    for path in sorted((repo_root() / "results" / paper).glob("*/metrics.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        record["run"] = f"results/{paper}/{path.parent.name}"
        out.append(record)
    return out


def _glue(name: str, value: Any) -> None:
    """Glue for myst-nb when running inside a kernel; a no-op in plain Python, and where myst-nb (part of
    the book's tools, not of paperlib) is not installed: glue only serves the book's build."""
    if "ipykernel" not in sys.modules:
        return
    try:
        from myst_nb import glue
    except ModuleNotFoundError:
        return

    glue(name, value, display=False)


class Run:
    """One execution of a chapter: collects metrics and claims, writes ``metrics.json``."""

    def __init__(self, paper: str, params: Params):
        self.params = params
        self.paper = paper
        self.device = pick_device(params.device)
        self.started = dt.datetime.now(dt.timezone.utc)
        self._t0 = time.perf_counter()
        self._cpu0 = _cpu_seconds()
        self._load0 = _load_average()
        self.metrics: dict[str, Any] = {}
        self.claims: list[dict[str, Any]] = []
        self.extra: dict[str, Any] = {}

    @property
    def folder(self) -> Path:
        return run_dir(self.paper, self.params.scale, self.device.type)

    def glue(self, name: str, value: Any) -> Any:
        """Record a measured value in metrics.json and glue it for the prose (``{glue:text}`name```)."""
        return self.metric(name, value, glue=True)

    def metric(self, name: str, value: Any, glue: bool = False) -> Any:
        """Record a measured value in metrics.json (``glue=True``: see :meth:`glue`). Floats must be finite."""
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"metric {name!r} is {value}: a run must not record non-finite numbers")
        self.metrics[name] = value
        if glue:
            _glue(name, value)
        return value

    def claim(self, name: str, statement: str, paper_says: str, method: float | Sequence[float],
              baseline: float | Sequence[float], *, method_label: str, baseline_label: str,
              higher_is_better: bool = True, threshold: float | None = None,
              value: float | None = None, unit: str = "", paired: bool = True, margin: float = 0.0,
              requires: Sequence[str] = ()) -> str:
        """Record a claim and its verdict; glue ``<name>_verdict``.

        Without ``threshold`` the seeds rule of :mod:`paperlib.core.verdict` compares ``method`` and
        ``baseline`` (paired: their i-th values come from the same seed; ``paired=False`` for arms that
        cannot be paired; ``margin`` > 0 makes it a non-inferiority claim). With ``threshold`` the
        deterministic ``value`` (default: method mean / baseline mean) is compared to it.
        ``requires`` names earlier claims that must hold for this one to mean anything (the baseline
        learns, the model is good enough...): if one does not, the verdict is ``inconclusive``.
        """
        m, b = Measurement.of(method), Measurement.of(baseline)
        effect = None
        if threshold is None:
            test = t_test(m, b, higher_is_better, paired=paired, margin=margin)
            verdict, rule, effect = test.verdict, test.rule, test.as_dict()
        else:
            value = m.mean / b.mean if value is None else value
            verdict = verdict_threshold(value, threshold, higher_is_better)
            rule = f"{'>' if higher_is_better else '<'} {threshold:g}"
        void_because = self._unmet(requires)
        if void_because:
            verdict = INCONCLUSIVE
        self.claims.append({
            "name": name, "statement": statement, "paper": paper_says,
            "method": {"label": method_label, **m.as_dict()},
            "baseline": {"label": baseline_label, **b.as_dict()},
            "higher_is_better": higher_is_better, "rule": rule, "effect": effect, "margin": margin or None,
            "value": value, "threshold": threshold, "unit": unit, "verdict": verdict,
            "requires": list(requires), "void_because": void_because,
        })
        _glue(f"{name}_verdict", verdict)
        return verdict

    def _unmet(self, requires: Sequence[str]) -> str | None:
        """Why a claim is void: the first prerequisite that did not hold (None when all did)."""
        verdicts = {c["name"]: c for c in self.claims}
        for name in requires:
            if name not in verdicts:
                raise ValueError(f"requires: claim {name!r} must be recorded before the claims that need it; "
                                 f"recorded so far: {', '.join(verdicts) or 'none'}")
            if verdicts[name]["verdict"] != HOLDS:
                return f"prerequisite not met: {verdicts[name]['statement']} ({verdicts[name]['verdict']})"
        return None

    def claims_table(self):
        """The claim check as a Markdown table (for ``display``)."""
        from IPython.display import Markdown

        return Markdown(claims_markdown(self.claims))

    def record(self) -> dict[str, Any]:
        return {
            "paper": self.paper,
            "provenance": {
                "scale": self.params.scale, "device": self.device.type,
                "device_name": device_name(self.device), "params": dict(self.params),
                "versions": package_versions(), "commit": git_commit(),
                "started": self.started.isoformat(timespec="seconds"),
                "wall_time_s": round(time.perf_counter() - self._t0, 2), "host": platform.node(),
                "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                # wall time on a shared machine depends on its load: CPU time and load tell how much
                "cpu_time_s": round(_cpu_seconds() - self._cpu0, 2),
                "load_average": [self._load0, _load_average()],
                "paperlib_modules": paperlib_modules(),
            },
            "metrics": self.metrics,
            "claims": self.claims,
            **self.extra,
        }

    def save(self) -> Path:
        """Write ``metrics.json`` atomically into the run folder, show the provenance box (and any kept
        full-scale numbers next to this run's), and return the file's path."""
        record = self.record()
        path = self.folder / "metrics.json"
        atomic.write_json(path, record)
        if "ipykernel" in sys.modules:
            from IPython.display import Markdown, display

            display(Markdown(provenance_markdown(record, kept_runs(self.paper))))
        return path


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished child processes (e.g. the launcher's ranks)."""
    try:
        import resource
    except ImportError:  # not on Windows
        return time.process_time()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _load_average() -> float | None:
    """The machine's 1-minute load average (None where the OS does not report one)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def provenance_markdown(record: dict[str, Any], kept: list[dict[str, Any]]) -> str:
    """A "where these numbers come from" box, plus a table of kept runs' claims next to this run's."""
    prov = record["provenance"]
    versions = ", ".join(f"{k} {v}" for k, v in prov["versions"].items())
    lines = [":::{admonition} Where these numbers come from", ":class: note",
             f"This page was executed at **{prov['scale']}** scale on **{prov['device_name']}** "
             f"({prov['device']}) on {prov['started'][:10]}, in {prov['wall_time_s']:.0f} s, "
             f"at commit `{(prov['commit'] or 'unknown')[:12]}`{_load_note(prov)}.", "",
             f"Versions: {versions}.", ":::"]
    if kept:
        lines += ["", "| claim | this page | verdict | " + " | ".join(k["run"] for k in kept) + " |",
                  "|---|---|---|" + "---|" * len(kept)]
        for claim in record["claims"]:
            cells = []
            for k in kept:
                match = next((c for c in k["claims"] if c["name"] == claim["name"]), None)
                cells.append(f"{fmt_claim_side(match['method'], match['unit'])}, **{match['verdict']}**" if match else "—")
            lines.append(f"| {claim['statement']} | {fmt_claim_side(claim['method'], claim['unit'])} | "
                         f"**{claim['verdict']}** | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _load_note(prov: dict[str, Any]) -> str:
    load = [x for x in prov.get("load_average") or [] if x is not None]
    if not load or prov["device"] != "cpu":
        return ""
    return f" ({prov['cpu_time_s']:.0f} s of CPU time; machine load up to {max(load):.1f} on {prov['cpu_count']} cores)"


def claims_markdown(claims: list[dict[str, Any]]) -> str:
    """A claim-check table: statement, the paper's words, both arms, the effect with its interval, the rule
    in words and the verdict (with the reason when a prerequisite failed)."""
    rows = ["| claim | the paper | method | baseline | effect (95% bounds) | rule | verdict |",
            "|---|---|---|---|---|---|---|"]
    for c in claims:
        verdict = f"**{c['verdict']}**"
        if c.get("void_because"):
            verdict += f" ({c['void_because']})"
        rows.append(f"| {c['statement']} | {c['paper']} | {fmt_claim_side(c['method'], c['unit'])} | "
                    f"{fmt_claim_side(c['baseline'], c['unit'])} | {fmt_effect(c)} | {c['rule']} | {verdict} |")
    return "\n".join(rows)
