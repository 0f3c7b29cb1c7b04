"""Audit the diversity and redundancy of a dataset: the measures phi-1's data argument rests on.

The paper credits phi-1's results to data that is diverse and not redundant (§2.2: without
injected randomness an LLM's data is "redundant, homogeneous"), and names as an open problem that
"we lack a good methodology to measure and evaluate the amount of diversity and redundancy in the
data" (paper §2). This stage reports the usual proxies for both, over any dataset directory:

- size: records, characters and tokens, and the distribution of lengths in tokens;
- redundancy: the exact-duplicate rate (normalized content hash, similarity.dedup) over every record,
  and the near-duplicate rate beyond exact copies (similarity.dedup's MinHash LSH at its default
  Jaccard threshold) over the sample;
- lexical diversity: distinct-n (distinct n-grams / all n-grams, n = 1, 2, 4) over the tokens of
  the sample, n-grams never crossing a record;
- semantic diversity: the sample's distinct texts embedded (--embedder: the packaged MiniLM by
  default, offline) and clustered with k-means (k = --clusters, else min(50, round(sqrt(n))) for n
  distinct texts), each text weighted by its copies: records per cluster, the largest cluster's
  share and the effective number of clusters, exp(entropy of the shares); and the --top most
  similar pairs of distinct texts by cosine (exact copies are already counted as duplicates).
  The encoder reads a long text's head only (MiniLM: 256 tokens), so two files that open alike
  (a shared header) can be a pair of cosine ~1 that MinHash, which reads everything, keeps apart;
- synthetic data (`textbooks synth` records carry a `constraints` JSON object, §2.2's random
  topics, audiences and function names): for each key, the records having it, its number of
  distinct values and its --top most common values, over every record.

A dataset is a directory of record shards (Parquet or JSONL) with a `text` column; rejects/ is not
read. Tokens are the --tokenizer's (a tokenizer.json, or a directory holding one, as `textbooks
tokenizer` writes) or, without one, measures.CODE_TOKEN's matches (identifiers, numbers, single
punctuation characters); audit.json names the counter. The sample (--sample records, default
20000) is the records with the smallest hash of (--seed, id): the same records on every run
whatever the shard layout; a dataset no larger than it is measured whole.

OUT receives audit.json (every figure), lengths.png, ngrams.png, clusters.png and, for synthetic
data, constraints.png, and the stage's manifest.json: a rerun with the same settings over the same
input (its manifest's hash, or its shards' sizes and times when it has none) is skipped. OUT
defaults to DIR.audit beside DIR, never DIR/audit: a stage never writes into its input (docs/architecture.md),
and a directory inside DIR would be mistaken by other tools for part of the dataset. The headline
figures are printed at the end, also when the run is skipped.

Example:
  textbooks audit --data runs/x/corpus                  # -> runs/x/corpus.audit/audit.json
  textbooks audit --data runs/x/exercises --tokenizer runs/x/tokenizer --out runs/x/exercises-audit
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pyarrow.parquet as pq
from tqdm import tqdm

from textbooks.options import CommandOptions, PositiveInt, hashed, opt
from textbooks.audit.measures import (MAX_CLUSTERS, BottomKSample, ConstraintHistogram, TokenCounter,
                                      cluster_coverage, default_clusters, distinct_ngram_ratios, length_summary,
                                      most_similar_pairs, near_duplicate_counts, sample_key)
from textbooks.audit.plots import write_plots
from textbooks.similarity.dedup import content_hash
from textbooks.layout import AUDIT, IN_PROGRESS, MANIFEST, kind_of
from textbooks.records import (atomic_write_json, check_shards, files_fingerprint, naming_corrupt_shard,
                               read_shard, shard_paths)
from textbooks.stage import StageResult, StageRun, StageSpec, run_stage

STAGE = StageSpec("audit", outputs=re.compile(rf"{re.escape(AUDIT)}|\w+\.png"), subdirs=(), resumable=False)
READ_COLUMNS = ("id", "text", "constraints")  # all the audit reads of a record
BATCH = 512  # records tokenized at a time
EXCERPT_CHARS = 200


class Options(CommandOptions):
    data: Path = opt(help="the dataset directory to audit (Parquet or JSONL shards with a `text` column)",
                     metavar="DIR", hashed=False)
    out: Path | None = opt(None, help="where audit.json and the PNGs go (default: DIR.audit beside DIR)",
                           metavar="DIR", hashed=False)
    sample: PositiveInt = opt(20000, help="records measured for near duplicates, n-grams and embeddings",
                              metavar="N")
    seed: int = opt(0, help="which records the sample draws, and k-means' seed")
    tokenizer: Path | None = opt(None, help="count this tokenizer's tokens (a tokenizer.json or its directory); "
                                            "default: a simple code-token regex", metavar="PATH", hashed=False)
    embedder: str | None = opt(None, help="minilm (default), an HF encoder directory, or one of our checkpoints")
    clusters: PositiveInt | None = opt(None, help=f"k-means clusters (default: min({MAX_CLUSTERS}, "
                                                  "sqrt(distinct texts)))", metavar="K")
    top: PositiveInt = opt(10, help="most similar pairs and most common constraint values to report", metavar="K")


def run(options: Options) -> dict:
    """Audit --data into OUT (audit.json and PNGs), print the headline figures; return the manifest."""
    from textbooks.similarity.embeddings import embedder_name

    data, out, counter, records = setup(options)
    config = hashed(options, tokens=counter.name, embedder=embedder_name(options.embedder))
    inputs = [data] if (data / MANIFEST).is_file() else []
    if not inputs:  # a dataset no stage wrote (hand-made JSONL): its files stand for its manifest
        config["shards"] = files_fingerprint(shard_paths(data))
    manifest = run_stage(STAGE, out, config, lambda run: _audit(run, data, config, counter, options.embedder, records),
                         inputs=inputs)
    print(headline(json.loads((out / AUDIT).read_text(encoding="utf-8")), out))
    return manifest


def setup(options: Options) -> tuple[Path, Path, TokenCounter, int | None]:
    """Check the options and the dataset before any work; return the dataset, OUT, the token counter
    and the dataset's number of records (None: unknown until read)."""
    data = options.data.expanduser().resolve()
    records = check_dataset(data)
    out = (options.out or data.with_name(data.name + ".audit")).expanduser().resolve()
    if out.is_relative_to(data):
        raise ValueError(f"--out {out} is inside --data {data}: a stage never writes into its input; "
                         f"leave --out out to write {data.name}.audit beside it")
    return data, out, token_counter(options.tokenizer), records


