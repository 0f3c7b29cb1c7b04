"""Map a step over the shards of a dataset directory: one output shard per input shard.

A step (docs/architecture.md, "Every stage has one shape") takes the records of one shard and yields records; a
record it yields with a non-empty `reason` is a reject and goes to OUT/rejects/ under the input
shard's name, the rest go to OUT/. Output shards are always Parquet (`00000.jsonl` -> `00000.parquet`).

Resumable: each shard is written under a temporary name and renamed when complete (records.write_shard),
rejects before the kept records, so an output shard's presence means the shard is done and a rerun
skips it. A run killed at any point and rerun therefore ends with the same files as an uninterrupted
run. A stage whose configuration changed must clear its output first (textbooks.stage does):
the executor trusts any output shard it finds.

Three executors, same output: `LocalExecutor` (a process pool, the default), `RayExecutor` (a Ray
cluster, or a local Ray instance) and `SerialExecutor` (this process, shard after shard: for a step
that must keep one state across shards, such as an LLM client with one token budget, and for
debugging). The step travels to the workers by pickle, so it must be a
top-level function, a functools.partial of one, or an instance of a top-level class with __call__.
"""

from __future__ import annotations

import abc
import concurrent.futures
import ctypes
import multiprocessing
import os
import pickle
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import pyarrow.parquet as pq
from tqdm import tqdm

from textbooks.errors import UserError
from textbooks.layout import REJECTS
from textbooks.records import check_shards, read_shard, shard_paths, throughput, unify_shard_schemas, write_shard

ShardFn = Callable[[Iterable[dict]], Iterator[dict]]
PR_SET_PDEATHSIG = 1  # prctl(2)


@dataclass(frozen=True)
class ShardTask:
    """One unit of work: read `input_path`, write `output_path` and (if any) `rejects_path`."""

    input_path: str
    output_path: str
    rejects_path: str

    @property
    def shard(self) -> str:
        return Path(self.output_path).name


@dataclass(frozen=True)
class ShardStats:
    """What one shard's run did. `bytes_in` is the input shard's file size; `seconds` is 0 when skipped."""

    shard: str
    records_in: int
    records_out: int
    rejected: int
    bytes_in: int
    seconds: float
    skipped: bool


class Executor(abc.ABC):
    """Plans the shard tasks, skips finished ones, and runs the rest on its workers."""

    sends_steps = True  # the step is pickled to other processes

    def map_shards(self, fn: ShardFn, input_dir: str | os.PathLike, output_dir: str | os.PathLike,
                   progress: bool = True) -> list[ShardStats]:
        """Run `fn` over every shard of `input_dir` into `output_dir`; return stats in shard order."""
        if self.sends_steps:
            _require_picklable(fn)
        tasks = plan_tasks(input_dir, output_dir)
        done = {t.shard: skipped_stats(t) for t in tasks if Path(t.output_path).exists()}
        todo = [t for t in tasks if t.shard not in done]
        for task in todo:
            _remove_stale_temporaries(task)
        with tqdm(total=len(tasks), initial=len(done), desc=f"shards -> {Path(output_dir).name}",
                  unit="shard", disable=not progress) as bar:
            for stats in self._run(fn, todo) if todo else ():
                done[stats.shard] = stats
                bar.update(1)
        for directory in (Path(output_dir), Path(output_dir) / REJECTS):
            if directory.is_dir():
                unify_shard_schemas(directory)
        return [done[t.shard] for t in tasks]

    @abc.abstractmethod
    def _run(self, fn: ShardFn, tasks: list[ShardTask]) -> Iterator[ShardStats]:
        """Process `tasks` (never empty) with `process_shard`, yielding each shard's stats as it finishes."""


class LocalExecutor(Executor):
    """A pool of `workers` processes on this machine (default: one per CPU)."""

    def __init__(self, workers: int | None = None) -> None:
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be positive, got {workers}")
        self.workers = workers or os.cpu_count() or 1

    def _run(self, fn: ShardFn, tasks: list[ShardTask]) -> Iterator[ShardStats]:
        # spawn, not fork: the parent may hold threads (tqdm, torch) that a forked child would inherit locked
        context = multiprocessing.get_context("spawn")
        workers = min(self.workers, len(tasks))
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context, initializer=_die_with_parent,
                                                    initargs=(os.getpid(),)) as pool:
            futures = [pool.submit(process_shard, fn, task) for task in tasks]
            try:
                for future in concurrent.futures.as_completed(futures):
                    yield future.result()
            except BaseException:
                pool.shutdown(cancel_futures=True)  # a failed shard stops the run; finished shards stay
                raise


class SerialExecutor(Executor):
    """This process, one shard after another: the step object (and any state it holds) spans the run."""

    sends_steps = False

    def _run(self, fn: ShardFn, tasks: list[ShardTask]) -> Iterator[ShardStats]:
        for task in tasks:
            yield process_shard(fn, task)


