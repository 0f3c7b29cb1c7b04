"""One shape for every dataset stage (docs/architecture.md, "Every stage has one shape").

A stage declares itself once (`StageSpec`) and writes only its work: a function that maps steps
over shards (`StageRun.map`) and returns its counts. `run_stage` owns the rest of the lifecycle,
in the manner of datatrove's executor:

1. claim OUT (textbooks.outputs: the stage's own kind of output only, one writer at a time);
2. hash the config together with the input datasets' manifest hashes, so that a changed input
   changes the hash and reruns the stage (and, through its own new hash, every stage after it);
3. skip when OUT's manifest already has that hash;
4. resume an unfinished run of the same config (its finished shards are kept), or clear OUT;
5. run the work, then write the manifest (counts, per-step figures, inputs, wall time) last, so
   that its presence marks the stage complete, and remove the in-progress marker and OUT/.work.

A step (records in, records out; a record with a `reason` is a reject) runs on the executor the
command chose (its `ParallelOptions`). A pass that must see the whole dataset (dedup, the
classifier) writes one decision per record; `ApplyDecisions` then writes the shards out with them.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable, Iterable, Iterator, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from textbooks.executor import Executor, LocalExecutor, ShardFn, ShardStats, make_executor, summarize
from textbooks.layout import IN_PROGRESS, MANIFEST, REJECTS, WORK
from textbooks.options import CommandOptions, PositiveInt, opt
from textbooks.outputs import claim_output
from textbooks.records import (atomic_path, atomic_write_json, check_shards, config_hash, read_column, read_manifest,
                               rows_by_id, write_manifest)

SHARDS = re.compile(r"[^.].*\.parquet")  # the executor names an output shard after its input shard
# What a stage's failed run (a full disk, a denied write) leaves behind, for its one-line error.
RESUMES = "The shards finished before the failure are kept: fix the cause and rerun the same command to resume."
STARTS_OVER = "The output is unfinished (it has no manifest.json, so nothing reads it): rerun the command to write it."


@dataclass(frozen=True)
class StageSpec:
    """A stage, declared once: its name (the manifest's `stage`, the output's kind), the files a
    fresh run clears from OUT and its `subdirs`, whether an unfinished run resumes, and the columns
    it reads of its input datasets."""

    name: str
    outputs: re.Pattern = SHARDS
    subdirs: tuple[str, ...] = (REJECTS,)
    resumable: bool = True
    reads: tuple[str, ...] = ("id", "text")

    @property
    def after_failure(self) -> str:
        return RESUMES if self.resumable else STARTS_OVER


@dataclass
class StageRun:
    """What a stage's work is given: OUT, its scratch directory, the executor, and the figures of
    each step it maps, which the manifest records under `steps`."""

    out: Path
    executor: Executor
    resumed: bool
    started: float = field(default_factory=time.time)
    steps: dict[str, dict] = field(default_factory=dict)

    @property
    def work(self) -> Path:
        return self.out / WORK

    def map(self, name: str, step: ShardFn, input_dir: Path, output_dir: Path | None = None) -> list[ShardStats]:
        """Run `step` over every shard of `input_dir` into `output_dir` (OUT by default); its
        figures go to the manifest as step `name`."""
        began = time.time()
        stats = self.executor.map_shards(step, input_dir, output_dir or self.out)
        self.steps[name] = summarize(stats, time.time() - began)
        return stats


@dataclass(frozen=True)
class StageResult:
    """What a stage's work returns: the manifest's counts and extra fields, and the line to print."""

    counts: dict
    summary: str
    extra: dict = field(default_factory=dict)


def run_stage(spec: StageSpec, out: str | Path, config: dict, work: Callable[[StageRun], StageResult],
              inputs: Iterable[Path] = (), executor: Executor | None = None) -> dict:
    """Run a stage's `work` into `out` under the lifecycle above; return its manifest."""
    inputs = [Path(p).expanduser().resolve() for p in inputs]
    if Path(out).expanduser().resolve() in inputs:
        raise ValueError(f"the output directory {out} is also an input: a stage never edits its input")
    config = {**config, "inputs": {str(p): read_manifest(p).get("config_hash") for p in inputs}}
    for path in inputs:  # finished (its manifest), whole (its footers), and holding what the stage reads
        check_shards(path, spec.reads)
    with claim_output(out, spec.name) as out:
        if is_complete(out, config):
            print(f"{out} is up to date ({spec.name}, config {config_hash(config)}); nothing to do")
            return read_manifest(out)
        resumed = spec.resumable and is_unfinished(out, spec.name, config)
        if resumed:
            print(f"resuming the unfinished {spec.name} in {out}")
        else:
            start_over(out, spec, config)
        run = StageRun(out, executor or LocalExecutor(), resumed)
        result = work(run)
        counts = {**result.counts, "steps": run.steps} if run.steps else result.counts
        manifest = write_manifest(out, spec.name, config, counts, inputs=inputs, started=run.started,
                                  **result.extra)
        (out / IN_PROGRESS).unlink(missing_ok=True)
        shutil.rmtree(out / WORK, ignore_errors=True)
        print(result.summary)
        return manifest


