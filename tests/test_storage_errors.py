"""A full disk, a read-only file system or a denied write ends every stage in one line that says
what failed, on which path, and what survived: no traceback.

The file systems are real: a small or read-only tmpfs mounted in a user and mount namespace of the
command's own (no root needed), and a directory the command's user may not write.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from textbooks import cli
from textbooks.sources import default_source_dir, python_files

CONDITIONS = {"full": "no space left on device", "read-only": "read-only file system",
              "denied": "permission denied"}


def namespaces_allowed() -> bool:
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "true"], capture_output=True)
    return probe.returncode == 0


pytestmark = pytest.mark.skipif(shutil.which("unshare") is None or not namespaces_allowed(),
                                reason="needs unshare with user and mount namespaces")


@pytest.fixture(scope="module")
def root():
    """A directory every user may read (the 'denied' case runs the command as another user)."""
    directory = Path(tempfile.mkdtemp(prefix="textbooks-storage-"))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory)


@pytest.fixture(scope="module")
def stages(root) -> Path:
    """The inputs of every stage: sources, a corpus, its labels, a tokenizer and a pack."""
    data = root / "data"
    data.mkdir()
    for path in [p for p in python_files(default_source_dir()) if 500 < p.stat().st_size < 4000][:30]:
        shutil.copy(path, data / f"{len(list(data.iterdir())):03d}_{path.name}")
    assert cli.main(["corpus", "--source", str(data), "--out", str(root / "corpus"), "--workers", "1"]) == 0
    assert cli.main(["label", "--data", str(root / "corpus"), "--out", str(root / "labels"), "--sample", "30",
                     "--workers", "1"]) == 0
    assert cli.main(["tokenizer", "--data", str(root / "corpus"), "--vocab-size", "400",
                     "--out", str(root / "tok")]) == 0
    assert cli.main(["pack", "--data", str(root / "corpus"), "--tokenizer", str(root / "tok"),
                     "--out", str(root / "pack"), "--seq-len", "32", "--val-fraction", "0"]) == 0
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root


def stage_command(stage: str, inputs: Path, out: Path) -> list[str]:
    return {
        "corpus": ["corpus", "--source", str(inputs / "data"), "--out", str(out), "--workers", "1"],
        "label": ["label", "--data", str(inputs / "corpus"), "--out", str(out), "--sample", "30", "--workers", "1"],
        "classify": ["classify", "--data", str(inputs / "corpus"), "--labels", str(inputs / "labels"),
                     "--out", str(out), "--workers", "1"],
        "tokenizer": ["tokenizer", "--data", str(inputs / "corpus"), "--vocab-size", "400",
                      "--out", str(out)],
        "pack": ["pack", "--data", str(inputs / "corpus"), "--tokenizer", str(inputs / "tok"), "--out", str(out),
                 "--seq-len", "32"],
        "train": ["train", "--recipe", "cpu-pretrain", "--out", str(out), "--data.path", str(inputs / "pack"),
                  "--train.max_steps", "2", "--model.n_layer", "1", "--model.n_embd", "64", "--model.n_head", "2",
                  "--model.mlp_hidden", "128", "--model.block_size", "32", "--train.micro_batch", "2",
                  "--train.effective_batch", "2", "--eval.every", "0", "--checkpoint.every", "1"],
    }[stage]


def run_on(condition: str, mount: Path, argv: list[str]) -> subprocess.CompletedProcess:
    """`textbooks ARGV` with `mount` a tiny tmpfs (room for the lock and a first small file, not for
    the stage's output), a read-only tmpfs, or a directory its user may not write."""
    mount.mkdir()
    command = [sys.executable, "-m", "textbooks.cli", *argv]
    env = {**os.environ, "TEXTBOOKS_NO_JEMALLOC": "1", "OMP_NUM_THREADS": "1"}
    if condition == "denied":
        home = mount.parent / "home"
        home.mkdir(mode=0o777, exist_ok=True)
        home.chmod(0o777)
        env["HOME"] = str(home)
        if os.geteuid() == 0:  # root may write anywhere: run as nobody
            command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
        else:
            mount.chmod(0o555)
    else:
        options = "size=8k" if condition == "full" else "ro"
        command = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                   f'mount -t tmpfs -o {options} tmpfs "$0" && exec "$@"', str(mount), *command]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("condition", list(CONDITIONS))
@pytest.mark.parametrize("stage", ["corpus", "label", "classify", "tokenizer", "pack", "train"])
def test_a_storage_failure_is_one_line_naming_the_path_and_what_survived(stages, tmp_path, stage, condition):
    if condition == "denied" and os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv to drop to another user")
    mount = Path(tempfile.mkdtemp(prefix="mnt-", dir=stages))
    shutil.rmtree(mount)
    try:
        result = run_on(condition, mount, stage_command(stage, stages, mount / "out"))
    finally:
        shutil.rmtree(mount, ignore_errors=True)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith(f"textbooks {stage}: error: ")]
    assert len(error_lines) == 1, result.stderr
    line = error_lines[0]
    assert CONDITIONS[condition] in line and str(mount) in line, line
    assert any(word in line for word in ("rerun", "written whole")), line  # what survived, and what to do
