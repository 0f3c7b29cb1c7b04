"""Sources of corpus records. A source is a generator of records: {id, text, source, ...}.

A record that cannot become a document (unreadable, not UTF-8, binary, empty, too large) is still
yielded, with a `reason`, so that the corpus stage can send it to rejects instead of losing it.
"""

from __future__ import annotations

import hashlib
import os
import sysconfig
from pathlib import Path
from typing import Iterable, Iterator

# Caches and installed packages: the default corpus is the standard library itself. Hidden
# directories (.git, .venv, .tox) are skipped too.
SKIP_DIRS = frozenset({"__pycache__", "site-packages", "dist-packages"})


def default_source_dir() -> Path:
    """This interpreter's standard library: real Python code present on every machine."""
    return Path(sysconfig.get_paths()["stdlib"])


def record_id(key: str) -> str:
    """A short id that is stable across runs for the same key (a path, a URL, ...)."""
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def python_files(root: Path) -> Iterator[Path]:
    """Every *.py file under `root`, in a deterministic (sorted, depth-first) order."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            if name.endswith(".py"):
                yield Path(dirpath) / name


def read_local_file(path: Path, max_bytes: int) -> dict:
    """The record of one file; when it cannot be kept, the record has a `reason` and its text may be ""."""
    record = {"id": record_id(str(path)), "text": "", "source": "local", "path": str(path), "bytes": 0}
    try:
        record["bytes"] = path.stat().st_size
        if record["bytes"] > max_bytes:  # decided before reading, so a huge file is never loaded
            return {**record, "reason": "oversized"}
        data = path.read_bytes()
    except OSError as e:
        return {**record, "reason": f"unreadable: {e.strerror}"}
    record["bytes"] = len(data)
    if b"\0" in data:
        return {**record, "reason": "binary"}
    try:
        record["text"] = data.decode("utf-8")
    except UnicodeDecodeError:
        return {**record, "text": data.decode("utf-8", errors="replace"), "reason": "not utf-8"}
    if not record["text"].strip():
        return {**record, "reason": "empty"}
    return record


def local_python_source(roots: Iterable[Path], max_bytes: int) -> Iterator[dict]:
    """Records of the *.py files under each root, in order."""
    for root in roots:
        for path in python_files(root):
            yield read_local_file(path, max_bytes)