def is_complete(out: Path, config: dict) -> bool:
    """True if `out` already holds this stage's output for this exact config (a rerun skips it);
    the claim has checked that `out` holds this stage's kind of output."""
    return (out / MANIFEST).exists() and read_manifest(out).get("config_hash") == config_hash(config)


def is_unfinished(out: Path, stage: str, config: dict) -> bool:
    """True if `out` holds an unfinished run of this stage with this exact config."""
    marker = out / IN_PROGRESS
    return marker.exists() and json.loads(marker.read_text(encoding="utf-8")) == _marker(stage, config)


def start_over(out: Path, spec: StageSpec, config: dict) -> None:
    """Remove a previous, different or unfinished run's manifest, outputs and scratch, and mark
    `out` as in progress with `config`."""
    # The old manifest goes first, so that a crash from here on leaves the directory unfinished.
    (out / MANIFEST).unlink(missing_ok=True)
    for directory in (out, *(out / d for d in spec.subdirs)):
        if directory.is_dir():
            for path in directory.iterdir():
                if spec.outputs.fullmatch(path.name):
                    path.unlink()
    shutil.rmtree(out / WORK, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / IN_PROGRESS, _marker(spec.name, config))


def _marker(stage: str, config: dict) -> dict:
    return {"stage": stage, "config_hash": config_hash(config)}


def write_decisions(path: Path, decisions: list[dict], schema: pa.Schema) -> None:
    """One row per decided record ({"id", "reason" (None: keep), other columns to add}), for `ApplyDecisions`."""
    with atomic_path(path) as tmp:
        pq.write_table(pa.Table.from_pylist(decisions, schema=schema), tmp)


@dataclass(frozen=True)
class ApplyDecisions:
    """The step that writes a shard out with the decisions of a whole-dataset pass: each decided
    record gets its decision's columns (a `reason` makes it a reject); `drop` removes the columns
    only that pass needed (dedup keys, embeddings); an undecided record is kept as it is."""

    decisions_path: str
    drop: tuple[str, ...] = ()

    @cached_property
    def decisions(self) -> dict[str, dict]:
        return rows_by_id(self.decisions_path)

    def __call__(self, records: Iterable[dict]) -> Iterator[dict]:
        for record in records:
            for column in self.drop:
                del record[column]
            yield {**record, **self.decisions.get(record["id"], {})}


def written_column(out: Path, column: str) -> list:
    """`column` of every record a stage wrote into `out`: the kept ones, then the rejects."""
    rejects = out / REJECTS
    return read_column(out, column) + (read_column(rejects, column) if rejects.is_dir() else [])


def read_stop(path: Path) -> dict | None:
    """What a budget's stop recorded at `path` (OUT/.work/STOPPED): {"reason", ...}; None if it has not stopped."""
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


class ParallelOptions(CommandOptions):
    """--executor and --workers, the same for every stage that maps steps over shards."""

    executor: Literal["local", "ray", "serial"] = opt("local", help="local process pool (default), Ray (a cluster "
                                                                    "via RAY_ADDRESS, else a local instance), or "
                                                                    "serial (in this process, to debug)", hashed=False)
    workers: PositiveInt | None = opt(None, help="worker processes (default: one per CPU)", hashed=False)

    def make_executor(self) -> Executor:
        return make_executor(self.executor, self.workers)
