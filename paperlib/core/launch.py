"""The one multi-process launcher, on torch.distributed (gloo on CPU, NCCL on GPUs).

More ranks than GPUs (a workshop machine with one GPU running a two-process miniature) share the GPUs
round-robin over gloo, since NCCL refuses two ranks on one device; code whose collectives gloo does not
run on CUDA tensors stages them through the CPU (:func:`needs_cpu_staging`).

The notebook's kernel orchestrates and is never a rank: :func:`launch` spawns ``world_size`` fresh
processes, each joins the process group, runs ``fn(rank, world_size, *args)``, and rank results come
back through files. A rank that raises ends the whole run with that error (the others are killed), and
every collective has a timeout, so a dead peer never means a hang. Under ``torchrun`` the same
``fn`` runs through :func:`torchrun_main`.
"""
from __future__ import annotations

import datetime as dt
import os
import socket
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

DEFAULT_TIMEOUT_S = 300


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def backend_for(device_type: str, ranks_here: int = 1) -> str:
    """NCCL when each of the ``ranks_here`` processes on this machine has a GPU of its own, else gloo."""
    return "nccl" if device_type == "cuda" and ranks_here <= torch.cuda.device_count() else "gloo"


def needs_cpu_staging(x: torch.Tensor) -> bool:
    """Whether a collective on ``x`` must go through a CPU copy (a CUDA tensor in a gloo group)."""
    return x.is_cuda and dist.is_initialized() and dist.get_backend() == "gloo"


def rank_device(device_type: str, local_rank: int) -> torch.device:
    if device_type == "cuda":
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device("cpu")


def _rank_entry(rank: int, fn: Callable, world_size: int, device_type: str, port: int, out_dir: str,
                timeout_s: float, threads: int, args: tuple) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank))
    torch.set_num_threads(threads)
    device = rank_device(device_type, rank)
    backend = backend_for(device_type, world_size)
    dist.init_process_group(backend, rank=rank, world_size=world_size, timeout=dt.timedelta(seconds=timeout_s),
                            **({"device_id": device} if backend == "nccl" else {}))
    try:
        result = fn(rank, world_size, device, *args)
        torch.save(result, Path(out_dir) / f"rank{rank}.pt")
        dist.barrier()
    except BaseException:
        # when one rank fails, its peers fail next on closed connections: note when, to report the first
        (Path(out_dir) / f"error{rank}.txt").write_text(f"{time.time()!r} {os.getpid()}\n{traceback.format_exc()}")
        raise
    finally:
        dist.destroy_process_group()


def _first_failure(out_dir: Path) -> tuple[int, int, str] | None:
    """(rank, pid, traceback) of the rank that failed first, from the notes the failing ranks left."""
    failures = []
    for note in out_dir.glob("error*.txt"):
        header, _, trace = note.read_text().partition("\n")
        when, pid = header.split()
        failures.append((float(when), int(note.stem.removeprefix("error")), int(pid), trace))
    return min(failures)[1:] if failures else None


def launch(fn: Callable[..., Any], world_size: int, *args: Any, device: torch.device | str = "cpu",
           timeout_s: float = DEFAULT_TIMEOUT_S) -> list[Any]:
    """Run ``fn(rank, world_size, device, *args)`` on ``world_size`` new processes; return their results.

    ``fn`` must be importable (defined in paperlib, not in a notebook cell) and return something
    ``torch.load(weights_only=True)`` can read (tensors, numbers, lists, dicts).
    """
    if world_size < 1:
        raise ValueError(f"world_size: expected an integer >= 1, got {world_size}")
    device_type = torch.device(device).type
    if device_type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: cuda was asked for, but no CUDA GPU is visible")
    threads = 1 if device_type == "cpu" else max(1, (os.cpu_count() or 1) // world_size)
    with tempfile.TemporaryDirectory(prefix="paperlib-launch-") as out_dir:
        try:
            mp.start_processes(_rank_entry, nprocs=world_size, join=True, start_method="spawn",
                               args=(fn, world_size, device_type, free_port(), out_dir, timeout_s, threads, args))
        except mp.ProcessRaisedException as raised:
            first = _first_failure(Path(out_dir))
            if first is None or first[0] == raised.error_index:
                raise
            rank, pid, trace = first
            raise mp.ProcessRaisedException(f"\n\n-- Process {rank} failed first:\n{trace}", rank, pid) from raised
        return [torch.load(Path(out_dir) / f"rank{r}.pt", weights_only=True) for r in range(world_size)]


def torchrun_main(fn: Callable[..., Any], *args: Any, timeout_s: float = DEFAULT_TIMEOUT_S) -> Any:
    """Entry point under ``torchrun``: read the rank from its environment and run ``fn`` on it."""
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    device_type = "cuda" if torch.cuda.is_available() else "cpu"
    device = rank_device(device_type, local_rank)
    ranks_here = int(os.environ.get("LOCAL_WORLD_SIZE", 1))
    dist.init_process_group(backend_for(device_type, ranks_here), timeout=dt.timedelta(seconds=timeout_s))
    try:
        return fn(rank, world_size, device, *args)
    finally:
        dist.destroy_process_group()
