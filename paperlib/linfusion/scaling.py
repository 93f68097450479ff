"""Time and peak memory of one attention call per kernel and token count, each in a fresh process.

Peak memory follows DESIGN.md: on the CPU, the peak resident set over the post-import baseline of a fresh
process (forked from a server that has imported torch and nothing else, its high-water mark reset with
``/proc/self/clear_refs``); on CUDA, ``torch.cuda.max_memory_allocated`` over the baseline. Both count the
inputs ``q, k, v: (1, H, N, d)`` and everything the call allocates. Time is the best of a few calls (the
least noisy estimate on a shared machine) after one warm-up call at a tiny size.

Narrated in notebooks/linfusion.py, "Scaling"; used by benchmarks/linfusion.py.
"""
from __future__ import annotations

import math
import multiprocessing as mp
import os
import time
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

_PRELOAD = ["torch", "paperlib.linfusion.kernels"]


@dataclass(frozen=True)
class Measurement:
    """One kernel at one token count: best seconds per call and peak bytes (None when it failed)."""

    kernel: str
    tokens: int
    seconds: float | None
    peak_bytes: int | None
    repeats: int
    error: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {key}")


def _child(kernel: str, tokens: int, heads: int, head_dim: int, device: str, threads: int,
           time_budget: float, max_repeats: int, conn) -> None:
    """Runs in a fresh process: warm up, reset the peak, make inputs, call the kernel, report."""
    try:
        import torch

        from paperlib.linfusion.kernels import KERNELS

        torch.set_num_threads(threads)
        fn = KERNELS[kernel]
        dev = torch.device(device)
        sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
        with torch.no_grad():
            tiny = torch.randn(1, heads, 16, head_dim, device=dev)
            fn(tiny, tiny, tiny)                                   # warm-up: libraries' one-time allocations
            del tiny
            sync()
            if dev.type == "cuda":
                torch.cuda.empty_cache()
                base = torch.cuda.memory_allocated(dev)
                torch.cuda.reset_peak_memory_stats(dev)
            else:
                base = _status_kb("VmRSS") * 1024
                with open("/proc/self/clear_refs", "w") as f:      # reset the high-water mark to now
                    f.write("5")
            g = torch.Generator(device=dev).manual_seed(0)
            q, k, v = (torch.randn(1, heads, tokens, head_dim, generator=g, device=dev) for _ in range(3))
            times: list[float] = []
            while len(times) < max_repeats and (not times or sum(times) < time_budget):
                sync()
                t0 = time.perf_counter()
                out = fn(q, k, v)
                sync()
                times.append(time.perf_counter() - t0)
                del out
            if dev.type == "cuda":
                peak = torch.cuda.max_memory_allocated(dev) - base
            else:
                peak = _status_kb("VmHWM") * 1024 - base
        conn.send((float(min(times)), int(peak), len(times), None))
    except BaseException as err:  # report, never hang the parent
        conn.send((None, None, 0, f"{type(err).__name__}: {err}"[:200]))


def _context():
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(_PRELOAD)
    return ctx


def measure(kernel: str, tokens: int, heads: int = 8, head_dim: int = 64, device: str = "cpu",
            threads: int | None = None, time_budget: float = 1.0, max_repeats: int = 10,
            timeout: float = 600.0) -> Measurement:
    """Time and peak memory of ``KERNELS[kernel](q, k, v)`` with ``q, k, v: (1, heads, tokens, head_dim)``."""
    from .kernels import KERNELS

    if kernel not in KERNELS:
        raise ValueError(f"kernel: expected one of {sorted(KERNELS)}, got {kernel!r}")
    if tokens < 1 or heads < 1 or head_dim < 1:
        raise ValueError(f"tokens, heads, head_dim: expected positive integers, got {tokens}, {heads}, {head_dim}")
    threads = threads or min(2, os.cpu_count() or 1)
    ctx = _context()
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(kernel, tokens, heads, head_dim, str(device), threads,
                                            time_budget, max_repeats, child))
    proc.start()
    child.close()
    result = None
    if parent.poll(timeout):
        try:
            result = parent.recv()
        except EOFError:
            result = None
    proc.join(5)
    if proc.is_alive():
        proc.kill()
        proc.join()
    if result is None:
        why = "timed out" if proc.exitcode is None or proc.exitcode == -9 else f"exit code {proc.exitcode}"
        return Measurement(kernel, tokens, None, None, 0, f"the process died ({why}; out of memory?)")
    seconds, peak, repeats, error = result
    return Measurement(kernel, tokens, seconds, peak, repeats, error)


def sweep(tokens: Sequence[int], kernels: Sequence[str] = ("softmax", "sdpa", "linear"),
          max_tokens: dict[str, int] | None = None, progress_desc: str | None = None,
          **kwargs) -> list[Measurement]:
    """``measure`` every kernel at every token count (up to ``max_tokens[kernel]`` where given)."""
    from ..core.progress import progress

    jobs = [(k, n) for n in tokens for k in kernels if n <= (max_tokens or {}).get(k, n)]
    return [measure(k, n, **kwargs) for k, n in progress(jobs, desc=progress_desc or "scaling")]


def loglog_slope(tokens: Sequence[float], values: Sequence[float]) -> float:
    """Least-squares slope of ``log(value)`` against ``log(tokens)`` (1 = linear, 2 = quadratic)."""
    x, y = np.log(np.asarray(tokens, float)), np.log(np.asarray(values, float))
    if len(x) < 2:
        return math.nan
    return float(np.polyfit(x, y, 1)[0])


def crossover(tokens: Sequence[float], method: Sequence[float], baseline: Sequence[float]) -> float | None:
    """The token count where ``method`` becomes cheaper than ``baseline`` for good (log-interpolated);
    ``tokens[0]`` when it is cheaper throughout, None when it never is."""
    tokens, method, baseline = (np.asarray(a, float) for a in (tokens, method, baseline))
    ratio = np.log(method / baseline)                          # < 0 where the method wins
    if ratio[-1] >= 0:
        return None
    last_loss = np.nonzero(ratio >= 0)[0]
    if len(last_loss) == 0:
        return float(tokens[0])
    i = last_loss[-1]
    lx = np.log(tokens[i]) + (np.log(tokens[i + 1]) - np.log(tokens[i])) * ratio[i] / (ratio[i] - ratio[i + 1])
    return float(np.exp(lx))
