"""A composed program written out as an exercise in the shapes people use (paper §2.2).

The prompt is the signature (type hints; typing's names and their import in some) and a docstring in
one of three styles: `paragraph` (the task, then `>>>` examples), `sentence` (one sentence; the
asserts follow the function in the text, as exercise sets often show them) and `args` (the task,
then Args: and Returns: sections). The examples and the asserts are the reference solution's own
outputs on typed inputs, edge cases first; the record is still verified in the sandbox, so a
generator bug is a reject with its verdict, never a kept exercise.
"""

from __future__ import annotations

import random
import textwrap
from typing import Sequence

from textbooks.synth.curriculum.concepts import DOMAINS, Op
from textbooks.synth.curriculum.programs import Program, draw_program
from textbooks.synth.exercises import provenance

STYLES = ("paragraph", "sentence", "args")
TESTS, MIN_TESTS, EXAMPLES, TRIES = 5, 3, 2, 16
OPENERS = (
    "Given {param}, {described}, {clauses}.",
    "Take {param} ({described}) and {clauses}.",
    "Start from {param}, {described}: {clauses}.",
    "The input {param} is {described}. {Clauses}.",
)
ENDINGS = ("Return the result.", "Return it.", "Return the outcome.", "The function returns the result.")
JOINERS = {1: "{0}", 2: "{0}, then {1}", 3: "{0}, then {1}, and finally {2}",
           4: "{0}, then {1}, then {2}, and finally {3}"}
PROMISES = ("{param} is never empty.", "You may assume {param} is not empty.", "{param} has at least one element.")
WIDTH = 96
TEACHER = "curriculum"  # the teacher every record of this package names
TYPING_SHARE = 0.3  # the share of signatures with typing's List[int] (and its import) over list[int]
ATTEMPTS = 4  # chains tried from one first operation before a record is a generator reject


def made_by_curriculum(constraints: dict) -> dict:
    """A record's provenance (synth.exercises.provenance): its constraints, this teacher, no tokens spent."""
    return provenance(constraints, TEACHER, {})


def cases(program: Program, rng: random.Random) -> list[tuple[tuple, object]] | str:
    """Up to TESTS (arguments, output) pairs, from edge cases and typed random inputs, with distinct
    arguments; or why there are none worth testing (the reference raised, or gave one output for all)."""
    found, errors = {}, []
    domains = [domain for _, domain in program.args]
    candidates = list(zip(*[DOMAINS[domain].values(rng, TRIES) for domain in domains]))
    for args in candidates:
        if program.nonempty and _is_empty(args[0]):
            continue
        try:
            output = program.reference(*_copied(args))
        except Exception as error:  # our own code on a typed input: a generator bug shows here
            errors.append(f"{type(error).__name__}: {error}")
            continue
        found.setdefault(repr(args), (args, output))
        if len(found) == TESTS:
            break
    pairs = list(found.values())
    if len(pairs) < min(MIN_TESTS, len({repr(args) for args in candidates})):  # a bool has two values
        return (f"the reference accepts too few inputs: {len(pairs)} of {TRIES}"
                + (f" ({errors[0]})" if errors else ""))
    if len(pairs) > 1 and len({repr(output) for _, output in pairs}) == 1:
        return "the tests cannot tell solutions apart: one output for every input"
    if all(repr(output) == repr(args[0]) for args, output in pairs):
        return "the tests cannot tell the solution from returning its input unchanged"
    return pairs


def _is_empty(value: object) -> bool:
    return hasattr(value, "__len__") and len(value) == 0


def _copied(args: tuple) -> tuple:
    """Fresh copies, so a step that mutates its input leaves the shown arguments as they were."""
    return tuple(eval(repr(arg)) for arg in args)


def task(program: Program, rng: random.Random) -> str:
    """What the program does, in words: its input, then its steps' phrasings in order."""
    clauses = [rng.choice(step.op.phrasings).format(arg=step.arg) for step in program.steps]
    joined = JOINERS[len(clauses)].format(*clauses)
    text = rng.choice(OPENERS).format(described=DOMAINS[program.domain].described, param=program.param,
                                      clauses=joined, Clauses=joined[0].upper() + joined[1:])
    text = text[0].upper() + text[1:]
    if program.nonempty:
        text += " " + rng.choice(PROMISES).format(param=program.param)
    return text


def docstring(program: Program, pairs: list, style: str, rng: random.Random) -> str:
    """The docstring's text (indented, quotes included)."""
    task_text = task(program, rng)
    if style == "sentence":
        return f'    """{task_text} {rng.choice(ENDINGS)}"""\n'
    parts = [task_text + " " + rng.choice(ENDINGS)]
    if style == "paragraph":
        shown = sorted(pairs, key=lambda pair: len(repr(pair)))[-EXAMPLES:]  # the most telling
        parts.append("\n".join(f">>> {call(program, args)}\n{output!r}" for args, output in shown))
    else:
        described = [f"{name}: {DOMAINS[domain].described}." for name, domain in program.args]
        parts.append("Args:\n" + "\n".join(textwrap.indent(line, "    ") for line in described))
        returned = DOMAINS[program.gives].described
        parts.append(f"Returns:\n    {returned[0].upper()}{returned[1:]}.")
    text = "\n\n".join(_filled(part) for part in parts)
    return '    """' + textwrap.indent(text, "    ")[4:] + '\n    """\n'


def _filled(part: str) -> str:
    """A paragraph wrapped to the width; sections and examples keep their lines."""
    if part.startswith((">>>", "Args:", "Returns:")):
        return part
    return textwrap.fill(part, WIDTH - 4, break_long_words=False, break_on_hyphens=False)


def call(program: Program, args: tuple) -> str:
    return f"{program.name}({', '.join(repr(arg) for arg in args)})"


def asserts(program: Program, pairs: list) -> str:
    return "".join(f"assert {call(program, args)} == {output!r}\n" for args, output in pairs)


def exercise_parts(program: Program, style: str, rng: random.Random) -> dict | str:
    """The exercise's prompt, solution, tests and the text a model trains on; or why there is none."""
    pairs = cases(program, rng)
    if isinstance(pairs, str):
        return pairs
    prompt = program.imports + program.signature + "\n" + docstring(program, pairs, style, rng)
    tests = asserts(program, pairs)
    text = prompt + program.body + ("\n\n" + tests if style == "sentence" else "")
    return {"prompt": prompt, "solution": program.body, "tests": tests, "entry_point": program.name, "text": text}


def drawn_exercise(ops: list[Op], first: Op, rng: random.Random, step_weights: Sequence[int],
                   styles: Sequence[str] = STYLES) -> tuple[Program, str, dict | str]:
    """A program starting with `first` (its length drawn by `step_weights`, for 1, 2, ... steps), its
    docstring style and its exercise parts; another chain when one cannot be tested (its reference
    gives one output for all inputs), up to ATTEMPTS times, after which the parts are the reason."""
    for _ in range(ATTEMPTS):
        steps = rng.choices(range(1, len(step_weights) + 1), step_weights)[0]
        program = draw_program(ops, first, rng, steps, TYPING_SHARE)
        style = rng.choice(styles)
        parts = exercise_parts(program, style, rng)
        if not isinstance(parts, str):
            break
    return program, style, parts
