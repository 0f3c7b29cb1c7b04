"""The types both sides of the sandbox share: limits, outcomes, and the JSON-line messages
between the parent (pool.py) and a worker (_worker.py).

Kept apart and light on purpose: the worker imports it, and every module the worker imports is
in the memory each per-program fork copies (threading and random would also add at-fork hooks).
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field


class Outcome(str, enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CRASHED = "crashed"


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 10.0  # wall clock
    cpu_s: int = 10
    memory_mb: int = 2048  # address space
    processes: int = 32  # processes and threads of the program's uid
    file_size_mb: int = 16  # any file it writes, its captured output included
    output_bytes: int = 16_384  # how much of stdout and of stderr is returned

    def check(self) -> None:
        """Raise ValueError unless every limit is positive."""
        bad = [name for name, value in asdict(self).items() if not value > 0]
        if bad:
            raise ValueError(f"sandbox limits must be positive: {', '.join(bad)}")


@dataclass(frozen=True)
class WorkerConfig:
    namespaces: bool  # started under unshare: pid 1 of new pid, network, mount and IPC namespaces
    no_namespaces_reason: str
    no_new_privs: bool
    tmpfs_mb: int  # size of each private tmpfs


@dataclass(frozen=True)
class Job:
    source: str
    limits: Limits

    @classmethod
    def from_json(cls, data: dict) -> Job:
        return cls(source=data["source"], limits=Limits(**data["limits"]))


@dataclass(frozen=True)
class Reply:
    outcome: str
    reason: str
    stdout: str
    stderr: str
    duration_s: float


@dataclass(frozen=True)
class Ready:
    isolation: dict = field(default_factory=dict)