def check_dataset(data: Path) -> int | None:
    """Check that `data` is a dataset with records that have a `text`; return its number of records
    (None when a JSONL shard would have to be read through to know)."""
    if not data.is_dir():
        raise FileNotFoundError(f"--data {data} is not a directory")
    if (data / IN_PROGRESS).exists():  # a stage's run that has not finished: its shards are a part, or old
        raise ValueError(f"--data {data} is an unfinished {kind_of(data)} run: rerun that stage to finish it, "
                         "then audit it")
    paths = shard_paths(data)
    if not paths:
        raise ValueError(f"--data {data} holds no record shards (.parquet or .jsonl)")
    check_shards(data, ["text"])
    counts = [_shard_records(path) for path in paths]
    if all(rows == 0 for rows in counts):
        raise ValueError(f"--data {data} has no records to audit (its shards are empty)")
    return None if None in counts else sum(counts)


def _shard_records(path: Path) -> int | None:
    """The records of one shard; a JSONL shard's are not counted (None unless it is empty)."""
    if path.suffix == ".parquet":
        return pq.read_metadata(path).num_rows
    return 0 if next(read_shard(path), None) is None else None


def token_counter(tokenizer_path: Path | None) -> TokenCounter:
    """The --tokenizer's counter, named by its path and content hash; the regex counter without one."""
    if tokenizer_path is None:
        return TokenCounter()
    from textbooks.tokens import load_tokenizer

    tokenizer = load_tokenizer(tokenizer_path)
    digest = hashlib.sha256(tokenizer.to_str().encode("utf-8")).hexdigest()[:16]
    return TokenCounter(tokenizer, f"tokenizer {tokenizer_path.resolve()} (sha256 {digest})")


def _audit(run: StageRun, data: Path, config: dict, counter: TokenCounter, embedder: str | None,
           records: int | None) -> StageResult:
    scan = scan_dataset(data, counter, config["sample"], config["seed"], records)
    sample = scan.sample.records()
    lengths = np.asarray(scan.lengths, dtype=np.int64)
    report = {"data": str(data), "records": scan.records, "characters": scan.characters,
              "tokens": {"counter": counter.name, "total": int(lengths.sum()), "per_record": length_summary(lengths)},
              "sample": {"records": len(sample), "seed": config["seed"], "whole_dataset": len(sample) == scan.records},
              "duplicates": duplicate_figures(scan, sample),
              "distinct_ngrams": distinct_ngram_ratios(counter.ids([r["text"] for r in sample])),
              "constraints": scan.constraints.summary(config["top"])}
    report["clusters"], report["similar_pairs"] = embedding_figures(sample, embedder, config)
    report["plots"] = write_plots(run.out, report, lengths)
    atomic_write_json(run.out / AUDIT, report)
    return StageResult({"records": scan.records, "sample": len(sample)},
                       f"audited {scan.records} records ({len(sample)} sampled) in "
                       f"{time.time() - run.started:.1f}s -> {run.out / AUDIT}")


@dataclass
class DatasetScan:
    """What one pass over every record gathers: lengths, exact duplicates, constraints, the sample."""

    sample: BottomKSample
    seed: int
    lengths: array = field(default_factory=lambda: array("q"))
    characters: int = 0
    exact_duplicates: int = 0
    hashes: set[str] = field(default_factory=set)
    constraints: ConstraintHistogram = field(default_factory=ConstraintHistogram)

    @property
    def records(self) -> int:
        return len(self.lengths)

    def add(self, position: int, record: dict, tokens: int) -> None:
        text, record_id = record["text"], str(record.get("id", f"#{position}"))
        self.lengths.append(tokens)
        self.characters += len(text)
        digest = content_hash(text)[:32]  # 128 bits: no collision in any dataset we could hold
        self.exact_duplicates += digest in self.hashes
        self.hashes.add(digest)
        self.constraints.add(record.get("constraints"), record_id)
        self.sample.offer(sample_key(record_id, self.seed), position, {"id": record_id, "text": text})


