"""Checkpoints under failure: a full or read-only disk while writing, and a kill at each point of a write."""

import os
import re
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
    TINY_MODEL, VOCAB, make_pack, one_thread, read_metrics, train, without_timing, write_recipe,
)
from textbooks.model.config import get_config
from textbooks.model.phi import Phi
from textbooks.train import checkpoint
from textbooks.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

STEPS = 9  # checkpoints at steps 3, 6 and 9, one kept: the step-6 write is the one that fails or is killed
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}  # the arithmetic of the in-process runs (one_thread)

# `textbooks train` with one function of the checkpoint write stopped: its first call with an argument
# containing MATCH touches MARKER and sleeps, for the test to kill the process there. WHEN is before or
# after the call, `midway` (a directory argument with one file already deleted: rmtree caught half-way),
# or `fail` (an ENOSPC error from rank 0, as a full disk gives).
STOPPED_TRAIN = """
import errno, os, sys, time
from importlib import import_module
from pathlib import Path

module_name, function_name, match, when, marker = sys.argv[1:6]
module = import_module(module_name)
original = getattr(module, function_name)
stopped = False


def stop():
    Path(marker).touch()
    time.sleep(600)


def stopping(*args, **kwargs):
    global stopped
    paths = [str(a) for a in args if isinstance(a, (str, os.PathLike))]
    here = not stopped and any(match in path for path in paths)
    if here and when == "midway" and not Path(args[0]).is_dir():
        here = False  # rmtree's ignore_errors call on a directory that does not exist yet
    if here and when == "fail":
        if os.environ.get("RANK", "0") == "0":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    elif here:
        stopped = True
        if when == "midway":
            next(Path(args[0]).iterdir()).unlink()
        if when != "after":
            stop()
    result = original(*args, **kwargs)
    if here and when == "after":
        stop()
    return result


setattr(module, function_name, stopping)
from textbooks import cli

sys.argv[1:] = sys.argv[6:]  # as the command line: a user error ends in its one line
sys.exit(cli.main())
"""


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> tuple[Path, Path]:
    """The recipe, with dropout, and its run trained start to end without interruption: (recipe, run_dir)."""
    root = tmp_path_factory.mktemp("uninterrupted")
    recipe = write_recipe(root / "r.yaml", make_pack(root / "pack"), model={**TINY_MODEL, "embd_dropout": 0.1},
                          train={"max_steps": STEPS}, checkpoint={"every": 3, "keep_last": 1})
    train(recipe, root / "run")
    return recipe, root / "run"


def assert_resumes_like_uninterrupted(run_dir: Path, uninterrupted: tuple[Path, Path]) -> None:
    recipe, reference = uninterrupted
    train(recipe, run_dir, "--resume")
    assert without_timing(read_metrics(run_dir)) == without_timing(read_metrics(reference))
    final = [load_file(run / "checkpoints" / f"step-{STEPS:08d}" / "model.safetensors") for run in (run_dir, reference)]
    assert all(torch.equal(final[0][name], final[1][name]) for name in final[0])
    assert sorted(path.name for path in (run_dir / "checkpoints").iterdir()) == ["latest", f"step-{STEPS:08d}"]


def assert_every_checkpoint_complete(run_dir: Path, latest: str) -> None:
    checkpoints = run_dir / "checkpoints"
    assert (checkpoints / "latest").read_text() == f"{latest}\n"
    for path in checkpoints.glob("step-*"):
        load_checkpoint(path)  # raises if any part is missing or unreadable


# --- a kill while a checkpoint is being written -------------------------------------------------------

KILL_POINTS = {  # (module, function, match, when), the checkpoint `latest` names after the kill
    "weights written, not yet renamed": (("textbooks.model.weights", "save_file", "step-00000006", "after"),
                                         "step-00000003"),
    "optimizer written, rng not": (("torch", "save", "step-00000006/optimizer.pt", "after"), "step-00000003"),
    "every file written, not renamed": (("textbooks.train.checkpoint", "_fsync_tree", "step-00000006", "before"),
                                        "step-00000003"),
    "renamed, latest not yet naming it": (("textbooks.train.checkpoint", "atomic_write_text", "step-00000006",
                                           "before"), "step-00000003"),
    "the previous checkpoint half deleted": (("shutil", "rmtree", "step-00000003", "midway"), "step-00000006"),
}


