"""The parent's side of the sandbox: `Sandbox` starts the worker processes (zygotes), under
unshare(1) where the kernel allows it, and hands each program to an idle one; see the package's
docstring for how a program is isolated and judged.
"""

from __future__ import annotations

import functools
import json
import os
import queue
import select
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

from textbooks.sandbox._protocol import Job, Limits, Outcome, Ready, Reply, WorkerConfig

__all__ = ["Limits", "Outcome", "Result", "Sandbox"]

# The zygote is started with nothing from our environment: no secrets can leak into programs.
ZYGOTE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
STARTUP_TIMEOUT_S = 60.0
# Beyond the program's own timeout: killing, reaping and cleaning up after it.
REPLY_GRACE_S = 30.0
SRC_ROOT = str(Path(__file__).resolve().parents[2])
# -I (isolated: no PYTHON* variables, no user site, no script dir on sys.path) and our source first.
BOOT = f"import sys; sys.path.insert(0, {SRC_ROOT!r}); from textbooks.sandbox._worker import main; main()"


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    reason: str  # "" when passed; "AssertionError: ...", "killed by SIGSEGV", "out of memory", ...
    stdout: str  # capped to Limits.output_bytes
    stderr: str
    duration_s: float
    isolation: dict  # what was in place, e.g. {"network": "namespace", "uid": 61001, ...}


class WorkerDied(RuntimeError):
    """The zygote exited or stopped answering."""


@dataclass(frozen=True)
class LaunchPlan:
    prefix: tuple[str, ...]  # the commands the zygote's interpreter is started under
    namespaces: bool
    no_namespaces_reason: str
    no_new_privs: bool


@functools.lru_cache(maxsize=1)
def launch_plan() -> LaunchPlan:
    """How zygotes are started here: under unshare(1) when the kernel lets us (as root directly,
    otherwise in a user namespace), else plainly, with the reason kept for `Result.isolation`."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return LaunchPlan((), False, "unshare(1) not found", False)
    # --kill-child: if unshare dies, so does the zygote, and with it (pid 1) the whole namespace.
    flags = ["--pid", "--kill-child", "--mount-proc", "--net", "--mount", "--ipc", "--propagation", "private"]
    if os.geteuid() != 0:
        flags = ["--user", "--map-root-user", *flags]
    probe = subprocess.run([unshare, *flags, "true"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        reason = probe.stderr.strip().splitlines()[-1:] or [f"exit status {probe.returncode}"]
        return LaunchPlan((), False, f"unshare failed: {reason[0]}", False)
    prefix = [unshare, *flags, "--"]
    setpriv = shutil.which("setpriv")  # no_new_privs: setuid binaries cannot raise privileges
    if setpriv:
        prefix += [setpriv, "--no-new-privs"]
    return LaunchPlan(tuple(prefix), True, "", setpriv is not None)


class _Worker:
    """One zygote and the pipes to it. Used by one thread at a time (Sandbox hands them out)."""

    def __init__(self, config: WorkerConfig, plan: LaunchPlan):
        self._argv = [*plan.prefix, sys.executable, "-I", "-c", BOOT, json.dumps(asdict(config))]
        self.isolation: dict = {}
        self._start()

    def _start(self) -> None:
        # A new session: a Ctrl-C at the terminal is the parent's to handle, not the zygote's.
        self.process = subprocess.Popen(self._argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        env=ZYGOTE_ENV, start_new_session=True)

    def wait_ready(self) -> None:
        self.isolation = Ready(**self._receive(STARTUP_TIMEOUT_S)).isolation

    def run(self, job: Job) -> Reply:
        try:
            self.process.stdin.write(json.dumps(asdict(job)).encode() + b"\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError) as error:
            raise WorkerDied(f"cannot send to the worker: {error}") from error
        return Reply(**self._receive(job.limits.timeout_s + REPLY_GRACE_S))

    def _receive(self, timeout_s: float) -> dict:
        readable, _, _ = select.select([self.process.stdout], [], [], timeout_s)
        if not readable:
            raise WorkerDied(f"no answer from the worker within {timeout_s:g} s")
        line = self.process.stdout.readline()
        if not line:
            raise WorkerDied(f"the worker exited (status {self.process.poll()})")
        return json.loads(line)

    def restart(self) -> None:
        self.kill()
        self._start()
        self.wait_ready()

    def kill(self) -> None:
        self.process.kill()  # unshare --kill-child takes the zygote and its namespace with it
        self.process.wait()
        self._close_pipes()

    def close(self) -> None:
        try:
            self.process.stdin.close()  # the zygote's cue to clean up and exit
        except OSError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._close_pipes()

    def _close_pipes(self) -> None:
        for pipe in (self.process.stdin, self.process.stdout):
            try:
                pipe.close()
            except OSError:
                pass


class Sandbox:
    """Runs untrusted Python programs, each in a fresh isolated process, on `workers` pre-started
    worker processes (default: one per core). A context manager; thread-safe."""

    def __init__(self, workers: int | None = None, limits: Limits | None = None):
        limits = limits or Limits()
        limits.check()
        count = workers or os.cpu_count() or 1
        if count < 1:
            raise ValueError(f"workers must be at least 1, not {count}")
        self.limits = limits
        plan = launch_plan()
        config = WorkerConfig(namespaces=plan.namespaces, no_namespaces_reason=plan.no_namespaces_reason,
                              no_new_privs=plan.no_new_privs, tmpfs_mb=max(256, 4 * limits.file_size_mb))
        self._workers: list[_Worker] = []
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._closed = False
        try:
            self._workers = [_Worker(config, plan) for _ in range(count)]  # all start at once
            for worker in self._workers:
                worker.wait_ready()
                self._idle.put(worker)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def run(self, source: str, limits: Limits | None = None) -> Result:
        """Execute one program; its verdict, capped output and the isolation that was in place."""
        limits = limits or self.limits
        limits.check()
        if self._closed:
            raise RuntimeError("the sandbox is closed")
        worker = self._idle.get()
        try:
            reply = worker.run(Job(source, limits))
        except WorkerDied as died:
            # The program gets the blame it can have earned (it may have killed its worker); the
            # next program gets a fresh worker.
            reply = Reply(Outcome.CRASHED.value, f"sandbox worker died: {died}", "", "", 0.0)
            worker.restart()
        finally:
            self._idle.put(worker)
        return Result(outcome=Outcome(reply.outcome), reason=reply.reason, stdout=reply.stdout,
                      stderr=reply.stderr, duration_s=reply.duration_s, isolation=dict(worker.isolation))

    def run_many(self, sources: Iterable[str], limits: Limits | list[Limits] | None = None,
                 progress: bool = False) -> list[Result]:
        """Execute programs on all workers in parallel; results in the order of `sources`. `limits`
        holds for every program, or is a list of each program's own (None: the sandbox's)."""
        sources = list(sources)
        each = limits if isinstance(limits, list) else [limits] * len(sources)
        if len(each) != len(sources):
            raise ValueError(f"{len(each)} limits for {len(sources)} programs")
        with ThreadPoolExecutor(max_workers=len(self._workers)) as pool:
            futures = [pool.submit(self.run, source, program_limits) for source, program_limits in zip(sources, each)]
            if progress:
                from tqdm import tqdm

                for _ in tqdm(as_completed(futures), total=len(futures), desc="sandbox", unit="program"):
                    pass
            return [future.result() for future in futures]

    def close(self) -> None:
        """Stop the workers; every process they started is gone when this returns."""
        if self._closed:
            return
        self._closed = True
        for worker in self._workers:
            worker.close()
