"""`textbooks synth exercises --teacher URL#model` against a scripted loopback teacher: every reply
ends kept or rejected with its reason, the ledger adds up, and no answered prompt is asked twice."""

import contextlib
import hashlib
import json
import re
import sqlite3
import textwrap
import time
from pathlib import Path

import pytest

from fault_server import FaultServer
from test_curate_resume import _kill_when
from textbooks import cli
from textbooks.llm import LLMError, ResponseCache
from textbooks.records import read_manifest, read_records

# What the teacher does for each topic (the function name's words after its verb), and how it ends.
EXPECTED = {
    "good": "kept",
    "notests": "the tests hold no assert",
    "wrong": "failed verification: failed: AssertionError",
    "loop": "failed verification: timed_out",
    "syntax": "the exercise does not parse",
    "escape": "failed verification: failed: PermissionError",
}
N = 24  # four prompts per topic: the sampler runs through every topic in turn


def _reply(name: str, behaviour: str, tag: str) -> str:
    """The teacher's reply for `behaviour`; `tag` (from the prompt) makes every reply's text its own."""
    body = {"good": "return x + 1", "notests": "return x + 1", "wrong": "return x + 2",
            "loop": "while True:\n        pass", "syntax": "return x + 1",
            "escape": f"open('/tmp/escaped-{tag}', 'w').write('out')\n    return x + 1"}[behaviour]
    colon = "" if behaviour == "syntax" else ":"
    tests = f"print({name}(1))" if behaviour == "notests" else f"assert {name}(1) == 2"
    return textwrap.dedent(f"""\
        Here it is.
        ```python
        def {name}(x: int) -> int{colon}
            \"\"\"Return x plus one (exercise {tag}).\"\"\"
            {{body}}
        ```
        ```python
        {tests}
        ```
        """).replace("{body}", body)


