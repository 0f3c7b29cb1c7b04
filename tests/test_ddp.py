import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from test_train import TINY_MODEL, make_pack, read_metrics, without_timing, write_recipe

NO_DROPOUT = {**TINY_MODEL, "attn_dropout": 0.0, "resid_dropout": 0.0}


def launch(recipe: Path, out: Path, ranks: int, *args: str,
           program: tuple[str, ...] = ("-m", "textbooks.cli")) -> subprocess.Popen:
    """`textbooks train` in one process, or in `ranks` gloo processes under torchrun (`program`: what python runs)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={ranks}"]
    command = [*(launcher if ranks > 1 else [sys.executable]), *program, "train",
               "--recipe", str(recipe), "--out", str(out), *args]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(*processes: subprocess.Popen) -> None:
    for process in processes:
        output, _ = process.communicate(timeout=180)
        assert process.returncode == 0, output


def assert_same_curves(run: Path, reference: Path) -> None:
    got, expected = read_metrics(run), read_metrics(reference)
    assert [r["step"] for r in got] == [r["step"] for r in expected]
    for mine, theirs in zip(got, expected):
        for key in ("loss", "grad_norm", "val_loss"):
            if key in theirs:
                assert mine[key] == pytest.approx(theirs[key], rel=1e-4), (mine["step"], key)


def test_two_ranks_equal_one_rank_with_twice_the_accumulation(tmp_path):
    recipe = write_recipe(tmp_path / "r.yaml", make_pack(tmp_path / "pack"), model=NO_DROPOUT,
                          train={"max_steps": 6, "micro_batch": 2}, checkpoint={"every": 3})
    # 8 rows a step: one rank takes 4 micro-batches of 2, each of two ranks 2 of its 4 rows
    finish(launch(recipe, tmp_path / "one", 1), launch(recipe, tmp_path / "two", 2))
    assert_same_curves(tmp_path / "two", tmp_path / "one")
    rng = torch.load(tmp_path / "two" / "checkpoints" / "step-00000006" / "rng.pt", weights_only=True)
    assert len(rng["ranks"]) == 2  # each rank's own dropout stream, for an exact resume
    assert not torch.equal(rng["ranks"][0]["torch"], rng["ranks"][1]["torch"])


# `textbooks train`, failing if the process group outlives shutdown(): gloo's worker threads live as long
# as the group, and left to interpreter exit they aborted finished runs (see distributed.shutdown).
GROUP_WATCHING_TRAIN = """
import sys, weakref

import torch.distributed as dist

from textbooks import cli
from textbooks.train import distributed

join = distributed.init_distributed
group = None


def join_and_watch_group(device_type):
    global group
    world, device = join(device_type)
    group = weakref.ref(dist.group.WORLD)
    return world, device


distributed.init_distributed = join_and_watch_group
code = cli.main(sys.argv[1:])
sys.exit("the process group outlived shutdown()" if group() is not None else code)
"""


def test_two_rank_run_frees_the_process_group_before_exit(tmp_path):
    # Regression: the group outlived shutdown(), and a gloo worker freeing the last collective's tensors after
    # the interpreter had begun to exit aborted a finished run ("terminate called without an active exception").
    recipe = write_recipe(tmp_path / "r.yaml", make_pack(tmp_path / "pack"), train={"max_steps": 3})
    program = tmp_path / "group_watching_train.py"
    program.write_text(GROUP_WATCHING_TRAIN)
    finish(launch(recipe, tmp_path / "run", 2, program=(str(program),)))


def rewind(run_dir: Path, copy: Path, step: int) -> None:
    """Copy a finished run as if it had been killed right after its checkpoint of `step`."""
    shutil.copytree(run_dir, copy)
    checkpoints = copy / "checkpoints"
    for later in checkpoints.glob("step-*"):
        if int(later.name.removeprefix("step-")) > step:
            shutil.rmtree(later)
    (checkpoints / "latest").write_text(f"step-{step:08d}\n")


@pytest.mark.slow
def test_two_rank_resume_is_exact_with_dropout(tmp_path):
    recipe = write_recipe(tmp_path / "r.yaml", make_pack(tmp_path / "pack"),
                          train={"max_steps": 6, "micro_batch": 2}, checkpoint={"every": 3})
    finish(launch(recipe, tmp_path / "full", 2))
    rewind(tmp_path / "full", tmp_path / "resumed", step=3)
    finish(launch(recipe, tmp_path / "resumed", 2, "--resume"))
    assert without_timing(read_metrics(tmp_path / "resumed")) == without_timing(read_metrics(tmp_path / "full"))


@pytest.mark.slow
def test_fsdp_two_ranks_equal_one_rank(tmp_path):
    recipe = write_recipe(tmp_path / "r.yaml", make_pack(tmp_path / "pack"), model=NO_DROPOUT,
                          train={"max_steps": 4, "micro_batch": 2, "parallel": "fsdp"}, checkpoint={"every": 2})
    finish(launch(recipe, tmp_path / "one", 1), launch(recipe, tmp_path / "fsdp", 2))
    assert_same_curves(tmp_path / "fsdp", tmp_path / "one")
    # the shards were gathered into one ordinary checkpoint, from which FSDP resumes
    one_model = load_file(tmp_path / "one" / "checkpoints" / "step-00000004" / "model.safetensors")
    fsdp_model = load_file(tmp_path / "fsdp" / "checkpoints" / "step-00000004" / "model.safetensors")
    assert all(torch.allclose(fsdp_model[name], one_model[name], atol=1e-5) for name in one_model)
    rewind(tmp_path / "fsdp", tmp_path / "resumed", step=2)
    finish(launch(recipe, tmp_path / "resumed", 2, "--resume"))
    assert_same_curves(tmp_path / "resumed", tmp_path / "fsdp")
