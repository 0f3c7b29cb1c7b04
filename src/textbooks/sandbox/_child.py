"""Inside the child a sandbox worker forks for one program: its file descriptors, its isolation
(session, rlimits, uid), and the runner that exec()s the program, reveals the nonce only if the
program ran to its end, and arms the audit hook (see _worker's docstring for the pass signal).
"""

from __future__ import annotations

import errno
import fcntl
import functools
import json
import json.encoder
import os
import resource
import signal
import sys
from dataclasses import dataclass
from typing import Callable, NoReturn

# Only light modules here: all the zygote imports is copied by every fork (subprocess, tempfile
# and concurrent.futures would also bring threading's and random's at-fork hooks, ~0.3 ms a fork).
from textbooks.sandbox._protocol import Limits
from textbooks.sandbox._rundir import RunDir
from textbooks.sandbox._worker_setup import Identity

PASS_NAME = "__sandbox_passed__"
RESULT_FD, COMMIT_FD = 3, 4  # the child's report pipe and nonce pipe (fds 0-2 are its stdio)
SETUP_FAILED = 125  # the child's exit status when its isolation could not be put in place
REASON_CHARS = 600


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


def child_main(setup: ChildSetup, result_w: int, commit_w: int) -> NoReturn:
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
