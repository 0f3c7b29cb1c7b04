"""Build a corpus dataset from code sources (paper §2.1: the raw code that curation filters).

Sources (--source, repeatable; default: this interpreter's standard library and installed
packages, which "stdlib" and "packages" name): a directory of .py files, a JSONL (.jsonl,
.jsonl.gz) or Parquet file with a text column, or a Hugging Face dataset streamed by name
("hf:the-stack", "hf:stackoverflow", "hf:NAME?data_dir=...&split=...&text_field=...";
needs `pip install 'textbooks[hub]'` and the network).
Each record keeps its provenance: source, path, row and the input row's other fields (meta).

Files that are binary, not UTF-8, empty, larger than --max-bytes or generated, and malformed input
lines (named by file and line), go to OUT/rejects/ with their `reason`; so do exact copies of an
earlier record (after normalizing line endings and trailing whitespace) and near copies (MinHash
estimate of the Jaccard similarity of token 5-grams >= --near-threshold), with `duplicate_of`,
the id of the record they copy.

The work runs over shards on --executor (a local process pool, or Ray for a cluster): the sources
are planned into units of --shard-size records, each unit is read and hashed into a shard, one
sequential pass over the hashes finds the duplicates (the index spans the corpus), and each shard
is then written out. A killed run, rerun with the same settings, resumes at the shard it was on;
a finished run is not redone.

Examples:
  textbooks corpus --out data/corpus
  textbooks corpus --source stdlib --out data/stdlib
  textbooks corpus --source ~/src/project --source the-stack-sample.jsonl --out data/corpus --limit 1000
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from textbooks.options import PositiveInt, hashed, opt
from textbooks.executor import ShardStats
from textbooks.layout import REJECTS
from textbooks.records import atomic_write_text, read_column, shard_column, shard_paths, throughput
from textbooks.similarity.dedup import DEDUP_COLUMNS, NEAR_THRESHOLD, NearDedup, find_duplicates, with_dedup_keys
from textbooks.sources import default_sources, plan_units, read_unit, resolve_source
from textbooks.stage import ApplyDecisions, ParallelOptions, StageResult, StageRun, StageSpec, run_stage

STAGE = StageSpec("corpus", outputs=re.compile(r"\d{5}\.parquet"))
# Intermediate state in OUT/.work: the plan (one unit per shard), the records read with their dedup
# keys, and every record the sequential pass rejects. Removed when the manifest is written.
PLAN, READ, DECISIONS = "plan", "read", "decisions.parquet"


class Options(ParallelOptions):
    source: list[str] | None = opt(None, help="a directory of .py files, stdlib or packages (this interpreter's), a "
                                              ".jsonl/.jsonl.gz/.parquet file, or hf:NAME (repeatable; default: stdlib "
                                              "and packages)", metavar="SOURCE",
                                   hashed=False)  # hashed as the files it resolves to
    out: Path = opt(help="the dataset directory to write", hashed=False)
    text_field: str | None = opt(None, help="the text column of JSONL/Parquet/HF sources (default: text, else "
                                            "content)")
    max_bytes: PositiveInt = opt(1_000_000, help="reject files larger than this")
    shard_size: PositiveInt = opt(1000, help="records per Parquet shard")
    limit: PositiveInt | None = opt(None, help="read at most this many records")
    near_threshold: float = opt(NEAR_THRESHOLD, help="Jaccard similarity from which a file is a near duplicate")


def setup(options: Options) -> list[str]:
    """Check the options before any work; return the sources' files and directories."""
    NearDedup(options.near_threshold)  # validates the threshold before any work
    sources = ([path for spec in options.source for path in resolve_source(spec)] if options.source
               else default_sources())
    plan_units(sources, options.shard_size, limit=1, text_field=options.text_field)  # names a bad source now
    return sources


def run(options: Options) -> dict:
    """Write the corpus of --source to OUT; return its manifest."""
    config = hashed(options, sources=[str(s) for s in setup(options)])
    return run_stage(STAGE, options.out, config, lambda run: _build(run, options, config["sources"]),
                     executor=options.make_executor())


def _build(run: StageRun, options: Options, sources: list[str]) -> StageResult:
    """Read the planned units (in parallel), find the duplicates (one pass), write the shards out."""
    work = run.work
    _write_plan(plan_units(sources, options.shard_size, options.limit, options.text_field), work / PLAN)
    read = run.map("read", ReadUnits(options.max_bytes), work / PLAN, work / READ)
    read_bytes = {path.name: sum(shard_column(path, "bytes")) for path in shard_paths(work / READ)}
    run.steps["read"] = _read_step_stats(read, read_bytes, run.steps["read"])
    dedup_counts = find_duplicates(work / READ, work / DECISIONS, options.near_threshold)
    run.map("apply", ApplyDecisions(str(work / DECISIONS), drop=DEDUP_COLUMNS), work / READ)
    counts = _count_output(run.out, run.started, sum(read_bytes.values()), dedup_counts,
                           run.steps["apply"]["records_in"])
    return StageResult(counts, f"{counts['records']} records ({counts['bytes']:,} bytes), {counts['rejected']} "
                               f"rejected {counts['by_reason']} in {time.time() - run.started:.1f}s "
                               f"({counts['records_per_s']} records/s, {counts['mb_per_s']} MB/s) -> {run.out}")


def _write_plan(units: list[dict], plan_dir: Path) -> None:
    """One plan shard per unit, so the executor reads (and resumes) the sources unit by unit."""
    if not units:
        raise ValueError("the sources hold no records to read")
    for number, unit in enumerate(units):
        line = json.dumps({"id": f"unit-{number:05d}", "text": "", "source": "plan", "unit": unit}, sort_keys=True)
        path = plan_dir / f"{number:05d}.jsonl"
        if not path.exists() or path.read_text(encoding="utf-8") != line + "\n":
            atomic_write_text(path, line + "\n")


@dataclass(frozen=True)
class ReadUnits:
    """The step that reads each planned unit into records and adds their dedup keys.

    A record a source rejects keeps its reason as `pending_reason` (similarity.dedup.with_dedup_keys).
    """

    max_bytes: int

    def __call__(self, plan: Iterable[dict]) -> Iterator[dict]:
        for unit_record in plan:
            yield from with_dedup_keys(read_unit(unit_record["unit"], self.max_bytes))


def _read_step_stats(read: list[ShardStats], read_bytes: dict[str, int], summary: dict) -> dict:
    """The read step's figures. Its input is the plan (one record per unit), so its rates are those
    of the records and source bytes (`read_bytes`, by shard) it read in this run: a resumed run
    skips finished units."""
    ran = [stats for stats in read if not stats.skipped]
    nbytes = sum(read_bytes[stats.shard] for stats in ran)
    return {**summary, **throughput(sum(stats.records_out for stats in ran), nbytes, summary["seconds"])}


def _count_output(out_dir: Path, started: float, bytes_in: int, dedup: dict, records_in: int) -> dict:
    """The manifest's counts: kept and rejected records, rejects by kind, dedup and throughput."""
    kept_bytes = read_column(out_dir, "bytes")
    rejects = out_dir / REJECTS
    reasons = read_column(rejects, "reason") if rejects.is_dir() else []
    # "near duplicate (estimated Jaccard 0.93)" counts as one kind
    by_reason = Counter(reason.split(" (")[0] for reason in reasons)
    return {"records": len(kept_bytes), "rejected": len(reasons), "bytes": sum(kept_bytes),
            "by_reason": dict(sorted(by_reason.items())), "dedup": dedup, "records_in": records_in,
            **throughput(records_in, bytes_in, time.time() - started)}
