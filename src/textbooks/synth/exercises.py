"""CodeExercises (paper §2.2): a teacher's reply turned into an exercise record, kept only if its
solution passes its own asserts in the sandbox.

phi-1's exercises are "a docstring of a function that needs to be completed": the record's `prompt`
is the function's signature and docstring (imports above it included, as in HumanEval), its
`solution` the body after the docstring, and its `text` (what a model trains on) the two together.
The teacher is asked for two fenced Python blocks, the exercise then a block of asserts:

    ```python
    def add(a: int, b: int) -> int:
        \"\"\"Return the sum of a and b.\"\"\"
        return a + b
    ```
    ```python
    assert add(2, 3) == 5
    ```

Parsing is liberal in what it reads (```py or an untagged fence, prose around the blocks) and
strict in what it keeps: one function with a docstring and a body, asserts that call it. A reply
that fails any check, or whose program does not pass, becomes a reject: a record with a `reason`.
"""

from __future__ import annotations

import ast
import atexit
import functools
import hashlib
import json
import math
import re
import textwrap
from dataclasses import dataclass
from typing import Iterable, Iterator

from textbooks.sandbox.pool import Limits, Outcome, Result, Sandbox

SOURCE = "synth:exercises"
NOT_RUN = "not run"  # the verdict of a record the sandbox has not executed (yet)
# Our generator's exercises per sandbox run: a run (fork, directory, verdict) costs ~5 ms, several
# times what one of its exercises takes; a teacher's exercises run alone (one could change what
# the next one sees).
JOINTLY = 16
# A fenced block: its language tag, then everything up to the closing fence.
FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+-]*)[^\n]*\n(.*?)^[ \t]*```", re.MULTILINE | re.DOTALL)
PYTHON_TAGS = {"", "python", "python3", "py", "py3"}  # an untagged fence is taken as Python too


@dataclass(frozen=True)
class Exercise:
    prompt: str  # imports, signature and docstring: what a model is asked to complete
    solution: str  # the function's body after its docstring
    tests: str  # the asserts
    entry_point: str  # the function's name

    @property
    def text(self) -> str:
        return self.prompt + self.solution


def parse_exercise_reply(reply: str) -> Exercise | str:
    """The exercise in a teacher's reply, or the reason it is rejected."""
    blocks = python_blocks(reply)
    if not blocks:
        return "no python code block"
    if len(blocks) == 1:
        return "only one code block: the exercise and its tests are expected"
    exercise = split_function(blocks[0])
    if isinstance(exercise, str):
        return exercise
    prompt, solution, entry_point = exercise
    problem = check_tests(blocks[1], entry_point)
    if problem:
        return problem
    return Exercise(prompt, solution, blocks[1], entry_point)


def python_blocks(reply: str) -> list[str]:
    """The Python fenced blocks of a reply, dedented, without blank lines around them."""
    blocks = [textwrap.dedent(body).strip("\n") for tag, body in FENCE.findall(reply)
              if tag.lower() in PYTHON_TAGS]
    return [block + "\n" for block in blocks if block.strip()]


def split_function(code: str) -> tuple[str, str, str] | str:
    """(prompt, solution, name) of the one function in `code`, or the reason it is not an exercise.
    Statements after the function (a demo call, a __main__ block) are left out of what is kept."""
    try:
        module = ast.parse(code)
    except SyntaxError as error:
        return f"the exercise does not parse: SyntaxError: {error.msg} (line {error.lineno})"
    functions = [i for i, node in enumerate(module.body) if isinstance(node, ast.FunctionDef)]
    if not functions:
        return "the exercise defines no function"
    function = module.body[functions[0]]
    # What comes before the function is part of the prompt: only imports, which a model can read.
    if not all(isinstance(node, (ast.Import, ast.ImportFrom)) for node in module.body[:functions[0]]):
        return "the exercise has statements other than imports before its function"
    if not (ast.get_docstring(function) or "").strip():
        return f"the function {function.name} has no docstring"
    if len(function.body) < 2:
        return f"the function {function.name} has no solution after its docstring"
    docstring, first = function.body[0], function.body[1]
    if first.lineno <= docstring.end_lineno:
        return f"the solution of {function.name} starts on its docstring's line"
    lines = code.splitlines(keepends=True)
    prompt = "".join(lines[:docstring.end_lineno])
    solution = "".join(lines[docstring.end_lineno:function.end_lineno])
    return prompt, solution, function.name


def check_tests(tests: str, entry_point: str) -> str:
    """Why `tests` cannot judge `entry_point` ("" if they can): they must parse, assert, call it,
    and not define it themselves (a test that brings its own function passes any solution)."""
    try:
        nodes = list(ast.walk(ast.parse(tests)))
    except SyntaxError as error:
        return f"the tests do not parse: SyntaxError: {error.msg} (line {error.lineno})"
    if not any(isinstance(node, ast.Assert) for node in nodes):
        return "the tests hold no assert"
    if not any(isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == entry_point
               for node in nodes):
        return f"the tests do not call {entry_point}"
    if any(defines(node, entry_point) for node in nodes):
        return f"the tests define {entry_point} themselves"
    return ""


def defines(node: ast.AST, name: str) -> bool:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return node.name == name
    if isinstance(node, ast.Name):
        return node.id == name and isinstance(node.ctx, ast.Store)
    if isinstance(node, ast.alias):
        return (node.asname or node.name) == name
    return False


def exercise_record(exercise: Exercise, constraints: dict, teacher: str, usage: dict) -> dict:
    """The record of a parsed exercise, not yet verified."""
    return {"id": text_id(exercise.text), "text": exercise.text, "source": SOURCE, "prompt": exercise.prompt,
            "solution": exercise.solution, "tests": exercise.tests, "entry_point": exercise.entry_point,
            **provenance(constraints, teacher, usage), "verified": False, "verdict": NOT_RUN}


def reply_record(reply: str, constraints: dict, teacher: str, usage: dict) -> dict:
    """A teacher's reply as an exercise record, or as its reject with why (a `reason`): an empty
    exercise whose text is the raw reply."""
    exercise = parse_exercise_reply(reply)
    if isinstance(exercise, str):
        return {**exercise_record(Exercise("", "", "", ""), constraints, teacher, usage), "id": text_id(reply),
                "text": reply, "reason": exercise}
    return exercise_record(exercise, constraints, teacher, usage)


def provenance(constraints: dict, teacher: str, usage: dict) -> dict:
    """What each synthetic record keeps of how it was made (docs/architecture.md, "Teachers"); its `usage`: the
    reply's tokens in and out (`counted`: by us, the teacher reported none), the retries it took, how
    often a killed run had sent it (`resent`), and whether it was a cache hit (paid for before this
    run began, see synth.cli.AskTeacher)."""
    counts = {key: int(usage.get(key) or 0) for key in ("prompt_tokens", "completion_tokens", "retries", "resent")}
    flags = {key: bool(usage.get(key)) for key in ("cache_hit", "counted")}
    return {"constraints": json.dumps(constraints, sort_keys=True), "teacher": teacher,
            "usage": json.dumps({**counts, **flags})}


def text_id(text: str) -> str:
    """A short id that is the same for the same text on every run."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def normalized_solution(prompt: str, solution: str) -> str | None:
    """An exercise's solution as a syntax tree with its names numbered in order of appearance and
    its docstring left out: two solutions that differ only in names are the same (None: no parse).
    The manifest counts the distinct ones, a measure of how much the exercises really vary."""
    try:
        function = next(node for node in ast.parse(prompt + solution).body if isinstance(node, ast.FunctionDef))
    except (SyntaxError, StopIteration):
        return None
    numbers: dict[str, str] = {}
    for node in ast.walk(function):
        if isinstance(node, ast.Name):
            node.id = numbers.setdefault(node.id, f"n{len(numbers)}")
        elif isinstance(node, ast.arg):
            node.arg, node.annotation = numbers.setdefault(node.arg, f"n{len(numbers)}"), None
    return ast.dump(ast.Module(body=function.body[1:], type_ignores=[]))


def exercise_program(record: dict) -> str:
    """The program that verifies an exercise: the function defined, then its asserts."""
    return record["prompt"] + record["solution"] + "\n\n" + record["tests"]


def verify_exercises(records: list[dict], sandbox: Sandbox, limits: Limits | None = None,
                     together: int = 1) -> list[dict]:
    """`records` in order, each not yet rejected one run in `sandbox` with `verified` and `verdict`
    set; one whose program did not pass becomes a reject naming the verdict. With `together` > 1,
    the programs run that many to a sandbox run first (see `joint_program`), and those of a run
    that did not pass run again one by one for their own verdicts."""
    checked = [record if record.get("reason") else with_tests_checked(record) for record in records]
    todo = [i for i, record in enumerate(checked) if not record.get("reason")]
    groups = [todo[start:start + together] for start in range(0, len(todo), together)] if together > 1 else []
    joint = sandbox.run_many([joint_program([exercise_program(checked[i]) for i in group]) for group in groups],
                             limits)
    jointly_passed = {i for group, result in zip(groups, joint) if result.outcome is Outcome.PASSED for i in group}
    for i in jointly_passed:
        checked[i] = passed(checked[i])
    alone = [i for i in todo if i not in jointly_passed]
    for i, result in zip(alone, sandbox.run_many([exercise_program(checked[i]) for i in alone], limits)):
        checked[i] = with_verdict(checked[i], result)
    return checked


def joint_program(programs: list[str]) -> str:
    """One program that runs each of `programs` in a namespace of its own, in turn: it passes only
    if every one of them does. For code we generate, which touches nothing outside its namespace,
    it passes exactly when each would alone, at the cost of one sandbox run instead of many."""
    return "\n".join(f"exec({program!r}, {{'__name__': '__main__'}})" for program in programs)


def with_tests_checked(record: dict) -> dict:
    """The record, or its reject if its tests cannot judge it. Checked again here because a program
    with nothing to assert passes: a reject whose `reason` was lost on the way (a shard's schema is
    inferred from its first row) must not come out verified."""
    problem = check_tests(record.get("tests") or "", record.get("entry_point") or "")
    return {**record, "reason": problem} if problem else record


def with_verdict(record: dict, result: Result) -> dict:
    if result.outcome is Outcome.PASSED:
        return passed(record)
    verdict = f"{result.outcome.value}: {result.reason}"
    return {**record, "verified": False, "verdict": verdict, "reason": f"failed verification: {verdict}"}


def passed(record: dict) -> dict:
    return {**record, "verified": True, "verdict": Outcome.PASSED.value}


def exercise_limits(timeout_s: float) -> Limits:
    """An exercise's budget: `timeout_s` of wall clock and as much CPU time; memory, processes and
    file size at the sandbox's defaults."""
    return Limits(timeout_s=timeout_s, cpu_s=max(1, math.ceil(timeout_s)))


@functools.lru_cache(maxsize=1)
def _worker_sandbox(limits: Limits) -> Sandbox:
    """One sandbox per worker process (opened by its first shard), of one zygote: the executor
    already runs a process per core."""
    sandbox = Sandbox(workers=1, limits=limits)
    atexit.register(sandbox.close)  # its zygote cleans up its directories before the process is gone
    return sandbox


@dataclass(frozen=True)
class VerifyShard:
    """The step that verifies a shard's exercises in the sandbox; failures become rejects. `ours`:
    the exercises are our own generator's (the curriculum's), so they run JOINTLY to a sandbox run."""

    timeout_s: float = 3.0
    ours: bool = False

    def __call__(self, records: Iterable[dict]) -> Iterator[dict]:
        limits = exercise_limits(self.timeout_s)
        yield from verify_exercises(list(records), _worker_sandbox(limits), limits, JOINTLY if self.ours else 1)
