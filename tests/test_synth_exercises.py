"""Exercises from teacher replies: parsed strictly, and kept only if they pass their asserts in the
real sandbox (paper §2.2)."""

import json
import pickle
import time
import uuid
from pathlib import Path

import pytest

from textbooks.executor import LocalExecutor
from textbooks.records import read_records, write_shard
from textbooks.sandbox.pool import Limits, Sandbox
from textbooks.synth.exercises import (VerifyShard, exercise_program, parse_exercise_reply,
                                       reply_record, verify_exercises)

LIMITS = Limits(timeout_s=1.5, cpu_s=2, memory_mb=512)
CONSTRAINTS = {"topic": "lists", "difficulty": "easy", "function_name": "sum_of_squares"}
USAGE = {"prompt_tokens": 120, "completion_tokens": 80, "retries": 1, "resent": 0, "cache_hit": False, "counted": False}
COLUMNS = {"id", "text", "source", "prompt", "solution", "tests", "entry_point", "constraints", "teacher",
           "usage", "verified", "verdict"}

GOOD_FUNCTION = '''\
from typing import List


def sum_of_squares(numbers: List[int]) -> int:
    """Return the sum of the squares of `numbers`.

    >>> sum_of_squares([1, 2])
    5
    """
    total = 0
    for n in numbers:
        total += n * n
    return total
'''
GOOD_TESTS = "assert sum_of_squares([]) == 0\nassert sum_of_squares([1, 2, 3]) == 14\n"


def reply(function: str, tests: str | None = GOOD_TESTS, fence: str = "python") -> str:
    """A teacher's reply in the contract's shape, with prose around the blocks."""
    text = f"Here is an exercise.\n\n```{fence}\n{function}```\n"
    if tests is not None:
        text += f"\nAnd its tests:\n\n```{fence}\n{tests}```\n\nThese check the edge cases."
    return text


def function_with(body: str, docstring: str = '"""Return the sum of the squares of `numbers`."""') -> str:
    return f"def sum_of_squares(numbers):\n    {docstring}\n{body}"


def record_of(text: str) -> dict:
    """The record the stage makes of a reply: the exercise, or the reject with its reason."""
    return reply_record(text, CONSTRAINTS, "teacher-model", USAGE)


@pytest.fixture(scope="module")
def box():
    with Sandbox(workers=2, limits=LIMITS) as sandbox:
        yield sandbox


def verify_one(box: Sandbox, text: str) -> dict:
    [record] = verify_exercises([record_of(text)], box, LIMITS)
    return record


# --- parsing ------------------------------------------------------------------------------------

def test_a_good_exercise_is_kept_verified(box):
    record = verify_one(box, reply(GOOD_FUNCTION))
    assert record["verified"] is True and record["verdict"] == "passed"
    assert not record.get("reason")
    assert set(record) == COLUMNS
    assert record["source"] == "synth:exercises" and record["entry_point"] == "sum_of_squares"
    assert json.loads(record["constraints"]) == CONSTRAINTS and json.loads(record["usage"]) == USAGE
    assert record["teacher"] == "teacher-model"
    assert record["tests"] == GOOD_TESTS


def test_prompt_and_solution_make_the_whole_function():
    exercise = parse_exercise_reply(reply(GOOD_FUNCTION))
    assert exercise.prompt + exercise.solution == GOOD_FUNCTION == exercise.text
    # Like HumanEval's prompt: the imports, the signature, and the docstring last.
    assert exercise.prompt.startswith("from typing import List")
    assert exercise.prompt.endswith('    5\n    """\n')
    assert exercise.solution.startswith("    total = 0\n")


def test_the_id_is_a_stable_hash_of_the_text():
    first, second = record_of(reply(GOOD_FUNCTION)), record_of(reply(GOOD_FUNCTION, fence="py"))
    assert first["id"] == second["id"]
    assert first["id"] != record_of(reply(GOOD_FUNCTION.replace("total", "acc")))["id"]


@pytest.mark.parametrize("fence", ["python", "py", "Python", "python3", ""])
def test_fences_are_read_liberally(fence):
    assert parse_exercise_reply(reply(GOOD_FUNCTION, fence=fence)).text == GOOD_FUNCTION


