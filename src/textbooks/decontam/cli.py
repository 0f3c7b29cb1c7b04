"""Compare every record of a dataset with every benchmark problem, and prune the similar ones (paper §5).

phi-1's check that its exercises did not leak HumanEval: 13-gram overlap found only four HumanEval
problems, all false positives, so the paper also measured the embedding distance and an AST-based
match rate of every exercise to every HumanEval solution, pruned the exercises at or above a
match rate tau, retrained, and scored HumanEval split into the problems that had a similar
exercise and those that had none (Table 3). This stage computes all three for each record:

  ngram_overlap, ngram_task   the record's distinct n-grams (13 by default, --ngram) of normalized
                              tokens found in a benchmark prompt or solution, and the task sharing most
  nearest_task, embedding_l2  the nearest benchmark solution by L2 distance between normalized
                              embeddings (--embedder: the packaged MiniLM, an HF encoder, our checkpoint)
  ast_match, ast_task         the AST match rate (textbooks.similarity.astmatch: normalized syntax, edit
                              distance) with the best-matching solution; ast_lines, the lines (FIRST-LAST)
                              of the record's function that matched (None: the record as a whole);
                              ast_parsed is False when the record did not parse and the score is the
                              token-level fallback

A record is pruned (to OUT/rejects, with a reason naming the task and the score) when a method of
--prune-on flags it: ast at ast_match >= --tau, embedding at embedding_l2 <= --max-l2, ngram at
ngram_overlap >= --min-ngrams. The manifest's `sweep` gives, for each tau of --sweep, the records
and share the AST match would prune and the problems it would mark similar (Table 3's columns);
OUT/similar.json says, for each benchmark problem, whether a record was flagged against it (the
split `textbooks eval --split` reports pass@k on); a record counts for the problem it matches best
by each method.

--against names the benchmarks, comma-separated: humaneval (packaged), humaneval-plus, mbpp or
mbpp-sanitized (from the hub, or NAME=PATH for a local file), or a HumanEval-format JSONL FILE.

Examples:
  textbooks decontam --data runs/x/exercises --against humaneval --out runs/x/decontam
  textbooks decontam --data runs/x/exercises --against humaneval,mbpp=data/mbpp.jsonl --tau 0.8 --out runs/x/pruned
"""

from __future__ import annotations

import functools
import re
import time
import typing
import warnings
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
from pydantic import BeforeValidator

from textbooks.layout import SIMILAR
from textbooks.options import hashed, opt
from textbooks.records import atomic_write_json, config_hash, throughput
from textbooks.stage import SHARDS, ParallelOptions, StageResult, StageRun, StageSpec, run_stage, written_column

STAGE = StageSpec("decontam", outputs=re.compile(f"{SHARDS.pattern}|{re.escape(SIMILAR)}"))
METHODS = ("ngram", "embedding", "ast")
SWEEP = (0.95, 0.9, 0.85, 0.8)  # paper §5, Table 3
HUMANEVAL_FORMAT = "humaneval"  # how a bare FILE of --against is read
SOLUTIONS = "solutions.npy"  # in OUT/.work: the embedded benchmark solutions


def parse_against(text) -> tuple[tuple[str, str | None], ...]:
    """--against: (benchmark name, path or None) per comma-separated item."""
    from textbooks.benchmarks import BENCHMARKS

    if not isinstance(text, str):
        return tuple(tuple(item) for item in text)
    items = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, path = item.partition("=")
        if name in BENCHMARKS:
            items.append((name, path or None))
        elif not path and Path(item).is_file():
            items.append((HUMANEVAL_FORMAT, item))
        else:
            raise ValueError(f"{item!r} is neither a benchmark ({', '.join(BENCHMARKS)}), "
                                             "NAME=PATH, nor a file")
    if not items:
        raise ValueError("name at least one benchmark")
    return tuple(items)


def method_list(text) -> tuple[str, ...]:
    if not isinstance(text, str):
        text = ",".join(text)
    methods = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ValueError(f"choose among {','.join(METHODS)}; got {text!r}")
    return methods


def unit_interval(text) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise ValueError(f"expected a number in (0, 1], got {text}")
    return value


def tau_list(text) -> tuple[float, ...]:
    if not isinstance(text, str):
        text = ",".join(map(str, text))
    return tuple(sorted({unit_interval(part) for part in text.split(",") if part.strip()}, reverse=True))


