"""Outputs: a command writes only its own kind of output, one writer at a time; readers check the
tokenizer that made what they read; damaged inputs are named."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from textbooks import cli
from textbooks.sources import default_source_dir, python_files
from textbooks.executor import make_executor
from textbooks.layout import kind_of
from textbooks.outputs import OutputBusyError
from textbooks.records import read_manifest, read_records
from textbooks.tokens import TokenDataset, load_tokenizer


def snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def stages(tmp_path_factory) -> Path:
    """A small corpus, its tokenizer and its pack, written by the commands."""
    root = tmp_path_factory.mktemp("stages")
    small = [p for p in python_files(default_source_dir()) if 500 < p.stat().st_size < 4000][:40]
    for path in small:
        shutil.copy(path, root / f"{len(list(root.iterdir())):03d}_{path.name}")
    data = root / "data"
    data.mkdir()
    for path in root.glob("*.py"):
        path.rename(data / path.name)
    assert cli.main(["corpus", "--source", str(data), "--out", str(root / "corpus"), "--shard-size", "10",
                     "--workers", "1"]) == 0
    assert cli.main(["tokenizer", "--data", str(root / "corpus"), "--vocab-size", "400",
                     "--out", str(root / "tok")]) == 0
    assert cli.main(["pack", "--data", str(root / "corpus"), "--tokenizer", str(root / "tok"),
                     "--out", str(root / "pack"), "--seq-len", "16", "--val-fraction", "0"]) == 0
    return root


@pytest.fixture
def copies(stages, tmp_path) -> Path:
    for name in ("corpus", "tok", "pack"):
        shutil.copytree(stages / name, tmp_path / name)
    return tmp_path


def tokenizer_command(corpus: Path, out: Path, vocab_size: int = 400) -> list[str]:
    return ["tokenizer", "--data", str(corpus), "--vocab-size", str(vocab_size), "--out", str(out)]


@pytest.mark.parametrize("target,error", [("corpus", "is also an input"), ("labels", "holds the output of the label"),
                                          ("pack", "holds the output of the pack"), ("user files", "holds files")])
def test_the_tokenizer_refuses_to_write_over_what_is_not_a_tokenizer(copies, target, error):
    if target == "user files":
        (copies / target).mkdir()
        (copies / target / "notes.txt").write_text("my notes\n")
    if target == "labels":
        assert cli.main(["label", "--data", str(copies / "corpus"), "--out", str(copies / "labels"),
                         "--sample", "5"]) == 0
    before = snapshot(copies)
    with pytest.raises((FileExistsError, ValueError), match=error):
        cli.main(tokenizer_command(copies / "corpus", copies / target, vocab_size=300))
    assert snapshot(copies) == before


def test_the_tokenizer_writes_a_directory_and_skips_what_it_has_done(copies, capsys):
    with pytest.raises(ValueError, match="names a file"):
        cli.main(tokenizer_command(copies / "corpus", copies / "pack" / "tokenizer.json"))
    assert cli.main(tokenizer_command(copies / "corpus", copies / "tok2", vocab_size=300)) == 0
    assert json.loads((copies / "tok2" / "tokenizer.json").read_text())["model"]["type"] == "BPE"
    trained = (copies / "tok2" / "tokenizer.json").stat().st_mtime_ns
    assert cli.main(tokenizer_command(copies / "corpus", copies / "tok2", vocab_size=300)) == 0
    assert "up to date" in capsys.readouterr().out
    assert (copies / "tok2" / "tokenizer.json").stat().st_mtime_ns == trained  # not trained again
    assert cli.main(tokenizer_command(copies / "corpus", copies / "tok2", vocab_size=320)) == 0
    assert load_tokenizer(copies / "tok2").get_vocab_size() == 320  # a new config trains again


def stage_commands(root: Path, out: Path) -> dict[str, list[str]]:
    """A command line of each command that writes an --out, all into `out`."""
    samples = root / "samples.jsonl"
    samples.write_text(json.dumps({"task_id": "HumanEval/0", "completion": "    return True\n"}) + "\n")
    return {
        "corpus": ["corpus", "--source", str(root / "corpus"), "--out", str(out)],
        "label": ["label", "--data", str(root / "corpus"), "--out", str(out), "--sample", "5"],
        "pack": ["pack", "--data", str(root / "corpus"), "--tokenizer", str(root / "tok"), "--out", str(out),
                 "--seq-len", "16"],
        "train": ["train", "--recipe", "cpu-pretrain", "--out", str(out), "--data.path", str(root / "pack")],
        "eval": ["eval", "humaneval", "--samples", str(samples), "--limit", "1", "--out", str(out)],
        "convert": ["convert", "--to-hf", str(root / "corpus"), str(out)],
    }


@pytest.mark.parametrize("occupant,command", [
    (occupant, command) for occupant in ("corpus", "pack", "user files")
    for command in ("corpus", "label", "pack", "train", "eval", "convert") if command != occupant])
def test_every_command_refuses_an_out_that_holds_another_kind_of_output(copies, command, occupant):
    out = copies / "occupied"
    if occupant == "user files":
        out.mkdir()
        (out / "00000.parquet").write_text("the user's own file, not ours\n")
    else:
        shutil.copytree(copies / occupant, out)
    before = snapshot(out)
    with pytest.raises(FileExistsError, match="holds"):
        cli.main(stage_commands(copies, out)[command])
    assert snapshot(out) == before


def test_output_kinds_are_told_by_their_markers(copies):
    assert kind_of(copies / "corpus") == "corpus"
    assert kind_of(copies / "pack") == "pack"
    assert kind_of(copies / "nothing") is None
    (copies / "empty").mkdir()
    assert kind_of(copies / "empty") is None
    assert kind_of(copies / "tok") == "tokenizer"
    (copies / "mine").mkdir()
    (copies / "mine" / "notes.txt").write_text("my notes\n")
    assert kind_of(copies / "mine") == "other files"


def test_a_swapped_pack_tokenizer_is_refused_by_what_reads_the_pack(copies):
    # the pack's own tokenizer replaced by another one, as a tokenizer run into the pack used to do
    assert cli.main(tokenizer_command(copies / "corpus", copies / "other", vocab_size=300)) == 0
    shutil.copy(copies / "other" / "tokenizer.json", copies / "pack" / "tokenizer.json")
    with pytest.raises(ValueError, match="not the tokenizer this pack was made with"):
        TokenDataset(copies / "pack")
    with pytest.raises(ValueError, match="not the tokenizer this pack was made with"):
        cli.main(["train", "--recipe", "cpu-pretrain", "--out", str(copies / "run"),
                  "--data.path", str(copies / "pack")])
    (copies / "pack" / "tokenizer.json").unlink()
    with pytest.raises(FileNotFoundError, match="tokenizer.json is missing"):
        TokenDataset(copies / "pack")


def test_a_token_shard_of_the_right_size_but_foreign_ids_is_named(copies):
    shard = copies / "pack" / "train-00000.bin"
    dataset = TokenDataset(copies / "pack")
    assert len(dataset[0]) == 17
    garbage = np.full(shard.stat().st_size // 2, 65535, dtype="<u2")
    garbage.tofile(shard)
    with pytest.raises(ValueError, match=r"train-00000.bin, row 0: token id 65535 is outside the pack's vocabulary"):
        TokenDataset(copies / "pack")[0]


def damage_last_shard(corpus: Path) -> Path:
    shard = sorted(corpus.glob("*.parquet"))[-1]
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    return shard


def test_a_damaged_parquet_shard_is_named(copies):
    shard = damage_last_shard(copies / "corpus")
    for command in (["label", "--data", str(copies / "corpus"), "--out", str(copies / "labels")],
                    ["pack", "--data", str(copies / "corpus"), "--tokenizer", str(copies / "tok"),
                     "--out", str(copies / "pack2"), "--seq-len", "16"],
                    tokenizer_command(copies / "corpus", copies / "tok2.json")):
        with pytest.raises(ValueError, match=f"{shard.name} is corrupt"):
            cli.main(command)


def test_a_damaged_parquet_shard_is_named_before_work_is_spent_on_the_others(copies, tmp_path, monkeypatch):
    damage_last_shard(copies / "corpus")
    seen = []
    with pytest.raises(ValueError, match="is corrupt"):
        make_executor("serial").map_shards(lambda records: seen.extend(records) or iter(()), copies / "corpus",
                                           tmp_path / "out")
    assert seen == []

    def no_work(*args, **kwargs):
        raise AssertionError("work was spent before the damaged shard was found")

    monkeypatch.setattr("textbooks.prepare.pack._tokenize_into", no_work)
    monkeypatch.setattr("textbooks.prepare.tokenizer.train_tokenizer", no_work)
    with pytest.raises(ValueError, match="is corrupt"):
        cli.main(["pack", "--data", str(copies / "corpus"), "--tokenizer", str(copies / "tok"),
                  "--out", str(copies / "pack2"), "--seq-len", "16"])
    with pytest.raises(ValueError, match="is corrupt"):
        cli.main(tokenizer_command(copies / "corpus", copies / "tok2.json"))


def start_corpus(source: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "textbooks.cli", "corpus", "--source", str(source),
                             "--out", str(out), "--workers", "1", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for_lock(out: Path, pid: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if json.loads((out / ".lock").read_text())["pid"] == pid:
                return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.02)
    raise AssertionError("the first run never took its lock")


def test_a_second_writer_is_refused_at_once_naming_the_holder(stages, tmp_path):
    out = tmp_path / "corpus"
    first = start_corpus(stages / "data", out, "--shard-size", "10")
    wait_for_lock(out, first.pid)
    os.kill(first.pid, signal.SIGSTOP)  # hold it mid-run while the second writer tries
    try:
        started = time.monotonic()
        with pytest.raises(OutputBusyError) as refused:
            cli.main(["corpus", "--source", str(stages / "data"), "--out", str(out), "--shard-size", "3"])
        assert time.monotonic() - started < 5
    finally:
        os.kill(first.pid, signal.SIGCONT)
    message = str(refused.value)
    assert f"pid {first.pid} on {socket.gethostname()}, started {time.strftime('%Y-%m-%d')}" in message
    assert "--shard-size 10" in message
    output, _ = first.communicate(timeout=120)
    assert first.returncode == 0, output
    # the first run's corpus is whole: every file once, in the first run's shards
    manifest = read_manifest(out)
    assert manifest["config"]["shard_size"] == 10
    ids = [r["id"] for r in read_records(out)]
    corpus_records = read_manifest(stages / "corpus")["counts"]["records"]
    assert len(ids) == len(set(ids)) == manifest["counts"]["records"] == corpus_records
    assert not (out / ".lock").exists()


def test_a_library_caller_of_a_command_holds_its_claim_too(copies, make_tiny_checkpoint):
    """Evaluation and conversion claim their output where they write it, not in the CLI: called as
    functions, they refuse another kind of output and a directory another writer holds."""
    from textbooks.evaluate import harness
    from textbooks.evaluate.cli import Options, setup
    from textbooks.model import convert
    from textbooks.outputs import OutputLock

    out = copies / "eval"
    args = Options(benchmark="humaneval", samples=stage_commands(copies, out)["eval"][3], limit=1, out=out, k=[1],
                   workers=1)
    problems = setup(args)

    def evaluate(directory):
        return harness.evaluate(args.model_copy(update={"out": directory}), problems)

    model = make_tiny_checkpoint(block_size=32)
    for write in (evaluate, lambda directory: convert.main(model, directory, to_hf=True)):
        with pytest.raises(FileExistsError, match="holds the output of the corpus stage"):
            write(copies / "corpus")
        out.mkdir(exist_ok=True)
        with OutputLock(out / ".lock", out, "another writer"), pytest.raises(OutputBusyError):
            write(out)
    evaluate(out)  # once the other writer is gone
    assert (out / "summary.json").is_file() and not (out / ".lock").exists()


def test_a_writer_killed_with_its_lock_does_not_block_the_rerun(stages, tmp_path):
    out = tmp_path / "corpus"
    first = start_corpus(stages / "data", out, "--shard-size", "10")
    wait_for_lock(out, first.pid)
    first.kill()  # the parent alone, as the OOM killer would: its pool worker must not outlive it
    first.communicate(timeout=60)  # ends when every holder of its output pipe, the worker too, is gone
    assert (out / ".lock").exists()  # left behind, but no process holds it
    assert cli.main(["corpus", "--source", str(stages / "data"), "--out", str(out), "--shard-size", "10"]) == 0
    assert read_manifest(out)["counts"]["records"] == read_manifest(stages / "corpus")["counts"]["records"]


def test_a_torchrun_rank_other_than_0_does_not_claim_the_run_dir(copies, monkeypatch):
    out = copies / "pack"  # a pack: any claim of it as a run dir is refused
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(ValueError, match="data.path"):  # it got past the claim, to the recipe
        cli.main(["train", "--recipe", "cpu-pretrain", "--out", str(out), "--data.path", str(copies / "nothing")])


def test_a_checkpoint_keeps_its_tokenizer_and_its_readers_check_it(copies):
    run = copies / "run"
    train = ["train", "--recipe", "cpu-pretrain", "--out", str(run), "--data.path", str(copies / "pack"),
             "--train.max_steps", "2", "--model.n_layer", "1", "--model.n_embd", "64", "--model.n_head", "2",
             "--model.mlp_hidden", "128", "--model.block_size", "16", "--train.micro_batch", "2",
             "--train.effective_batch", "2", "--eval.every", "0", "--checkpoint.every", "1",
             "--log.tensorboard", "false"]
    assert cli.main(train) == 0
    checkpoint = run / "checkpoints" / "step-00000002"
    assert (checkpoint / "tokenizer.json").read_bytes() == (copies / "pack" / "tokenizer.json").read_bytes()
    shutil.rmtree(copies / "pack")  # the checkpoint alone is enough to generate
    assert cli.main(["generate", str(run), "--prompt", "def f(", "--max-new-tokens", "2"]) == 0
    assert cli.main(tokenizer_command(copies / "corpus", copies / "other", vocab_size=300)) == 0
    with pytest.raises(ValueError, match="not the tokenizer .* was trained with"):
        cli.main(["generate", str(run), "--tokenizer", str(copies / "other"), "--prompt", "def f("])
    assert cli.main(["generate", str(run), "--tokenizer", str(copies / "tok" / "tokenizer.json"),
                     "--prompt", "def f(", "--max-new-tokens", "2"]) == 0  # the same tokenizer is fine
    # finetuning or resuming on data another tokenizer made is refused
    assert cli.main(["pack", "--data", str(copies / "corpus"), "--tokenizer", str(copies / "other"),
                     "--out", str(copies / "other-pack"), "--seq-len", "16", "--val-fraction", "0"]) == 0
    with pytest.raises(ValueError, match="train.init_from .* another"):
        cli.main(["train", "--recipe", "cpu-finetune", "--out", str(copies / "finetune"),
                  "--data.path", str(copies / "other-pack"), "--train.init_from", str(run)])
    # the pack rewritten in place by a tokenizer of the same size: the recipe is unchanged, the ids are not
    assert cli.main([*tokenizer_command(copies / "corpus", copies / "same-size"), "--max-docs", "5"]) == 0
    assert cli.main(["pack", "--data", str(copies / "corpus"), "--tokenizer", str(copies / "same-size"),
                     "--out", str(copies / "pack"), "--seq-len", "16", "--val-fraction", "0"]) == 0
    with pytest.raises(ValueError, match="--resume: the checkpoint .* another"):
        cli.main([*train, "--resume", "--train.max_steps", "3"])


@pytest.mark.parametrize("missing", ["text", "id"])
@pytest.mark.parametrize("command", [
    ["synth", "exercises", "--data", "{data}"], ["decontam", "--data", "{data}", "--against", "humaneval"],
    ["mix", "--part", "{data}=1"], ["label", "--data", "{data}"], ["tokenizer", "--data", "{data}", "--vocab-size",
                                                                  "300"],
    ["pack", "--data", "{data}", "--tokenizer", "{tok}", "--seq-len", "16"],
])
def test_an_input_without_the_columns_a_stage_reads_is_one_line_before_any_work(copies, tmp_path, command, missing):
    """A finished dataset whose shards lack `text` or `id` (a foreign Parquet file in a stage's
    directory) is named with its shard and column before the stage claims its --out."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from textbooks.records import write_manifest

    data = tmp_path / "foreign"
    data.mkdir()
    row = {"id": "a", "text": "def f():\n    return 1\n", "source": "s"}
    pq.write_table(pa.Table.from_pylist([{k: v for k, v in row.items() if k != missing}]), data / "00000.parquet")
    write_manifest(data, "corpus", {}, {"records": 1})
    out = tmp_path / "out"
    argv = [part.format(data=data, tok=copies / "tok") for part in command]
    with pytest.raises(ValueError, match=f"^{data / '00000.parquet'} has no `{missing}` column .it has "):
        cli.main([*argv, "--out", str(out)])
    assert not out.exists()
