import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from test_train import (  # noqa: F401  (one_thread is a fixture)
    TINY_MODEL, make_pack, one_thread, read_metrics, train, without_timing, write_recipe,
)
from textbooks.train.checkpoint import CheckpointError, newest_readable_checkpoint
from textbooks.train.recipe import RecipeError

DROPOUT = {"attn_dropout": 0.1, "resid_dropout": 0.1, "embd_dropout": 0.1}
STEPS = 60


def train_process(recipe: Path, out: Path, *args: str) -> subprocess.Popen:
    # one thread: the same arithmetic in every run, and no oversubscription of a small CI machine
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "textbooks.cli", "train", "--recipe", str(recipe), "--out", str(out), *args]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> None:
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr


def kill_after_first_checkpoint(process: subprocess.Popen, run_dir: Path) -> None:
    latest = run_dir / "checkpoints" / "latest"
    deadline = time.monotonic() + 60
    while not latest.exists():
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline, "no checkpoint within 60 s"
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()


def test_resume_after_sigkill_repeats_the_uninterrupted_run_exactly(tmp_path):
    pack = make_pack(tmp_path / "pack")  # 48 rows, 6 steps an epoch: 10 epochs
    recipe = write_recipe(tmp_path / "r.yaml", pack, model={**TINY_MODEL, **DROPOUT},
                          train={"max_steps": STEPS, "micro_batch": 2},
                          eval={"every": 20}, checkpoint={"every": 5, "keep_last": 2})
    uninterrupted = train_process(recipe, tmp_path / "uninterrupted")
    killed = train_process(recipe, tmp_path / "resumed")
    kill_after_first_checkpoint(killed, tmp_path / "resumed")
    assert killed.returncode == -signal.SIGKILL
    assert max(r["step"] for r in read_metrics(tmp_path / "resumed")) < STEPS, "the run ended before the kill"

    finish(train_process(recipe, tmp_path / "resumed", "--resume"))
    finish(uninterrupted)

    expected, resumed = read_metrics(tmp_path / "uninterrupted"), read_metrics(tmp_path / "resumed")
    assert [r["step"] for r in resumed if "loss" in r] == list(range(1, STEPS + 1))
    assert without_timing(resumed) == without_timing(expected)  # losses, lrs, grad norms, val losses: bitwise
    final = [load_file(tmp_path / run / "checkpoints" / f"step-{STEPS:08d}" / "model.safetensors")
             for run in ("uninterrupted", "resumed")]
    assert all(torch.equal(final[0][name], final[1][name]) for name in final[0])


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> tuple[Path, Path]:
    """A 6-step run with checkpoints at steps 3 and 6: (recipe, run_dir)."""
    root = tmp_path_factory.mktemp("finished")
    recipe = write_recipe(root / "r.yaml", make_pack(root / "pack"), train={"max_steps": 6}, eval={"every": 0})
    train(recipe, root / "run")
    return recipe, root / "run"


@pytest.fixture
def run_copy(finished_run, tmp_path) -> tuple[Path, Path]:
    recipe, run_dir = finished_run
    shutil.copytree(run_dir, tmp_path / "run")
    return recipe, tmp_path / "run"


def test_resume_can_extend_the_run_and_change_cadence(run_copy):
    recipe, run_dir = run_copy
    train(recipe, run_dir, "--resume", "--train.max_steps", "9", "--log.every", "2", "--checkpoint.every", "9")
    steps = [r["step"] for r in read_metrics(run_dir)]
    assert steps == [1, 2, 3, 4, 5, 6, 8, 9]
    assert (run_dir / "checkpoints" / "latest").read_text().strip() == "step-00000009"


def test_resuming_a_finished_run_does_nothing(run_copy):
    recipe, run_dir = run_copy
    before = (run_dir / "metrics.jsonl").read_text()
    train(recipe, run_dir, "--resume")
    assert (run_dir / "metrics.jsonl").read_text() == before


