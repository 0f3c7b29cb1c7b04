"""The paper's §3 view: the same prompts, each model's completion side by side with its verdict.

For each benchmark and kind of evaluation (greedy, reveal F, sampled: collect.eval_label, so that
both models answered the same prompts the same way), the first and the last eval stage of it in
run order that kept samples (e.g. the base model and the finetuned one) are compared on up to
COMPARED_TASKS prompts both have a sample of, chosen where the two models differ (CHOICES): first
the prompts one model passes and the other does not, then those whose completions differ, then the
rest, each group in natural order (HumanEval/2 before HumanEval/10), so every report of a run
shows the same ones. A kind only one stage has samples of shows its first prompts in natural
order. Each completion is the sample of index 0, its verdict the sandbox's outcome and reason for
it. Beside each completion that passed: the nearest exercise of the run's finetuning data, by AST
match rate (`nearest`).
"""

from __future__ import annotations

import re
from pathlib import Path

from textbooks.layout import RESULTS, SAMPLES
from textbooks.report.collect import COMPARED_TASKS, eval_label, read_jsonl
from textbooks.report.nearest import CANDIDATES, nearest_exercises, program, read_exercises

# A runaway completion (a small model repeating a line to max_new_tokens) is cut: the page is for
# reading, samples.jsonl keeps it whole.
COMPLETION_CHARS, COMPLETION_LINES = 3000, 40
# Why a prompt is shown, in the order prompts are chosen.
CHOICES = ("one model passes, the other does not", "the completions differ", "the same completion")


def natural_key(task_id: str) -> list:
    """A sort key that orders the numbers in task ids by value: HumanEval/2 before HumanEval/10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", task_id)]


def first_rows(path: Path) -> dict[str, dict]:
    """Each task's row for its sample of index 0, in an eval's samples.jsonl or results.jsonl."""
    return {row["task_id"]: row for row in read_jsonl(path) if row.get("index", 0) == 0 and "task_id" in row}


def benchmark_prompts(run: dict) -> dict[str, str]:
    """The prompts of an eval stage's benchmark as the model saw them (with --reveal's lines), from its
    --data file or the packaged HumanEval; empty when they cannot be read offline (eval's outputs do
    not keep the prompts)."""
    data, reveal = run["settings"].get("data"), run["settings"].get("reveal") or 0
    if not (data and Path(data).is_file()) and run["benchmark"] != "humaneval":
        return {}  # the hub is the only other source, and a report must not need the network
    try:
        from textbooks.benchmarks import load_benchmark, revealed

        return {problem.task_id: revealed(problem, reveal).prompt for problem in load_benchmark(run["benchmark"], data)}
    except Exception:  # a moved or unreadable benchmark file: the task ids are still shown
        return {}


def side_by_side(evals: list[dict], count: int = COMPARED_TASKS, exercises: dict | None = None) -> list[dict]:
    """Per benchmark and kind of evaluation: the stages compared and, for each shown task, its prompt,
    why it is shown and each stage's completion, finish reason, outcome and reason, and for one that
    passed the nearest exercise of the dataset stage `exercises` (collect.exercise_stage; None: no
    exercises)."""
    groups: dict[str, list[dict]] = {}
    for run in evals:
        groups.setdefault(eval_label(run), []).append(run)
    comparisons = []
    for label, runs in groups.items():
        sampled = [(run, found) for run in runs if (found := first_rows(run["dir"] / SAMPLES))]
        if not sampled:
            continue
        shown, samples = zip(*([sampled[0], sampled[-1]] if len(sampled) > 1 else sampled))
        common = set.intersection(*(set(s) for s in samples))
        if not common:
            continue
        verdicts = [first_rows(run["dir"] / RESULTS) for run in shown]
        prompts = benchmark_prompts(shown[0])
        tasks = [{"task_id": task, "prompt": prompts.get(task), "why": why if len(shown) > 1 else None,
                  "completions": [_completion(s[task], v.get(task, {})) for s, v in zip(samples, verdicts)]}
                 for task, why in chosen_tasks(common, samples, verdicts, count)]
        comparisons.append({"benchmark": label, "stages": [run["name"] for run in shown], "tasks": tasks,
                            "count": count})
    if exercises:
        add_nearest(comparisons, exercises)
    return comparisons


def chosen_tasks(tasks: set[str], samples: tuple[dict, ...], verdicts: list[dict], count: int) -> list[tuple[str, str]]:
    """Up to `count` of `tasks`, those where the stages differ first (CHOICES), each with why it is shown."""
    def choice(task: str) -> int:
        if len({verdict.get(task, {}).get("outcome") == "passed" for verdict in verdicts}) > 1:
            return 0
        return 1 if len({str(found[task].get("completion", "")) for found in samples}) > 1 else 2

    choices = {task: choice(task) for task in tasks}
    ranked = sorted(tasks, key=lambda task: (choices[task], natural_key(task)))[:count]
    return [(task, CHOICES[choices[task]]) for task in ranked]


def add_nearest(comparisons: list[dict], stage: dict) -> None:
    """Give each completion that passed its nearest exercise of `stage`, and each comparison that has
    one the stage it is from. The exercises are read only when some completion passed."""
    solved = [(task, done) for comparison in comparisons for task in comparison["tasks"]
              for done in task["completions"] if done["outcome"] == "passed"]
    exercises = read_exercises(stage) if solved else None
    if not exercises or not exercises.texts:
        return
    programs = [program(task["prompt"], done["completion"]) for task, done in solved]
    codes = list(dict.fromkeys(code for code in programs if code))
    found = dict(zip(codes, nearest_exercises(codes, exercises)))
    for (_, done), code in zip(solved, programs):
        if code:
            exercise = found[code]
            done["nearest"] = {"id": exercise.id, "text": shown_text(exercise.text), "ast_match": exercise.ast_match,
                               "parsed": exercise.parsed, "ngrams": exercise.ngrams, "n": exercise.n}
    for comparison in comparisons:
        shown = [done["nearest"] for task in comparison["tasks"] for done in task["completions"] if "nearest" in done]
        if shown:
            comparison["exercises"] = {"stage": exercises.stage, "records": len(exercises.texts), "n": shown[0]["n"],
                                       "candidates": min(CANDIDATES, len(exercises.texts))}


def shown_text(text: str) -> str:
    """`text` up to COMPLETION_LINES lines and COMPLETION_CHARS characters, saying what was cut."""
    shown = "\n".join(text.split("\n")[:COMPLETION_LINES])[:COMPLETION_CHARS]
    return shown if shown == text else f"{shown}\n… ({len(text) - len(shown)} more characters)"


def _completion(sample: dict, verdict: dict) -> dict:
    completion = str(sample.get("completion", ""))
    return {"text": shown_text(completion), "completion": completion,
            "finish_reason": sample.get("finish_reason"), "outcome": verdict.get("outcome", "not executed"),
            "reason": verdict.get("reason")}
