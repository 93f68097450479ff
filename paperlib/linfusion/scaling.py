"""Cost of one attention call per kernel and token count: counted FLOPs, allocated bytes, and time.

Three measures, from the most to the least reproducible:

- **FLOPs** of the matrix products, counted by ``torch.utils.flop_counter`` on shape-only ("meta") tensors,
  so that even an ``N x N`` softmax at a million tokens is counted without being run (the fused kernel is
  counted through PyTorch's math backend, which performs the same products).
- **Peak bytes** the call allocates (its output and every temporary; the inputs ``q, k, v`` are not
  counted), exact: on the CPU from the allocator's own records (``torch.profiler`` with
  ``profile_memory``), on CUDA as ``torch.cuda.max_memory_allocated`` over what was allocated before.
  Deterministic, so a chapter can judge a claim on it.
- **Time**: the best of a few calls, as CPU time of the calling thread on the CPU (the kernels run on
  one thread; CPU time does not count the time other processes of a shared machine take) and as wall time
  after ``torch.cuda.synchronize`` on CUDA. Shown, never judged by a chapter: it depends on the machine.

:func:`measure_fresh` also runs each call in a fresh process and reports its peak resident memory over the
process's state after importing torch (DESIGN.md), a check that sees memory outside torch's allocator too.

Narrated in notebooks/linfusion.py, "Scaling"; used by benchmarks/linfusion.py.
"""
from __future__ import annotations

import math
import multiprocessing as mp
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from ..core.cost import allocated_peak
from .kernels import KERNELS

_PRELOAD = ["torch", "paperlib.linfusion.kernels"]


@dataclass(frozen=True)
class Measurement:
    """One kernel at one token count. ``seconds``: best time per call; ``peak_bytes``: allocated by the
    call (exact); ``flops``: of its matrix products; ``rss_bytes``: peak resident memory over the
    post-import baseline, inputs included (fresh process only). None where not measured or failed."""

    kernel: str
    tokens: int
    seconds: float | None
    peak_bytes: int | None
    flops: int | None
    repeats: int
    rss_bytes: int | None = None
    error: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _kernel(kernel: str) -> Callable:
    if kernel not in KERNELS:
        raise ValueError(f"kernel: expected one of {sorted(KERNELS)}, got {kernel!r}")
    return KERNELS[kernel]


