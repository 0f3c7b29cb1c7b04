"""The curriculum's concept library: every operation's idioms agree, its phrasings are real, its
loops bind no stray names, and every family has a lesson's explanations and a mistake that runs."""

from __future__ import annotations

import ast
import contextlib
import io
import random

import pytest

from textbooks.synth.curriculum.concepts import DOMAINS, LOOP_NAMES
from textbooks.synth.curriculum.library import library
from textbooks.synth.curriculum.programs import IDIOMS, Program, Step
from textbooks.synth.sampler import load_topics

OPS, FAMILIES = library()


def test_the_library_is_large_and_phrased_three_ways():
    assert len(OPS) >= 150
    for op in OPS:
        assert len(set(op.phrasings)) >= 3, op.key
        for phrasing in op.phrasings:
            assert ("{arg}" in phrasing) == (op.arg is not None), (op.key, phrasing)
        assert op.words and op.var not in LOOP_NAMES, op.key


def test_every_family_is_a_leaf_of_the_topic_tree_with_a_lesson():
    leaves = set(load_topics())
    used = {op.family for op in OPS}
    assert used == set(FAMILIES)
    for family in FAMILIES.values():
        assert family.topic in leaves, family.key
        assert len(family.explanations) >= 2 and family.mistakes, family.key


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_mistake_runs_and_its_fix_prints_something_else(family):
    for mistake in FAMILIES[family].mistakes:
        assert _printed(mistake.wrong) != _printed(mistake.fixed), family


def _printed(code: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "<lesson>", "exec"), {})
    return out.getvalue()


def _loop_bindings(op, domain):
    names = {"v": "given", "out": "made", "arg": "extra"}
    tree = ast.parse(op.loop.format(**names))
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.key)
def test_loops_bind_only_loop_names_and_their_result(op):
    if op.loop:
        assert _loop_bindings(op, op.takes[0]) <= LOOP_NAMES | {"made"}, op.key


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.key)
def test_every_idiom_of_an_operation_computes_the_same(op):
    rng = random.Random(op.key)
    for domain in op.takes:
        programs = [Program("f", "given", domain, (Step(op, "extra" if op.arg else None, "made"),), idiom,
                            op.nonempty, False) for idiom in IDIOMS]
        for _ in range(40):
            value = DOMAINS[domain].sample(rng)
            if op.nonempty and len(value) == 0:
                continue
            args = (value, DOMAINS[op.arg.domain].sample(rng)) if op.arg else (value,)
            results = {_outcome(program, args) for program in programs}
            assert len(results) == 1, (op.key, domain, args, results)


def _outcome(program: Program, args: tuple) -> str:
    """What a call gives, as text: its output's repr and type, or the exception's type."""
    try:
        output = program.reference(*[eval(repr(arg)) for arg in args])
    except Exception as error:
        return type(error).__name__
    return f"{type(output).__name__}:{output!r}"


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.key)
def test_every_output_is_a_value_of_its_domain(op):
    rng = random.Random(op.key)
    for domain in op.takes:
        program = Program("f", "given", domain, (Step(op, "extra" if op.arg else None, "made"),), "expression",
                          op.nonempty, False)
        given = op.output(domain)
        for _ in range(20):
            value = DOMAINS[domain].sample(rng)
            if op.nonempty and len(value) == 0:
                continue
            args = (value, DOMAINS[op.arg.domain].sample(rng)) if op.arg else (value,)
            output = program.reference(*args)
            assert eval(repr(output)) == output, (op.key, output)
            assert _fits(output, given), (op.key, domain, given, output)


def _fits(value, domain: str) -> bool:
    """Whether `value` has the shape of `domain`'s type (its outer type and, for containers, its items')."""
    kinds = {"int": int, "nat": int, "small": int, "pos": int, "bool": bool, "float": (int, float),
             "str": str, "word": str, "sentence": str, "char": str}
    if domain == "opt_int":
        return value is None or type(value) is int
    if domain in kinds:
        return isinstance(value, kinds[domain]) and (domain == "bool") == isinstance(value, bool)
    outer = {"list": list, "set": set, "dict": dict, "tuple": tuple, "grid": list}[domain.split("[")[0]]
    return isinstance(value, outer)
