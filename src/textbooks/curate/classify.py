"""Score every record of a corpus for educational value and keep the best (PAPER.md §1).

phi-1 trained a random forest on code embeddings of the LLM-labeled sample and let it label the
rest. This embeds every record (--embedder: the packaged MiniLM by default, offline; an HF encoder
directory; or one of our checkpoints), trains the forest on the records of --labels, reports its
held-out accuracy and ROC-AUC in the manifest, scores every record, and keeps those with a score
>= --threshold, or the --top-fraction best. Dropped records go to OUT/rejects with their score.
--show prints the 10 highest- and 10 lowest-scored files.

Example:
  textbooks classify --data runs/x/corpus --labels runs/x/labels --out runs/x/filtered --top-fraction 0.5 --show
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from textbooks.records import (config_hash, read_manifest, read_records, stage_is_complete, write_manifest,
                               write_shard)

STAGE = "classify"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="the corpus dataset directory")
    parser.add_argument("--labels", type=Path, required=True, help="the labeled sample (textbooks label)")
    parser.add_argument("--out", type=Path, required=True, help="the filtered dataset directory")
    parser.add_argument("--embedder", help="minilm (default), an HF encoder dir, or one of our checkpoints")
    keep = parser.add_mutually_exclusive_group()
    keep.add_argument("--threshold", type=float, help="keep records scoring at least this")
    keep.add_argument("--top-fraction", type=float, help="keep this fraction of the best-scored records")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", action="store_true", help="print the 10 highest- and 10 lowest-scored files")


def setup(args: argparse.Namespace) -> dict:
    for path in (args.data, args.labels):
        if not path.is_dir():
            raise FileNotFoundError(f"{path} is not a dataset directory")
    threshold = args.threshold if args.threshold is not None or args.top_fraction is not None else 0.5
    return {"data": args.data, "labels": args.labels, "out": args.out, "embedder": args.embedder,
            "threshold": threshold, "top_fraction": args.top_fraction, "seed": args.seed, "show": args.show}


def train_on_labels(records: list[dict], embeddings: np.ndarray, labels_dir: Path, seed: int):
    """The forest trained on the embeddings of the labeled records (those the labeler judged)."""
    from textbooks.curate.classifier import train_classifier

    label_of = {r["id"]: r["label"] for r in read_records(labels_dir) if r["label"] is not None}
    rows = [i for i, r in enumerate(records) if r["id"] in label_of]
    if not rows:
        raise ValueError(f"no record of the corpus has a label in {labels_dir}")
    return train_classifier(embeddings[rows], [label_of[records[i]["id"]] for i in rows], seed=seed)


def main(data: Path, labels: Path, out: Path, embedder: str | None, threshold: float | None,
         top_fraction: float | None, seed: int, show: bool) -> dict:
    from textbooks.curate.classifier import score, select
    from textbooks.curate.embeddings import open_embedder

    config = {"data": str(data), "labels": str(labels), "embedder": embedder, "threshold": threshold,
              "top_fraction": top_fraction, "seed": seed,
              "inputs": [read_manifest(p).get("config_hash") for p in (data, labels)]}
    if stage_is_complete(out, STAGE, config):
        print(f"{out} already holds this selection (config {config_hash(config)}); nothing to do")
        return read_manifest(out)
    started = time.time()
    records = list(read_records(data))
    encoder = open_embedder(embedder)
    embeddings = encoder.embed([r["text"] for r in records], progress=True)
    model, metrics = train_on_labels(records, embeddings, labels, seed)
    scores = score(model, embeddings)
    keep = select(scores, threshold=threshold, top_fraction=top_fraction)
    scored = [{**r, "quality": float(s)} for r, s in zip(records, scores)]
    (out / "rejects").mkdir(parents=True, exist_ok=True)
    write_shard([r for r, k in zip(scored, keep) if k], out / "00000.parquet")
    dropped = [{**r, "reason": f"low educational value (score {r['quality']:.3f})"}
               for r, k in zip(scored, keep) if not k]
    write_shard(dropped, out / "rejects" / "00000.parquet")
    seconds = time.time() - started
    megabytes = sum(len(r["text"].encode()) for r in records) / 1e6
    counts = {"records": int(keep.sum()), "rejected": len(dropped), "records_per_s": round(len(records) / seconds, 2),
              "mb_per_s": round(megabytes / seconds, 3)}
    manifest = write_manifest(out, STAGE, config, counts, inputs=[data, labels], started=started,
                              embedder=encoder.name, classifier=metrics.to_dict())
    print(f"kept {counts['records']} of {len(records)} records; classifier held-out accuracy "
          f"{metrics.accuracy:.3f}, ROC-AUC {metrics.roc_auc:.3f} (majority {metrics.majority_accuracy:.3f}) -> {out}")
    if show:
        show_extremes(scored)
    return manifest


def show_extremes(scored: list[dict], n: int = 10) -> None:
    ranked = sorted(scored, key=lambda r: -r["quality"])
    for title, part in (("highest", ranked[:n]), ("lowest", ranked[-n:])):
        print(f"--- {n} {title}-scored records")
        for r in part:
            print(f"{r['quality']:.3f}  {r.get('path') or r['id']}")


def run(args: argparse.Namespace) -> None:
    main(**setup(args))
