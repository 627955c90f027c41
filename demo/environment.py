"""A description of the machine the demo's and the benchmarks' figures were measured on.

The running local environment they drive is `local.environment` (`throwaway`, `LocalEnvironment`);
`throwaway` is importable from here too for the benchmarks that take it from this module.
"""

from __future__ import annotations

import contextlib
import os
import platform
from pathlib import Path
from typing import Any

from local.environment import throwaway

__all__ = ["machine", "rss_kib", "throwaway"]


def machine() -> dict[str, Any]:
    """What the figures depend on: CPUs, memory, Python, kernel."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "note": "load generator, HAProxy, replicas, worker and stores share these CPUs",
    }


def rss_kib(pid: int) -> int:
    """Resident set size of one process (VmRSS from /proc/<pid>/status), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise ValueError(f"/proc/{pid}/status has no VmRSS line")
