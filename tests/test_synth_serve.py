"""`textbooks serve` over one of our checkpoints, used as the teacher of `textbooks synth exercises`:
end to end over real HTTP. The tiny model writes nonsense, so its replies are rejected, but every
prompt ends kept or rejected with a reason, and the token ledger is what the server reported."""

import contextlib
import json
import subprocess
import sys
import time

import httpx
import pytest

from textbooks import cli
from textbooks.llm import Request, ResponseCache
from textbooks.llm.local import CheckpointClient
from textbooks.records import read_manifest, read_records
from textbooks.synth.cli import MAX_TOKENS
from textbooks.synth.sampler import load_template, render_prompt

N = 6
# The exercise prompt is ~760 tokens in the tiny vocabulary, and synth asks for MAX_TOKENS (1024)
# more: the server refuses a request that does not fit its context, so the model must hold both.
BLOCK_SIZE = 2048


@pytest.fixture(scope="module")
def checkpoint(make_tiny_checkpoint):
    return make_tiny_checkpoint(block_size=BLOCK_SIZE)


@contextlib.contextmanager
def serving(checkpoint):
    """`textbooks serve` as a subprocess on a free loopback port; yields its base URL once it answers."""
    command = [sys.executable, "-m", "textbooks.cli", "serve", str(checkpoint), "--port", "0",
               "--log-level", "warning"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()  # printed once the port is bound (port 0: a free one)
        assert " at http://127.0.0.1:" in line, line
        url = line.split(" at ")[1].strip()
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/models", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "textbooks serve did not come up"
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.fixture(scope="module")
def served(checkpoint):
    with serving(checkpoint) as url:
        yield url


def test_a_served_checkpoint_is_a_synth_teacher_end_to_end(served, checkpoint, tmp_path, capsys):
    [model] = httpx.get(f"{served}/models").json()["data"]
    teacher = f"{served}#{model['id']}"
    out = tmp_path / "exercises"
    argv = ["synth", "exercises", "--teacher", teacher, "--n", str(N), "--out", str(out), "--seed", "1",
            "--workers", "1"]
    assert cli.main(argv) == 0

    kept, rejects = list(read_records(out)), list(read_records(out / "rejects"))
    assert len(kept) + len(rejects) == N  # none lost
    assert all(r["reason"] for r in rejects)
    assert all(r["verified"] and r["verdict"] == "passed" for r in kept)
    assert all(r["teacher"] == teacher for r in kept + rejects)

    # Each record's usage is what the server counted: its prompt tokens are the chat-rendered prompt's
    # tokens in the model's own tokenizer, and it generated at least one and at most MAX_TOKENS.
    local, template = CheckpointClient(checkpoint), load_template("exercises")
    usages = [json.loads(r["usage"]) for r in kept + rejects]
    for record, usage in zip(kept + rejects, usages):
        prompt = render_prompt("exercises", json.loads(record["constraints"]), template)
        assert usage["prompt_tokens"] == local.count_tokens(local.prompt_text(Request(messages=(("user", prompt),))))
        assert 0 < usage["completion_tokens"] <= MAX_TOKENS

    sums = {key: sum(u[key] for u in usages) for key in ("prompt_tokens", "completion_tokens")}
    manifest = read_manifest(out)
    [ledger] = manifest["counts"]["cost"].values()
    assert ledger == {**sums, "total_tokens": sum(sums.values()), "requests": N, "retries": 0, "cache_hits": 0,
                      "resent": 0, "counted": 0, "pass_rate": ledger["pass_rate"],
                      "records_per_s": ledger["records_per_s"]}
    assert manifest["counts"]["records"] == len(kept) and manifest["counts"]["rejected"] == len(rejects)
    [cached] = ResponseCache(out / "llm-cache.sqlite").ledger().values()  # what came back over HTTP
    assert cached == {**sums, "requests": N}

    capsys.readouterr()
    assert cli.main(argv) == 0
    assert "up to date" in capsys.readouterr().out
    assert sorted(r["id"] for r in read_records(out / "rejects")) == sorted(r["id"] for r in rejects)


def test_one_of_our_checkpoints_is_a_teacher_without_a_server(checkpoint, tmp_path):
    out = tmp_path / "exercises"
    assert cli.main(["synth", "exercises", "--teacher", str(checkpoint), "--n", "2", "--max-tokens", "32",
                     "--out", str(out), "--workers", "1"]) == 0
    records = list(read_records(out)) + list(read_records(out / "rejects"))
    assert len(records) == 2 and all(r["teacher"] == str(checkpoint) for r in records)
    [ledger] = read_manifest(out)["counts"]["cost"].values()
    assert ledger["requests"] == 2 and 0 < ledger["completion_tokens"] <= 2 * 32
