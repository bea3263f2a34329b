"""Where and how the tensors run: device, precision, threads, memory budget."""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, nullcontext

import torch

from .errors import VrdreamError
from .settings import Precision

_DTYPES: dict[Precision, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` is the first CUDA device when there is one, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise VrdreamError(f"device {name!r}: no CUDA device is available (use --device cpu)")
    return dev


def autocast_dtype(device: torch.device, precision: Precision = "auto") -> torch.dtype | None:
    """The reduced precision to autocast to, or None for plain fp32.

    ``auto`` is bf16 on CUDA (tensor cores; the standard there) and fp32 on the
    CPU. A dream follows its objective's input gradient, and bf16 in a backbone's
    first, full-resolution layers moves that gradient (bench/precision.py, EfficientNet-Lite0:
    0.69-0.93 correlation with fp32 per layer from the stem to blocks.1, 0.55 for the whole
    network in bf16; >= 0.978 for every later layer). So under any reduced precision a
    backbone runs its stages before ``Recipe.reduced_precision_from`` in fp32
    (:meth:`vrdream.backbones.Backbone._run`), which keeps the gradient's correlation >= 0.95
    at every dream layer of EfficientNet-Lite0/1/2 and Inception-v3 (bench/results/precision_stages.md).
    On this AVX2 CPU oneDNN has no fast bf16
    (a slow fallback), and where it had one (an earlier machine) its depthwise convolutions
    bought no speed: the CPU stays fp32.
    """
    if precision != "auto":
        return _DTYPES[precision]
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return None


def autocast(device: torch.device, dtype: torch.dtype | None) -> AbstractContextManager:
    """An autocast context for ``dtype``, or a no-op for fp32."""
    if dtype is None:
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def memory_budget(device: torch.device, fraction: float = 0.5) -> int:
    """Bytes the dream's activations may use: a fraction of what is free now."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free * fraction)
    return int(_available_ram() * fraction)


def _available_ram() -> int:
    """MemAvailable (free + reclaimable cache), which is what a new allocation can really get."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
