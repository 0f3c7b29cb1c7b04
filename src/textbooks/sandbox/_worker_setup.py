"""A sandbox worker's one-time setup, inherited by every program it forks: a leased unprivileged
uid, private tmpfs mounts over the host's world-writable directories, the interpreter kept
reachable for that uid, and the modules programs find loaded (see _worker for the whole picture).
"""

from __future__ import annotations

import fcntl
import gc
import importlib
import importlib.util
import os
import pwd
import signal
import stat
import sys
from dataclasses import dataclass

# Only light modules here: all the zygote imports is copied by every fork (subprocess, tempfile
# and concurrent.futures would also bring threading's and random's at-fork hooks, ~0.3 ms a fork).
from textbooks.sandbox._protocol import WorkerConfig

UID_BASE, UID_SLOTS = 61000, 1000
LEASE_DIRS = ("/run/lock", "/var/lock", "/tmp")
# Private tmpfs mounts: the world-writable places of the host, made unwritable for the program
# (mode 755) except /dev/shm, which POSIX semaphores need, emptied after every program.
PRIVATE_DIRS = {"/tmp": "0755", "/var/tmp": "0755", "/run/lock": "0755", "/dev/shm": "1777"}
# Imported once in the zygote so that programs find them loaded (the benchmarks' usual imports).
# Not random (its at-fork reseeding would cost every program) nor hashlib (OpenSSL: 4 MB more to
# copy at every fork, for the one HumanEval program that uses it).
PRELOAD = ("array", "bisect", "cmath", "collections", "copy", "datetime", "functools", "heapq", "itertools",
           "math", "operator", "re", "string", "typing")


@dataclass(frozen=True)
class Identity:
    uid: int
    gid: int


def is_real_root() -> bool:
    """Root of the initial user namespace (a user namespace's root cannot switch to other uids)."""
    if os.geteuid() != 0:
        return False
    try:
        with open("/proc/self/uid_map", encoding="ascii") as file:
            return file.read().split()[:3] == ["0", "0", "4294967295"]
    except OSError:
        return False


