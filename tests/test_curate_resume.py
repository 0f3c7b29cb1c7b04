"""`textbooks label` and `textbooks classify` killed with SIGKILL mid-run and rerun end with the
files of an uninterrupted run; `--executor ray` writes the same shards as the local pool."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

from fault_server import FaultServer
from test_curate_commands import write_stdlib_corpus
from textbooks import cli
from textbooks.records import read_manifest, read_records

SHARDS, PER_SHARD = 4, 15
TIMING = ("wall_time_s", "records_per_s", "mb_per_s", "steps")


class DefJudge(FaultServer):
    """Judges a file educational when it defines a function; slow enough that a run can be killed mid-shard."""

    def completion(self, path: str, body: dict) -> dict:
        verdict = "yes" if "\ndef " in body["messages"][-1]["content"] else "no"
        return {"object": "chat.completion", "usage": {"prompt_tokens": 100, "completion_tokens": 10},
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": f"Educational value: {verdict}"}}]}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_stdlib_corpus(tmp_path_factory.mktemp("corpus"), shards=SHARDS, per_shard=PER_SHARD)


@pytest.fixture(scope="module")
def embedder(make_tiny_checkpoint):
    return make_tiny_checkpoint(block_size=256)


def _outputs(directory: Path) -> dict[str, bytes]:
    """Every file of a finished stage, the manifest without its timings and paths (they differ by run)."""
    files = {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*"))
             if p.is_file() and p.name != "manifest.json" and not p.name.startswith("llm-cache.sqlite")}
    manifest = read_manifest(directory)
    counts = {k: v for k, v in manifest["counts"].items() if k not in TIMING}
    files["manifest.json"] = json.dumps({**manifest, "counts": counts, "wall_time_s": None, "config": None,
                                         "config_hash": None, "inputs": None}, sort_keys=True).encode()
    return files


def _kill_when(appears: Path | Callable[[], bool], out: Path, argv: list[str]) -> None:
    """Run `textbooks ARGV` in a subprocess and SIGKILL it (and its workers) once `appears` exists
    (or, given a function, once it returns true)."""
    script = "import sys; from textbooks import cli; sys.exit(cli.main(sys.argv[1:]))"
    child = subprocess.Popen([sys.executable, "-c", script, *argv], start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    happened = appears if callable(appears) else appears.exists
    try:
        deadline = time.monotonic() + 120
        while not happened():
            assert child.poll() is None, "the run ended before what to wait for happened"
            assert time.monotonic() < deadline, f"{appears} never happened"
            time.sleep(0.01)
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    assert not (out / "manifest.json").exists(), "the run finished before it was killed"


@pytest.mark.parametrize("budget", [None, 9000])
def test_killed_llm_label_run_resumes_to_the_uninterrupted_labels(corpus, tmp_path, capsys, budget):
    """With a budget, the killed attempt's spending counts against it: the resumed run stops at the
    record the uninterrupted one stopped at (9000 tokens last to 18 of the 40, in the second shard)."""
    with DefJudge(delay_s=0.05) as server:
        def argv(out):
            return ["label", "--data", str(corpus), "--out", str(out), "--sample", "40",
                    "--labeler", f"{server.url}#judge", *(["--budget-tokens", str(budget)] if budget else [])]
        assert cli.main(argv(tmp_path / "reference")) == 0
        assert read_manifest(tmp_path / "reference")["counts"]["records"] == (18 if budget else 40)
        paid = server.count
        resumed = tmp_path / "resumed"
        _kill_when(resumed / "00000.parquet", resumed, argv(resumed))
        assert not (resumed / "00003.parquet").exists() and not (resumed / ".work" / "stopped.json").exists()
        finished = len(list(read_records(resumed)))
        sent_before = server.count
        assert cli.main(argv(resumed)) == 0
        assert "resuming" in capsys.readouterr().out
        # the finished shards are not labeled again (nor anything the cache answered)
        assert server.count - sent_before <= paid - finished
    assert _outputs(resumed) == _outputs(tmp_path / "reference")
    labeled = [r["id"] for r in read_records(resumed)]
    assert len(labeled) == len(set(labeled)) == (18 if budget else 40)


@pytest.mark.slow  # three classify runs with a tiny checkpoint as the embedder, one killed
def test_killed_classify_run_reuses_its_embeddings_and_ends_with_the_same_files(corpus, embedder, tmp_path, capsys):
    labels = tmp_path / "labels"
    assert cli.main(["label", "--data", str(corpus), "--out", str(labels), "--sample", "40", "--workers", "2"]) == 0

    def argv(out):
        return ["classify", "--data", str(corpus), "--labels", str(labels), "--out", str(out),
                "--embedder", str(embedder), "--top-fraction", "0.5", "--workers", "2"]
    assert cli.main(argv(tmp_path / "reference")) == 0
    resumed = tmp_path / "resumed"
    _kill_when(resumed / ".work" / "embedded" / "00000.parquet", resumed, argv(resumed))
    embedded_before = len(list((resumed / ".work" / "embedded").glob("*.parquet")))
    capsys.readouterr()
    assert cli.main(argv(resumed)) == 0
    assert "resuming" in capsys.readouterr().out
    manifest = read_manifest(resumed)
    assert manifest["counts"]["steps"]["embed"]["shards_skipped"] == embedded_before >= 1
    assert _outputs(resumed) == _outputs(tmp_path / "reference")
    assert not (resumed / ".work").exists()
    ids = [r["id"] for r in read_records(resumed)] + [r["id"] for r in read_records(resumed / "rejects")]
    assert sorted(ids) == sorted(r["id"] for r in read_records(corpus))


@pytest.mark.slow  # starting a local Ray instance takes 8-9 s on two idle cores
def test_ray_executor_labels_classifies_and_synthesizes_like_the_local_pool(corpus, embedder, tmp_path):
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install ray)")

    def run_both(executor):
        labels, out = tmp_path / executor / "labels", tmp_path / executor / "filtered"
        exercises = tmp_path / executor / "exercises"
        common = ["--executor", executor, "--workers", "2"]
        assert cli.main(["label", "--data", str(corpus), "--out", str(labels), "--sample", "40", *common]) == 0
        assert cli.main(["classify", "--data", str(corpus), "--labels", str(labels), "--out", str(out),
                         "--embedder", str(embedder), "--threshold", "0.6", *common]) == 0
        # each Ray worker runs the mined exercises in a sandbox of its own
        assert cli.main(["synth", "exercises", "--data", str(corpus), "--out", str(exercises), *common]) == 0
        assert read_manifest(exercises)["counts"]["records"] > 0
        return _outputs(labels), _outputs(out), _outputs(exercises)

    local = run_both("local")
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        remote = run_both("ray")
    finally:
        ray.shutdown()
    assert remote == local