class ScriptedTeacher(FaultServer):
    """Answers each exercise prompt by the topic in its function name; records the usage it sent."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sent_usage: list[dict] = []

    def completion(self, path: str, body: dict) -> dict:
        prompt = body["messages"][-1]["content"]
        name = re.search(r"must be named `(\w+)`", prompt).group(1)
        tag = hashlib.sha256(prompt.encode()).hexdigest()[:8]
        text = _reply(name, name.split("_", 1)[1], tag)
        usage = {"prompt_tokens": len(prompt) // 4, "completion_tokens": len(text) // 4}
        with self.lock:
            self.sent_usage.append(usage)
        reported = {"usage": usage} if self.report_usage else {}
        return {"object": "chat.completion", **reported, "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}]}


@pytest.fixture(scope="module")
def topics(tmp_path_factory):
    path = tmp_path_factory.mktemp("topics") / "topics.txt"
    path.write_text("\n".join(EXPECTED) + "\n")
    return path


def _argv(server, topics, out, n=N):
    return ["synth", "exercises", "--teacher", f"{server.url}#teacher", "--n", str(n), "--topics", str(topics),
            "--out", str(out), "--timeout", "1", "--workers", "2", "--seed", "3"]


def _topic(record: dict) -> str:
    return json.loads(record["constraints"])["topic"]


def test_each_reply_is_kept_or_rejected_with_its_reason_and_the_ledger_adds_up(topics, tmp_path, capsys):
    out = tmp_path / "exercises"
    with ScriptedTeacher(faults=["429", "close"]) as server:
        assert cli.main(_argv(server, topics, out)) == 0
        assert server.count == N + 2  # each prompt answered once, the two faults retried
        kept, rejects = list(read_records(out)), list(read_records(out / "rejects"))
        assert len(kept) + len(rejects) == N
        assert {_topic(r) for r in kept} == {"good"} and len(kept) == N // len(EXPECTED)
        assert all(r["verified"] and r["verdict"] == "passed" for r in kept)
        for record in rejects:
            assert record["reason"].startswith(EXPECTED[_topic(record)]), record["reason"]
        assert {_topic(r) for r in rejects} == set(EXPECTED) - {"good"}
        assert all(r["teacher"] == f"{server.url}#teacher" for r in kept + rejects)
        assert not list(Path("/tmp").glob("escaped-*"))

        [cost] = read_manifest(out)["counts"]["cost"].values()
        sent = {key: sum(u[key] for u in server.sent_usage) for key in ("prompt_tokens", "completion_tokens")}
        assert cost == {**sent, "total_tokens": sum(sent.values()), "requests": N, "retries": 2, "cache_hits": 0,
                        "resent": 0, "counted": 0, "pass_rate": 0.25, "records_per_s": cost["records_per_s"]}
        [cached] = ResponseCache(out / "llm-cache.sqlite").ledger().values()
        assert {key: cached[key] for key in sent} == sent

        capsys.readouterr()
        assert cli.main(_argv(server, topics, out)) == 0
        assert "up to date" in capsys.readouterr().out and server.count == N + 2


def test_a_killed_run_rerun_asks_no_answered_prompt_again_and_keeps_the_same_exercises(tmp_path, capsys):
    topics = tmp_path / "topics.txt"
    topics.write_text("good\nwrong\nnotests\n")
    n = 120  # three plan shards of 50, 40 of them good
    with ScriptedTeacher(delay_s=0.02) as server:
        assert cli.main(_argv(server, topics, tmp_path / "reference", n)) == 0
        reference = sorted(r["id"] for r in read_records(tmp_path / "reference"))
        resumed = tmp_path / "resumed"
        before_kill = server.count
        # killed with its first shard written and ten or more replies of the second stored in the cache only
        _kill_when(lambda: _stored(resumed) >= 60, resumed, _argv(server, topics, resumed, n))
        answered, sent_before = _stored_prompts(resumed), server.count
        capsys.readouterr()
        assert cli.main(_argv(server, topics, resumed, n)) == 0
        assert "resuming" in capsys.readouterr().out
        asked_again = [body["messages"][-1]["content"] for _, body, _ in server.requests[sent_before:]]
        assert len(answered) >= 60 and sorted(asked_again) == sorted(set(asked_again))
        assert not answered & set(asked_again) and len(asked_again) == n - len(answered)
        # what the killed attempt was sent and never stored: at most the requests in flight (concurrency 8)
        lost = sent_before - before_kill - len(answered)
        assert lost <= 8
    assert sorted(r["id"] for r in read_records(resumed)) == reference
    assert len(reference) == 40
    # the ledger of the killed and resumed run is the uninterrupted run's: no reply stored is paid for
    # twice; those the kill caught in flight are counted apart (a request recorded as sent may have
    # been killed before it reached the server)
    assert _paid(resumed) == _paid(tmp_path / "reference") and _paid(resumed)["requests"] == n
    [ledger] = read_manifest(resumed)["counts"]["cost"].values()
    assert lost <= ledger["resent"] <= 8


def test_requests_a_kill_caught_in_flight_are_counted_as_sent_again(topics, tmp_path, capsys):
    """The teacher answers 16 requests and holds the next 8 (all the run sends at once) until the run
    is killed; the resumed run sends those 8 again, and its ledger says so: they were probably paid twice."""
    out = tmp_path / "exercises"
    with ScriptedTeacher(faults=[None] * 16 + ["hang"] * 8, hang_s=120) as server:
        _kill_when(lambda: server.count == N and _stored(out) == 16, out, _argv(server, topics, out))
        capsys.readouterr()
        assert cli.main(_argv(server, topics, out)) == 0
        assert server.count == N + 8
    [cost] = read_manifest(out)["counts"]["cost"].values()
    assert cost["resent"] == 8 and cost["requests"] == N and cost["cache_hits"] == 0
    assert "8 sent again after a kill" in capsys.readouterr().out


def test_a_teacher_that_reports_no_usage_has_its_tokens_counted_in_the_ledger(topics, tmp_path, capsys):
    from textbooks.llm.http import count_tokens

    out = tmp_path / "exercises"
    with ScriptedTeacher(report_usage=False) as server:
        assert cli.main(_argv(server, topics, out)) == 0
        prompts = [body["messages"][-1]["content"] for _, body, _ in server.requests]
    [cost] = read_manifest(out)["counts"]["cost"].values()
    assert cost["counted"] == N and cost["counted_with"] == "cl100k_base"
    assert cost["prompt_tokens"] == sum(count_tokens(prompt) for prompt in prompts) > 0
    assert cost["completion_tokens"] > 0
    said = capsys.readouterr()
    assert f"tokens of {N} replies counted with cl100k_base: the teacher reported none" in said.out
    assert "reports no token usage" in said.err


def _stored(out: Path) -> int:
    """The replies the response cache of the run writing `out` holds."""
    if not (out / "llm-cache.sqlite").exists():
        return 0
    with contextlib.closing(sqlite3.connect(out / "llm-cache.sqlite", timeout=10)) as db:
        try:
            return db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
        except sqlite3.OperationalError:  # the run has not made its table yet
            return 0


def _stored_prompts(out: Path) -> set[str]:
    """The prompts whose replies the response cache of `out` holds."""
    with contextlib.closing(sqlite3.connect(out / "llm-cache.sqlite")) as db:
        requests = [json.loads(row[0]) for row in db.execute("SELECT request FROM responses")]
    return {request["messages"][-1][1] for request in requests}


def _paid(out: Path) -> dict:
    """The run's ledger for its one teacher, without its records/s (a time, not a payment) and the
    requests a kill caught in flight (`resent`: how many depends on when the kill came)."""
    [ledger] = read_manifest(out)["counts"]["cost"].values()
    return {key: value for key, value in ledger.items() if key not in ("records_per_s", "resent")}


def test_the_ledger_prices_the_tokens(topics, tmp_path):
    with ScriptedTeacher() as server:
        out = tmp_path / "priced"
        assert cli.main([*_argv(server, topics, out), "--price", "2,6"]) == 0
        [cost] = read_manifest(out)["counts"]["cost"].values()
        assert cost["cost"] == pytest.approx((cost["prompt_tokens"] * 2 + cost["completion_tokens"] * 6) / 1e6)
        with pytest.raises(SystemExit):
            cli.main([*_argv(server, topics, tmp_path / "bad"), "--price", "2"])


def test_a_budget_stops_the_asking_keeps_what_was_paid_for_and_holds_over_a_resume(topics, tmp_path):
    """24000 tokens run out in the second plan shard; a run killed after the first shard and resumed
    is charged what the killed attempt spent, so it stops where the uninterrupted run stopped."""
    with ScriptedTeacher(delay_s=0.01) as server:
        def argv(out):
            return [*_argv(server, topics, out, n=150), "--budget-tokens", "24000"]

        reference = tmp_path / "reference"
        assert cli.main(argv(reference)) == 0
        counts, paid = read_manifest(reference)["counts"], server.count
        assert counts["stopped"].startswith("token budget of 24000 reached")
        [ledger] = counts["cost"].values()
        assert 50 < ledger["requests"] == paid == counts["records"] + counts["rejected"] < 100
        assert counts["not_asked"] == 150 - paid  # the stage's whole plan, not the batch the budget stopped in
        assert ledger["total_tokens"] <= 24000
        assert cli.main(argv(reference)) == 0 and server.count == paid  # stopped is finished: up to date

        resumed = tmp_path / "resumed"
        _kill_when(lambda: _stored(resumed) >= 60, resumed, argv(resumed))
        assert cli.main(argv(resumed)) == 0
        assert server.count - paid <= paid + 8  # at most one batch in flight at the kill was sent twice
    assert read_manifest(resumed)["counts"]["stopped"] == counts["stopped"]
    assert sorted(r["id"] for r in read_records(resumed)) == sorted(r["id"] for r in read_records(reference))
    assert _paid(resumed) == _paid(reference)


def test_a_budget_below_one_request_finishes_the_run_as_stopped(topics, tmp_path):
    out = tmp_path / "exercises"
    with ScriptedTeacher() as server:
        assert cli.main([*_argv(server, topics, out, n=4), "--budget-tokens", "10"]) == 0
        assert server.count == 0
    counts = read_manifest(out)["counts"]
    assert counts["stopped"].startswith("token budget of 10") and counts["records"] == counts["records_in"] == 0


def test_an_estimate_asks_a_pilot_whose_replies_the_run_then_gets_from_the_cache(topics, tmp_path, capsys):
    out = tmp_path / "estimated"
    with ScriptedTeacher() as server:
        assert cli.main([*_argv(server, topics, out), "--estimate", "6", "--price", "1,2"]) == 0
        printed = capsys.readouterr().out
        assert server.count == 6 and "pilot of 6 of 24 prompts" in printed and "keep about" in printed
        per_request = sum(u["prompt_tokens"] + u["completion_tokens"] for u in server.sent_usage) / 6
        assert f"would spend about {round(24 * per_request):,} tokens" in printed
        assert not (out / "manifest.json").exists()
        assert cli.main(_argv(server, topics, out)) == 0  # the estimate's directory is the run's
        assert server.count == 24  # the pilot's six were answered from the cache
    [ledger] = read_manifest(out)["counts"]["cost"].values()
    assert ledger["requests"] == 18 and ledger["cache_hits"] == 6  # the run paid for what the pilot had not


class PassageTeacher(FaultServer):
    """Answers every prompt with the same short textbook section: one kept, the rest copies of it."""

    def completion(self, path: str, body: dict) -> dict:
        text = ("## Counting with a loop\n\n" + "A for loop visits each item of a sequence in turn, so counting "
                "the items that pass a test needs only a counter that starts at zero and grows by one. " * 3
                + "\n\n```python\nwords = ['a', 'bb', 'ccc']\nlong = 0\nfor word in words:\n    if len(word) > 1:\n"
                "        long += 1\nassert long == 2\n```\n")
        return {"object": "chat.completion", "usage": {"prompt_tokens": 50, "completion_tokens": 80},
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}]}


def test_a_teacher_writes_textbook_passages_whose_code_is_run(tmp_path):
    out = tmp_path / "textbook"
    with PassageTeacher() as server:
        assert cli.main(["synth", "textbook", "--teacher", f"{server.url}#teacher", "--n", "4", "--out", str(out),
                         "--workers", "1"]) == 0
    [kept] = list(read_records(out))
    assert kept["verified"] and kept["code_blocks"] == kept["code_passed"] == 1
    assert json.loads(kept["constraints"]).keys() >= {"topic", "audience", "style"}
    assert [r["reason"] for r in read_records(out / "rejects")] == ["exact duplicate"] * 3
    assert read_manifest(out)["counts"]["cost"][f"{server.url}#teacher"]["requests"] == 4


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["hang", "trickle"])
def test_with_default_settings_a_teacher_that_never_answers_fails_the_run_within_three_minutes(tmp_path, fault,
                                                                                                capsys):
    """A server that accepts and never answers, or trickles a byte every 5 s: the default deadline of
    each attempt, its retries said as they happen, and a one-line failure naming the timeout."""
    started = time.monotonic()
    with FaultServer([fault] * 10, hang_s=600, trickle_s=5) as server:
        with pytest.raises(LLMError, match=r"failed after 4 attempts; last failure: timed out"):
            cli.main(["synth", "exercises", "--teacher", f"{server.url}#{server.model}", "--n", "1",
                      "--out", str(tmp_path / "out")])
    assert time.monotonic() - started < 180
    assert capsys.readouterr().err.count("retrying in") == 3


def test_the_request_timeout_is_a_flag_and_a_recipe_key_with_its_default_in_help(topics, tmp_path, capsys):
    with FaultServer(["hang"] * 4, hang_s=30) as server:
        with pytest.raises(LLMError, match=r"after 4 attempts; last failure: timed out: no whole answer within 0.2 s"):
            cli.main(["synth", "exercises", "--teacher", f"{server.url}#{server.model}", "--n", "1",
                      "--request-timeout", "0.2", "--out", str(tmp_path / "out")])
    with pytest.raises(ValueError, match="--request-timeout must be positive and finite, got nan"):
        cli.main(["synth", "exercises", "--teacher", "curriculum", "--n", "1", "--request-timeout", "nan",
                  "--out", str(tmp_path / "other")])
    with pytest.raises(SystemExit):
        cli.main(["synth", "--help"])
    assert "(default 30)" in " ".join(capsys.readouterr().out.split())
