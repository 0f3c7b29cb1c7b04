"""Score every record of a corpus for educational value and keep the best (paper §2.1).

phi-1 trained a random forest on code embeddings of the LLM-labeled sample and let it label the
rest. This embeds every record (--embedder: the packaged MiniLM by default, offline; an HF encoder
directory; or one of our checkpoints), trains the forest on the records of --labels, reports its
held-out accuracy and ROC-AUC in the manifest, scores every record, and keeps those with a score
>= --threshold, or the --top-fraction best. Dropped records go to OUT/rejects with their score.
--show prints the 10 highest- and 10 lowest-scored files.

Embedding, the costly part, runs over the corpus shards on --executor (a local process pool, or
Ray) into OUT/.work; the forest is trained and every record scored in this process; the kept and
rejected records are then written over the shards, one output shard per corpus shard. A killed
run, rerun with the same settings, keeps the shards it had embedded; OUT/.work is removed at the end.

Example:
  textbooks classify --data runs/x/corpus --labels runs/x/labels --out runs/x/filtered --top-fraction 0.5 --show
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from textbooks.options import hashed, opt
from textbooks.layout import REJECTS
from textbooks.records import read_column, shard_paths, throughput
from textbooks.stage import (ApplyDecisions, ParallelOptions, StageResult, StageRun, StageSpec,
                             run_stage, write_decisions)

STAGE = StageSpec("classify")
# In OUT/.work: every record with its embedding, and each record's score and keep decision.
EMBEDDED, DECISIONS = "embedded", "decisions.parquet"
DECISION_SCHEMA = pa.schema([("id", pa.string()), ("quality", pa.float64()), ("reason", pa.string())])


class Options(ParallelOptions):
    data: Path = opt(help="the corpus dataset directory", hashed=False)
    labels: Path = opt(help="the labeled sample (textbooks label)", hashed=False)
    out: Path = opt(help="the filtered dataset directory", hashed=False)
    embedder: str | None = opt(None, help="minilm (default), an HF encoder dir, or one of our checkpoints")
    threshold: float | None = opt(None, help="keep records scoring at least this (default 0.5)")
    top_fraction: float | None = opt(None, help="keep this fraction of the best-scored records (not with --threshold)")
    seed: int = opt(0, help="the forest's seed")
    show: bool = opt(False, help="print the 10 highest- and 10 lowest-scored files", hashed=False)


def setup(options: Options) -> float | None:
    """Check the options before any work; return the threshold (0.5 unless --top-fraction chooses)."""
    for path in (options.data, options.labels):
        if not path.is_dir():
            raise FileNotFoundError(f"{path} is not a dataset directory")
    if options.threshold is not None and options.top_fraction is not None:
        raise ValueError("--threshold and --top-fraction are two ways to choose what to keep: give one")
    return options.threshold if options.threshold is not None or options.top_fraction is not None else 0.5


@dataclass(frozen=True)
class EmbedShard:
    """The step that adds each record's `embedding` (float32 list). `threads` divides the CPUs among
    the workers, so that two workers' matrix products do not fight over the same cores."""

    embedder: str | None
    threads: int

    def __call__(self, records: Iterable[dict]) -> Iterator[dict]:
        from textbooks.similarity.embeddings import worker_embedder

        records = list(records)
        vectors = worker_embedder(self.embedder, self.threads).embed([r["text"] for r in records])
        for record, vector in zip(records, vectors):
            yield {**record, "embedding": vector}


def read_embeddings(embedded: Path) -> tuple[list[str], np.ndarray, int]:
    """Every record's id and embedding (float32, N x D) in corpus order, and the UTF-8 bytes of all texts."""
    ids, rows, text_bytes = [], [], 0
    for path in shard_paths(embedded):
        table = pq.read_table(path, columns=["id", "text", "embedding"])
        ids.extend(table.column("id").to_pylist())
        rows.extend(table.column("embedding").to_pylist())
        text_bytes += pc.sum(pc.binary_length(table.column("text"))).as_py() or 0
    return ids, np.asarray(rows, dtype=np.float32), text_bytes


