"""Peak memory counted exactly: the bytes of tensor storage allocated and still alive, op by op.

Resident memory (``ru_maxrss``) is what the operating system sees, but it moves with the allocator's
caching and is not the same twice; this count is (the same ops allocate the same storages in the same
order), so a verdict on memory per process does not depend on the run. Storages that existed before the
count started (the weights, the inputs) and outputs that reuse an input's storage (in-place ops, views) are
not counted. Works on any device.
"""
from __future__ import annotations

import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

__all__ = ["PeakLiveBytes"]


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
