"""Textbook passages (paper §2.2, "synthetic textbooks"): a teacher's reply turned into a passage
record, and every passage's code checked in the sandbox.

A passage is prose mixed with ```python blocks (templates/textbook.txt asks for blocks that each run
on their own). Verification: every block must parse; each block is then run alone in the sandbox,
an interactive session (">>> ", as mined reference passages hold) as doctest would run it, its
printed values checked against the session's. A passage none of whose blocks runs, or with a block
that does not parse, becomes a reject; one whose blocks partly pass is kept, since its prose still
teaches, with `verified` False and a verdict naming the blocks that failed.
"""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass
from typing import Iterable, Iterator

from textbooks.sandbox.pool import Limits, Outcome, Result, Sandbox
from textbooks.synth.exercises import (FENCE, NOT_RUN, _worker_sandbox, exercise_limits, provenance, python_blocks,
                                       text_id)
from textbooks.synth.mined import EXAMPLE_CHECKER, TEXTBOOK_SOURCE, doctest_examples, example_block, parse_quietly

MIN_PROSE_CHARS = 200  # below this a reply is a snippet with a caption, not a section of a textbook
# The template asks for a reply starting with its title as a Markdown heading: what precedes the
# first heading ("Sure! Here is a section ...") is chatter addressed to us, not to the reader.
FIRST_HEADING = re.compile(r"^#{1,6}[ \t]+\S", re.MULTILINE)
NO_CODE = "no code block to run"


# ---------------------------------------------------------------------------------------------
# A teacher's reply


@dataclass(frozen=True)
class Reason:
    """Why a reply holds no passage (a type of its own: a passage is a str too)."""

    why: str


def parse_textbook_reply(reply: str) -> str | Reason:
    """The passage a teacher's reply holds, or the reason it is rejected."""
    text = reply.strip()
    if not text:
        return Reason("empty reply")
    heading = FIRST_HEADING.search(text)
    if heading and not FENCE.search(text, 0, heading.start()):
        text = text[heading.start():]
    prose = len(FENCE.sub("", text).strip())
    if not prose:
        return Reason("no prose: the reply is only code")
    if prose < MIN_PROSE_CHARS:
        return Reason(f"too short: {prose} characters of prose, at least {MIN_PROSE_CHARS} expected")
    if not passage_blocks(text):
        return Reason("no python code block")
    return text


def passage_record(text: str, constraints: dict, teacher: str, usage: dict) -> dict:
    """The record of a parsed passage, not yet verified: the schema of mined passages."""
    blocks = passage_blocks(text)
    return {"id": text_id(text), "text": text, "source": TEXTBOOK_SOURCE, **provenance(constraints, teacher, usage),
            "code_blocks": len(blocks), "code_parsed": sum(not parse_problem(block) for block in blocks),
            "verified": False, "verdict": NOT_RUN}


def reply_record(reply: str, constraints: dict, teacher: str, usage: dict) -> dict:
    """A teacher's reply as a passage record, or as its reject with why (a `reason`)."""
    passage = parse_textbook_reply(reply)
    if isinstance(passage, Reason):
        return passage_reject(reply, passage.why, constraints, teacher, usage)
    return passage_record(passage, constraints, teacher, usage)


def passage_reject(reply: str, reason: str, constraints: dict, teacher: str, usage: dict) -> dict:
    """The reject of a reply that holds no passage: the raw reply is its text."""
    if not reason:
        raise ValueError("a reject needs a reason")
    return {**passage_record(reply, constraints, teacher, usage), "reason": reason}


# ---------------------------------------------------------------------------------------------
# A block of code


def passage_blocks(text: str) -> list[str]:
    """The blocks fenced as Python (```python, ```py, ...), dedented. Unlike an exercise's, an untagged
    fence is not taken as Python: in a textbook it shows a program's output or a shell as often."""
    return python_blocks("".join(match.group(0) + "\n" for match in FENCE.finditer(text) if match.group(1)))


def is_session(block: str) -> bool:
    return block.lstrip().startswith(">>>")