Against = typing.Annotated[tuple[tuple[str, str | None], ...], BeforeValidator(parse_against)]
Methods = typing.Annotated[tuple[str, ...], BeforeValidator(method_list)]
UnitInterval = typing.Annotated[float, BeforeValidator(unit_interval)]
Taus = typing.Annotated[tuple[float, ...], BeforeValidator(tau_list)]


class Options(ParallelOptions):
    data: Path = opt(help="the dataset to check (a `text` column)", hashed=False)
    against: Against = opt(help="benchmarks, comma-separated: humaneval, humaneval-plus, mbpp, mbpp-sanitized, "
                                "NAME=PATH, or a HumanEval-format JSONL file")
    out: Path = opt(help="the dataset directory to write", hashed=False)
    methods: Methods = opt(METHODS, help="which similarities to compute (default: ngram,embedding,ast)")
    prune_on: Methods = opt(("ast",), help="which methods prune a record (default: ast); several: any of them")
    tau: UnitInterval = opt(0.95, help="the AST match rate from which a record is similar")
    max_l2: float = opt(0.3, help="the embedding distance up to which a record is similar")
    min_ngrams: int = opt(1, help="the shared n-grams from which a record is similar")
    ngram: int = opt(13, help="n of the n-grams (default 13, as the paper)")
    sweep: Taus = opt(SWEEP, help="the taus whose pruning the manifest reports (default 0.95,0.9,0.85,0.8)")
    embedder: str | None = opt(None, help="minilm (default), an HF encoder dir, or one of our checkpoints")


def setup(options: Options) -> tuple[Reference, ...]:
    """Check the options before any work; return the benchmarks' problems."""
    if not options.data.is_dir():
        raise FileNotFoundError(f"--data {options.data} is not a dataset directory")
    missing = [m for m in options.prune_on if m not in options.methods]
    if missing:
        raise ValueError(f"--prune-on {','.join(missing)} needs that method in --methods")
    if options.ngram < 1 or options.min_ngrams < 1 or options.max_l2 < 0:
        raise ValueError("--ngram and --min-ngrams must be positive and --max-l2 not negative")
    return load_references(options.against)  # a missing file or a clash of task ids is said now


def run(options: Options) -> dict:
    """Score and prune --data against the benchmarks into OUT; return the manifest."""
    from textbooks.similarity.embeddings import embedder_name, embedding_threads

    references = setup(options)
    # The benchmarks go into the hash by content: a changed benchmark file reruns the stage.
    contents = config_hash({"references": [[r.task, r.prompt, r.code] for r in references]})
    config = hashed(options, references=contents,
                    embedder=embedder_name(options.embedder) if "embedding" in options.methods else None)
    prune = Prune(options.prune_on, options.tau, options.max_l2, options.min_ngrams)
    step = ScoreShard(options.against, options.methods, prune, options.ngram, options.embedder,
                      embedding_threads(options.workers))
    return run_stage(STAGE, options.out, config,
                     lambda run: _decontaminate(run, options.data, step, references, options.sweep),
                     inputs=[options.data], executor=options.make_executor())


@dataclass(frozen=True)
class Reference:
    """A benchmark problem as decontamination sees it: what a model is given and its solution's code."""
    benchmark: str
    task: str
    prompt: str
    code: str  # the whole solution (HumanEval: prompt + canonical solution; MBPP: the code)


@functools.lru_cache(maxsize=4)
def load_references(against: tuple[tuple[str, str | None], ...]) -> tuple[Reference, ...]:
    """The problems of every benchmark of --against; task ids must be unique across them."""
    from textbooks.benchmarks import load_benchmark

    references, seen = [], {}
    for name, path in against:
        for problem in load_benchmark(name, path):
            if problem.task_id in seen:
                raise ValueError(f"{problem.task_id} is in both {seen[problem.task_id]} and {name}: "
                                 "give --against benchmarks whose problems differ")
            seen[problem.task_id] = name
            references.append(Reference(name, problem.task_id, problem.prompt, solution_code(problem)))
    return tuple(references)


def solution_code(problem) -> str:
    """The solution as a whole: HumanEval's prompt holds the signature and docstring the canonical
    solution completes; MBPP's prompt is a description, and its solution stands alone."""
    whole = problem.prompt + problem.canonical_solution
    try:
        with warnings.catch_warnings():  # MBPP's regexes have invalid escapes, which only warn
            warnings.simplefilter("ignore")
            compile(whole, problem.task_id, "exec", dont_inherit=True)
        return whole
    except (SyntaxError, ValueError):
        return problem.canonical_solution


