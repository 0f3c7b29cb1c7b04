"""Build a corpus dataset from code sources (PAPER.md §1: the raw code that curation filters).

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

import argparse
import json
import re
import time
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Iterable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from textbooks.corpus.dedup import DedupKeys, ExactDedup, NearDedup
from textbooks.corpus.sources import NAMED_SOURCES, default_sources, named_source_dirs, plan_units, read_unit
from textbooks.executor import ShardStats, make_executor, summarize
from textbooks.records import (
    STAGE_AFTER_FAILURE, WORK, atomic_path, atomic_write_text, config_hash, finish_stage_output, read_manifest,
    read_column, resume_or_clear_stage_output, rows_by_id, shard_column, shard_paths, stage_is_complete, throughput,
    write_manifest,
)

STAGE = "corpus"
OUTPUT, AFTER_FAILURE = STAGE, STAGE_AFTER_FAILURE
SHARD_NAME = re.compile(r"\d{5}\.parquet")
# Intermediate state in OUT/.work: the plan (one unit per shard), the records read with their dedup
# keys, and the duplicates the sequential pass found. Removed when the manifest is written.
PLAN, READ, DUPLICATES = "plan", "read", "duplicates.parquet"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", action="append", metavar="SOURCE",
                        help="a directory of .py files, stdlib or packages (this interpreter's), a "
                             ".jsonl/.jsonl.gz/.parquet file, or hf:NAME (repeatable; default: stdlib and packages)")
    parser.add_argument("--out", required=True, help="the dataset directory to write")
    parser.add_argument("--text-field", help="the text column of JSONL/Parquet/HF sources (default: text, else content)")
    parser.add_argument("--max-bytes", type=int, default=1_000_000, help="reject files larger than this")
    parser.add_argument("--shard-size", type=int, default=1000, help="records per Parquet shard")
    parser.add_argument("--limit", type=int, default=None, help="read at most this many records")
    parser.add_argument("--near-threshold", type=float, default=0.85,
                        help="Jaccard similarity from which a file is a near duplicate (default 0.85)")
    parser.add_argument("--executor", choices=("local", "ray"), default="local",
                        help="local process pool (default) or Ray (a cluster via RAY_ADDRESS, else a local instance)")
    parser.add_argument("--workers", type=int, help="worker processes (default: one per CPU)")


def run(args: argparse.Namespace) -> None:
    main(**setup(args))


def setup(args: argparse.Namespace) -> dict:
    for name in ("max_bytes", "shard_size", "limit", "workers"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be positive, got {value}")
    NearDedup(args.near_threshold)  # validates the threshold before any work
    out_dir = Path(args.out).expanduser().resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"--out {out_dir} exists and is not a directory")
    sources = [path for spec in args.source for path in _resolve_source(spec)] if args.source else default_sources()
    plan_units(sources, args.shard_size, limit=1, text_field=args.text_field)  # names a bad source now
    return {"sources": sources, "out_dir": out_dir, "max_bytes": args.max_bytes, "shard_size": args.shard_size,
            "limit": args.limit, "near_threshold": args.near_threshold, "text_field": args.text_field,
            "executor": args.executor, "workers": args.workers}


def _resolve_source(spec: str) -> list[str]:
    """The spec with a named source expanded to its directories and a path made absolute."""
    if spec in NAMED_SOURCES:
        return named_source_dirs(spec)
    return [spec] if spec.startswith("hf:") else [str(Path(spec).expanduser().resolve())]


def main(sources: list[str], out_dir: str | Path, max_bytes: int = 1_000_000, shard_size: int = 1000,
         limit: int | None = None, near_threshold: float = 0.85, text_field: str | None = None,
         executor: str = "local", workers: int | None = None) -> dict:
    """Write the corpus of `sources` to `out_dir`; return its manifest."""
    out_dir = Path(out_dir)
    config = {"sources": [str(s) for s in sources], "max_bytes": max_bytes, "shard_size": shard_size,
              "limit": limit, "near_threshold": near_threshold, "text_field": text_field}
    if stage_is_complete(out_dir, STAGE, config):
        print(f"{out_dir} already holds this corpus (config {config_hash(config)}); nothing to do")
        return read_manifest(out_dir)
    resumed = resume_or_clear_stage_output(out_dir, STAGE, config, SHARD_NAME, subdirs=["rejects"])
    if resumed:
        print(f"resuming the unfinished corpus in {out_dir}")
    started, work = time.time(), out_dir / WORK
    runner = make_executor(executor, workers)
    _write_plan(plan_units(config["sources"], shard_size, limit, text_field), work / PLAN)
    read = runner.map_shards(ReadUnits(max_bytes), work / PLAN, work / READ)
    read_bytes = {path.name: sum(shard_column(path, "bytes")) for path in shard_paths(work / READ)}
    read_stats = _read_step_stats(read, read_bytes, time.time() - started)
    dedup_counts = _find_duplicates(work / READ, work / DUPLICATES, near_threshold)
    applied_at = time.time()
    applied = summarize(runner.map_shards(ApplyDuplicates(str(work / DUPLICATES)), work / READ, out_dir),
                        time.time() - applied_at)
    counts = _count_output(out_dir, started, sum(read_bytes.values()), read_stats, dedup_counts, applied)
    manifest = write_manifest(out_dir, STAGE, config, counts, started=started)
    finish_stage_output(out_dir)
    print(f"{counts['records']} records ({counts['bytes']:,} bytes), {counts['rejected']} rejected "
          f"{counts['by_reason']} in {manifest['wall_time_s']:.1f}s "
          f"({counts['records_per_s']} records/s, {counts['mb_per_s']} MB/s) -> {out_dir}")
    return manifest


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

    A record a source rejects keeps its reason as `pending_reason`, so it stays in the read shard
    (the executor would route a `reason` to this step's rejects) and reaches OUT/rejects in order.
    """

    max_bytes: int

    def __call__(self, plan: Iterable[dict]) -> Iterator[dict]:
        for unit_record in plan:
            records = read_unit(unit_record["unit"], self.max_bytes)
            for record in DedupKeys()(records):
                reason = record.pop("reason", None)
                yield {"content_hash": None, "minhash": None, **record, "pending_reason": reason}