class RayExecutor(Executor):
    """Ray tasks, one per shard: on the cluster at `address`, or a local Ray instance when None.

    An already initialized Ray session (ray.init called by the caller) is used as it is.
    """

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        self.address, self.workers = address, workers

    def _run(self, fn: ShardFn, tasks: list[ShardTask]) -> Iterator[ShardStats]:
        ray = _import_ray()
        if not ray.is_initialized():
            ray.init(address=self.address, num_cpus=None if self.address else self.workers)
        remote = ray.remote(process_shard)
        fn_ref = ray.put(fn)
        pending = [remote.remote(fn_ref, task) for task in tasks]
        while pending:
            finished, pending = ray.wait(pending, num_returns=1)
            yield ray.get(finished[0])


def make_executor(name: str = "local", workers: int | None = None, address: str | None = None) -> Executor:
    """The executor called `name`: "local" (process pool), "ray" (cluster at `address`, or local), or "serial"."""
    if name == "local":
        return LocalExecutor(workers)
    if name == "serial":
        return SerialExecutor()
    if name == "ray":
        _import_ray()
        return RayExecutor(address, workers)
    raise ValueError(f"unknown executor {name!r}: choose 'local', 'ray' or 'serial'")


def plan_tasks(input_dir: str | os.PathLike, output_dir: str | os.PathLike) -> list[ShardTask]:
    """One task per input shard, in shard order; rejects them all if the directories are unusable."""
    input_dir, output_dir = Path(input_dir).resolve(), Path(output_dir).resolve()
    if input_dir == output_dir:
        raise ValueError(f"output directory {output_dir} is the input directory: a stage never edits its input")
    inputs = shard_paths(input_dir)
    if not inputs:
        raise ValueError(f"input directory {input_dir} holds no shards (*.parquet or *.jsonl)")
    check_shards(input_dir)
    names = [p.with_suffix(".parquet").name for p in inputs]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise ValueError(f"input shards of {input_dir} map to the same output name: {', '.join(clashes)}")
    return [ShardTask(str(path), str(output_dir / name), str(output_dir / REJECTS / name))
            for path, name in zip(inputs, names)]


def process_shard(fn: ShardFn, task: ShardTask) -> ShardStats:
    """Run `fn` over one shard and write its kept records and rejects (the worker's whole job)."""
    started = time.perf_counter()
    records = list(read_shard(task.input_path))
    kept, rejects = [], []
    try:
        for record in fn(iter(records)):
            if record.get("reason"):
                rejects.append(record)
            else:
                record.pop("reason", None)
                kept.append(record)
    except (OSError, UserError):
        raise  # it says what to fix (an OSError names its path; its errno, a full disk, reaches the command)
    except Exception as e:
        # Only the message survives the trip back to the parent process, so it names the shard.
        raise RuntimeError(f"step failed on shard {task.input_path}: {type(e).__name__}: {e}") from e
    if rejects:
        write_shard(rejects, task.rejects_path)
    write_shard(kept, task.output_path)  # last: its presence marks the shard complete
    return ShardStats(task.shard, len(records), len(kept), len(rejects), os.path.getsize(task.input_path),
                      time.perf_counter() - started, skipped=False)


def skipped_stats(task: ShardTask) -> ShardStats:
    """Stats of a shard finished by an earlier run, from the files' row counts."""
    rejects = Path(task.rejects_path)
    return ShardStats(task.shard, _count_rows(task.input_path), _count_rows(task.output_path),
                      _count_rows(rejects) if rejects.exists() else 0, os.path.getsize(task.input_path),
                      0.0, skipped=True)


def summarize(stats: list[ShardStats], wall_seconds: float) -> dict:
    """Totals and throughput for a manifest; rates count only the shards processed in this run."""
    ran = [s for s in stats if not s.skipped]
    records_ran, bytes_ran = sum(s.records_in for s in ran), sum(s.bytes_in for s in ran)
    return {
        "shards": len(stats), "shards_skipped": len(stats) - len(ran),
        "records_in": sum(s.records_in for s in stats), "records_out": sum(s.records_out for s in stats),
        "rejected": sum(s.rejected for s in stats), "bytes_in": sum(s.bytes_in for s in stats),
        "seconds": round(wall_seconds, 3), **throughput(records_ran, bytes_ran, wall_seconds),
    }


def _count_rows(path: str | os.PathLike) -> int:
    if Path(path).suffix == ".parquet":
        return pq.ParquetFile(path).metadata.num_rows
    return sum(1 for _ in read_shard(path))


def _remove_stale_temporaries(task: ShardTask) -> None:
    """Delete temporaries a killed run left beside this shard's outputs (records.atomic_path names)."""
    for target in (Path(task.output_path), Path(task.rejects_path)):
        if target.parent.is_dir():
            for stale in target.parent.glob(f".{target.name}.*.tmp"):
                stale.unlink(missing_ok=True)


def _die_with_parent(parent: int) -> None:
    """A pool worker ends when the process that started it does. A parent killed with SIGKILL (or by
    the OOM killer) runs no cleanup, and its workers would wait on their queue forever, holding its
    pipes; Linux's PR_SET_PDEATHSIG has the kernel kill them instead."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)


def _require_picklable(fn: ShardFn) -> None:
    try:
        pickle.dumps(fn)
    except (pickle.PicklingError, AttributeError, TypeError) as e:
        raise TypeError(f"the step {fn!r} cannot be sent to worker processes ({e}); use a top-level "
                        "function, a functools.partial of one, or an instance of a top-level class") from None


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ImportError("the ray executor needs Ray: pip install 'ray>=2.9'") from None
    return ray