@dataclass(frozen=True)
class Prune:
    """Which methods prune a record, and from which score each one calls it similar."""
    methods: tuple[str, ...]
    tau: float
    max_l2: float
    min_ngrams: int

    def flags(self, record: dict) -> list[tuple[str, str, str]]:
        """(method, task, why) for each method of `methods` that calls `record` similar to a
        benchmark problem: the one it matches best by that method."""
        found = []
        if "ast" in self.methods and record["ast_match"] >= self.tau:
            found.append(("ast", record["ast_task"], f"ast match {record['ast_match']:.3f} >= tau {self.tau} "
                                                     f"with {record['ast_task']}"))
        if "embedding" in self.methods and record["embedding_l2"] <= self.max_l2:
            found.append(("embedding", record["nearest_task"], f"embedding L2 {record['embedding_l2']:.3f} <= "
                                                               f"{self.max_l2} to {record['nearest_task']}"))
        if "ngram" in self.methods and record["ngram_overlap"] >= self.min_ngrams:
            found.append(("ngram", record["ngram_task"], f"{record['ngram_overlap']} n-grams shared with "
                                                         f"{record['ngram_task']}"))
        return found

    def reason(self, record: dict) -> str | None:
        """Why `record` is pruned, naming the task and score; None if no method of `methods` flags it."""
        flags = self.flags(record)
        return "similar to a benchmark problem: " + "; ".join(why for _, _, why in flags) if flags else None


COLUMNS = ("ngram_overlap", "ngram_task", "nearest_task", "embedding_l2", "ast_match", "ast_task", "ast_parsed",
           "ast_lines")


@dataclass(frozen=True)
class ScoreShard:
    """The step that gives each record the COLUMNS of the methods it runs (the others None) and
    sends the records `prune` flags to the rejects with their reason."""

    against: tuple[tuple[str, str | None], ...]
    methods: tuple[str, ...]
    prune: Prune
    n: int = 13
    embedder: str | None = None
    threads: int = 1
    solutions_path: str | None = None  # the benchmark solutions embedded once, by `embed_solutions`

    def __call__(self, records: Iterable[dict]) -> Iterator[dict]:
        records = list(records)
        texts = [record["text"] for record in records]
        columns = {column: [None] * len(records) for column in COLUMNS}
        if "ngram" in self.methods:
            hits = [ngram_index(self.against, self.n).overlap(text) for text in texts]
            columns.update(ngram_overlap=[h.count for h in hits], ngram_task=[h.task for h in hits])
        if "ast" in self.methods:
            matches = ast_matcher(self.against).match(texts)
            columns.update(ast_match=[m.score for m in matches], ast_task=[m.task for m in matches],
                           ast_parsed=[m.parsed for m in matches],
                           ast_lines=[f"{m.lines[0]}-{m.lines[1]}" if m.lines else None for m in matches])
        if "embedding" in self.methods and texts:
            columns.update(zip(("nearest_task", "embedding_l2"), self.nearest(texts)))
        for i, record in enumerate(records):
            scored = {**record, **{column: values[i] for column, values in columns.items()}}
            reason = self.prune.reason(scored)
            yield {**scored, "reason": reason} if reason else scored

    def nearest(self, texts: list[str]) -> tuple[list[str], list[float]]:
        """Each text's nearest benchmark solution and the L2 distance between their normalized embeddings."""
        from textbooks.similarity.embeddings import worker_embedder

        tasks = [r.task for r in load_references(self.against)]
        similarity = worker_embedder(self.embedder, self.threads).embed(texts) @ load_vectors(self.solutions_path).T
        best = similarity.argmax(axis=1)
        # unit vectors: |a - b|^2 = 2 - 2 a.b
        l2 = np.sqrt(np.clip(2 - 2 * similarity[np.arange(len(texts)), best], 0, None))
        return [tasks[j] for j in best], [round(float(d), 6) for d in l2]


@functools.lru_cache(maxsize=2)
def ngram_index(against: tuple, n: int):
    """The n-grams of every benchmark prompt and solution (one per worker process)."""
    from textbooks.similarity.ngram import NGramIndex

    return NGramIndex({r.task: (r.prompt, r.code) for r in load_references(against)}, n)


