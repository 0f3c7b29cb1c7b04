"""Textbook passages from teacher replies: parsed, and their code blocks checked in the real sandbox
(paper §2.2, "synthetic textbooks")."""

import itertools
import pickle
import uuid
from pathlib import Path

import pytest

from textbooks.sandbox.pool import Limits, Sandbox
from textbooks.synth.mined import mine_passages
from textbooks.synth.passages import (MIN_PROSE_CHARS, Reason, VerifyPassagesShard, parse_textbook_reply,
                                      passage_reject, reply_record, verify_passages)

LIMITS = Limits(timeout_s=2.0, cpu_s=2, memory_mb=512)
CONSTRAINTS = {"topic": "list comprehensions", "audience": "a high school student", "style": "a tutorial"}
USAGE = {"prompt_tokens": 90, "completion_tokens": 700}
MINED_COLUMNS = {"id", "text", "source", "constraints", "teacher", "usage", "code_blocks", "code_parsed",
                 "verified", "verdict"}
PROSE = ("A list comprehension builds a new list from an old one in a single expression. It reads almost "
         "like the sentence you would say aloud: the squares of the numbers, for each number in the list. "
         "Because the whole list is described at once, there is no empty list to start from and no append "
         "call to forget.")
SQUARES = "numbers = [1, 2, 3]\nsquares = [n * n for n in numbers]\nprint(squares)\nassert squares == [1, 4, 9]\n"
DEFINES = "def evens(numbers):\n    return [n for n in numbers if n % 2 == 0]\n"
RAISES = "print(undefined_name)\n"


def passage(*blocks: str, chatter: str = "") -> str:
    """A teacher's reply: a heading, then prose before each ```python block."""
    body = "".join(f"{PROSE}\n\n```python\n{block}```\n\n" for block in blocks)
    return f"{chatter}# List comprehensions\n\n{body}That is all there is to it."


def record_of(reply: str) -> dict:
    """The record the stage makes of a reply: the passage, or the reject with its reason."""
    return reply_record(reply, CONSTRAINTS, "teacher-model", USAGE)


@pytest.fixture(scope="module")
def box():
    with Sandbox(workers=2, limits=LIMITS) as sandbox:
        yield sandbox


def verify_one(box: Sandbox, reply: str) -> dict:
    [record] = verify_passages([record_of(reply)], box, LIMITS)
    return record


# --- parsing ------------------------------------------------------------------------------------

def test_a_reply_becomes_a_record_in_the_mined_schema():
    record = record_of(passage(SQUARES, DEFINES, chatter="Sure! Here is the section you asked for.\n\n"))
    assert set(record) == MINED_COLUMNS
    assert record["text"].startswith("# List comprehensions")  # the chatter before the heading is gone
    assert record["source"] == "synth:textbook" and record["teacher"] == "teacher-model"
    assert (record["code_blocks"], record["code_parsed"]) == (2, 2)
    assert record["verified"] is False and record["verdict"] == "not run"


@pytest.mark.parametrize("reply, reason", [
    ("  \n", "empty reply"),
    ("```python\nprint(1)\n```", "no prose"),
    (f"# Title\n\nToo little.\n\n```python\n{SQUARES}```", "too short"),
    (f"# Title\n\n{PROSE}\n\n```text\n[1, 4, 9]\n```\n", "no python code block"),
])
def test_a_reply_without_a_passage_is_rejected_with_its_reason(reply, reason):
    parsed = parse_textbook_reply(reply)
    assert isinstance(parsed, Reason) and parsed.why.startswith(reason)
    assert len(PROSE) >= MIN_PROSE_CHARS
    reject = passage_reject(reply, parsed.why, CONSTRAINTS, "teacher-model", USAGE)
    assert set(reject) == MINED_COLUMNS | {"reason"} and reject["source"] == "synth:textbook"


