"""Synthesize exercises for training (PAPER.md §2: CodeExercises, "each exercise is a docstring of a
function that needs to be completed"), kept only if their solution passes their tests in the sandbox.

KIND is `exercises`. --teacher mined (the default, offline) mines them from real material: the
documented module-level functions of a corpus (--data, e.g. the classify stage's output), whose
docstring's doctest examples become the tests. Each exercise is verified by defining its function
alone and running its tests in the sandbox, so one that needs its module's other names fails with
that reason. Exercises that fail go to OUT/rejects with the verdict; exact and near copies too,
with `duplicate_of`. A record holds `prompt` (signature + docstring, what a model is given, as in
HumanEval), `solution`, `tests`, `entry_point`, `text` (the whole function, what a model trains
on), `constraints`, `teacher`, `usage`, `verified` and `verdict`.

Coming next (not built yet): a teacher LLM (`--teacher URL#model`, a transformers directory or one
of our checkpoints) writing exercises and textbook passages from a diversity sampler's prompts.

Example:
  textbooks synth exercises --data runs/x/classify --out runs/x/exercises
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from textbooks.corpus.dedup import DEDUP_COLUMNS, NearDedup, find_duplicates, with_dedup_keys
from textbooks.executor import Executor
from textbooks.records import read_column, throughput
from textbooks.synth.exercises import NOT_RUN
from textbooks.stage import (ApplyDecisions, StageResult, StageRun, StageSpec, add_executor_arguments, executor_from,
                             run_stage)

STAGE = StageSpec("synth")
KINDS = ("exercises",)
# In OUT/.work: the mined exercises, the same verified and keyed for dedup, and the dedup decisions.
MINED, VERIFIED, DECISIONS = "mined", "verified", "decisions.parquet"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=KINDS, help="what to synthesize")
    parser.add_argument("--teacher", default="mined",
                        help="mined (default, offline: from the documented functions of --data)")
    parser.add_argument("--data", type=Path, metavar="DIR", help="the corpus dataset to mine")
    parser.add_argument("--out", type=Path, required=True, help="the dataset directory to write")
    parser.add_argument("--allow-untested", action="store_true",
                        help="keep documented functions without doctest examples (unverified)")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds each exercise may run (default 3)")
    parser.add_argument("--near-threshold", type=float, default=0.85,
                        help="Jaccard similarity from which an exercise is a near duplicate (default 0.85)")
    add_executor_arguments(parser)


def setup(args: argparse.Namespace) -> dict:
    if args.teacher != "mined":
        raise ValueError(f"--teacher {args.teacher}: a teacher LLM is not built yet; use --teacher mined")
    if not args.data:
        raise ValueError("--teacher mined needs --data: a corpus dataset whose documented functions to mine")
    if not args.data.is_dir():
        raise FileNotFoundError(f"--data {args.data} is not a dataset directory")
    if args.timeout <= 0:
        raise ValueError(f"--timeout must be positive, got {args.timeout}")
    NearDedup(args.near_threshold)  # validates the threshold before any work
    return {"data": args.data, "out": args.out, "allow_untested": args.allow_untested, "timeout_s": args.timeout,
            "near_threshold": args.near_threshold, "executor": executor_from(args)}


def run(args: argparse.Namespace) -> None:
    main(**setup(args))


def main(data: Path, out: Path, allow_untested: bool = False, timeout_s: float = 3.0,
         near_threshold: float = 0.85, executor: Executor | None = None) -> dict:
    """Mine, verify and deduplicate the exercises of `data` into `out`; return the manifest."""
    config = {"kind": "exercises", "teacher": "mined", "allow_untested": allow_untested, "timeout_s": timeout_s,
              "near_threshold": near_threshold}
    return run_stage(STAGE, out, config, lambda run: _mine(run, data, config), inputs=[data], executor=executor)


def _mine(run: StageRun, data: Path, config: dict) -> StageResult:
    """Mine each corpus shard (in parallel), verify and key the exercises (in parallel, each worker
    with its own sandbox), find the duplicates (one pass), write the shards out."""
    run.map("mine", MineShard(config["allow_untested"]), data, run.work / MINED)
    run.map("verify", VerifyAndKey(config["timeout_s"]), run.work / MINED, run.work / VERIFIED)
    dedup = find_duplicates(run.work / VERIFIED, run.work / DECISIONS, config["near_threshold"])
    applied = run.map("apply", ApplyDecisions(str(run.work / DECISIONS), drop=DEDUP_COLUMNS), run.work / VERIFIED)
    counts = _count_output(run.out, dedup, sum(s.records_in for s in applied), time.time() - run.started)
    return StageResult(counts, f"{counts['records']} exercises kept of {counts['records_in']} mined "
                               f"(verification pass rate {counts['pass_rate']:.1%}); rejected {counts['by_reason']} "
                               f"-> {run.out}")


@dataclass(frozen=True)
class MineShard:
    """The step that mines a corpus shard's documented functions into exercise records."""

    allow_untested: bool

    def __call__(self, records: Iterable[dict]) -> Iterator[dict]:
        from textbooks.synth.mined import mine_exercises

        yield from mine_exercises(records, self.allow_untested)


@dataclass(frozen=True)
class VerifyAndKey:
    """The step that runs each exercise against its tests in the sandbox and adds the dedup keys;
    a failed one keeps its verdict as a pending reject (corpus.dedup.with_dedup_keys)."""

    timeout_s: float

    def __call__(self, records: Iterable[dict]) -> Iterator[dict]:
        from textbooks.synth.exercises import VerifyShard

        yield from with_dedup_keys(VerifyShard(self.timeout_s)(records))


def _count_output(out: Path, dedup: dict, records_in: int, seconds: float) -> dict:
    """The manifest's counts: exercises kept and rejected by kind of reason, the verification pass
    rate (over the exercises that reached the sandbox), dedup and throughput."""
    verdicts = read_column(out, "verdict") + (read_column(out / "rejects", "verdict")
                                              if (out / "rejects").is_dir() else [])
    reasons = read_column(out / "rejects", "reason") if (out / "rejects").is_dir() else []
    kept = len(read_column(out, "id"))
    ran = [v for v in verdicts if v and v != NOT_RUN]
    # "failed verification: failed: NameError: ..." counts as one kind: "failed verification: failed"
    by_reason = Counter(": ".join(reason.split(": ")[:2]) for reason in reasons)
    return {"records": kept, "rejected": len(reasons), "records_in": records_in,
            "by_reason": dict(sorted(by_reason.items())), "dedup": dedup,
            "pass_rate": sum(v == "passed" for v in ran) / len(ran) if ran else 0.0,
            **throughput(records_in, 0, seconds)}
