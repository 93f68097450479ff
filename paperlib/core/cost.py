"""What a computation costs, counted rather than timed: the measures a claim can be judged on.

* :class:`FlopCount` / :func:`flops_of`: floating-point operations of every op torch has a formula for,
  counted at dispatch, so double backward (gradient matching) counts too. An equal-budget comparison gives
  each method the same FLOPs, never the same seconds.
* :class:`SavedBytes`: the exact bytes autograd holds for backward (saved-tensor hooks), on any device.
* :class:`PeakLiveBytes`: the most bytes of tensor storage alive at once among those the ops inside
  allocated, op by op. Unlike resident memory it is the same on every run (the same ops allocate the same
  storages in the same order). Storages that existed before (weights, inputs) and outputs that reuse an
  input's storage (in-place ops, views) are not counted. Works on any device. Memory handed to a library that
  frees it on a thread of its own (a communication backend) is allocated under :func:`uncounted`.
* :func:`allocated_peak`: the allocator's peak while a call runs, which also sees memory a fused kernel
  allocates below dispatch (CPU: the profiler's memory records; CUDA: ``max_memory_allocated``).

Timings are the benchmarks' business (:mod:`paperlib.core.bench`); none of these depend on the machine.
"""
from __future__ import annotations

import os
import sys
import threading
import weakref
from contextlib import contextmanager
from typing import Callable, Iterator

import torch
from torch import Tensor
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from torch.utils.flop_counter import flop_registry

__all__ = ["FlopCount", "PeakLiveBytes", "SavedBytes", "allocated_peak", "flops_of", "uncounted"]


class SavedBytes:
    """Exact bytes held for backward, from ``torch.autograd.graph.saved_tensors_hooks``.

    Every tensor autograd saves is counted once per storage while any graph still holds it; ``peak``
    is the largest total held at any moment inside the ``with`` block, ``total`` the sum ever saved.
    """

    def __init__(self) -> None:
        self.live: dict[tuple, list] = {}
        self.current = self.peak = self.total = 0

    class _Held:
        __slots__ = ("tensor", "key", "owner")

        def __init__(self, tensor: Tensor, key: tuple, owner: "SavedBytes"):
            self.tensor, self.key, self.owner = tensor, key, owner

        def __del__(self) -> None:
            self.owner._release(self.key)

    def _key(self, t: Tensor) -> tuple[tuple, int]:
        try:
            storage = t.untyped_storage()
            return (t.device.type, storage.data_ptr()), storage.nbytes()
        except (RuntimeError, NotImplementedError):  # tensors without a plain storage
            return ("id", id(t)), t.numel() * t.element_size()

    def _pack(self, t: Tensor) -> "SavedBytes._Held":
        key, nbytes = self._key(t)
        if key in self.live:
            self.live[key][0] += 1
        else:
            self.live[key] = [1, nbytes]
            self.current += nbytes
            self.total += nbytes
            self.peak = max(self.peak, self.current)
        return SavedBytes._Held(t, key, self)

    @staticmethod
    def _unpack(held: "SavedBytes._Held") -> Tensor:
        return held.tensor

    def _release(self, key: tuple) -> None:
        entry = self.live.get(key)
        if entry is None:
            return
        entry[0] -= 1
        if entry[0] == 0:
            self.current -= entry[1]
            del self.live[key]

    def __enter__(self) -> "SavedBytes":
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._hooks.__exit__(*exc)


class FlopCount(TorchDispatchMode):
    """FLOPs of every operation torch has a formula for (``torch.utils.flop_counter``), run inside the block.

    Unlike ``FlopCounterMode`` it keeps no module hierarchy, so it also counts inside the double backward of
    gradient matching. ``total`` is the count.
    """

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.total += int(formula(*args, **kwargs, out_val=out))
        return out


def flops_of(fn: Callable[[], object]) -> int:
    """FLOPs of one call of ``fn``."""
    with FlopCount() as count:
        fn()
    return count.total


_uncounted = threading.local()


@contextmanager
def uncounted() -> Iterator[None]:
    """Ops inside are left out of :class:`PeakLiveBytes`' count. For buffers handed to a communication backend:
    its worker thread lets go of them at a moment that depends on thread scheduling, so counting them would
    make the count differ from run to run. What is copied out of them afterwards is counted."""
    _uncounted.depth = getattr(_uncounted, "depth", 0) + 1
    try:
        yield
    finally:
        _uncounted.depth -= 1


class PeakLiveBytes(TorchDispatchMode):
    """``with PeakLiveBytes() as m: ...`` then ``m.peak``: the most bytes alive at once among the storages
    that the ops inside allocated (released when Python frees them)."""

    def __init__(self) -> None:
        super().__init__()
        self.live = self.peak = 0
        self._alive: set[int] = set()

    def _release(self, key: int, nbytes: int) -> None:
        self._alive.discard(key)
        self.live -= nbytes

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if getattr(_uncounted, "depth", 0):
            return func(*args, **(kwargs or {}))
        inputs = {t.untyped_storage()._cdata for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)}
        out = func(*args, **(kwargs or {}))
        for t in tree_leaves(out):
            if not isinstance(t, torch.Tensor):
                continue
            storage = t.untyped_storage()
            key = storage._cdata
            if key in inputs or key in self._alive or storage.nbytes() == 0:
                continue
            self._alive.add(key)
            self.live += storage.nbytes()
            self.peak = max(self.peak, self.live)
            weakref.finalize(storage, self._release, key, storage.nbytes())
        return out


def allocated_peak(call: Callable[[], object], device: torch.device | str = "cpu") -> int:
    """Peak bytes allocated while ``call()`` runs (its result included, memory that existed before not)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        result = call()
        torch.cuda.synchronize(device)
        del result
        return int(torch.cuda.max_memory_allocated(device) - before)
    if device.type != "cpu":
        raise ValueError(f"device: allocated_peak measures cpu or cuda, got {device.type!r}")
    from torch.profiler import ProfilerActivity, profile

    with _native_stderr_silenced(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        result = call()
        del result
    now = peak = 0
    for event in prof.profiler.kineto_results.events():     # the allocator's records, in order
        if event.name() == "[memory]":
            now += event.nbytes()
            peak = max(peak, now)
    return int(peak)


@contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null: the profiler's native library logs every start and stop there
    (in a notebook, as stderr output of the cell)."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