def lease_identity() -> tuple[Identity | None, int | None]:
    """An unused uid for this worker's programs, held by an flock for the zygote's lifetime, so
    that concurrent sandboxes never share one (RLIMIT_NPROC is counted per uid)."""
    directory = next((d for d in LEASE_DIRS if os.path.isdir(d) and os.access(d, os.W_OK)), None)
    if directory is None:
        return None, None
    for uid in range(UID_BASE, UID_BASE + UID_SLOTS):
        if _uid_exists(uid):
            continue
        try:
            fd = os.open(f"{directory}/textbooks-sandbox-{uid}.lock",
                         os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        identity = Identity(uid, uid)
        kill_uid(identity)  # anything a crashed earlier worker with this uid left behind
        return identity, fd
    return None, None


def _uid_exists(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        return False


def kill_uid(identity: Identity) -> None:
    """SIGKILL every process of the uid, from a forked reaper that has become that uid: its
    kill(-1) then reaches exactly those processes (never do this as root: it would reach all)."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setresgid(identity.gid, identity.gid, identity.gid)
            os.setresuid(identity.uid, identity.uid, identity.uid)
            if os.getuid() == identity.uid and os.geteuid() == identity.uid:
                for _ in range(1000):
                    os.kill(-1, signal.SIGKILL)  # ProcessLookupError once none is left
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def mount_private_dirs(config: WorkerConfig) -> tuple[list[str], list[str], list[str]]:
    """Mount a fresh tmpfs over each host world-writable directory (in our private mount
    namespace), and hide the ctypes extension, which could read the nonce out of memory.
    An interpreter (a venv, a checkout) that lives in such a directory is bound back read-only.
    Returns the directories mounted, the interpreter paths kept in them, and notes on what failed."""
    mounted, kept, notes = [], [], []
    for path, mode in PRIVATE_DIRS.items():
        if not os.path.isdir(path):
            continue
        options = f"mode={mode},size={config.tmpfs_mb}m,nr_inodes=65536,nosuid,nodev"
        inside = [p for p in interpreter_paths() if p.startswith(path + os.sep)]
        note = "; ".join(_cover_with_only(path, inside, options))
        kept += inside
        if note:
            notes.append(note)
        else:
            mounted.append(path)
    spec = importlib.util.find_spec("_ctypes")
    if spec is not None and spec.origin and os.path.isfile(spec.origin):
        note = _mount(["--bind", os.devnull, spec.origin])
        notes.extend([note] if note else [])
    return mounted, kept, notes


def interpreter_paths() -> list[str]:
    """The top-most directories the interpreter reads from: its prefixes and sys.path."""
    candidates = (sys.base_prefix, sys.prefix, sys.exec_prefix, *sys.path)
    paths = sorted({os.path.realpath(p) for p in candidates if p and os.path.isdir(p)})
    top: list[str] = []
    for path in paths:
        if not any(path.startswith(kept + os.sep) for kept in top):
            top.append(path)
    return top


def hiding_ancestor(path: str) -> str | None:
    """The first directory above `path` that other users cannot enter (pyenv's /root: 700)."""
    parts = path.split(os.sep)
    for end in range(2, len(parts)):
        ancestor = os.sep.join(parts[:end])
        if not os.stat(ancestor).st_mode & stat.S_IXOTH:
            return ancestor
    return None


def expose_interpreter() -> list[str]:
    """Make the interpreter's directories reachable by the programs' uid: cover each ancestor
    that hides them with an empty tmpfs holding only those directories, bound back read-only.
    (In our mount namespace only; it also hides the rest of that ancestor, /root say, from
    programs.) Returns notes on what failed."""
    hidden: dict[str, list[str]] = {}
    for path in interpreter_paths():
        ancestor = hiding_ancestor(path)
        if ancestor:
            hidden.setdefault(ancestor, []).append(path)
    notes = []
    for ancestor, paths in hidden.items():
        notes += _cover_with_only(ancestor, paths, "mode=0755,size=1m,nosuid,nodev")
    return notes


def _cover_with_only(ancestor: str, paths: list[str], tmpfs_options: str) -> list[str]:
    """Mount a tmpfs over `ancestor` holding only `paths`, each bound back read-only. Returns notes
    on what failed."""
    # Hold each path open: once the tmpfs covers the ancestor, the original stays reachable through
    # the descriptor, which mount(8) inherits (-c: bind /proc/self/fd/N itself, not its old name).
    held = [os.open(path, os.O_PATH | os.O_DIRECTORY) for path in paths]
    try:
        for fd in held:
            os.set_inheritable(fd, True)
        note = _mount(["-t", "tmpfs", "-o", tmpfs_options, "tmpfs", ancestor])
        if note:
            return [note]
        for path, fd in zip(paths, held):
            os.makedirs(path, exist_ok=True)
            note = _mount(["-c", "--rbind", f"/proc/self/fd/{fd}", path]) or _mount(["-o", "remount,bind,ro", path])
            if note:
                return [note]
        return []
    finally:
        for fd in held:
            os.close(fd)


def _mount(arguments: list[str]) -> str:
    """Run mount(8); an empty string on success, else why it failed."""
    read_end, write_end = os.pipe()
    try:
        pid = os.posix_spawnp("mount", ["mount", *arguments], os.environ,
                              file_actions=[(os.POSIX_SPAWN_DUP2, write_end, 1), (os.POSIX_SPAWN_DUP2, write_end, 2)])
    finally:
        os.close(write_end)
    _, status = os.waitpid(pid, 0)
    with os.fdopen(read_end, "rb") as messages:
        why = messages.read(1000).decode(errors="replace").strip()
    return "" if status == 0 else f"mount {' '.join(arguments)}: {why or f'status {status}'}"


def preload() -> None:
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    # Keep the imported objects out of the collector's way, so a child's collections do not
    # touch (and copy) the pages it shares with the zygote.
    gc.freeze()