def test_blocks_of_other_languages_and_code_after_the_function_are_left_out():
    demo = GOOD_FUNCTION + "\n\nprint(sum_of_squares([4]))\n"
    text = f"Run it with:\n```bash\npython ex.py\n```\n```python\n{demo}```\n```python\n{GOOD_TESTS}```"
    exercise = parse_exercise_reply(text)
    assert exercise.text == GOOD_FUNCTION and exercise.tests == GOOD_TESTS


def test_an_indented_reply_is_dedented():
    indented = "\n".join("    " + line if line else line for line in reply(GOOD_FUNCTION).splitlines())
    assert parse_exercise_reply(indented).text == GOOD_FUNCTION


NO_DOCSTRING = "def sum_of_squares(numbers):\n    return sum(n * n for n in numbers)\n"


@pytest.mark.parametrize("text, reason", [
    ("Sum the squares of a list; I hope this helps!", "no python code block"),
    (reply(GOOD_FUNCTION, tests=None), "only one code block"),
    (reply("def sum_of_squares(numbers:\n    pass\n"), "the exercise does not parse: SyntaxError"),
    (reply("x = 1\n"), "the exercise defines no function"),
    (reply(NO_DOCSTRING), "the function sum_of_squares has no docstring"),
    (reply(function_with("", docstring='""" """') + "    return 0\n"), "the function sum_of_squares has no docstring"),
    (reply(function_with("")), "the function sum_of_squares has no solution after its docstring"),
    (reply('def sum_of_squares(numbers):\n    """Sum the squares."""; return 0\n'),
     "the solution of sum_of_squares starts on its docstring's line"),
    (reply("LIMIT = 3\n\n" + GOOD_FUNCTION), "the exercise has statements other than imports before"),
    (reply(GOOD_FUNCTION, tests="print(sum_of_squares([1]))\n"), "the tests hold no assert"),
    (reply(GOOD_FUNCTION, tests="assert sum([1, 2]) == 3\n"), "the tests do not call sum_of_squares"),
    (reply(GOOD_FUNCTION, tests="assert sum_of_squares([1] == 1\n"), "the tests do not parse: SyntaxError"),
    (reply(GOOD_FUNCTION, tests=NO_DOCSTRING + "assert sum_of_squares([2]) == 4\n"),
     "the tests define sum_of_squares themselves"),
    (reply(GOOD_FUNCTION, tests="sum_of_squares = len\nassert sum_of_squares([2]) == 1\n"),
     "the tests define sum_of_squares themselves"),
])
def test_a_bad_reply_is_rejected_with_its_reason(box, text, reason):
    record = verify_one(box, text)
    assert record["reason"].startswith(reason), record["reason"]
    assert record["verified"] is False and record["verdict"] == "not run"
    assert record["text"] == text  # the raw reply, to see what the teacher wrote
    assert set(record) == COLUMNS | {"reason"}


# --- verification -------------------------------------------------------------------------------

def test_the_program_is_the_function_then_its_asserts():
    record = record_of(reply(GOOD_FUNCTION))
    assert exercise_program(record) == GOOD_FUNCTION + "\n\n" + GOOD_TESTS


def test_a_wrong_solution_fails_verification(box):
    wrong = GOOD_FUNCTION.replace("total += n * n", "total += n")
    record = verify_one(box, reply(wrong, tests="assert sum_of_squares([3]) == 9, 'squares'\n"))
    assert record["verified"] is False
    assert record["reason"] == "failed verification: failed: AssertionError: squares"
    assert record["verdict"] == "failed: AssertionError: squares"


def test_an_infinite_loop_times_out_within_the_limit(box):
    started = time.monotonic()
    record = verify_one(box, reply(function_with("    while True:\n        pass\n")))
    assert record["reason"].startswith("failed verification: timed_out")
    assert time.monotonic() - started < LIMITS.timeout_s + 3


@pytest.mark.parametrize("target", [Path("/tmp"), Path.home()])
def test_writing_outside_its_directory_is_rejected_and_writes_nothing(box, target):
    path = target / f"textbooks-escape-{uuid.uuid4().hex}"
    body = f"    open({str(path)!r}, 'w').write('escaped')\n    return sum(n * n for n in numbers)\n"
    record = verify_one(box, reply(function_with(body)))
    assert record["reason"].startswith("failed verification: failed: PermissionError"), record["reason"]
    assert not path.exists()