def scan_dataset(data: Path, counter: TokenCounter, sample_size: int, seed: int, total: int | None) -> DatasetScan:
    """One pass over every record of `data` (tokenized in batches), with a progress bar."""
    scan = DatasetScan(BottomKSample(sample_size), seed)
    rows = tqdm(enumerate(dataset_rows(data)), desc="audit", unit="record", total=total)
    for batch in _batches(rows, BATCH):
        for (position, record), tokens in zip(batch, counter.count([record["text"] for _, record in batch])):
            scan.add(position, record, tokens)
    return scan


def dataset_rows(data: Path) -> Iterator[dict]:
    """The id, text and constraints of every record of every shard (Parquet reads only those columns)."""
    for path in shard_paths(data):
        for record in _shard_rows(path):
            if not isinstance(record.get("text"), str):
                raise ValueError(f"{path}: record {record.get('id')!r} has no text (got {record.get('text')!r})")
            yield record


def _shard_rows(path: Path) -> Iterator[dict]:
    if path.suffix != ".parquet":
        yield from read_shard(path)
        return
    with naming_corrupt_shard(path):
        shard = pq.ParquetFile(path)
        columns = [c for c in READ_COLUMNS if c in shard.schema_arrow.names]
        for batch in shard.iter_batches(columns=columns):
            yield from batch.to_pylist()


def _batches(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def duplicate_figures(scan: DatasetScan, sample: list[dict]) -> dict:
    """Exact duplicates over the dataset; near duplicates beyond exact copies over the sample."""
    counts = near_duplicate_counts([r["text"] for r in sample])
    return {"exact": {"records": scan.exact_duplicates, "rate": round(scan.exact_duplicates / scan.records, 6),
                      "over": "dataset"},
            "near": {"records": counts["near"], "rate": round(counts["near"] / len(sample), 6),
                     "jaccard_threshold": counts["threshold"], "over": "sample"}}


def embedding_figures(sample: list[dict], embedder: str | None, config: dict) -> tuple[dict, list[dict]]:
    """The clusters and most similar pairs of the sample's distinct texts: each is embedded once,
    and weighs in k-means as many records as have it."""
    from textbooks.similarity.embeddings import open_embedder

    copies: dict[str, list[dict]] = {}
    for record in sample:
        copies.setdefault(content_hash(record["text"]), []).append(record)
    distinct = [records[0] for records in copies.values()]
    weights = np.array([len(records) for records in copies.values()], dtype=np.float64)
    vectors = open_embedder(embedder).embed([r["text"] for r in distinct], progress=True)
    k = config["clusters"] or default_clusters(len(distinct))
    clusters = {**cluster_coverage(vectors, weights, k, config["seed"]), "embedder": config["embedder"],
                "rule": "--clusters" if config["clusters"] else f"min({MAX_CLUSTERS}, round(sqrt(distinct texts)))"}
    pairs = [{"cosine": round(cosine, 4), "a": _excerpt(distinct[i]), "b": _excerpt(distinct[j])}
             for cosine, i, j in most_similar_pairs(vectors, config["top"])]
    return clusters, pairs


def _excerpt(record: dict) -> dict:
    return {"id": record["id"], "text": record["text"][:EXCERPT_CHARS]}


def headline(report: dict, out: Path) -> str:
    """The figures a reader looks at first, one per line."""
    tokens, dups, clusters = report["tokens"], report["duplicates"], report["clusters"]
    distinct = "  ".join(f"distinct-{n} {f['ratio']:.3f}" if f["ratio"] is not None else f"distinct-{n} -"
                         for n, f in report["distinct_ngrams"].items())
    lines = [f"records       {report['records']:,} ({report['sample']['records']:,} in the sample)",
             f"tokens        {tokens['total']:,} ({tokens['counter'].split()[0]}), median "
             f"{tokens['per_record']['median']:.0f} per record",
             f"duplicates    exact {dups['exact']['rate']:.2%} of records, near {dups['near']['rate']:.2%} "
             f"of the sample (MinHash Jaccard >= {dups['near']['jaccard_threshold']})",
             f"n-grams       {distinct}",
             f"clusters      {clusters['k']} k-means, {clusters['effective_clusters']:.1f} effective, "
             f"largest holds {clusters['largest_share']:.1%}"]
    if report["similar_pairs"]:
        pair = report["similar_pairs"][0]
        lines.append(f"most similar  {pair['a']['id']} ~ {pair['b']['id']} (cosine {pair['cosine']:.3f})")
    for key, figures in (report["constraints"] or {}).items():
        top = ", ".join(f"{value} ({count})" for value, count in figures["top"][:3])
        lines.append(f"constraint    {key}: {top}; {figures['distinct']} distinct")
    return "\n".join([*lines, f"report        {out / AUDIT}"])
