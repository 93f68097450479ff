"""Device choice: CUDA when present, else CPU. Never a hard-coded ``cuda``."""
from __future__ import annotations

import torch

DEVICES = ("auto", "cpu", "cuda")


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """Resolve ``"auto" | "cpu" | "cuda" | "cuda:N"`` to a ``torch.device``.

    ``auto`` picks CUDA when a GPU is visible. Asking for CUDA on a machine without one is an error,
    not a silent fallback: a full-scale run should not quietly take a week on the CPU.
    """
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"device: 'cuda' was asked for but no CUDA GPU is visible; use 'auto' or 'cpu'")
        return torch.device(device)
    raise ValueError(f"device: expected one of {DEVICES} (or 'cuda:N'), got {device!r}")


def device_name(device: torch.device) -> str:
    """A human name for provenance: the GPU model, or ``cpu``."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return "cpu"
