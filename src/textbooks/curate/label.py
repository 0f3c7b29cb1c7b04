"""Label a sample of a corpus for educational value (PAPER.md §1): the training set of the classifier.

phi-1 asked GPT-4 to judge the educational value of about 100k files "for a student whose goal is
to learn basic coding concepts", then trained a classifier to label the rest. --labeler heuristic
(the default, offline) scores code features with `ast` (see textbooks.curate.labelers); an
endpoint URL or a model directory asks that LLM through textbooks.llm, with a response cache in
OUT, so a rerun pays for nothing twice. The sample is drawn by hashing record ids with --seed, so
it does not depend on shard order. OUT holds the sampled records with columns label, label_score,
labeler and label_reason; records the labeler could not judge have label None.

Examples:
  textbooks label --data runs/x/corpus --out runs/x/labels --sample 2000
  textbooks label --data runs/x/corpus --out runs/x/labels --labeler http://127.0.0.1:8000/v1#gpt-4 --budget-tokens 2000000
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import time
from pathlib import Path

from textbooks.records import (config_hash, read_manifest, read_records, stage_is_complete, write_manifest,
                               write_shard)

STAGE = "label"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="the corpus dataset directory")
    parser.add_argument("--out", type=Path, required=True, help="the labeled sample's dataset directory")
    parser.add_argument("--sample", type=int, default=1000, help="records to label (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="which sample (default 0)")
    parser.add_argument("--labeler", default="heuristic", help="heuristic (default), an endpoint URL or a model dir")
    parser.add_argument("--budget-tokens", type=int, help="the most tokens an LLM labeler may spend")


def setup(args: argparse.Namespace) -> dict:
    if not args.data.is_dir():
        raise FileNotFoundError(f"--data {args.data} is not a dataset directory")
    if args.sample < 1:
        raise ValueError(f"--sample must be positive, got {args.sample}")
    return {"data": args.data, "out": args.out, "sample": args.sample, "seed": args.seed,
            "labeler": args.labeler, "budget_tokens": args.budget_tokens}


def sample_records(data: Path, size: int, seed: int) -> list[dict]:
    """`size` records chosen by the hash of (seed, id): the same sample whatever the shard order."""
    def key(record: dict) -> bytes:
        return hashlib.sha256(f"{seed}/{record['id']}".encode()).digest()
    return heapq.nsmallest(size, read_records(data), key=key)


def open_labeler(spec: str, out: Path, budget_tokens: int | None):
    from textbooks.curate.labelers import HeuristicLabeler, LLMLabeler

    if spec == "heuristic":
        return HeuristicLabeler()
    from textbooks.llm import open_client
    return LLMLabeler(open_client(spec, cache=out / "llm-cache.sqlite", budget_tokens=budget_tokens))


def main(data: Path, out: Path, sample: int, seed: int, labeler: str, budget_tokens: int | None) -> dict:
    from textbooks.curate.labelers import LabelingStopped, label_records

    config = {"data": str(data), "data_hash": read_manifest(data).get("config_hash"), "sample": sample,
              "seed": seed, "labeler": labeler, "budget_tokens": budget_tokens}
    if stage_is_complete(out, STAGE, config):
        print(f"{out} already holds these labels (config {config_hash(config)}); nothing to do")
        return read_manifest(out)
    started = time.time()
    out.mkdir(parents=True, exist_ok=True)
    labeled, stopped = [], None
    try:
        labeled.extend(label_records(sample_records(data, sample, seed), open_labeler(labeler, out, budget_tokens)))
    except LabelingStopped as error:  # keep what was labeled before the budget ran out
        stopped = str(error)
    labeled.sort(key=lambda r: r["id"])
    write_shard(labeled, out / "00000.parquet")
    counts = {"records": len(labeled), "positive": sum(r["label"] is True for r in labeled),
              "negative": sum(r["label"] is False for r in labeled),
              "unlabeled": sum(r["label"] is None for r in labeled), "stopped": stopped,
              "records_per_s": round(len(labeled) / max(time.time() - started, 1e-9), 2)}
    manifest = write_manifest(out, STAGE, config, counts, inputs=[data], started=started)
    print(f"labeled {counts['records']} records: {counts['positive']} positive, {counts['negative']} negative, "
          f"{counts['unlabeled']} unlabeled" + (f"; stopped: {stopped}" if stopped else "") + f" -> {out}")
    return manifest


def run(args: argparse.Namespace) -> None:
    main(**setup(args))
