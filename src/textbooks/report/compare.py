"""The paper's §3 view: the same prompts, each model's completion side by side with its verdict.

For each benchmark, the first and the last eval stage of it in run order that kept samples (e.g.
the base model and the finetuned one) are compared on a fixed set of prompts: the first
COMPARED_TASKS task ids both have a sample of, in natural order (HumanEval/2 before HumanEval/10),
so every report of a run shows the same ones. Each completion is the sample of index 0, its
verdict the sandbox's outcome and reason for it.
"""

from __future__ import annotations

import re
from pathlib import Path

from textbooks.report.collect import COMPARED_TASKS, read_jsonl

# A runaway completion (a small model repeating a line to max_new_tokens) is cut: the page is for
# reading, samples.jsonl keeps it whole.
COMPLETION_CHARS, COMPLETION_LINES = 3000, 40


def natural_key(task_id: str) -> list:
    """A sort key that orders the numbers in task ids by value: HumanEval/2 before HumanEval/10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", task_id)]


def first_samples(directory: Path) -> dict[str, dict]:
    """Each task's sample of index 0 (samples.jsonl)."""
    return {row["task_id"]: row for row in read_jsonl(directory / "samples.jsonl")
            if row.get("index", 0) == 0 and "task_id" in row}


def first_verdicts(directory: Path) -> dict[str, dict]:
    """The sandbox's verdict on each task's sample of index 0 (results.jsonl)."""
    return {row["task_id"]: row for row in read_jsonl(directory / "results.jsonl")
            if row.get("index", 0) == 0 and "task_id" in row}


def benchmark_prompts(run: dict) -> dict[str, str]:
    """The prompts of an eval stage's benchmark, from its --data file or the packaged HumanEval;
    empty when they cannot be read offline (eval's outputs do not keep the prompts)."""
    data = run["settings"].get("data")
    if not (data and Path(data).is_file()) and run["benchmark"] != "humaneval":
        return {}  # the hub is the only other source, and a report must not need the network
    try:
        from textbooks.evaluate.benchmarks import load_benchmark

        return {problem.task_id: problem.prompt for problem in load_benchmark(run["benchmark"], data)}
    except Exception:  # a moved or unreadable benchmark file: the task ids are still shown
        return {}


def side_by_side(evals: list[dict], count: int = COMPARED_TASKS) -> list[dict]:
    """Per benchmark: the stages compared and, for each shown task, its prompt and each stage's
    completion, finish reason, outcome and reason."""
    by_benchmark: dict[str, list[dict]] = {}
    for run in evals:
        by_benchmark.setdefault(run["benchmark"], []).append(run)
    comparisons = []
    for benchmark, runs in by_benchmark.items():
        sampled = [(run, found) for run in runs if (found := first_samples(run["dir"]))]
        if not sampled:
            continue
        shown, samples = zip(*([sampled[0], sampled[-1]] if len(sampled) > 1 else sampled))
        common = sorted(set.intersection(*(set(s) for s in samples)), key=natural_key)[:count]
        if not common:
            continue
        verdicts = [first_verdicts(run["dir"]) for run in shown]
        prompts = benchmark_prompts(shown[0])
        tasks = [{"task_id": task, "prompt": prompts.get(task),
                  "completions": [_completion(s[task], v.get(task, {})) for s, v in zip(samples, verdicts)]}
                 for task in common]
        comparisons.append({"benchmark": benchmark, "stages": [run["name"] for run in shown], "tasks": tasks})
    return comparisons


def shown_text(text: str) -> str:
    """`text` up to COMPLETION_LINES lines and COMPLETION_CHARS characters, saying what was cut."""
    shown = "\n".join(text.split("\n")[:COMPLETION_LINES])[:COMPLETION_CHARS]
    return shown if shown == text else f"{shown}\n… ({len(text) - len(shown)} more characters)"


def _completion(sample: dict, verdict: dict) -> dict:
    return {"text": shown_text(str(sample.get("completion", ""))),
            "finish_reason": sample.get("finish_reason"), "outcome": verdict.get("outcome", "not executed"),
            "reason": verdict.get("reason")}
