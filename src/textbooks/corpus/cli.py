"""Build a corpus dataset from local Python files (by default, this interpreter's standard library).

Each *.py file becomes one record {id, text, source, path, bytes}, in sorted path order. Files that
are not UTF-8, binary, empty, larger than --max-bytes, exact copies of an earlier file (after
normalizing line endings and trailing whitespace) or near copies (MinHash estimate of the Jaccard
similarity of token 5-grams >= --near-threshold) go to OUT/rejects/ with their `reason`, and
copies with `duplicate_of`, the id of the record they copy. A rerun with the same settings
finds the finished manifest and does nothing.

Examples:
  textbooks corpus --out data/corpus
  textbooks corpus --source ~/src/project --source ~/src/other --out data/corpus --limit 1000
"""

from __future__ import annotations

import argparse
import itertools
import re
import time
from collections import Counter
from pathlib import Path
from typing import Iterable

from tqdm import tqdm

from textbooks.corpus.dedup import ExactDedup, NearDedup
from textbooks.corpus.sources import default_source_dir, local_python_source
from textbooks.records import (
    clear_stage_output, config_hash, read_manifest, stage_is_complete, write_manifest, write_shard,
)

STAGE = "corpus"
SHARD_NAME = re.compile(r"\d{5}\.parquet")


class ShardWriter:
    """Collects records and writes them `shard_size` at a time as 00000.parquet, 00001.parquet, ..."""

    def __init__(self, directory: Path, shard_size: int) -> None:
        self.directory, self.shard_size = directory, shard_size
        self.buffer: list[dict] = []
        self.shards = 0
        self.records = 0

    def add(self, record: dict) -> None:
        self.buffer.append(record)
        self.records += 1
        if len(self.buffer) >= self.shard_size:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            write_shard(self.buffer, self.directory / f"{self.shards:05d}.parquet")
            self.shards += 1
            self.buffer = []


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", action="append", metavar="DIR",
                        help="a directory of .py files (repeatable; default: the Python standard library)")
    parser.add_argument("--out", required=True, help="the dataset directory to write")
    parser.add_argument("--max-bytes", type=int, default=1_000_000, help="reject files larger than this")
    parser.add_argument("--shard-size", type=int, default=1000, help="records per Parquet shard")
    parser.add_argument("--limit", type=int, default=None, help="read at most this many files")
    parser.add_argument("--near-threshold", type=float, default=0.85,
                        help="Jaccard similarity from which a file is a near duplicate (default 0.85)")


def run(args: argparse.Namespace) -> None:
    main(**setup(args))


def setup(args: argparse.Namespace) -> dict:
    sources = [Path(s).expanduser().resolve() for s in args.source] if args.source else [default_source_dir()]
    for source in sources:
        if not source.is_dir():
            raise FileNotFoundError(f"--source {source} is not a directory")
    for name in ("max_bytes", "shard_size", "limit"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be positive, got {value}")
    out_dir = Path(args.out).expanduser().resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"--out {out_dir} exists and is not a directory")
    return {"sources": sources, "out_dir": out_dir, "max_bytes": args.max_bytes,
            "shard_size": args.shard_size, "limit": args.limit, "near_threshold": args.near_threshold}


def main(sources: list[str | Path], out_dir: str | Path, max_bytes: int = 1_000_000, shard_size: int = 1000,
         limit: int | None = None, near_threshold: float = 0.85) -> dict:
    """Write the corpus of `sources` to `out_dir`; return its manifest."""
    sources, out_dir = [Path(s) for s in sources], Path(out_dir)
    config = {"sources": [str(s) for s in sources], "max_bytes": max_bytes, "shard_size": shard_size,
              "limit": limit, "near_threshold": near_threshold}
    if stage_is_complete(out_dir, STAGE, config):
        print(f"{out_dir} already holds this corpus (config {config_hash(config)}); nothing to do")
        return read_manifest(out_dir)
    clear_stage_output(out_dir, SHARD_NAME, subdirs=["rejects"])
    started = time.time()
    records = itertools.islice(local_python_source(sources, max_bytes), limit)
    exact, near = ExactDedup(), NearDedup(near_threshold)
    counts = _route(near(exact(tqdm(records, desc="corpus", unit="file"))), out_dir, shard_size)
    counts["dedup"] = {**exact.counts(), **near.counts()}
    manifest = write_manifest(out_dir, STAGE, config, counts, started=started)
    print(f"{counts['records']} records ({counts['bytes']:,} bytes), {counts['rejected']} rejected "
          f"{counts['by_reason']} in {manifest['wall_time_s']:.1f}s -> {out_dir}")
    return manifest


def _route(records: Iterable[dict], out_dir: Path, shard_size: int) -> dict:
    kept, rejected = ShardWriter(out_dir, shard_size), ShardWriter(out_dir / "rejects", shard_size)
    reasons, kept_bytes = Counter(), 0
    for record in records:
        reason, duplicate_of = record.pop("reason", None), record.pop("duplicate_of", None)
        if reason:
            reasons[reason.split(" (")[0]] += 1  # "near duplicate (estimated Jaccard 0.93)" counts as one kind
            rejected.add({**record, "reason": reason, "duplicate_of": duplicate_of})
        else:
            kept.add(record)
            kept_bytes += record["bytes"]
    kept.flush()
    rejected.flush()
    return {"records": kept.records, "rejected": rejected.records, "bytes": kept_bytes,
            "by_reason": dict(sorted(reasons.items()))}

