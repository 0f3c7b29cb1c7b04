"""Label a sample of a corpus for educational value (paper §2.1): the training set of the classifier.

phi-1 asked GPT-4 to judge the educational value of about 100k files "for a student whose goal is
to learn basic coding concepts", then trained a classifier to label the rest. --labeler heuristic
(the default, offline) scores code features with `ast` (see textbooks.curate.labelers); an
endpoint URL or a model directory asks that LLM through textbooks.llm, with a response cache in
OUT/llm-cache.sqlite, so a rerun pays for nothing twice. The sample is drawn by hashing record ids
with --seed, so it does not depend on shard order. OUT holds the sampled records, one shard per
corpus shard (empty when none of its records was drawn), with columns label, label_score, labeler
and label_reason; records the labeler could not judge have label None.

The heuristic labeler runs over the shards on --executor (a local process pool, or Ray). An LLM
labeler runs the shards one after another in this process whatever --executor says: the client's
own concurrent requests are the parallelism, and one client keeps one token budget and one cache
over the whole run. When --budget-tokens runs out, the records labeled so far are kept, the
shards not reached stay empty and the manifest says `stopped`; rerun with a bigger budget to label
the rest (the cached answers cost nothing). A killed run, rerun with the same settings, resumes at
the shard it was on, with what the killed attempt spent (the cache's ledger) charged to its budget.

Examples:
  textbooks label --data runs/x/corpus --out runs/x/labels --sample 2000
  textbooks label --data runs/x/corpus --out runs/x/labels --labeler http://127.0.0.1:8000/v1#gpt-4 \\
      --budget-tokens 2000000
"""

from __future__ import annotations

import hashlib
import heapq
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from textbooks.options import PositiveInt, check_seconds, hashed, opt
from textbooks.executor import Executor, SerialExecutor
from textbooks.layout import LLM_CACHE, STOPPED, WORK
from textbooks.llm.http import MAX_RETRIES, TIMEOUT_S
from textbooks.records import atomic_write_json, read_column, read_records, throughput
from textbooks.stage import ParallelOptions, StageResult, StageRun, StageSpec, read_stop, run_stage

STAGE = StageSpec("label", subdirs=())


class Options(ParallelOptions):
    data: Path = opt(help="the corpus dataset directory", hashed=False)
    out: Path = opt(help="the labeled sample's dataset directory", hashed=False)
    sample: PositiveInt = opt(1000, help="records to label")
    seed: int = opt(0, help="which sample")
    labeler: str = opt("heuristic", help="heuristic (default), an endpoint URL or a model dir")
    budget_tokens: int | None = opt(None, help="the most tokens an LLM labeler may spend")
    request_timeout: float = opt(TIMEOUT_S, help=f"seconds each attempt of a request to an LLM labeler may take in all "
                                                 f"(default {TIMEOUT_S:g}; {MAX_RETRIES + 1} attempts at most)",
                                 metavar="SECONDS", hashed=False)


def setup(options: Options) -> Executor:
    """Check the options before any work; return the executor to label on."""
    if not options.data.is_dir():
        raise FileNotFoundError(f"--data {options.data} is not a dataset directory")
    check_seconds(request_timeout=options.request_timeout)
    # An LLM client is one budget and one cache: it stays in this process (its requests run concurrently).
    return options.make_executor() if options.labeler == "heuristic" else SerialExecutor()


def sample_ids(data: Path, size: int, seed: int) -> frozenset[str]:
    """The ids of `size` records chosen by the hash of (seed, id): the same sample whatever the shard order."""
    def key(record_id: str) -> bytes:
        return hashlib.sha256(f"{seed}/{record_id}".encode()).digest()
    return frozenset(heapq.nsmallest(size, read_column(data, "id"), key=key))


def open_labeler(options: Options, out: Path):
    from textbooks.curate.labelers import HeuristicLabeler, LLMLabeler

    if options.labeler == "heuristic":
        return HeuristicLabeler()
    from textbooks.llm import open_client
    from textbooks.llm.cache import LEDGER_AT_START, tokens_spent_in_run
    return LLMLabeler(open_client(options.labeler, cache=out / LLM_CACHE, budget_tokens=options.budget_tokens,
                                  spent_tokens=tokens_spent_in_run(out / LLM_CACHE, out / WORK / LEDGER_AT_START),
                                  timeout_s=options.request_timeout))


@dataclass
class LabelSample:
    """The step: the records of a shard that are in the sample, with their labels.

    When the labeler's budget runs out, the step keeps the records labeled so far and writes to
    `stopped_path` why and which they are; from then on it labels nothing more. A run killed after
    that (its shard perhaps unwritten) and resumed labels those same records again, from the
    cache, and no others: the resumed run ends as the uninterrupted one did.
    """

    sample: frozenset[str]
    labeler: object  # a textbooks.curate.labelers.Labeler
    stopped_path: str

    def __call__(self, records: Iterable[dict]) -> Iterator[dict]:
        from textbooks.curate.labelers import LabelingStopped, label_records

        stop = read_stop(Path(self.stopped_path))
        sample = self.sample if stop is None else self.sample & frozenset(stop["labeled"])
        labeled = []
        try:
            labeled.extend(label_records((r for r in records if r["id"] in sample), self.labeler, progress=False))
        except LabelingStopped as error:
            atomic_write_json(self.stopped_path, {"reason": str(error), "labeled": [r["id"] for r in labeled]})
        yield from labeled


def run(options: Options) -> dict:
    """Label the sample of --data into OUT; return the manifest."""
    executor = setup(options)
    return run_stage(STAGE, options.out, hashed(options), lambda run: _label(run, options), inputs=[options.data],
                     executor=executor)


def _label(run: StageRun, options: Options) -> StageResult:
    stopped_path = run.work / STOPPED
    stopped_path.parent.mkdir(parents=True, exist_ok=True)
    labeler = open_labeler(options, run.out)
    sample = sample_ids(options.data, options.sample, options.seed)
    run.map("label", LabelSample(sample, labeler, str(stopped_path)), options.data)
    stopped = (read_stop(stopped_path) or {}).get("reason")
    counts = count_labels(list(read_records(run.out)), stopped, time.time() - run.started)
    return StageResult(counts, f"labeled {counts['records']} records: {counts['positive']} positive, "
                               f"{counts['negative']} negative, {counts['unlabeled']} unlabeled"
                       + (f"; stopped: {stopped}" if stopped else "")
                       + f" ({counts['records_per_s']} records/s) -> {run.out}")


def count_labels(labeled: list[dict], stopped: str | None, seconds: float) -> dict:
    """The manifest's counts: labels by value, why labeling stopped (None: it did not), throughput."""
    nbytes = sum(len(r["text"].encode()) for r in labeled)
    return {"records": len(labeled), "positive": sum(r["label"] is True for r in labeled),
            "negative": sum(r["label"] is False for r in labeled),
            "unlabeled": sum(r["label"] is None for r in labeled), "stopped": stopped,
            **throughput(len(labeled), nbytes, seconds)}
