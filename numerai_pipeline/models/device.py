"""Where a network runs: CUDA when available (bf16 autocast, pinned host memory), else the CPU."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import numpy as np
import torch


def select_device(prefer: str | None = None) -> torch.device:
    """`prefer` if given, else `cuda` when available, else CPU."""
    if prefer:
        return torch.device(prefer)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast(device: torch.device) -> AbstractContextManager:
    """bf16 autocast on CUDA; full fp32 elsewhere."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def to_device(array: np.ndarray, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """A numpy batch as a tensor on `device` (pinned and non-blocking for CUDA), cast there."""
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    if device.type == "cuda":
        tensor = tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(dtype)