@functools.lru_cache(maxsize=2)
def ast_matcher(against: tuple):
    """The normalized benchmark solutions (one per worker process)."""
    from textbooks.similarity.astmatch import ASTMatcher

    return ASTMatcher({r.task: r.code for r in load_references(against)})


@functools.lru_cache(maxsize=1)
def load_vectors(path: str) -> np.ndarray:
    return np.load(path)


def embed_solutions(references: tuple[Reference, ...], embedder: str | None, path: Path) -> None:
    """The benchmark solutions' embeddings, computed once here (every worker reads them) into `path`."""
    from textbooks.similarity.embeddings import open_embedder

    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, open_embedder(embedder).embed([r.code for r in references]))


def _decontaminate(run: StageRun, data: Path, step: ScoreShard, references: tuple[Reference, ...],
                   taus: tuple[float, ...]) -> StageResult:
    """Score every shard (in parallel), then the sweep and the similar problems over all records."""
    if "embedding" in step.methods:
        embed_solutions(references, step.embedder, run.work / SOLUTIONS)
        step = replace(step, solutions_path=str(run.work / SOLUTIONS))
    stats = run.map("score", step, data)
    scores = scored_records(run.out)
    flags = [step.prune.flags(record) for record in scores]  # (method, task, why) of each record
    similar = similar_problems(scores, flags, step.prune, references)
    atomic_write_json(run.out / SIMILAR, similar)
    sweep = sweep_table(scores, taus, len(references)) if "ast" in step.methods else []
    records_in = sum(s.records_in for s in stats)
    pruned = sum(1 for record_flags in flags if record_flags)
    counts = {"records": records_in - pruned, "rejected": pruned, "records_in": records_in,
              "problems": len(references), "similar_problems": sum(t["similar"] for t in similar["tasks"].values()),
              "flagged_by": flagged_by(flags, step.prune.methods), "sweep": sweep,
              **throughput(records_in, 0, time.time() - run.started)}
    return StageResult(counts, f"{pruned} of {records_in} records pruned as similar to {counts['similar_problems']} "
                               f"of {len(references)} benchmark problems ({', '.join(step.prune.methods)}); "
                               f"{sweep_line(sweep)} -> {run.out}")


def scored_records(out: Path) -> list[dict]:
    """The score columns of every record written, kept and pruned."""
    columns = {column: written_column(out, column) for column in COLUMNS}
    return [dict(zip(columns, values)) for values in zip(*columns.values())]


def similar_problems(scores: list[dict], flags: list[list[tuple[str, str, str]]], prune: Prune,
                     references: tuple[Reference, ...]) -> dict:
    """For each benchmark problem, whether a record is flagged against it (the --split of eval), and
    how many; `flags`: each record's Prune.flags."""
    flagged = Counter(task for record_flags in flags for task in {task for _, task, _ in record_flags})
    best = {}
    for record in scores:
        if record["ast_task"] is not None:
            best[record["ast_task"]] = max(best.get(record["ast_task"], 0.0), record["ast_match"])
    tasks = {r.task: {"benchmark": r.benchmark, "similar": flagged[r.task] > 0, "records": flagged[r.task],
                      "best_ast_match": best.get(r.task)} for r in references}
    return {"prune": {"methods": list(prune.methods), "tau": prune.tau, "max_l2": prune.max_l2,
                      "min_ngrams": prune.min_ngrams}, "tasks": tasks}


def sweep_table(scores: list[dict], taus: tuple[float, ...], problems: int) -> list[dict]:
    """Table 3's columns: per tau, the records the AST match prunes, their share, and the problems made similar."""
    rows = []
    for tau in taus:
        hits = [record for record in scores if record["ast_match"] is not None and record["ast_match"] >= tau]
        rows.append({"tau": tau, "pruned": len(hits), "share": round(len(hits) / len(scores), 6) if scores else 0.0,
                     "similar_problems": len({record["ast_task"] for record in hits}), "problems": problems})
    return rows


def flagged_by(flags: list[list[tuple[str, str, str]]], methods: tuple[str, ...]) -> dict[str, int]:
    """How many records each method of --prune-on flags (a record may be flagged by several)."""
    counts = Counter(method for record_flags in flags for method, _, _ in record_flags)
    return {method: counts[method] for method in methods}


def sweep_line(sweep: list[dict]) -> str:
    return "sweep: " + ", ".join(f"tau {row['tau']} prunes {row['pruned']} ({row['share']:.1%})" for row in sweep) \
        if sweep else "no AST sweep"
