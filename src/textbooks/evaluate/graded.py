"""Graded evaluation (PAPER.md §4): a grader LLM critiques each solution, then scores it 0-10.

Unit tests alone miss partial progress and reward lucky passes, so phi-1 was also judged on new,
unconventional problems by GPT-4: a verbal critique of the solution against the task, then a
score. A problem file is JSONL, one {"task_id", "prompt"} per line, where the prompt is the code
the model completes (a signature and docstring). A grade that cannot be parsed is asked for again
with another seed, and after --grader-retries it is reported as unparsable, never scored.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from textbooks.evaluate.benchmarks import HUMANEVAL_STOPS, Problem, read_records
from textbooks.evaluate.samples import Sample, append_jsonl, read_jsonl_lines, truncate_torn_line
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
    for number, record in enumerate(read_records(path), 1):
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


def grade_sample(grader, problem: Problem, sample: Sample, seed: int) -> dict:
    """Ask the grader until it gives a parsable score (at most GRADE_ATTEMPTS times)."""
    from textbooks.llm import Request

    text = GRADER_PROMPT.format(prompt=problem.prompt.rstrip(), solution=(problem.prompt + sample.completion).rstrip())
    answers = []
    for attempt in range(GRADE_ATTEMPTS):
        # a new seed per attempt: the response cache would otherwise return the same answer
        request = Request(messages=(("user", text),), max_tokens=1024, temperature=0.0 if attempt == 0 else 0.7,
                          seed=seed + attempt)
        answer = grader.complete([request])[0].text
        answers.append(answer)
        score = parse_score(answer)
        if score is not None:
            return {"task_id": sample.task_id, "index": sample.index, "score": score, "critique": answer,
                    "attempts": attempt + 1}
    return {"task_id": sample.task_id, "index": sample.index, "score": None, "attempts": GRADE_ATTEMPTS,
            "error": f"no 'Score: N/10' with N in 0..10 in {GRADE_ATTEMPTS} answers; last: {answers[-1][-200:]!r}"}


def grade_samples(problems: list[Problem], samples: list[Sample], grader_spec: str, seed: int,
                  out: Path, concurrency: int) -> dict[tuple[str, int], dict]:
    """Each sample's grade: those in OUT/grades.jsonl, and the rest asked of the grader."""
    from textbooks.llm import open_client

    path = out / "grades.jsonl"
    truncate_torn_line(path)
    grades = {(g["task_id"], g["index"]): g for g in read_jsonl_lines(path)}
    todo = [s for s in samples if (s.task_id, s.index) not in grades]
    if todo:
        grader = open_client(grader_spec, cache=out / "grader-cache.sqlite", concurrency=concurrency)
        by_id = {p.task_id: p for p in problems}
        for sample in tqdm(todo, desc="grading", unit="solution"):
            grade = grade_sample(grader, by_id[sample.task_id], sample, seed)
            append_jsonl(path, [grade])
            grades[(sample.task_id, sample.index)] = grade
    return grades


def grade(settings, problems: list[Problem], out: Path, samples_file: Path | None, concurrency: int) -> dict:
    """Generate (or read) solutions, grade them, and write summary.json with the mean score."""
    from textbooks.evaluate.cli import collect_samples

    started = time.time()
    samples = collect_samples(problems, settings, out, samples_file, concurrency)
    grades = grade_samples(problems, samples, settings.grader, settings.seed, out, concurrency)
    scores = [grades[(s.task_id, s.index)]["score"] for s in samples]
    parsed = [s for s in scores if s is not None]
    summary = {"benchmark": "graded", "problems": len(problems), "samples": len(samples),
               "mean_score": sum(parsed) / len(parsed) if parsed else None,
               "graded": len(parsed), "unparsable": len(scores) - len(parsed),
               "settings": asdict(settings), "code_version": code_version(),
               "wall_time_s": round(time.time() - started, 2)}
    atomic_write_json(out / "summary.json", summary)
    mean = f"{summary['mean_score']:.2f}/10" if parsed else "none"
    print(f"graded: mean score {mean} over {len(parsed)} solutions; {summary['unparsable']} unparsable "
          f"(see {out / 'grades.jsonl'})")
    return summary
