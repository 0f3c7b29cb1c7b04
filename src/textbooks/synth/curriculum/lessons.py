"""Lessons in the shape the paper's §2.2 shows of its synthetic textbooks: prose interleaved with code.

One lesson teaches one family of the library: an explanation, a worked example (an interactive
session whose outputs are the code's own, checked again when the session runs in the sandbox), a
common mistake (code that runs and shows the wrong result, why, and the fix, with what each
prints), and an exercise with its solution and asserts. Its audience comes from the sampler's
axis; its layout puts the explanation, the example or the mistake first. Every python block runs
alone in the sandbox, and a lesson with a block that fails is a reject, never a kept record.
"""

from __future__ import annotations

import contextlib
import io
import random
import textwrap

from textbooks.synth.curriculum.concepts import Family, Mistake
from textbooks.synth.curriculum.exercises import WIDTH, drawn_exercise, made_by_curriculum
from textbooks.synth.curriculum.library import library
from textbooks.synth.curriculum.programs import Program
from textbooks.synth.exercises import NOT_RUN, text_id
from textbooks.synth.mined import TEXTBOOK_SOURCE
from textbooks.synth.sampler import AUDIENCES

LAYOUTS = ("explanation first", "example first", "mistake first")
INTROS = ("This lesson is written for {audience}.", "Who this is for: {audience}.",
          "We wrote this section with {audience} in mind.")
EXAMPLE_INTROS = ("Here is a small function that puts the idea to work. {Task}",
                  "A worked example. {Task}", "Let us see it in code. {Task}")
EXERCISE_INTROS = ("Now try it yourself. Complete the function below; the solution that follows ends with the "
                   "asserts that check it.", "Your turn: write the body of this function, then compare it with "
                   "the solution and run its asserts.", "Practice: fill in the function. The solution comes after "
                   "it, with asserts that must pass.")


def lesson_record(planned: dict, rng: random.Random) -> dict:
    """The lesson of the planned family: its passage text and constraints, not yet verified."""
    ops, families = library()
    family = families[planned["family"]]
    members = [op for op in ops if op.family == family.key]
    audience, layout = rng.choice(AUDIENCES), rng.choice(LAYOUTS)
    constraints = {"family": family.key, "topic": family.topic, "audience": audience, "layout": layout}
    example, _, example_parts = drawn_exercise(ops, rng.choice(members), rng, (1, 1), ("sentence",))
    _, _, exercise_parts = drawn_exercise(ops, rng.choice(members), rng, (1, 1, 1))
    for parts in (example_parts, exercise_parts):
        if isinstance(parts, str):
            return _record(f"# {family.title}\n", constraints, reason=f"generator: {parts}")
    sections = {"explanation": explanation(family, rng), "example": worked_example(example, example_parts, rng),
                "mistake": mistake_section(rng.choice(family.mistakes)),
                "exercise": exercise_section(exercise_parts, rng)}
    order = {"explanation first": ("explanation", "example", "mistake"),
             "example first": ("example", "explanation", "mistake"),
             "mistake first": ("mistake", "explanation", "example")}[layout] + ("exercise",)
    text = "\n\n".join([f"# {family.title}", rng.choice(INTROS).format(audience=audience),
                        *(sections[name] for name in order)]) + "\n"
    return _record(text, constraints)


def _record(text: str, constraints: dict, reason: str = "") -> dict:
    """A lesson's record in the schema of every passage (synth.passages); with a `reason`, a reject."""
    blocks = text.count("```python")
    record = {"id": text_id(text), "text": text, "source": TEXTBOOK_SOURCE,
              **made_by_curriculum(constraints), "code_blocks": blocks, "code_parsed": blocks,
              "verified": False, "verdict": NOT_RUN}
    return {**record, "reason": reason} if reason else record


def explanation(family: Family, rng: random.Random) -> str:
    first, second = rng.sample(family.explanations, 2)
    return f"## The idea\n\n{_wrapped(first)}\n\n{_wrapped(second)}"


def _wrapped(paragraph: str) -> str:
    return textwrap.fill(paragraph, WIDTH, break_long_words=False, break_on_hyphens=False)


def worked_example(program: Program, parts: dict, rng: random.Random) -> str:
    """The function and a session that calls it on two of its test inputs, the outputs its own."""
    session = [_typed(program.imports.strip()) if program.imports else "",
               _typed(program.signature + "\n" + program.body.rstrip("\n"))]
    # as at the prompt, a call that gives None shows nothing
    session += [f">>> {called}" + (f"\n{output}" if output != "None" else "")
                for called, output in _calls(parts["tests"])]
    block = "\n".join(line for line in session if line)
    intro = _wrapped(rng.choice(EXAMPLE_INTROS).format(Task=_task(parts["prompt"])))
    return f"## A worked example\n\n{intro}\n\n```python\n{block}\n```"


def _typed(source: str) -> str:
    """Source as typed at the interactive prompt: '>>> ' on its first line, '... ' on the others."""
    lines = source.splitlines()
    continued = [f"... {line}" if line else "..." for line in lines[1:]]
    return "\n".join([f">>> {lines[0]}", *continued, *(["..."] if continued else [])])


def _calls(tests: str) -> list[tuple[str, str]]:
    """(call, output) of the two most telling asserts, `assert f(...) == out`: the longest two whose
    outputs differ."""
    calls = sorted((tuple(line[len("assert "):].split(" == ", 1)) for line in tests.splitlines()),
                   key=lambda call: len(call[0]) + len(call[1]))
    last = calls[-1]
    other = next((call for call in reversed(calls[:-1]) if call[1] != last[1]), calls[-2])
    return [other, last]


def _task(prompt: str) -> str:
    """The one-sentence docstring of a `sentence`-style prompt."""
    return prompt.split('"""')[1].strip()


def mistake_section(mistake: Mistake) -> str:
    return ("## A common mistake\n\n"
            f"```python\n{mistake.wrong}\n```\n\nIt prints:\n\n```text\n{printed(mistake.wrong)}```\n\n"
            f"{_wrapped(mistake.why)}\n\nWritten correctly:\n\n```python\n{mistake.fixed}\n```\n\n"
            f"which prints:\n\n```text\n{printed(mistake.fixed)}```")


def printed(code: str) -> str:
    """What a block of our own library prints when it runs (a lesson shows real output)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "<lesson>", "exec"), {})
    return out.getvalue()


def exercise_section(parts: dict, rng: random.Random) -> str:
    """The exercise to complete, then its solution with the asserts that check it."""
    return (f"## Exercise\n\n{rng.choice(EXERCISE_INTROS)}\n\n```python\n{parts['prompt']}    ...\n```\n\n"
            f"### Solution\n\n```python\n{parts['prompt']}{parts['solution']}\n\n{parts['tests']}```")