def read_labels(labels_dir: Path, data: Path) -> dict[str, bool]:
    """The labeler's judgements (id -> label) of the records of `data`, read before any embedding is paid for."""
    corpus = set(read_column(data, "id"))
    labels = zip(read_column(labels_dir, "id"), read_column(labels_dir, "label"))
    label_of = {record_id: label for record_id, label in labels if label is not None and record_id in corpus}
    if not label_of:
        raise ValueError(f"no record of the corpus {data} has a label in {labels_dir}")
    return label_of


def decisions(ids: list[str], scores: np.ndarray, keep: np.ndarray) -> list[dict]:
    """Each record's score, and the reason of a record below the selection."""
    return [{"id": record_id, "quality": float(quality),
             "reason": None if kept else f"low educational value (score {quality:.3f})"}
            for record_id, quality, kept in zip(ids, scores, keep)]


def run(options: Options) -> dict:
    """Embed, score and filter --data into OUT; return the manifest."""
    config = hashed(options, threshold=setup(options))
    manifest = run_stage(STAGE, options.out, config, lambda run: _select(run, options, config["threshold"]),
                         inputs=[options.data, options.labels], executor=options.make_executor())
    if options.show:
        show_extremes(scored_files(options.out))
    return manifest


def _select(run: StageRun, options: Options, threshold: float | None) -> StageResult:
    """Embed every record (in parallel), train the forest and score (here), write the shards out."""
    from textbooks.curate.classifier import score, select, train_classifier
    from textbooks.similarity.embeddings import embedder_name, embedding_threads

    label_of = read_labels(options.labels, options.data)
    embed = EmbedShard(options.embedder, embedding_threads(options.workers))
    run.map("embed", embed, options.data, run.work / EMBEDDED)
    ids, embeddings, text_bytes = read_embeddings(run.work / EMBEDDED)
    rows = [i for i, record_id in enumerate(ids) if record_id in label_of]  # the forest learns the labeled ones
    model, metrics = train_classifier(embeddings[rows], [label_of[ids[i]] for i in rows], seed=options.seed)
    scores = score(model, embeddings)
    keep = select(scores, threshold=threshold, top_fraction=options.top_fraction)
    write_decisions(run.work / DECISIONS, decisions(ids, scores, keep), DECISION_SCHEMA)
    applied = run.map("apply", ApplyDecisions(str(run.work / DECISIONS), drop=("embedding",)), run.work / EMBEDDED)
    counts = {"records": sum(s.records_out for s in applied), "rejected": sum(s.rejected for s in applied),
              **throughput(len(ids), text_bytes, time.time() - run.started)}
    # the held-out metrics measure agreement with the labeler the forest learned from: name it
    labeler = ", ".join(sorted(set(read_column(options.labels, "labeler"))))
    return StageResult(counts, f"kept {counts['records']} of {len(ids)} records; against the {labeler} labels, "
                               f"held-out accuracy {metrics.accuracy:.3f}, ROC-AUC {metrics.roc_auc:.3f} "
                               f"(majority {metrics.majority_accuracy:.3f}) -> {run.out}",
                       extra={"embedder": embedder_name(options.embedder),
                              "classifier": {**asdict(metrics), "labeler": labeler}})


def scored_files(out: Path) -> list[dict]:
    """The quality, id and path (when the corpus has one) of every kept and rejected record of `out`."""
    scored = []
    for directory in (out, out / REJECTS):
        for path in shard_paths(directory) if directory.is_dir() else []:
            schema = pq.read_schema(path)
            columns = [c for c in ("id", "path", "quality") if c in schema.names]
            scored.extend(pq.read_table(path, columns=columns).to_pylist())
    return scored


def show_extremes(scored: list[dict], n: int = 10) -> None:
    ranked = sorted(scored, key=lambda r: -r["quality"])
    for title, part in (("highest", ranked[:n]), ("lowest", ranked[-n:])):
        print(f"--- {n} {title}-scored records")
        for r in part:
            print(f"{r['quality']:.3f}  {r.get('path') or r['id']}")
