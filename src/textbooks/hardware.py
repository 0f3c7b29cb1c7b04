"""What the machine computes fast: whether bf16 is native here, and so what precision "auto" means.

Machines of one kind differ: one measured fp32 matmuls at 330 GFLOP/s and bf16 5x slower (emulated),
this project's 2-core EPYC (AVX512-BF16) ran bf16 at 394-937 GFLOP/s against 140-219 for fp32. So
bf16 is chosen from the CPU's flags, never assumed.
"""

from __future__ import annotations

import torch

# The CPU instruction sets that make bf16 matmuls native; without them bf16 is emulated and slower than fp32.
BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_bf16_flags(cpuinfo: str = "/proc/cpuinfo") -> dict[str, bool]:
    """Which of the CPU's bf16 instruction sets `cpuinfo` lists (all False where it is unreadable)."""
    try:
        with open(cpuinfo, encoding="utf-8") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        flags = []
    return {flag: flag in flags for flag in BF16_FLAGS}


def resolve_precision(precision: str, device_type: str, cpuinfo: str = "/proc/cpuinfo") -> str:
    """A precision with "auto" decided: bf16 autocast where the device computes bf16 natively (a
    GPU that supports it; a CPU with AVX512-BF16 or AMX), fp32 elsewhere."""
    if precision != "auto":
        return precision
    if device_type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if any(cpu_bf16_flags(cpuinfo).values()) else "fp32"