def test_a_reject_needs_a_reason():
    with pytest.raises(ValueError):
        passage_reject("text", "", CONSTRAINTS, "teacher-model", USAGE)


# --- verification -------------------------------------------------------------------------------

def test_a_good_passage_is_kept_verified(box):
    record = verify_one(box, passage(SQUARES, DEFINES))
    assert not record.get("reason")
    assert record["verified"] is True and record["verdict"] == "passed" and record["code_passed"] == 2


def test_a_passage_with_a_block_that_does_not_parse_is_rejected(box):
    record = verify_one(box, passage(SQUARES, "def broken(:\n    pass\n"))
    assert record["reason"].startswith("a code block does not parse: block 2: SyntaxError")
    assert record["verified"] is False and record["code_passed"] == 0


def test_a_passage_whose_only_block_raises_is_rejected(box):
    record = verify_one(box, passage(RAISES))
    assert record["reason"].startswith("no code block runs: 0 of 1 blocks passed; block 1: failed: NameError")
    assert record["verified"] is False


def test_a_partly_passing_passage_is_kept_unverified_naming_the_failing_block(box):
    record = verify_one(box, passage(SQUARES, RAISES, DEFINES))
    assert not record.get("reason")  # its prose still teaches
    assert record["verified"] is False and record["code_passed"] == 2
    assert record["verdict"].startswith("2 of 3 blocks passed; block 2: failed: NameError: name 'undefined_name'")


def test_a_block_that_writes_outside_its_directory_fails(box):
    target = Path("/tmp") / f"passage-escape-{uuid.uuid4().hex}"
    record = verify_one(box, passage(f"open({str(target)!r}, 'w').write('escaped')\n"))
    assert record["reason"].startswith("no code block runs") and "PermissionError" in record["reason"]
    assert not target.exists()


def test_an_interactive_session_is_run_and_its_output_checked(box):
    good, wrong = ">>> sorted([3, 1, 2])\n[1, 2, 3]\n", ">>> sorted([3, 1, 2])\n[3, 2, 1]\n"
    assert verify_one(box, passage(good))["verified"] is True
    assert "AssertionError" in verify_one(box, passage(wrong))["reason"]


def test_a_batch_keeps_its_order_and_loses_nothing_and_earlier_rejects_stay(box):
    replies = [passage(SQUARES), passage(RAISES), "", passage(SQUARES, RAISES), passage("x = (\n")]
    records = [record_of(reply) for reply in replies]
    checked = verify_passages(records, box, LIMITS)
    assert [record["id"] for record in checked] == [record["id"] for record in records]
    assert [bool(record.get("reason")) for record in checked] == [False, True, True, False, True]
    assert checked[2]["reason"] == "empty reply" and checked[2]["verdict"] == "not run"
    assert all("code_passed" in record for record in checked)  # one schema for a whole shard


def test_mined_passages_go_through_verification(box):
    mined = list(itertools.islice(mine_passages(), 30))
    checked = verify_passages(mined, box, LIMITS)
    assert [record["id"] for record in checked] == [record["id"] for record in mined]
    with_code = [record for record in mined if record["code_blocks"]]
    assert with_code and sum(r["code_parsed"] for r in with_code) >= 0.8 * sum(r["code_blocks"] for r in with_code)
    assert any(record["verified"] for record in checked)
    for record in checked:
        assert record["verified"] == (record["code_blocks"] > 0 and record["code_passed"] == record["code_blocks"])
        if not record["code_blocks"]:  # prose alone: kept, with nothing run to verify it
            assert not record.get("reason") and record["verdict"] == "no code block to run"


def test_the_shard_step_is_picklable_and_verifies():
    step = pickle.loads(pickle.dumps(VerifyPassagesShard(timeout_s=2.0)))
    [good, bad] = step([record_of(passage(SQUARES)), record_of(passage(RAISES))])
    assert good["verified"] is True and bad["reason"].startswith("no code block runs")
