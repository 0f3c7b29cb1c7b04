"""The curriculum teacher: each planned record's constraints, and the exercise or lesson they make.

Balanced by construction (paper §2.2 asks for diverse, non-redundant data): the i-th exercise
starts with the operation at position i of a seeded order of the whole library, so N exercises
give every operation min(N / operations) turns as a first step, each continued by up to three
steps that fit its output; the i-th lesson teaches the family at position i of a seeded order of
the families. Everything else (chain length, idiom, docstring style, names, inputs) is drawn from
a generator seeded by the run's seed and the record's number, so a record is the same on every
run and in every shard layout.
"""

from __future__ import annotations

import json
import random

from textbooks.synth.curriculum import lessons
from textbooks.synth.curriculum.concepts import DOMAINS
from textbooks.synth.curriculum.exercises import drawn_exercise, made_by_curriculum, task
from textbooks.synth.curriculum.library import library, operation
from textbooks.synth.curriculum.programs import MAX_STEPS, draw_program
from textbooks.synth.exercises import NOT_RUN, SOURCE, text_id

STEP_WEIGHTS = (3, 4, 3, 1)  # how often a program has 1, 2, 3 or 4 steps


def plan(kind: str, n: int, seed: int) -> list[dict]:
    """The constraints of `n` records of `kind` ("exercises" or "textbook"): what each one teaches."""
    ops, families = library()
    if kind == "exercises":
        order = random.Random(f"{seed}/ops").sample(range(len(ops)), len(ops))
        return [{"number": i, "seed": seed, "first": ops[order[i % len(ops)]].key} for i in range(n)]
    keys = random.Random(f"{seed}/families").sample(sorted(families), len(families))
    return [{"number": i, "seed": seed, "family": keys[i % len(keys)]} for i in range(n)]


def record(kind: str, planned: dict) -> dict:
    """The record a plan entry makes: an exercise or a lesson, unverified; or a reject with why."""
    rng = random.Random(f"{planned['seed']}/{kind}/{planned['number']}")
    return exercise_record(planned, rng) if kind == "exercises" else lessons.lesson_record(planned, rng)


def exercise_record(planned: dict, rng: random.Random) -> dict:
    ops, _ = library()
    first = operation(planned["first"])
    program, style, parts = drawn_exercise(list(ops), first, rng, STEP_WEIGHTS)
    constraints = {"concept": [step.op.key for step in program.steps], "family": first.family,
                   "idiom": program.idiom, "style": style, "typing": program.typing_hints}
    if isinstance(parts, str):
        return {"id": text_id(json.dumps(planned, sort_keys=True)), "text": program.signature, "source": SOURCE,
                "prompt": "", "solution": "", "tests": "", "entry_point": program.name,
                **made_by_curriculum(constraints), "verified": False, "verdict": NOT_RUN,
                "reason": f"generator: {parts}"}
    return {"id": text_id(parts["text"]), **parts, "source": SOURCE, **made_by_curriculum(constraints),
            "verified": False, "verdict": NOT_RUN}


def concept_constraints(planned: dict) -> dict:
    """A planned exercise's concept as a teacher LLM's constraints (`synth --concepts`): the topic,
    function name and signature of the curriculum's own exercise, and a line saying what it
    computes, so an LLM's exercises cover the same library as the program's."""
    ops, families = library()
    rng = random.Random(f"{planned['seed']}/concept/{planned['number']}")
    first = operation(planned["first"])
    program = draw_program(list(ops), first, rng, rng.choices(range(1, MAX_STEPS + 1), STEP_WEIGHTS)[0], 0)
    takes = " and ".join(f"{DOMAINS[domain].described} ({name})" for name, domain in program.args)
    return {"topic": families[first.family].topic, "function_name": program.name,
            "signature": f"takes {takes} and returns {DOMAINS[program.gives].described}",
            "concept": f"What it computes: {task(program, rng)}"}