def parse_problem(block: str) -> str:
    """Why `block` does not parse ("" if it does); a session parses if each statement typed at it does."""
    if not is_session(block):
        try:
            with warnings.catch_warnings():  # an invalid escape's SyntaxWarning changes nothing here
                warnings.simplefilter("ignore")
                ast.parse(block)  # as mined passages' `code_parsed` counts; what only compile refuses fails its run
        except SyntaxError as error:
            return f"SyntaxError: {error.msg} (line {error.lineno})"
        except (ValueError, RecursionError) as error:  # a null byte; nesting too deep
            return f"{type(error).__name__}: {error}"
        return ""
    examples = doctest_examples(block)
    if not examples:
        return "the session holds no example doctest can read"
    bad = next((example for example in examples if parse_quietly(example.source) is None), None)
    return f"the statement {bad.source.strip()!r} does not parse" if bad else ""


def block_program(block: str) -> str:
    """The program that runs one parsed block: the block itself, or a session's examples run as doctest
    would, each asserting that what it printed or raised is what the session shows (mined.EXAMPLE_CHECKER)."""
    if not is_session(block):
        return block
    examples = doctest_examples(block) or []
    return EXAMPLE_CHECKER + "".join(example_block(example, parse_quietly(example.source)) for example in examples)


# ---------------------------------------------------------------------------------------------
# Verification


def verify_passages(records: list[dict], sandbox: Sandbox, limits: Limits | None = None,
                    strict: bool = False) -> list[dict]:
    """`records` in order, each not yet rejected one checked: its blocks parsed, then run in `sandbox`
    (one batch for all of them), with `code_passed`, `verified` and `verdict` set. A passage with a
    block that does not parse, or none of whose blocks passes, becomes a reject with its `reason`."""
    checked = [{**record, "code_passed": 0} if record.get("reason") else with_blocks_parsed(record)
               for record in records]
    blocks = {i: passage_blocks(record["text"]) for i, record in enumerate(checked) if not record.get("reason")}
    results = iter(sandbox.run_many([block_program(block) for each in blocks.values() for block in each], limits))
    for i, each in blocks.items():  # the results come back in the batch's order: each record's in turn
        checked[i] = with_verdict(checked[i], [next(results) for _ in each], strict)
    return checked


def with_blocks_parsed(record: dict) -> dict:
    """The record, or its reject if one of its blocks does not parse: the issue's "every python
    block must parse", whatever the record's `code_parsed` says."""
    for number, block in enumerate(passage_blocks(record["text"]), start=1):
        problem = parse_problem(block)
        if problem:
            return {**record, "code_passed": 0, "verified": False, "verdict": NOT_RUN,
                    "reason": f"a code block does not parse: block {number}: {problem}"}
    return record


def with_verdict(record: dict, results: list[Result], strict: bool = False) -> dict:
    """The record with the verdict of its blocks' runs: kept unless it had blocks and none passed
    (`strict`: unless every block passed)."""
    passed = sum(result.outcome is Outcome.PASSED for result in results)
    verdict = blocks_verdict(results)
    checked = {**record, "code_passed": passed, "verified": bool(results) and passed == len(results),
               "verdict": verdict}
    if results and not passed:
        checked["reason"] = f"no code block runs: {verdict}"
    elif strict and not checked["verified"]:
        checked["reason"] = f"a code block fails: {verdict}"
    return checked


def blocks_verdict(results: list[Result]) -> str:
    """"passed", or how many blocks passed and why each other one did not, blocks numbered from 1."""
    if not results:
        return NO_CODE
    failures = [f"block {number}: {result.outcome.value}: {result.reason}"
                for number, result in enumerate(results, start=1) if result.outcome is not Outcome.PASSED]
    if not failures:
        return Outcome.PASSED.value
    passed = len(results) - len(failures)
    return f"{passed} of {len(results)} blocks passed; " + "; ".join(failures)


@dataclass(frozen=True)
class VerifyPassagesShard:
    """The step that verifies a shard's passages in the sandbox (a sandbox per worker process, shared
    with exercise verification); passages that fail go to rejects."""

    timeout_s: float = 3.0
    ours: bool = False  # our own generator's (the curriculum's): a block that fails is a bug, so strict

    def __call__(self, records: Iterable[dict]) -> Iterator[dict]:
        limits = exercise_limits(self.timeout_s)
        yield from verify_passages(list(records), _worker_sandbox(limits), limits, strict=self.ours)