def start_stopped_train(stop_at: tuple[str, str, str, str], marker: Path, *args: str) -> subprocess.Popen:
    command = [sys.executable, "-c", STOPPED_TRAIN, *stop_at, str(marker), "train", *args]
    return subprocess.Popen(command, env=ONE_THREAD, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_for(marker: Path, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while not marker.exists():
        if process.poll() is not None:
            pytest.fail(f"the run ended before reaching the stop: {process.stderr.read()}")
        assert time.monotonic() < deadline, "the run did not reach the stop within 120 s"
        time.sleep(0.01)


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_kill_while_writing_a_checkpoint_leaves_latest_complete_and_resume_exact(uninterrupted, tmp_path, point):
    stop_at, latest = KILL_POINTS[point]
    recipe, _ = uninterrupted
    run_dir, marker = tmp_path / "run", tmp_path / "stopped"
    process = start_stopped_train(stop_at, marker, "--recipe", str(recipe), "--out", str(run_dir))
    wait_for(marker, process)
    process.send_signal(signal.SIGKILL)
    process.wait()

    assert_every_checkpoint_complete(run_dir, latest)
    assert_resumes_like_uninterrupted(run_dir, uninterrupted)


# --- a full or read-only disk --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def user_namespaces(tmp_path_factory) -> None:
    """Skips unless this user may mount a tmpfs in a user+mount namespace (our way to a full disk)."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    point = tmp_path_factory.mktemp("probe")
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                            f"mount -t tmpfs -o size=16k tmpfs {point}"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs in a user namespace here: {probe.stderr.strip()}")


def in_namespace(script: str, run_dir: Path, survivor: Path, env: dict) -> subprocess.CompletedProcess:
    """Run `script` (sh) in a new user+mount namespace, then copy RUN_DIR to SURVIVOR before its mounts go."""
    run_dir.mkdir()
    wrapped = f'{script}\nstatus=$?\ncp -a "$RUN_DIR" "$SURVIVOR"\nexit $status'
    return subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", wrapped],
                          env={**env, "RUN_DIR": str(run_dir), "SURVIVOR": str(survivor)},
                          capture_output=True, text=True, timeout=300)


def train_command(recipe: Path, *args: str) -> str:
    return f'{sys.executable} -m textbooks.cli train --recipe {recipe} --out "$RUN_DIR" {" ".join(args)}'


def failure_line(result: subprocess.CompletedProcess) -> str:
    """The line `textbooks train` ended with, checked to be its one-line error."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith("textbooks train: error: "), result.stderr
    return last


# a checkpoint takes ~1.05 MB (weights 335 KB, optimizer 688 KB): in these sizes the one of step 3 fits,
# step 6's does not. safetensors reports the errno; torch.save does not, and the free space tells.
@pytest.mark.parametrize("size_kb,failing_file,cause", [
    (1200, "model.safetensors", re.escape("no space left on device")),
    (1500, "optimizer.pt", r"no space left on device \(\d+ bytes free on that filesystem; [^;]+\)"),
], ids=["in the weights", "in the optimizer state"])
def test_a_full_disk_ends_the_run_with_what_failed_and_what_survived(uninterrupted, user_namespaces, tmp_path,
                                                                       size_kb, failing_file, cause):
    recipe, _ = uninterrupted
    run_dir, survivor = tmp_path / "run", tmp_path / "survivor"
    result = in_namespace(f'mount -t tmpfs -o size={size_kb}k tmpfs "$RUN_DIR" && {train_command(recipe)}',
                          run_dir, survivor, ONE_THREAD)

    checkpoints = run_dir / "checkpoints"
    assert re.fullmatch(
        re.escape(f"textbooks train: error: could not write the checkpoint of step 6: writing "
                  f"{checkpoints / '.tmp-step-00000006' / failing_file} failed: ") + cause
        + re.escape(f"; the partial checkpoint was removed. {checkpoints / 'latest'} still names step-00000003, "
                    "which is complete: free space and rerun with --resume to continue from it"),
        failure_line(result))
    assert sorted(path.name for path in (survivor / "checkpoints").iterdir()) == ["latest", "step-00000003"]
    assert_every_checkpoint_complete(survivor, "step-00000003")
    assert_resumes_like_uninterrupted(survivor, uninterrupted)  # on a disk with room


def test_a_read_only_checkpoints_directory_ends_the_run_with_what_survived(uninterrupted, user_namespaces, tmp_path):
    recipe, _ = uninterrupted
    run_dir, survivor = tmp_path / "run", tmp_path / "survivor"
    checkpoints = run_dir / "checkpoints"
    script = (f"{train_command(recipe, '--train.max_steps', '3')} 2>/dev/null && "
              'mount --bind "$RUN_DIR/checkpoints" "$RUN_DIR/checkpoints" && '
              'mount -o remount,bind,ro "$RUN_DIR/checkpoints" && '
              f"{train_command(recipe, '--resume', '--train.max_steps', '6')}")
    result = in_namespace(script, run_dir, survivor, ONE_THREAD)

    assert failure_line(result) == (
        "textbooks train: error: could not write the checkpoint of step 6: writing "
        f"{checkpoints / '.tmp-step-00000006'} failed: read-only file system; the partial checkpoint was removed. "
        f"{checkpoints / 'latest'} still names step-00000003, which is complete: make {checkpoints} writable and "
        "rerun with --resume to continue from it")
    assert_every_checkpoint_complete(survivor, "step-00000003")
    train(recipe, survivor, "--resume", "--train.max_steps", "6")
    assert [r["step"] for r in read_metrics(survivor) if "loss" in r] == [1, 2, 3, 4, 5, 6]


@pytest.mark.slow
def test_a_failed_write_on_rank_0_ends_every_rank_with_a_message(tmp_path):
    recipe = write_recipe(tmp_path / "r.yaml", make_pack(tmp_path / "pack"),
                          train={"max_steps": 6, "micro_batch": 2}, checkpoint={"every": 3})
    script = tmp_path / "stopped_train.py"
    script.write_text(STOPPED_TRAIN)
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    stop_at = ("torch", "save", "step-00000006/optimizer.pt", "fail")
    result = subprocess.run([*launcher, str(script), *stop_at, str(tmp_path / "unused"), "train", "--recipe",
                             str(recipe), "--out", str(tmp_path / "run")],
                            env=ONE_THREAD, capture_output=True, text=True, timeout=180)
    assert result.returncode != 0
    assert (f"textbooks train: error: could not write the checkpoint of step 6: writing "
            f"{tmp_path / 'run' / 'checkpoints' / '.tmp-step-00000006' / 'optimizer.pt'} failed: no space left on "
            "device; the partial checkpoint was removed.") in result.stderr
    assert ("textbooks train: error: rank 0 could not write the checkpoint of step 6 (its message says why); "
            "this rank stops with it") in result.stderr
    assert_every_checkpoint_complete(tmp_path / "run", "step-00000003")


# --- save_checkpoint itself --------------------------------------------------------------------------

def write(run_dir: Path, step: int, keep_last: int = 1) -> Path:
    model = Phi(get_config(**TINY_MODEL, vocab_size=VOCAB))
    state = {"step": step, "tokens_seen": 0, "epoch": 0, "offset": 0, "recipe_hash": "h", "world_size": 1}
    return save_checkpoint(run_dir, step, model, {"optimizer": {}, "scaler": {}}, state, [{}], keep_last)


@pytest.mark.parametrize("free,cause,remedy", [
    (4096, "no space left on device (4096 bytes free on that filesystem; basic_ios::clear: iostream error)",
     "free space"),
    (10**10, "basic_ios::clear: iostream error (10000000000 bytes free on that filesystem)", "fix that"),
], ids=["full", "not full"])
def test_a_write_error_without_errno_is_diagnosed_by_the_free_space(tmp_path, monkeypatch, free, cause, remedy):
    def failing_save(obj, path):
        Path(path).write_bytes(b"partial")
        raise RuntimeError("basic_ios::clear: iostream error")

    monkeypatch.setattr(checkpoint.torch, "save", failing_save)
    monkeypatch.setattr(checkpoint.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**11, 0, free))
    with pytest.raises(CheckpointError) as error:
        write(tmp_path, 3)
    assert str(error.value) == (
        "could not write the checkpoint of step 3: writing "
        f"{tmp_path / 'checkpoints' / '.tmp-step-00000003' / 'optimizer.pt'} failed: {cause}; the partial "
        f"checkpoint was removed. No earlier checkpoint exists: {remedy} and rerun to start the run again")
    assert list((tmp_path / "checkpoints").iterdir()) == []


def test_a_checkpoint_left_after_latest_by_a_killed_run_is_replaced_not_kept(tmp_path):
    write(tmp_path, 3, keep_last=2)
    write(tmp_path, 6, keep_last=2)
    (tmp_path / "checkpoints" / "latest").write_text("step-00000003\n")  # killed before latest named step 6
    # the run resumed from step 3 and checkpoints at 4 now: step 6 belongs to the abandoned run
    write(tmp_path, 4)
    assert sorted(path.name for path in (tmp_path / "checkpoints").iterdir()) == ["latest", "step-00000004"]
    assert_every_checkpoint_complete(tmp_path, "step-00000004")
