"""Graded evaluation (paper §4): a grader LLM critiques each solution, then scores it 0-10.

Unit tests alone miss partial progress and reward lucky passes, so phi-1 was also judged on new,
unconventional problems by GPT-4: a verbal critique of the solution against the task, then a
score. A problem file is JSONL, one {"task_id", "prompt"} per line, where the prompt is the code
the model completes (a signature and docstring). The grader is `textbooks eval graded --grader`
(an endpoint URL or a model directory). A grade that cannot be parsed is asked for again with
another seed, GRADE_ATTEMPTS (3) times in all; after that it is reported as unparsable, never scored.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from tqdm import tqdm

from textbooks.codetext import HUMANEVAL_STOPS
from textbooks.benchmarks import Problem, read_benchmark_file
from textbooks.evaluate.harness import Options, claimed, collect_samples
from textbooks.evaluate.samples import Sample, append_jsonl, read_appended_rows, truncate_torn_line
from textbooks.layout import GRADER_CACHE, GRADES, SUMMARY
from textbooks.records import atomic_write_json, code_version

DEFAULT_PROBLEMS = Path(__file__).parent / "data" / "graded-problems.jsonl"
GRADE_ATTEMPTS = 3  # a grade is asked for at most this many times before it is reported unparsable

GRADER_PROMPT = """You are grading a student's solution to a Python coding task.

The task (a function signature and docstring the student had to complete):
```python
{prompt}
```

The student's solution:
```python
{solution}
```

First write a short critique: does the solution do what the task asks, for all inputs the task
allows? Is it clear and idiomatic? Then, on the last line, write the score in exactly this form:
Score: N/10
where N is an integer from 0 (no useful progress) to 10 (correct and complete)."""

SCORE = re.compile(r"score\s*[:=]\s*\**\s*(\d{1,2}(?:\.\d+)?)\s*\**\s*/\s*10", re.IGNORECASE)


def load_graded_problems(path: Path | None) -> list[Problem]:
    """The problems of a graded-evaluation file (default: the small set shipped with textbooks)."""
    path = Path(path) if path else DEFAULT_PROBLEMS
    problems = []
    for number, record in enumerate(read_benchmark_file(path), 1):
        if not isinstance(record, dict) or not {"task_id", "prompt"} <= record.keys():
            raise ValueError(f"{path}: problem {number} needs task_id and prompt")
        problems.append(Problem(task_id=str(record["task_id"]), prompt=record["prompt"],
                                canonical_solution="", test="", stop=HUMANEVAL_STOPS))
    if not problems:
        raise ValueError(f"{path} holds no problems")
    return problems


def parse_score(critique: str) -> float | None:
    """The last "Score: N/10" of a grader's answer, or None when there is none in 0..10."""
    matches = SCORE.findall(critique)
    if not matches:
        return None
    score = float(matches[-1])
    return score if 0 <= score <= 10 else None


def grader_request(problem: Problem, sample: Sample, seed: int, attempt: int):
    """The grader's request for a solution at attempt 0, 1, ... (greedy, then sampled anew)."""
    from textbooks.llm import Request
    from textbooks.llm.ask import attempt_sampling

    text = GRADER_PROMPT.format(prompt=problem.prompt.rstrip(), solution=(problem.prompt + sample.completion).rstrip())
    return Request(messages=(("user", text),), max_tokens=1024, **attempt_sampling(attempt, seed))


def grade_row(sample: Sample, answer) -> dict:
    """A line of grades.jsonl: the score and critique, or why there is no score."""
    row = {"task_id": sample.task_id, "index": sample.index, "score": answer.value, "attempts": answer.attempts}
    if answer.value is None:
        return {**row, "error": f"no 'Score: N/10' with N in 0..10 in {answer.attempts} answers; "
                                f"last: {answer.reply[-200:]!r}"}
    return {**row, "critique": answer.reply}


def grade_samples(problems: list[Problem], samples: list[Sample], grader_spec: str, seed: int,
                  out: Path, concurrency: int) -> dict[tuple[str, int], dict]:
    """Each sample's grade: those in OUT/grades.jsonl, and the rest asked of the grader, `concurrency`
    at a time, each batch's grades saved before the next is asked (a kill loses one batch at most)."""
    from textbooks.llm import open_client
    from textbooks.llm.ask import ask_until_parsed

    path = out / GRADES
    truncate_torn_line(path)
    grades = {(g["task_id"], g["index"]): g for g in read_appended_rows(path)}
    todo = [s for s in samples if (s.task_id, s.index) not in grades]
    if todo:
        grader = open_client(grader_spec, cache=out / GRADER_CACHE, concurrency=concurrency)
        by_id = {p.task_id: p for p in problems}
        for start in tqdm(range(0, len(todo), concurrency), desc="grading", unit="batch"):
            batch = todo[start:start + concurrency]
            answers = ask_until_parsed(grader, batch, lambda s, k: grader_request(by_id[s.task_id], s, seed, k),
                                       parse_score, max_attempts=GRADE_ATTEMPTS)
            rows = [grade_row(sample, answer) for sample, answer in zip(batch, answers)]
            append_jsonl(path, rows)
            grades.update(((row["task_id"], row["index"]), row) for row in rows)
    return grades


def grade(options: Options, problems: list[Problem]) -> dict:
    """Generate (or read) solutions, grade them, and write summary.json with the mean score, holding OUT."""
    started = time.time()
    with claimed(options) as (out, settings):
        samples = collect_samples(problems, options, out)
        grades = grade_samples(problems, samples, options.grader, options.seed, out, options.concurrency)
        scores = [grades[(s.task_id, s.index)]["score"] for s in samples]
        parsed = [s for s in scores if s is not None]
        summary = {"benchmark": "graded", "problems": len(problems), "samples": len(samples),
                   "mean_score": sum(parsed) / len(parsed) if parsed else None,
                   "graded": len(parsed), "unparsable": len(scores) - len(parsed),
                   "settings": settings, "code_version": code_version(),
                   "wall_time_s": round(time.time() - started, 2)}
        atomic_write_json(out / SUMMARY, summary)
    mean = f"{summary['mean_score']:.2f}/10" if parsed else "none"
    print(f"graded: mean score {mean} over {len(parsed)} solutions; {summary['unparsable']} unparsable "
          f"(see {out / GRADES})")
    return summary