def _read_step_stats(read: list[ShardStats], read_bytes: dict[str, int], seconds: float) -> dict:
    """The read step's figures. Its input is the plan (one record per unit), so its rates are those
    of the records and source bytes (`read_bytes`, by shard) it read in this run: a resumed run
    skips finished units."""
    ran = [stats for stats in read if not stats.skipped]
    nbytes = sum(read_bytes[stats.shard] for stats in ran)
    return {**summarize(read, seconds), **throughput(sum(stats.records_out for stats in ran), nbytes, seconds)}


def _find_duplicates(read_dir: Path, out_path: Path, threshold: float) -> dict:
    """The sequential pass: every record's keys, in corpus order, through exact then near dedup.

    Writes {id, reason, duplicate_of} of each duplicate to `out_path`; returns the dedup counts.
    A finished pass (from a killed run) is not redone.
    """
    if out_path.exists():
        return json.loads(pq.read_schema(out_path).metadata[b"counts"])
    exact, near = ExactDedup(), NearDedup(threshold)
    found = [{"id": r["id"], "reason": r["reason"], "duplicate_of": r["duplicate_of"]}
             for r in near(exact(tqdm(_dedup_keys(read_dir), desc="dedup", unit="record")))
             if r.get("duplicate_of")]
    counts = {**exact.counts(), **near.counts()}
    table = pa.Table.from_pylist(found, schema=pa.schema(
        [("id", pa.string()), ("reason", pa.string()), ("duplicate_of", pa.string())],
        metadata={"counts": json.dumps(counts)}))
    with atomic_path(out_path) as tmp:
        pq.write_table(table, tmp)
    return counts


def _dedup_keys(read_dir: Path) -> Iterator[dict]:
    """Each read record's id and keys (never its text); a source-rejected one carries its reason."""
    for path in shard_paths(read_dir):
        columns = ["id", "content_hash", "minhash", "pending_reason"]
        for record in pq.read_table(path, columns=columns).to_pylist():
            reason = record.pop("pending_reason")
            yield {**record, "reason": reason} if reason else record


@dataclass(frozen=True)
class ApplyDuplicates:
    """The step that writes a read shard out: keys dropped, source rejects and duplicates marked."""

    duplicates_path: str

    @cached_property
    def duplicates(self) -> dict[str, dict]:
        return rows_by_id(self.duplicates_path)

    def __call__(self, records: Iterable[dict]) -> Iterator[dict]:
        for record in records:
            del record["content_hash"], record["minhash"]
            reason = record.pop("pending_reason")
            duplicate = self.duplicates.get(record["id"])
            if reason:
                yield {**record, "reason": reason, "duplicate_of": None}
            elif duplicate:
                yield {**record, "reason": duplicate["reason"], "duplicate_of": duplicate["duplicate_of"]}
            else:
                yield record


def _count_output(out_dir: Path, started: float, bytes_in: int, read: dict, dedup: dict, applied: dict) -> dict:
    """The manifest's counts: kept and rejected records, rejects by kind, dedup and throughput."""
    kept_bytes = read_column(out_dir, "bytes")
    rejects = out_dir / "rejects"
    reasons = read_column(rejects, "reason") if rejects.is_dir() else []
    # "near duplicate (estimated Jaccard 0.93)" counts as one kind
    by_reason = Counter(reason.split(" (")[0] for reason in reasons)
    return {"records": len(kept_bytes), "rejected": len(reasons), "bytes": sum(kept_bytes),
            "by_reason": dict(sorted(by_reason.items())), "dedup": dedup, "records_in": applied["records_in"],
            **throughput(applied["records_in"], bytes_in, time.time() - started),
            "steps": {"read": read, "apply": applied}}