def test_resume_without_a_checkpoint_is_an_error(finished_run, tmp_path):
    recipe, _ = finished_run
    with pytest.raises(CheckpointError, match=r"--resume: .*empty has no checkpoint to resume from"):
        train(recipe, tmp_path / "empty", "--resume")


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


# each breaks the step-6 checkpoint so that it cannot be resumed from; (the file named in the warning, how)
CORRUPTIONS = {
    "truncated weights": ("model.safetensors", truncate),
    "garbage optimizer": ("optimizer.pt", lambda path: path.write_bytes(b"garbage")),
    "trainer state not json": ("trainer_state.json", lambda path: path.write_text('{"step": 6, "tok')),
    "trainer state without its keys": ("trainer_state.json", lambda path: path.write_text('{"step": 6}')),
    "truncated rng": ("rng.pt", truncate),
    "missing rng": ("rng.pt", Path.unlink),
    "missing checkpoint": ("", shutil.rmtree),
}


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_resume_from_an_unreadable_latest_checkpoint_falls_back_to_the_one_before(run_copy, finished_run, capsys,
                                                                                  corruption):
    recipe, run_dir = run_copy
    name, corrupt = CORRUPTIONS[corruption]
    broken = run_dir / "checkpoints" / "step-00000006" / name
    corrupt(broken)
    # the run to resume is the finished one with step 6 lost: the metrics of steps 4-6 must come back unchanged
    train(recipe, run_dir, "--resume")

    warning = capsys.readouterr().err
    assert f"warning: {run_dir / 'checkpoints' / 'latest'} names step-00000006, which cannot be resumed from: " \
           f"checkpoint {'file ' if name else ''}{str(broken).rstrip('/')}" in warning
    assert "Resuming from step-00000003, the newest readable checkpoint, instead" in warning
    assert without_timing(read_metrics(run_dir)) == without_timing(read_metrics(finished_run[1]))
    final = [load_file(run / "checkpoints" / "step-00000006" / "model.safetensors")
             for run in (run_dir, finished_run[1])]
    assert all(torch.equal(final[0][name], final[1][name]) for name in final[0])
    assert (run_dir / "checkpoints" / "latest").read_text() == "step-00000006\n"


def test_a_fallback_points_latest_at_the_checkpoint_used(run_copy):
    # so that until the resumed run writes its next checkpoint, `latest` (which eval, sample and a failed
    # write's message read) names a complete one
    _, run_dir = run_copy
    (run_dir / "checkpoints" / "step-00000006" / "optimizer.pt").write_bytes(b"garbage")
    assert newest_readable_checkpoint(run_dir).path == run_dir / "checkpoints" / "step-00000003"
    assert (run_dir / "checkpoints" / "latest").read_text() == "step-00000003\n"


def test_resume_with_no_readable_checkpoint_is_an_error_naming_each(run_copy):
    recipe, run_dir = run_copy
    checkpoints = run_dir / "checkpoints"
    (checkpoints / "step-00000006" / "optimizer.pt").write_bytes(b"garbage")
    truncate(checkpoints / "step-00000003" / "model.safetensors")
    with pytest.raises(CheckpointError) as error:
        train(recipe, run_dir, "--resume")
    assert str(error.value).startswith(
        f"--resume: no checkpoint of {run_dir} is readable: "
        f"checkpoint file {checkpoints / 'step-00000006' / 'optimizer.pt'} is corrupt or unreadable: "
        "Unsupported operand 103; "
        f"checkpoint file {checkpoints / 'step-00000003' / 'model.safetensors'} is corrupt or unreadable: "
        f"{checkpoints / 'step-00000003' / 'model.safetensors'} is not a readable safetensors file (corrupt or "
        "truncated?)")


def test_resume_with_a_different_recipe_is_an_error(run_copy):
    recipe, run_dir = run_copy
    with pytest.raises(RecipeError, match=r"recipe differs .*\(train.lr: 0.01 -> 0.02\)"):
        train(recipe, run_dir, "--resume", "--train.lr", "0.02")