def attention_inputs(tokens: int, heads: int, head_dim: int, device: torch.device | str = "cpu",
                     seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``q, k, v: (1, heads, tokens, head_dim)``, standard normal, float32."""
    if tokens < 1 or heads < 1 or head_dim < 1:
        raise ValueError(f"tokens, heads, head_dim: expected positive integers, got {tokens}, {heads}, {head_dim}")
    g = torch.Generator(device=device).manual_seed(seed)
    return tuple(torch.randn(1, heads, tokens, head_dim, generator=g, device=device) for _ in range(3))


def counted_flops(kernel: str, tokens: int, heads: int = 8, head_dim: int = 64) -> int:
    """FLOPs of the matrix products of one call (batch 1), counted on shape-only tensors."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    fn = _kernel(kernel)
    q, k, v = (torch.empty(1, heads, tokens, head_dim, device="meta") for _ in range(3))
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        fn(q, k, v)
    return int(counter.get_total_flops())


def _clock(device: torch.device) -> Callable[[], float]:
    if device.type == "cuda":
        def wall() -> float:
            torch.cuda.synchronize(device)
            return time.perf_counter()
        return wall
    return time.thread_time


def measure(kernel: str, tokens: int, heads: int = 8, head_dim: int = 64, device: torch.device | str = "cpu",
            time_budget: float = 1.0, max_repeats: int = 10) -> Measurement:
    """FLOPs, allocated peak and best time of ``KERNELS[kernel](q, k, v)`` in this process (no autograd)."""
    fn = _kernel(kernel)
    device = torch.device(device)
    with torch.no_grad():
        _warm_up(fn, tokens, heads, head_dim, device)
        q, k, v = attention_inputs(tokens, heads, head_dim, device)
        return _measure_on(kernel, q, k, v, time_budget, max_repeats)


def _warm_up(fn: Callable, tokens: int, heads: int, head_dim: int, device: torch.device) -> None:
    """One call at up to 1,024 tokens: the libraries' one-time set-up (e.g. the matrix-multiply library's
    buffers) is not the call's cost."""
    x = torch.randn(1, heads, min(tokens, WARM_UP_TOKENS), head_dim, device=device)
    fn(x, x, x)


WARM_UP_TOKENS = 1024


def _measure_on(kernel: str, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, time_budget: float,
                max_repeats: int, times: Sequence[float] = ()) -> Measurement:
    """One call counted by the allocator (not timed: the profiler slows small operations down), then calls
    timed until ``max_repeats`` of them or ``time_budget`` seconds (at least one; ``times`` already taken)."""
    fn = _kernel(kernel)
    _, heads, tokens, head_dim = q.shape
    clock = _clock(q.device)
    times = list(times)
    peak = allocated_peak(lambda: fn(q, k, v), q.device)
    while not times or (len(times) < max_repeats and sum(times) < time_budget):
        start = clock()
        out = fn(q, k, v)
        times.append(clock() - start)
        del out
    return Measurement(kernel, tokens, min(times), peak, counted_flops(kernel, tokens, heads, head_dim), len(times))


# ----- the same in a fresh process, with its resident memory -------------------------------------------------

M_MMAP_THRESHOLD = -3  # glibc mallopt: a fixed threshold, so that freed blocks above it go back to the system


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {key}")


def _child(kernel: str, tokens: int, heads: int, head_dim: int, device: str, time_budget: float,
           max_repeats: int, conn) -> None:
    """In a fresh process: warm up, then one call under the resident-memory watch (inputs included), then
    :func:`_measure_on`'s calls."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(M_MMAP_THRESHOLD, 1 << 16)
        torch.set_num_threads(1)
        fn = _kernel(kernel)
        dev = torch.device(device)
        rss, times = None, []
        with torch.no_grad():
            _warm_up(fn, tokens, heads, head_dim, dev)
            if dev.type == "cpu":
                base = _status_kb("VmRSS") * 1024
                with open("/proc/self/clear_refs", "w") as f:    # reset the high-water mark to now
                    f.write("5")
                q, k, v = attention_inputs(tokens, heads, head_dim, dev)
                start = time.thread_time()
                out = fn(q, k, v)
                times.append(time.thread_time() - start)
                del out
                rss = _status_kb("VmHWM") * 1024 - base
            else:
                q, k, v = attention_inputs(tokens, heads, head_dim, dev)
            m = _measure_on(kernel, q, k, v, time_budget, max_repeats, times)
        conn.send(("ok", replace(m, rss_bytes=rss).as_dict()))
    except BaseException as err:  # report, never hang the parent
        conn.send(("error", f"{type(err).__name__}: {err}"[:300]))


def measure_fresh(kernel: str, tokens: int, heads: int = 8, head_dim: int = 64, device: str = "cpu",
                  time_budget: float = 1.0, max_repeats: int = 10, timeout: float = 600.0) -> Measurement:
    """:func:`measure` in a fresh process (one torch thread), plus, on the CPU, the peak resident memory of
    one call over the process's state after importing torch and a warm-up call (inputs included)."""
    _kernel(kernel)
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(_PRELOAD)
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(kernel, tokens, heads, head_dim, str(device), time_budget,
                                            max_repeats, child))
    proc.start()
    child.close()
    result = None
    if parent.poll(timeout):
        try:
            result = parent.recv()
        except EOFError:
            pass
    proc.join(5)
    if proc.is_alive():
        proc.kill()
        proc.join()
    if result is None:
        why = "timed out" if proc.exitcode is None or proc.exitcode == -9 else f"exit code {proc.exitcode}"
        return Measurement(kernel, tokens, None, None, None, 0, error=f"the process died ({why}; out of memory?)")
    status, value = result
    if status == "error":
        return Measurement(kernel, tokens, None, None, None, 0, error=value)
    return Measurement(**value)


@dataclass(frozen=True)
class SweepRecipe:
    """The scaling sweep: token counts (powers of two), where each softmax kernel stops, the head layout."""

    tokens_min: int
    tokens_max: int
    sdpa_max_tokens: int
    softmax_max_tokens: int
    heads: int = 8
    head_dim: int = 64


