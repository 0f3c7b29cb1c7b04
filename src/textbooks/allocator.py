"""Run training under jemalloc when the machine has it.

A training step frees and reallocates many large activation buffers; glibc's malloc returns the
big ones to the OS and faults them in again on the next step. jemalloc, told to keep its pages,
avoids that (README, Performance). A preload must be in place before the process starts, so we
re-exec once with LD_PRELOAD.
"""

from __future__ import annotations

import ctypes.util
import os
import sys
from pathlib import Path

OPT_OUT = "TEXTBOOKS_NO_JEMALLOC"
# jemalloc's default decay hands freed pages back to the OS within seconds, and a training step
# then faults them in again: keeping them cut the system time of a step ~10x in our measurements.
RETAIN_PAGES = "dirty_decay_ms:-1,muzzy_decay_ms:-1"
_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
    "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
    "/usr/lib64/libjemalloc.so.2",
    "/usr/local/lib/libjemalloc.so.2",
)


def find_jemalloc() -> str | None:
    for candidate in _CANDIDATES:
        if Path(candidate).exists():
            return candidate
    name = ctypes.util.find_library("jemalloc")
    return name and next((p for p in _search_lib_dirs(name)), None)


def _search_lib_dirs(name: str):
    for directory in ("/usr/lib", "/usr/local/lib", "/lib"):
        for path in Path(directory).rglob(name):
            yield str(path)


def jemalloc_loaded() -> bool:
    try:
        return "jemalloc" in Path("/proc/self/maps").read_text()
    except OSError:
        return False


def _launched_as_cli() -> bool:
    """True when this process is the `textbooks` command itself, not a library user or pytest."""
    script = Path(sys.argv[0])
    # `python -m textbooks.cli` sets argv[0] to the module's file; the console script is `textbooks`.
    return script.name == "textbooks" or script.parts[-2:] == ("textbooks", "cli.py")


def use_jemalloc() -> bool:
    """Re-exec the `textbooks` command with jemalloc preloaded, once; return whether it is in use.

    Does nothing when the process was not started as the `textbooks` command (a library user or
    pytest must not be replaced); otherwise as `preload_jemalloc`.
    """
    return jemalloc_loaded() or (_launched_as_cli() and preload_jemalloc())


def preload_jemalloc() -> bool:
    """Re-exec this process, same arguments, with jemalloc preloaded and keeping its pages, once.

    Returns whether jemalloc is in use: False when the library is absent, when
    TEXTBOOKS_NO_JEMALLOC=1, or when an earlier re-exec did not take.
    """
    if jemalloc_loaded():
        return True
    library = find_jemalloc()
    if os.environ.get(OPT_OUT) == "1" or library is None:
        return False
    if os.environ.get("_TEXTBOOKS_JEMALLOC_TRIED") == "1":
        return False  # the preload did not take (e.g. a setuid or static interpreter): carry on
    env = dict(os.environ, _TEXTBOOKS_JEMALLOC_TRIED="1")
    env.setdefault("MALLOC_CONF", RETAIN_PAGES)
    env["LD_PRELOAD"] = " ".join(filter(None, [library, env.get("LD_PRELOAD", "")]))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)
    return True  # not reached
