"""What a piece of work costs the machine: its wall time and the peak memory of its process tree.

A stage's memory is not one process's: the local executor's workers, the sandbox's children and a
training run's data loaders are processes of their own. `Usage` samples, in a thread, the resident
memory of this process and of every process descended from it (Linux's /proc), and keeps the
largest sum it saw.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
PROC = Path("/proc")


def tree_rss_bytes(root: int) -> int:
    """The resident bytes of process `root` and all its descendants, now (0 for those gone meanwhile)."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # the command name, in parentheses, may hold spaces: the fields after its ")" are fixed
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        pending.extend(children.get(pid, []))
        try:
            total += int((PROC / str(pid) / "statm").read_text().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


class Usage:
    """A context manager: `seconds` and `peak_bytes` of the work done inside it, sampled every `every_s`."""

    def __init__(self, every_s: float = 0.25):
        self.every_s, self.seconds, self.peak_bytes = every_s, 0.0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> Usage:
        self._began = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.seconds = time.perf_counter() - self._began

    def _sample(self) -> None:
        if not PROC.is_dir():  # not Linux: the peak stays unknown
            return
        while True:
            self.peak_bytes = max(self.peak_bytes, tree_rss_bytes(os.getpid()))
            if self._stop.wait(self.every_s):
                return

    def figures(self) -> dict:
        """{"wall_s", "peak_mib"} (peak_mib None where it could not be measured)."""
        peak_mib = round(self.peak_bytes / 2**20) if self.peak_bytes else None
        return {"wall_s": round(self.seconds, 1), "peak_mib": peak_mib}
