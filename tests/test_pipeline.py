"""`textbooks run` end to end, on a small slice of this machine's standard library."""

import json
import subprocess
import sys

import pytest
import yaml

SMALL_RUN = {
    "stages": {
        "corpus": {"limit": 60},
        "tokenizer": {"vocab_size": 600},
        "pack": {"seq_len": 64, "val_fraction": 0.1},
        "train": {"recipe": "cpu-pretrain.yaml",
                  "overrides": {"model.preset": "cpu-tiny", "model.n_layer": 1, "model.block_size": 64,
                                "train.max_steps": 4, "train.warmup_steps": 1, "checkpoint.every": 2}},
        "generate": {"max_new_tokens": 8, "prompt": ["def add(a, b):\n"]},
        "eval": {"benchmark": "humaneval", "limit": 4, "max_new_tokens": 16, "bits_per_byte": True},
    }
}


def textbooks(*args):
    return subprocess.run([sys.executable, "-m", "textbooks.cli", *args], capture_output=True, text=True,
                          timeout=600)


@pytest.mark.slow
def test_run_builds_every_stage_and_a_rerun_redoes_nothing(tmp_path):
    recipe = tmp_path / "small.yaml"
    recipe.write_text(yaml.safe_dump(SMALL_RUN))
    first = textbooks("run", str(recipe), "--out", str(tmp_path / "out"))
    assert first.returncode == 0, first.stderr
    for stage in ("corpus", "pack"):
        assert (tmp_path / "out" / stage / "manifest.json").exists()
    assert (tmp_path / "out" / "train" / "checkpoints" / "latest").read_text().strip() == "step-00000004"
    assert "--- completion" in first.stdout
    summary = json.loads((tmp_path / "out" / "eval" / "humaneval" / "summary.json").read_text())
    assert summary["problems"] == 4 and summary["bits_per_byte"] > 0

    again = textbooks("run", str(recipe), "--out", str(tmp_path / "out"))
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("nothing to do") >= 2  # corpus and pack are complete
    assert "train --recipe" in again.stdout and "--resume" in again.stdout
    assert "--- completion" in again.stdout
    assert "humaneval: pass@1" in again.stdout
