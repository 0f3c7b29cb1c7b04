"""Inside a sandbox worker: the zygote's loop, forking a child per program and judging how it ended.

Its one-time setup (uid lease, private mounts, preloaded modules) is in _worker_setup; a program's
directory in _rundir; the child's side (descriptors, isolation, the runner and its audit hook) is
in _child.

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

import json
import os
import select
import signal
import sys
import time
from dataclasses import asdict, dataclass

# Only light modules here: all the zygote imports is copied by every fork (subprocess, tempfile
# and concurrent.futures would also bring threading's and random's at-fork hooks, ~0.3 ms a fork).
from textbooks.sandbox._child import ChildSetup, ChildStdio, child_main
from textbooks.sandbox._protocol import Job, Limits, Outcome, Ready, Reply, WorkerConfig
from textbooks.sandbox._rundir import RunDir, remove_tree
from textbooks.sandbox._worker_setup import (expose_interpreter, hiding_ancestor, interpreter_paths, is_real_root,
                                             kill_uid, lease_identity, mount_private_dirs, preload)

PACKET = 4096  # PIPE_BUF: reports are packets on an O_DIRECT pipe, so a program cannot splice into ours
MAX_REPORTS = 64
CHILD_PATH = "/usr/local/bin:/usr/bin:/bin"
CRASH_REASONS = {"oom": "out of memory", "file_too_large": "output or file size limit exceeded"}


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
        root = is_real_root()
        identity, self._lease_fd = lease_identity() if root else (None, None)
        self.private_dirs, self.kept_paths, notes = mount_private_dirs(config) if config.namespaces else ([], [], [])
        if config.namespaces and identity is not None:
            notes += expose_interpreter()
        hidden = [path for path in interpreter_paths() if hiding_ancestor(path)]
        self.uid_note = "not root" if not root else "no free uid to lease" if identity is None else ""
        if identity is not None and hidden:
            # Better a program that runs as us than one that cannot import the standard library.
            self.uid_note, identity = f"{hidden[0]} is out of reach of other uids", None
        self.identity = identity
        preload()
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
            child_main(ChildSetup(run_dir, limits, self.identity, self.child_stdio, source), result_w, commit_w)
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
                kill_uid(self.identity)
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
                        remove_tree(entry.path)
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
