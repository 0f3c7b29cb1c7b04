"""One program's directory in a sandbox worker: created before its child forks, removed after,
whatever the program left in it (see _worker for the whole picture).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from textbooks.sandbox._worker_setup import Identity


@dataclass(frozen=True)
class RunDir:
    """One program's files: `root` (ours, holding program.py for tracebacks) holds `work` (the
    program's cwd, owned by its uid). Its stdout and stderr are memfds: no name the program could
    touch, a size bounded by RLIMIT_FSIZE like any file, read back through our descriptors."""

    root: str
    work: str
    program: str
    output_fds: tuple[int, int]

    @classmethod
    def create(cls, source: str, identity: Identity | None, base: str | None) -> RunDir:
        root = _new_directory(base or "/tmp")
        work = os.path.join(root, "work")
        os.mkdir(work, 0o700)
        if identity is not None:
            os.chown(work, identity.uid, identity.gid)
        program = os.path.join(root, "program.py")  # the source runs from memory
        with open(program, "w", encoding="utf-8") as file:
            file.write(source)
        fds = (os.memfd_create("stdout", os.MFD_CLOEXEC), os.memfd_create("stderr", os.MFD_CLOEXEC))
        return cls(root=root, work=work, program=program, output_fds=fds)

    @staticmethod
    def output(fd: int, limit: int) -> str:
        return os.pread(fd, limit, 0).decode("utf-8", "replace")

    def remove(self) -> None:
        for fd in self.output_fds:
            os.close(fd)
        try:  # the usual case: the program left nothing in its directory
            os.rmdir(self.work)
            os.unlink(self.program)
            os.rmdir(self.root)
        except OSError:
            remove_tree(self.root)


def _new_directory(base: str) -> str:
    """A new directory with a random name under `base` (mkdir fails rather than reuse a name)."""
    while True:
        path = os.path.join(base, f"run-{os.urandom(8).hex()}")
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        os.chmod(path, 0o755)  # the program's uid must reach work/ and read program.py
        return path


def remove_tree(path: str) -> None:
    """Delete a tree the program wrote (shutil would bring bz2 and lzma into the zygote)."""
    if not os.path.lexists(path):
        return
    try:
        _delete_tree(path)
    except OSError:
        _make_traversable(path)  # a program running as our own uid may have locked us out
        _delete_tree(path)


def _delete_tree(path: str) -> None:
    for _, directories, files, fd in os.fwalk(path, topdown=False):  # never follows symlinks
        for name in files:
            os.unlink(name, dir_fd=fd)
        for name in directories:
            try:
                os.rmdir(name, dir_fd=fd)
            except NotADirectoryError:  # a symlink to a directory
                os.unlink(name, dir_fd=fd)
    os.rmdir(path)


def _make_traversable(path: str) -> None:
    os.chmod(path, 0o700)
    for _, directories, _, fd in os.fwalk(path):  # top-down: each directory is opened after this
        for name in directories:
            if stat.S_ISDIR(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode):
                os.chmod(name, 0o700, dir_fd=fd)