def test_exiting_before_the_asserts_is_not_a_pass(box):
    body = "    import sys\n    sys.exit(0)\n"
    record = verify_one(box, reply(function_with(body)))
    assert record["verified"] is False and record["reason"].startswith("failed verification: failed")


def test_a_mixed_batch_keeps_its_order_and_loses_nothing(box):
    wrong = reply(GOOD_FUNCTION.replace("n * n", "n + n"))
    texts = [reply(GOOD_FUNCTION), "no code here", wrong, reply(GOOD_FUNCTION.replace("total", "acc")),
             reply(NO_DOCSTRING)] * 3 + [reply(function_with("    while True:\n        pass\n"))]
    records = [record_of(text) for text in texts]
    verified = verify_exercises(records, box, LIMITS)
    assert [r["id"] for r in verified] == [r["id"] for r in records]
    kept = [r for r in verified if not r.get("reason")]
    rejected = [r for r in verified if r.get("reason")]
    assert len(kept) + len(rejected) == len(records) and len(kept) == 6
    assert all(r["verified"] and r["verdict"] == "passed" for r in kept)
    # rejected before the sandbox: passed through untouched
    assert [r for r in verified if r["verdict"] == "not run"] == [r for r in records if r.get("reason")]


class CountingSandbox:
    """The box, counting the programs of each batch it is given."""

    def __init__(self, box: Sandbox):
        self.box, self.batches = box, []

    def run_many(self, sources, limits=None):
        self.batches.append(len(sources))
        return self.box.run_many(sources, limits)


def test_exercises_run_jointly_get_the_verdicts_they_get_alone(box):
    """Our generator's exercises share sandbox runs (VerifyShard's `ours`); a run that does not pass
    gives each of its exercises a run of its own, so each verdict is the one it gets alone."""
    good, renamed = reply(GOOD_FUNCTION), reply(GOOD_FUNCTION.replace("total", "acc"))
    wrong = reply(GOOD_FUNCTION.replace("n * n", "n + n"))
    exits = reply(function_with("    import sys\n    sys.exit(0)\n"))
    loops = reply(function_with("    while True:\n        pass\n"))
    records = [record_of(text) for text in (good, renamed, good, renamed, wrong, exits, good, loops)]
    alone = verify_exercises(records, box, LIMITS)
    counting = CountingSandbox(box)
    jointly = verify_exercises(records, counting, LIMITS, together=4)
    assert [(r["verified"], r["verdict"], r.get("reason")) for r in jointly] == \
        [(r["verified"], r["verdict"], r.get("reason")) for r in alone]
    assert [r["verified"] for r in jointly] == [True] * 4 + [False, False, True, False]
    assert counting.batches == [2, 4]  # two joint runs; the four of the one that failed, alone


def test_a_reject_that_lost_its_reason_is_not_verified(box):
    lost = {key: value for key, value in record_of("prose only").items() if key != "reason"}
    [record] = verify_exercises([lost], box, LIMITS)
    assert record["verified"] is False and record["reason"] == "the tests hold no assert"


def test_verify_shard_runs_on_the_executor(tmp_path):
    step = VerifyShard(timeout_s=2.0)
    assert pickle.loads(pickle.dumps(step)) == step
    # the reject first: a shard's columns are those of its first row
    texts = ["prose only", reply(GOOD_FUNCTION), reply(GOOD_FUNCTION, tests="assert sum_of_squares([2]) == 5\n")]
    write_shard([record_of(text) for text in texts], tmp_path / "in" / "00000.parquet")
    [stats] = LocalExecutor(workers=1).map_shards(step, tmp_path / "in", tmp_path / "out", progress=False)
    assert (stats.records_in, stats.records_out, stats.rejected) == (3, 1, 2)
    [kept] = read_records(tmp_path / "out")
    assert kept["verified"] is True and kept["text"] == GOOD_FUNCTION
    reasons = [r["reason"] for r in read_records(tmp_path / "out" / "rejects")]
    assert reasons[0] == "no python code block" and reasons[1].startswith("failed verification: failed: AssertionError")
