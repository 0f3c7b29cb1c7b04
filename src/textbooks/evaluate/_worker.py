"""Inside a sandbox worker: the zygote's loop, the per-program child's isolation, and the runner.

    parent (Sandbox) --Job/Reply JSON lines--> zygote: pid 1 of its own pid, network, mount and
                                               IPC namespaces (when unshare(1) could make them);
                                               modules imported once, then one fork per program
                                                 |
                                                 v
                                               child: own session and directory, rlimits,
                                               unprivileged uid, scrubbed environment; exec()s
                                               the program with an epilogue appended

The pass signal. The child draws a random nonce, hands it to the zygote over a pipe that it then
closes, and appends `__sandbox_passed__ = "<nonce>"` to the program's source as its last
statement. Until that statement runs, the nonce exists in the child only as a constant of the
compiled program, reachable through the program frame's `f_code` or the garbage collector, both
of which the audit hook refuses (as it refuses ctypes and tracing, which could jump to the last
line). After exec() returns, the runner reports the nonce it finds in the
program's globals; the zygote passes the program only if that nonce is the one it was handed and
the child then exited with status 0. So sys.exit(), os._exit(), a raised SystemExit or a forged
report before the end all fail. The audit hook is defence in depth inside one process, not a
boundary: native code (a C extension reading memory) could get around it; the uid, the
namespaces and the rlimits are what contain a hostile program.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import gc
import importlib
import importlib.util
import json
import json.encoder
import os
import pwd
import resource
import select
import signal
import stat
import sys
import time
from dataclasses import asdict, dataclass
from typing import Callable, NoReturn

# Only light modules here: all the zygote imports is copied by every fork (subprocess, tempfile
# and concurrent.futures would also bring threading's and random's at-fork hooks, ~0.3 ms a fork).
from textbooks.evaluate._protocol import Job, Limits, Outcome, Ready, Reply, WorkerConfig

PASS_NAME = "__sandbox_passed__"
RESULT_FD, COMMIT_FD = 3, 4  # the child's report pipe and nonce pipe (fds 0-2 are its stdio)
SETUP_FAILED = 125  # the child's exit status when its isolation could not be put in place
PACKET = 4096  # PIPE_BUF: reports are packets on an O_DIRECT pipe, so a program cannot splice into ours
MAX_REPORTS = 64
REASON_CHARS = 600
UID_BASE, UID_SLOTS = 61000, 1000
LEASE_DIRS = ("/run/lock", "/var/lock", "/tmp")
# Private tmpfs mounts: the world-writable places of the host, made unwritable for the program
# (mode 755) except /dev/shm, which POSIX semaphores need, emptied after every program.
PRIVATE_DIRS = {"/tmp": "0755", "/var/tmp": "0755", "/run/lock": "0755", "/dev/shm": "1777"}
CHILD_PATH = "/usr/local/bin:/usr/bin:/bin"
# Imported once in the zygote so that programs find them loaded (the benchmarks' usual imports).
# Not random (its at-fork reseeding would cost every program) nor hashlib (OpenSSL: 4 MB more to
# copy at every fork, for the one HumanEval program that uses it).
PRELOAD = ("array", "bisect", "cmath", "collections", "copy", "datetime", "functools", "heapq", "itertools",
           "math", "operator", "re", "string", "typing")
CRASH_REASONS = {"oom": "out of memory", "file_too_large": "output or file size limit exceeded"}


@dataclass(frozen=True)
class Identity:
    uid: int
    gid: int


@dataclass(frozen=True)
class ChildExit:
    status: int  # as from os.wait4
    cpu_s: float
    timed_out: bool  # the zygote killed it at the wall-clock limit


def main() -> None:
    """The zygote: set up once, then run each Job from stdin and answer with a Reply on stdout."""
    config = WorkerConfig(**json.loads(sys.argv[1]))
    sys.argv = ["program.py"]  # what the programs will see
    zygote = Zygote(config)
    _send(asdict(Ready(isolation=zygote.isolation)))
    for line in sys.stdin.buffer:
        _send(asdict(zygote.run(Job.from_json(json.loads(line)))))
    zygote.close()


def _send(message: dict) -> None:
    sys.stdout.buffer.write(json.dumps(message).encode() + b"\n")
    sys.stdout.buffer.flush()  # nothing may stay buffered: children inherit the buffer at fork


class Zygote:
    """Per-worker state set up once and inherited by every child: namespaces (from the launch),
    a leased uid, private tmpfs mounts, imported modules."""

    def __init__(self, config: WorkerConfig):
        # Only the parent, through our stdin, ends us. Without a uid of their own, programs could
        # otherwise interrupt their zygote (the child restores the handler).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        # Done here once rather than in each child: a child pays for every page it touches.
        os.environ.clear()
        os.environ.update(PATH=CHILD_PATH, LANG="C.UTF-8")
        self.child_stdio = ChildStdio.create()
        self.in_pid_namespace = os.getpid() == 1
        root = _is_real_root()
        identity, self._lease_fd = _lease_identity() if root else (None, None)
        self.private_dirs, self.kept_paths, notes = _mount_private_dirs(config) if config.namespaces else ([], [], [])
        if config.namespaces and identity is not None:
            notes += _expose_interpreter()
        hidden = [path for path in _interpreter_paths() if _hiding_ancestor(path)]
        self.uid_note = "not root" if not root else "no free uid to lease" if identity is None else ""
        if identity is not None and hidden:
            # Better a program that runs as us than one that cannot import the standard library.
            self.uid_note, identity = f"{hidden[0]} is out of reach of other uids", None
        self.identity = identity
        _preload()
        self.isolation = self._describe(config, "; ".join(notes))

    def _describe(self, config: WorkerConfig, mount_note: str) -> dict:
        no_ns = f"none: {config.no_namespaces_reason}"
        return {
            "network": "namespace (loopback down)" if config.namespaces else no_ns,
            "pid_namespace": "yes" if self.in_pid_namespace else no_ns,
            "uid": self.identity.uid if self.identity else f"none: {self.uid_note}; the program keeps ours",
            "filesystem": (f"private tmpfs over {', '.join(self.private_dirs)}; writable: its own directory"
                           if self.private_dirs else f"host: {mount_note or no_ns}") + "; audit hook",
            "notes": mount_note,
            "cleanup": ("SIGKILL to every process in the pid namespace" if self.in_pid_namespace
                        else "SIGKILL to every process of the uid" if self.identity
                        else "SIGKILL to the process group only: escaped descendants may survive"),
            "no_new_privs": config.no_new_privs,
            "rlimits": "cpu, address space, processes, file size, core",
        }

    def run(self, job: Job) -> Reply:
        run_dir = RunDir.create(job.source, self.identity, self.private_dirs[0] if self.private_dirs else None)
        os.environ.update(HOME=run_dir.work, TMPDIR=run_dir.work)  # inherited by the child
        try:
            outcome, reason, duration = self._execute(run_dir, job.limits, job.source)
            stdout, stderr = (run_dir.output(fd, job.limits.output_bytes) for fd in run_dir.output_fds)
        finally:
            run_dir.remove()
            self._empty_private_dirs()
        return Reply(outcome=outcome.value, reason=reason, stdout=stdout, stderr=stderr,
                     duration_s=round(duration, 6))

    def _execute(self, run_dir: RunDir, limits: Limits, source: str) -> tuple[Outcome, str, float]:
        result_r, result_w = os.pipe2(os.O_DIRECT | os.O_CLOEXEC)
        commit_r, commit_w = os.pipe2(os.O_CLOEXEC)
        os.set_blocking(result_r, False)
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:
            _child_main(ChildSetup(run_dir, limits, self.identity, self.child_stdio, source), result_w, commit_w)
        os.close(result_w)
        os.close(commit_w)
        try:
            child = self._wait(pid, limits)
            duration = time.monotonic() - started
            self._clean_up(pid)  # the pipes' write ends now exist nowhere: reads see all of it
            nonce = os.read(commit_r, 64).decode("ascii", "replace")
            return (*verdict(child, _read_reports(result_r, pid), nonce, limits), duration)
        finally:
            os.close(result_r)
            os.close(commit_r)

    def _wait(self, pid: int, limits: Limits) -> ChildExit:
        pidfd = os.pidfd_open(pid)
        try:
            exited, _, _ = select.select([pidfd], [], [], limits.timeout_s)
        finally:
            os.close(pidfd)
        if not exited:
            self._kill_all(pid)
        _, status, usage = os.wait4(pid, 0)
        return ChildExit(status=status, cpu_s=usage.ru_utime + usage.ru_stime, timed_out=not exited)

    def _clean_up(self, pid: int | None, patience_s: float = 10.0) -> None:
        """Kill and reap whatever the program left running (child processes, double forks, new
        sessions). In a pid namespace every orphan is re-parented to us, so "no child left to
        wait for" means nothing is left at all; elsewhere orphans go to the host's init, so we
        kill by uid or process group whether or not we see them."""
        if not self.in_pid_namespace:
            self._kill_all(pid)
        deadline = time.monotonic() + patience_s
        while time.monotonic() < deadline:
            try:
                reaped, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if not reaped:  # something is still alive
                self._kill_all(pid)
                time.sleep(0.001)

    def _kill_all(self, pid: int | None) -> None:
        try:
            if self.in_pid_namespace and os.getpid() == 1:
                # As pid 1 of our own namespace, kill(-1) reaches every process in it but us,
                # and nothing outside it.
                os.kill(-1, signal.SIGKILL)
            elif self.identity is not None:
                _kill_uid(self.identity)
            elif pid is not None:
                os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # nothing left to kill

    def _empty_private_dirs(self) -> None:
        for directory in self.private_dirs:
            with os.scandir(directory) as entries:
                for entry in entries:
                    if any(kept == entry.path or kept.startswith(entry.path + os.sep) for kept in self.kept_paths):
                        continue  # the interpreter's own directories, bound back read-only
                    if entry.is_dir(follow_symlinks=False):
                        _remove_tree(entry.path)
                    else:
                        os.unlink(entry.path)

    def close(self) -> None:
        self._clean_up(None)


def verdict(child: ChildExit, reports: list[dict], nonce: str, limits: Limits) -> tuple[Outcome, str]:
    """The outcome of a program from how its process ended and what its runner reported last."""
    if child.timed_out:
        return Outcome.TIMED_OUT, f"wall-clock timeout after {limits.timeout_s:g} s"
    if os.WIFSIGNALED(child.status):
        return _killed_by(os.WTERMSIG(child.status), child.cpu_s, limits)
    report = reports[-1] if reports else {}
    kind, code = report.get("kind"), os.WEXITSTATUS(child.status)
    if kind == "passed" and code == 0 and len(nonce) == 32 and report.get("nonce") == nonce:
        return Outcome.PASSED, ""
    if kind in CRASH_REASONS:
        return Outcome.CRASHED, CRASH_REASONS[kind]
    if kind == "setup_error":
        return Outcome.CRASHED, f"sandbox setup failed: {report.get('reason')}"
    if kind == "failed":
        return Outcome.FAILED, str(report.get("reason", ""))
    return Outcome.FAILED, f"exited with status {code} before the tests finished"


def _killed_by(number: int, cpu_s: float, limits: Limits) -> tuple[Outcome, str]:
    # SIGXCPU at the soft CPU limit, SIGKILL at the hard one (soft + 1 s) if SIGXCPU was handled.
    if number == signal.SIGXCPU or (number == signal.SIGKILL and cpu_s >= limits.cpu_s):
        return Outcome.TIMED_OUT, f"cpu time limit of {limits.cpu_s} s exceeded"
    if number == signal.SIGXFSZ:
        return Outcome.CRASHED, CRASH_REASONS["file_too_large"]
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    return Outcome.CRASHED, f"killed by {name}"


def _read_reports(fd: int, pid: int) -> list[dict]:
    """The child's reports, as packets; only those naming the main child count (the program's
    own forks run the same runner)."""
    reports = []
    for _ in range(MAX_REPORTS):
        try:
            packet = os.read(fd, PACKET)
        except BlockingIOError:
            break
        if not packet:
            break
        try:
            report = json.loads(packet)
        except ValueError:
            continue
        if isinstance(report, dict) and report.get("pid") == pid:
            reports.append(report)
    return reports


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
            _remove_tree(self.root)


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


def _remove_tree(path: str) -> None:
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


# --- the zygote's one-time setup ------------------------------------------------------------

def _is_real_root() -> bool:
    """Root of the initial user namespace (a user namespace's root cannot switch to other uids)."""
    if os.geteuid() != 0:
        return False
    try:
        with open("/proc/self/uid_map", encoding="ascii") as file:
            return file.read().split()[:3] == ["0", "0", "4294967295"]
    except OSError:
        return False


def _lease_identity() -> tuple[Identity | None, int | None]:
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
        _kill_uid(identity)  # anything a crashed earlier worker with this uid left behind
        return identity, fd
    return None, None


def _uid_exists(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        return False


def _kill_uid(identity: Identity) -> None:
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


def _mount_private_dirs(config: WorkerConfig) -> tuple[list[str], list[str], list[str]]:
    """Mount a fresh tmpfs over each host world-writable directory (in our private mount
    namespace), and hide the ctypes extension, which could read the nonce out of memory.
    An interpreter (a venv, a checkout) that lives in such a directory is bound back read-only.
    Returns the directories mounted, the interpreter paths kept in them, and notes on what failed."""
    mounted, kept, notes = [], [], []
    for path, mode in PRIVATE_DIRS.items():
        if not os.path.isdir(path):
            continue
        options = f"mode={mode},size={config.tmpfs_mb}m,nr_inodes=65536,nosuid,nodev"
        inside = [p for p in _interpreter_paths() if p.startswith(path + os.sep)]
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


def _interpreter_paths() -> list[str]:
    """The top-most directories the interpreter reads from: its prefixes and sys.path."""
    candidates = (sys.base_prefix, sys.prefix, sys.exec_prefix, *sys.path)
    paths = sorted({os.path.realpath(p) for p in candidates if p and os.path.isdir(p)})
    top: list[str] = []
    for path in paths:
        if not any(path.startswith(kept + os.sep) for kept in top):
            top.append(path)
    return top


def _hiding_ancestor(path: str) -> str | None:
    """The first directory above `path` that other users cannot enter (pyenv's /root: 700)."""
    parts = path.split(os.sep)
    for end in range(2, len(parts)):
        ancestor = os.sep.join(parts[:end])
        if not os.stat(ancestor).st_mode & stat.S_IXOTH:
            return ancestor
    return None


def _expose_interpreter() -> list[str]:
    """Make the interpreter's directories reachable by the programs' uid: cover each ancestor
    that hides them with an empty tmpfs holding only those directories, bound back read-only.
    (In our mount namespace only; it also hides the rest of that ancestor, /root say, from
    programs.) Returns notes on what failed."""
    hidden: dict[str, list[str]] = {}
    for path in _interpreter_paths():
        ancestor = _hiding_ancestor(path)
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


def _preload() -> None:
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    # Keep the imported objects out of the collector's way, so a child's collections do not
    # touch (and copy) the pages it shares with the zygote.
    gc.freeze()


# --- the child: one per program --------------------------------------------------------------

@dataclass(frozen=True)
class ChildStdio:
    """The child's sys.stdin/stdout/stderr, made once in the zygote over fds 0-2; the child points
    those fds at /dev/null and its output files before using them."""

    devnull: int
    streams: tuple

    @classmethod
    def create(cls) -> ChildStdio:
        text = {"encoding": "utf-8", "errors": "backslashreplace", "closefd": False}
        streams = (open(0, **text), open(1, "w", **text), open(2, "w", **text))
        return cls(devnull=os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC), streams=streams)


@dataclass(frozen=True)
class ChildSetup:
    run_dir: RunDir
    limits: Limits
    identity: Identity | None
    stdio: ChildStdio
    source: str


def _child_main(setup: ChildSetup, result_w: int, commit_w: int) -> NoReturn:
    """Never returns: whatever happens, the child ends with os._exit."""
    try:
        _arrange_fds(setup, result_w, commit_w)
    except BaseException:
        os._exit(SETUP_FAILED)
    try:
        _isolate(setup)
    except BaseException as error:
        report = {"kind": "setup_error", "pid": os.getpid(), "reason": repr(error)[:REASON_CHARS]}
        os.write(RESULT_FD, json.dumps(report).encode())
        os._exit(SETUP_FAILED)
    try:
        _run_program(functools.partial(_prepare, setup.source, setup.run_dir), RESULT_FD)
    finally:
        os._exit(SETUP_FAILED)


def _arrange_fds(setup: ChildSetup, result_w: int, commit_w: int) -> None:
    """stdin from /dev/null, stdout and stderr to our files, the two pipes at 3 and 4, and
    nothing else of the zygote's (its pipes to the parent, the uid lease)."""
    sources = [setup.stdio.devnull, *setup.run_dir.output_fds, result_w, commit_w]
    # Move them all above the targets first, so no dup2 overwrites a source not yet placed.
    moved = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 16) for fd in sources]
    for target, fd in enumerate(moved):
        os.dup2(fd, target, inheritable=target <= 2)  # the pipes are not passed on to exec'd programs
    os.closerange(COMMIT_FD + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def _isolate(setup: ChildSetup) -> None:
    limits, identity = setup.limits, setup.identity
    os.setsid()  # its own session and process group, away from the zygote's
    mb = 1024 * 1024
    for limit, value in ((resource.RLIMIT_AS, limits.memory_mb * mb), (resource.RLIMIT_NPROC, limits.processes),
                         (resource.RLIMIT_FSIZE, limits.file_size_mb * mb), (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(limit, (value, value))
    # SIGXCPU at the soft limit; the hard limit, a second later, is a SIGKILL.
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 1))
    if identity is not None:
        # Root ignores RLIMIT_NPROC and file permissions: drop to the worker's own uid. This also
        # makes the process non-dumpable, so no other process can read its memory.
        os.setgroups([])
        os.setresgid(identity.gid, identity.gid, identity.gid)
        os.setresuid(identity.uid, identity.uid, identity.uid)
    os.chdir(setup.run_dir.work)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.stdin, sys.stdout, sys.stderr = setup.stdio.streams
    sys.argv = [setup.run_dir.program]


def _prepare(source: str, run_dir: RunDir) -> object:
    """The program's code with the epilogue that reveals a fresh nonce; the nonce is committed to
    the zygote and the audit hook armed before the code is returned. Called inside exec()'s
    argument list, so that no frame's locals ever hold the code object."""
    nonce = os.urandom(16).hex()
    # A blank line first: no line continuation or open bracket of the source can take the epilogue
    # in (such a source was not valid Python anyway, and stays a syntax error).
    try:
        code = compile(f"{source}\n\n{PASS_NAME} = {nonce!r}\n", run_dir.program, "exec")
    except SyntaxError:
        code = None
    if code is None:  # report the program's own error, not one that mentions our lines
        compile(source, run_dir.program, "exec")
        raise SyntaxError("the program does not end where a statement can follow it")
    os.write(COMMIT_FD, nonce.encode())
    os.close(COMMIT_FD)
    sys.addaudithook(_audit_hook(sys._getframe(1), run_dir.work))
    return code


def _run_program(prepare: Callable[[], object], result_fd: int) -> NoReturn:
    """exec() the program and report how it ended. Everything used after exec() is bound to a
    local first, and is C code: the program may rebind builtins and module attributes (json's
    encoder, say), but not our locals."""
    write, exit_, namespace, quote = os.write, os._exit, {}, json.encoder.encode_basestring_ascii
    get, type_, str_, isinstance_, pass_name = namespace.get, type, str, isinstance, PASS_NAME
    base_exception, memory_error, os_error, efbig = BaseException, MemoryError, OSError, errno.EFBIG
    syntax_error, reason_chars = SyntaxError, REASON_CHARS
    streams, show_traceback = (sys.stdout, sys.stderr), sys.__excepthook__
    head = f'{{"pid": {os.getpid()}, "kind": '  # + kind, then the report's own fields
    out_of_memory = (head + '"oom"}').encode()  # no allocation needed when it happens
    try:
        exec(prepare(), namespace)
    except base_exception as exc:
        if isinstance_(exc, memory_error):
            write(result_fd, out_of_memory)
            exit_(1)
        kind, reason = '"failed"', "an exception that cannot be described"
        try:
            if isinstance_(exc, os_error) and exc.errno == efbig:
                kind = '"file_too_large"'
            message = str_(exc)
            reason = f"{type_(exc).__name__}: {message}" if message else type_(exc).__name__
            # From the program's frame on; a syntax error needs no traceback of our compiling.
            exc.__traceback__ = None if isinstance_(exc, syntax_error) else exc.__traceback__.tb_next
            show_traceback(type_(exc), exc, exc.__traceback__)
        except base_exception:
            pass
        for stream in streams:
            try:
                stream.flush()
            except base_exception:
                pass
        write(result_fd, (head + kind + ', "reason": ' + quote(reason[:reason_chars]) + "}").encode())
        exit_(1)
    for stream in streams:
        try:
            stream.flush()
        except base_exception:
            pass
    write(result_fd, (head + '"passed", "nonce": ' + quote(get(pass_name)) + "}").encode())
    exit_(0)  # also ends any threads the program left running


# Events refused outright: the collector and tracing reach the nonce (a tracer can also jump to
# the last line), and sockets are the network. (Not code.__new__: asyncio needs code.replace.)
REFUSED_EVENTS = frozenset({"gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys.settrace",
                            "sys.setprofile", "socket.connect", "socket.bind", "socket.sendto",
                            "socket.sendmsg"})
# Events that change the file system: (index of a path argument, index of its dir_fd or None).
PATH_EVENTS = {"os.remove": ((0, 1),), "os.rmdir": ((0, 1),), "os.mkdir": ((0, 2),), "os.chmod": ((0, 2),),
               "os.chown": ((0, 3),), "os.utime": ((0, 3),), "os.truncate": ((0, None),),
               "os.rename": ((0, 2), (1, 3)), "os.link": ((1, 3),), "os.symlink": ((1, 2),)}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC


def _audit_hook(runner_frame, work: str) -> Callable[[str, tuple], None]:
    """The child's audit hook (PEP 578): refuses what could find the nonce or forge the pass and,
    as a second layer under the OS, writes outside `work` and network use.

    It uses only what is bound here, in its closure: the program can rebind this module's
    globals, builtins and os.path, but cannot reach the hook (nothing in Python refers to it)."""
    refused, path_events, write_flags = REFUSED_EVENTS, dict(PATH_EVENTS), WRITE_FLAGS
    refusal, import_error, isinstance_, int_ = PermissionError, ImportError, isinstance, int
    realpath, fsdecode, join, isabs = os.path.realpath, os.fsdecode, os.path.join, os.path.isabs
    inside_prefix, devnull = work + os.sep, os.devnull

    def resolve(path, dir_fd) -> str | None:
        if isinstance_(path, int_):
            return None  # an already-open descriptor
        path = fsdecode(path)
        if dir_fd not in (-1, None) and not isabs(path):
            path = join(f"/proc/self/fd/{dir_fd}", path)
        return realpath(path)

    def outside(real: str) -> bool:
        return real != work and not real.startswith(inside_prefix) and real != devnull

    def hook(event: str, args: tuple) -> None:
        if event in refused or event.startswith("ctypes."):
            raise refusal(f"sandbox: {event} is not allowed")
        if event == "object.__getattr__":
            # The program's own module frame is the one exec() runs under the runner's frame;
            # its code object holds the nonce among its constants.
            if args[1] == "f_code" and args[0].f_back is runner_frame:
                raise refusal("sandbox: the program's code object is not accessible")
        elif event == "import":
            if args[0] in ("ctypes", "_ctypes"):
                raise import_error(f"sandbox: {args[0]} is not available")
        elif event == "open":
            real = resolve(args[0], None)
            if real is not None and real.startswith("/proc/") and real.endswith("/mem"):
                raise refusal("sandbox: process memory is not accessible")
            mode, flags = args[1], args[2] or 0
            writing = ("w" in mode or "a" in mode or "x" in mode or "+" in mode) if mode else flags & write_flags
            if real is not None and writing and outside(real):
                raise refusal(f"sandbox: writing outside the program's directory: {real}")
        elif event in path_events:
            for path_index, fd_index in path_events[event]:
                real = resolve(args[path_index], None if fd_index is None else args[fd_index])
                if real is not None and outside(real):
                    raise refusal(f"sandbox: changing files outside the program's directory: {real}")

    return hook