def scaling_sweep(recipe: SweepRecipe, device: torch.device | str = "cpu", fresh: bool = False,
                  time_budget: float = 1.0, max_repeats: int = 5) -> dict[str, list[Measurement]]:
    """Every kernel of :data:`KERNELS` over ``token_range(tokens_min, tokens_max)``; per kernel, its
    measurements in token order."""
    limits = {"softmax": recipe.softmax_max_tokens, "sdpa": recipe.sdpa_max_tokens}
    results = sweep(token_range(recipe.tokens_min, recipe.tokens_max), tuple(KERNELS), limits, fresh,
                    heads=recipe.heads, head_dim=recipe.head_dim, device=str(device), time_budget=time_budget,
                    max_repeats=max_repeats)
    return {kernel: [m for m in results if m.kernel == kernel] for kernel in KERNELS}


def sweep(tokens: Sequence[int], kernels: Sequence[str] = ("softmax", "sdpa", "linear"),
          max_tokens: dict[str, int] | None = None, fresh: bool = False, progress_desc: str | None = None,
          **kwargs) -> list[Measurement]:
    """:func:`measure` (``fresh``: :func:`measure_fresh`) every kernel at every token count, up to
    ``max_tokens[kernel]`` where given."""
    from ..core.progress import progress

    one = measure_fresh if fresh else measure
    jobs = [(k, n) for n in tokens for k in kernels if n <= (max_tokens or {}).get(k, n)]
    return [one(k, n, **kwargs) for k, n in progress(jobs, desc=progress_desc or "scaling")]


def layer_allocated_peaks(dim: int = 320, heads: int = 8, tokens: int = 4096, device: torch.device | str = "cpu",
                          seed: int = 0) -> dict[str, int]:
    """Peak bytes one diffusers self-attention layer allocates on ``(1, tokens, dim)`` hidden states (its
    output included), with diffusers' fused-softmax processor and with LinFusion's (random ``f_Q, f_K``):
    the layer-level view, feature-map MLPs included. Default: Stable Diffusion's first level (320 channels,
    8 heads)."""
    from diffusers.models.attention_processor import Attention, AttnProcessor2_0

    from .kernels import GeneralizedLinearAttnProcessor

    torch.manual_seed(seed)
    attn = Attention(dim, heads=heads, dim_head=dim // heads).to(device)
    linear = GeneralizedLinearAttnProcessor(dim, heads).to(device)
    for mlp in (linear.f_q, linear.f_k):
        torch.nn.init.normal_(mlp[-1].weight, std=0.02)          # non-zero, as after distillation
    x = torch.randn(1, tokens, dim, generator=torch.Generator().manual_seed(seed)).to(device)
    peaks = {}
    with torch.no_grad():
        for name, processor in (("sdpa", AttnProcessor2_0()), ("linear", linear)):
            attn.set_processor(processor)
            attn(x[:, :16])                                      # warm-up
            peaks[name] = allocated_peak(lambda: attn(x), device)
    return peaks


# ----- reading the curves ------------------------------------------------------------------------------------

def series(measurements: Sequence[Measurement], field: str) -> tuple[list[int], list[float]]:
    """Token counts and one field (``seconds``, ``peak_bytes``, ``flops``, ``rss_bytes``) where measured."""
    pts = [(m.tokens, getattr(m, field)) for m in measurements if getattr(m, field) is not None]
    return [n for n, _ in pts], [float(v) for _, v in pts]


def upper_slope(measurements: Sequence[Measurement], field: str) -> float:
    """The log-log slope of ``field`` over the upper decade of the measured token counts."""
    tokens, values = series(measurements, field)
    keep = set(upper_decade(tokens))
    return loglog_slope([n for n in tokens if n in keep], [v for n, v in zip(tokens, values) if n in keep])


def token_range(low: int, high: int) -> list[int]:
    """Powers of two from ``low`` to ``high`` (both rounded to powers of two)."""
    if not 1 <= low <= high:
        raise ValueError(f"tokens: expected 1 <= low <= high, got {low} and {high}")
    return [2 ** e for e in range(round(math.log2(low)), round(math.log2(high)) + 1)]


def upper_decade(tokens: Sequence[int]) -> list[int]:
    """The token counts within a factor 10 of the largest (at least the two largest): where a slope is
    fitted, far from the fixed overheads of small calls."""
    tokens = sorted(tokens)
    top = [n for n in tokens if n * 10 >= tokens[-1]]
    return top if len(top) >= 2 else tokens[-2:]


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
