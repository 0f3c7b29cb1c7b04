"""What a command may write into, and one writer at a time.

Every command that writes an --out claims it first (`claim_output`): a dataset stage's lifecycle
does, in textbooks.stage; training, evaluation and conversion do around their work; a pipeline's
run around its stages.

- The path must be new, empty, or hold output of the same kind, as its marker files tell
  (`textbooks.layout.kind_of`: a stage's manifest, a training run's recipe, an evaluation's
  settings, a model's config). Anything else (another stage's dataset, a pack, a run, or files we
  did not write) is refused with a message naming what is there, so a slip in --out cannot replace
  a user's work.
- The claim holds an exclusive lock (`OUT/.lock`) for the command's lifetime. A second writer is
  refused at once, naming the holder's pid, host, start time and command. The lock is an flock:
  the kernel drops it when its process dies, so a run killed with SIGKILL never blocks the rerun
  that resumes it.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Iterator

from textbooks.layout import LOCK, OTHER_FILES, kind_of
from textbooks.records import naming_path


class OutputBusyError(FileExistsError):
    """Another live process is writing the output."""


def check_output(path: str | os.PathLike, kind: str) -> Path:
    """The directory the command will write, after checking that it holds nothing but output of
    `kind`; a FileExistsError names what it holds."""
    path = Path(path).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"--out {path} exists and is not a directory")
    found = kind_of(path)
    if found not in (None, kind):
        raise FileExistsError(f"--out {path} holds {_describe(found)}, not {kind} output; "
                              "choose a new or empty directory")
    return path


def _describe(kind: str) -> str:
    if kind == OTHER_FILES:
        return "files that are not a textbooks output"
    if kind.startswith("unreadable"):
        return f"an output whose {kind.split(' ', 1)[1]} is unreadable"
    nouns = {"eval": "an evaluation", "train": "a training run", "model": "a model directory",
             "pipeline": "a pipeline's run"}
    return nouns.get(kind, f"the output of the {kind} stage")


# The command line being run (set by textbooks.commands), which a lock names to a refused second writer.
current_command: contextvars.ContextVar[str] = contextvars.ContextVar("current_command", default="")


@contextlib.contextmanager
def claim_output(path: str | os.PathLike, kind: str) -> Iterator[Path]:
    """Check `path` for `kind` (see `check_output`) and hold its lock while the block runs (the
    lock names the current command to a refused second writer); yields the checked path."""
    path = check_output(path, kind)
    path.mkdir(parents=True, exist_ok=True)
    with OutputLock(path / LOCK, path, current_command.get() or " ".join(sys.argv)):
        yield path


class OutputLock:
    """An exclusive flock on `lock_path`, whose file names the holder (pid, host, start, command)."""

    def __init__(self, lock_path: Path, output: Path, command: str):
        self.lock_path, self.output, self.command = lock_path, output, command
        self.fd: int | None = None

    def __enter__(self) -> "OutputLock":
        while self.fd is None:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                holder = _read_holder(fd)
                os.close(fd)
                if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
                raise OutputBusyError(f"{self.output} is being written by another run ({holder}); "
                                      "wait for it to finish, or choose another --out") from None
            if _same_file(fd, self.lock_path):
                self.fd = fd
            else:  # the previous holder removed the file between our open and our lock: try again
                os.close(fd)
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(), "command": self.command}
        try:
            with naming_path(self.lock_path):  # a full disk shows here first
                os.ftruncate(self.fd, 0)
                os.write(self.fd, json.dumps(holder).encode())
        except OSError:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        # Removed while still locked, so the next writer opens a new file rather than our stale one.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.lock_path)
        os.close(self.fd)
        self.fd = None


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _read_holder(fd: int) -> str:
    try:
        holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder["started"]))
        return f"pid {holder['pid']} on {holder['host']}, started {started}: {holder['command']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "a process that has not yet said who it is"
