import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from textbooks import cli
from textbooks.model.config import get_config
from textbooks.model.phi import Phi
from textbooks.model.weights import load_model
from textbooks.model.spec import resolve_model_dir
from textbooks.prepare.pack import SplitWriter
from textbooks.records import write_manifest
from textbooks.train.checkpoint import CheckpointError
from textbooks.train.data import DataPosition, RowOrder, rank_share, val_rows
from textbooks.train.recipe import RecipeError, TrainRecipe, recipe_from_dict
from textbooks.train.schedule import learning_rate
from textbooks.train.trainer import configure_optimizer

SEQ_LEN, VOCAB = 16, 100
TINY_MODEL = {"preset": "cpu-tiny", "n_layer": 2, "n_embd": 64, "n_head": 2, "mlp_hidden": 128, "block_size": SEQ_LEN}


def make_pack(directory: Path, train_rows: int = 48, val_rows: int = 8, seed: int = 0) -> Path:
    """A token pack (the `textbooks pack` format) of a repeating random pattern a model can learn."""
    rng = np.random.default_rng(seed)
    pattern = rng.integers(1, VOCAB, 29)
    splits = {}
    for split, rows in (("train", train_rows), ("val", val_rows)):
        writer = SplitWriter(directory, split, SEQ_LEN, np.dtype("<u2"), rows_per_shard=20)
        writer.add(np.resize(rng.permutation(pattern), rows * SEQ_LEN + 1).astype("<u2"))
        splits[split] = writer.close()
    tokenizer_json = tiny_tokenizer_json()
    (directory / "tokenizer.json").write_text(tokenizer_json)
    config = {"seed": seed, "tokenizer_sha256": hashlib.sha256(tokenizer_json.encode()).hexdigest()}
    write_manifest(directory, "pack", config, {}, seq_len=SEQ_LEN, dtype="uint16", vocab_size=VOCAB,
                   eot_id=0, splits=splits)
    return directory


def tiny_tokenizer_json(vocab_size: int = VOCAB) -> str:
    """A word-level tokenizer of `vocab_size` ids (<|endoftext|> is 0): what a test pack's ids mean."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel

    vocab = {"<|endoftext|>": 0, **{f"t{i}": i for i in range(1, vocab_size)}}
    return Tokenizer(WordLevel(vocab, unk_token="<|endoftext|>")).to_str()


def write_recipe(path: Path, pack: Path, **sections) -> Path:
    """A tiny CPU recipe; `sections` replace keys of its sections."""
    recipe = {
        "model": dict(TINY_MODEL),
        "data": {"path": str(pack)},
        "train": {"max_steps": 8, "effective_batch": 8, "micro_batch": 4, "lr": 1e-2, "min_lr": 1e-3,
                  "warmup_steps": 2, "device": "cpu"},
        "eval": {"every": 3, "batches": 2},
        "checkpoint": {"every": 3, "keep_last": 2},
        "log": {"every": 1, "tensorboard": False},
    }
    for section, values in sections.items():
        recipe[section] = {**recipe.get(section, {}), **values}
    path.write_text(yaml.safe_dump(recipe))
    return path


def read_metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def without_timing(records: list[dict]) -> list[dict]:
    """Metrics records without tokens_per_s, the one field two identical runs need not share."""
    return [{k: v for k, v in r.items() if k != "tokens_per_s"} for r in records]


def losses(run_dir: Path) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in read_metrics(run_dir) if "loss" in r}


def train(recipe: Path, out: Path, *args: str) -> None:
    assert cli.main(["train", "--recipe", str(recipe), "--out", str(out), *args]) == 0


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models train fastest on one thread (and a busy 2-core machine makes two threads crawl)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def pack(tmp_path_factory) -> Path:
    return make_pack(tmp_path_factory.mktemp("pack"))


def test_learning_rate_warms_up_then_decays_linearly_to_min_lr():
    train = TrainRecipe(max_steps=11, lr=1.0, min_lr=0.1, warmup_steps=4)
    lrs = [learning_rate(step, train) for step in range(11)]
    assert lrs[:4] == [0.25, 0.5, 0.75, 1.0]
    assert lrs[4:6] == [1.0, pytest.approx(0.85)]
    assert np.allclose(np.diff(lrs[4:]), -0.15)
    assert lrs[-1] == pytest.approx(0.1)


def test_weight_decay_only_on_weight_matrices():
    model = Phi(get_config(**TINY_MODEL, vocab_size=128))
    decayed, plain = configure_optimizer(model, TrainRecipe(weight_decay=0.1)).param_groups
    names = {id(p): name for name, p in model.named_parameters()}
    decayed_names, plain_names = {names[id(p)] for p in decayed["params"]}, {names[id(p)] for p in plain["params"]}
    assert decayed["weight_decay"] == 0.1 and plain["weight_decay"] == 0.0
    assert {"wte.weight", "lm_head.weight", "blocks.0.attn.qkv.weight", "blocks.1.mlp.fc2.weight"} <= decayed_names
    assert {"lm_head.bias", "ln_f.weight", "ln_f.bias", "blocks.0.ln.weight", "blocks.0.attn.qkv.bias"} <= plain_names
    assert len(decayed_names) + len(plain_names) == len(list(model.parameters()))


def test_row_order_is_a_seeded_permutation_per_epoch_and_batches_straddle_epochs():
    order = RowOrder(10, seed=3)
    rows, position = order.take(DataPosition(), 25)
    assert position == DataPosition(epoch=2, offset=5)
    assert sorted(rows[:10]) == sorted(rows[10:20]) == list(range(10))
    assert list(rows[:10]) != list(rows[10:20])  # a fresh permutation each epoch
    # reading in pieces, or in a fresh RowOrder (a resumed run), gives the same rows
    first, middle = order.take(DataPosition(), 7)
    rest, _ = RowOrder(10, seed=3).take(middle, 18)
    assert list(np.concatenate([first, rest])) == list(rows)
    assert list(RowOrder(10, seed=4).take(DataPosition(), 10)[0]) != list(rows[:10])


def test_ranks_share_each_global_batch_and_the_val_rows():
    rows = np.arange(100, 112)
    shares = [rank_share(rows, rank, 3) for rank in range(3)]
    assert list(np.concatenate(shares)) == list(rows)
    val = [val_rows(num_rows=20, batches=4, micro_batch=2, rank=r, world_size=3) for r in range(3)]
    assert [len(rows) for rows in val] == [2, 2, 2] and sorted(np.concatenate(val)) == list(range(6))
    assert list(val_rows(num_rows=5, batches=4, micro_batch=2, rank=0, world_size=1)) == list(range(5))


def test_accumulation_needs_an_even_split():
    recipe = recipe_from_dict({"model": {"preset": "cpu-tiny"}, "data": {"path": "p"},
                               "train": {"effective_batch": 32, "micro_batch": 8}})
    assert recipe.accumulation(1) == 4 and recipe.accumulation(2) == 2
    with pytest.raises(RecipeError, match="effective_batch 32 is not a multiple of train.micro_batch 8 x 3 ranks"):
        recipe.accumulation(3)


def test_training_run_writes_metrics_checkpoints_and_the_resolved_recipe(pack, tmp_path):
    out = tmp_path / "run"
    train(write_recipe(tmp_path / "r.yaml", pack), out, "--train.max_steps", "10")
    records = read_metrics(out)
    steps = [r for r in records if "loss" in r]
    assert [r["step"] for r in steps] == list(range(1, 11))
    assert set(steps[0]) == {"step", "loss", "lr", "grad_norm", "tokens_seen", "tokens_per_s"}
    assert steps[-1]["tokens_seen"] == 10 * 8 * SEQ_LEN
    assert steps[-1]["loss"] < steps[0]["loss"] - 1.0  # the repeating pattern is learnable
    assert [r["step"] for r in records if "val_loss" in r] == [3, 6, 9, 10]

    saved = yaml.safe_load((out / "recipe.yaml").read_text())
    assert saved["model"]["vocab_size"] == 128 and saved["train"]["max_steps"] == 10
    assert Path(saved["data"]["path"]).is_absolute()

    checkpoints = out / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["latest", "step-00000009", "step-00000010"]
    assert (checkpoints / "latest").read_text().strip() == "step-00000010"
    final = checkpoints / "step-00000010"
    assert {p.name for p in final.iterdir()} == {"model.safetensors", "model_config.json", "optimizer.pt",
                                                 "trainer_state.json", "rng.pt", "tokenizer.json"}
    state = json.loads((final / "trainer_state.json").read_text())
    # 10 steps x 8 rows of a 48-row split: 80 rows = one epoch and 32 rows
    assert (state["step"], state["epoch"], state["offset"], state["tokens_seen"]) == (10, 1, 32, 10 * 8 * SEQ_LEN)
    assert load_model(final).config.n_layer == 2


def test_gradient_accumulation_matches_one_big_batch(pack, tmp_path):
    no_dropout = {**TINY_MODEL, "attn_dropout": 0.0, "resid_dropout": 0.0}
    for name, micro_batch in (("accumulated", 2), ("whole", 8)):
        recipe = write_recipe(tmp_path / f"{name}.yaml", pack, model=no_dropout,
                              train={"micro_batch": micro_batch, "max_steps": 4}, eval={"every": 0})
        train(recipe, tmp_path / name)
    accumulated, whole = losses(tmp_path / "accumulated"), losses(tmp_path / "whole")
    assert accumulated.keys() == whole.keys()
    for step in whole:
        assert accumulated[step] == pytest.approx(whole[step], rel=1e-5)


def test_bf16_autocast_and_tensorboard(pack, tmp_path):
    out = tmp_path / "run"
    train(write_recipe(tmp_path / "r.yaml", pack, train={"precision": "bf16", "max_steps": 3},
                       log={"tensorboard": True}), out)
    assert all(np.isfinite(loss) for loss in losses(out).values())
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))


def test_auto_precision_is_bf16_where_the_cpu_computes_it_natively(pack, tmp_path):
    from textbooks.hardware import cpu_bf16_flags, resolve_precision

    with_bf16, without = tmp_path / "amx", tmp_path / "plain"
    with_bf16.write_text("processor : 0\nflags : fpu sse2 avx2 avx512f amx_bf16 amx_tile\n")
    without.write_text("processor : 0\nflags : fpu sse2 avx2 avx512f\n")
    assert resolve_precision("auto", "cpu", str(with_bf16)) == "bf16"
    assert resolve_precision("auto", "cpu", str(without)) == "fp32"
    assert resolve_precision("auto", "cpu", str(tmp_path / "unreadable")) == "fp32"
    assert resolve_precision("fp32", "cpu", str(with_bf16)) == "fp32"  # what the recipe says, when it says it
    # a run records what auto chose on this machine, so that a resume trains as it began
    out = tmp_path / "run"
    train(write_recipe(tmp_path / "r.yaml", pack, train={"precision": "auto", "max_steps": 2}), out)
    chosen = "bf16" if any(cpu_bf16_flags().values()) else "fp32"
    assert yaml.safe_load((out / "recipe.yaml").read_text())["train"]["precision"] == chosen


def test_finetuning_starts_from_init_from(pack, tmp_path):
    train(write_recipe(tmp_path / "pre.yaml", pack, train={"max_steps": 3}), tmp_path / "pre")
    finetune = write_recipe(tmp_path / "ft.yaml", pack,
                            train={"init_from": str(tmp_path / "pre"), "lr": 0.0, "min_lr": 0.0, "max_steps": 2})
    recipe = yaml.safe_load(finetune.read_text())
    recipe["model"] = {"resid_dropout": 0.0}  # no preset: the architecture comes from the pretrained run
    finetune.write_text(yaml.safe_dump(recipe))
    train(finetune, tmp_path / "ft")
    start, end = (load_model(resolve_model_dir(tmp_path / name)) for name in ("pre", "ft"))
    assert end.config.resid_dropout == 0.0 and end.config.n_embd == start.config.n_embd
    for name, tensor in start.state_dict().items():  # lr 0: the weights are the pretrained ones
        assert torch.equal(tensor, end.state_dict()[name]), name


def train_error_line(*args: str) -> str:
    """The one line `textbooks train ARGS` fails with on the command line, checked to exit 2 like every command."""
    result = subprocess.run([sys.executable, "-m", "textbooks.cli", "train", *args],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("error:") == 1, result.stderr
    return result.stderr.splitlines()[-1]


def test_fresh_run_into_a_directory_with_checkpoints_is_refused(pack, tmp_path):
    recipe = write_recipe(tmp_path / "r.yaml", pack, train={"max_steps": 3})
    train(recipe, tmp_path / "run")
    with pytest.raises(CheckpointError, match="already has checkpoints: pass --resume"):
        train(recipe, tmp_path / "run")
    assert train_error_line("--recipe", str(recipe), "--out", str(tmp_path / "run")) == (
        f"textbooks train: error: {tmp_path / 'run'} already has checkpoints: pass --resume to continue that run, "
        "or choose another --out")


def test_a_bad_override_is_one_line_naming_the_key(pack, tmp_path):
    recipe = write_recipe(tmp_path / "r.yaml", pack)
    line = train_error_line("--recipe", str(recipe), "--out", str(tmp_path / "run"), "--train.lrr", "1")
    assert line.startswith("textbooks train: error: --train.lrr: unknown key 'lrr' in section train; valid keys: ")


def test_fp16_on_cpu_is_a_clear_error(pack, tmp_path):
    with pytest.raises(RecipeError, match="fp16 needs a CUDA device"):
        train(write_recipe(tmp_path / "r.yaml", pack, train={"precision": "fp16"}), tmp_path / "run")


# The paper's recipes at toy size: the model shrunk, the batch made small, on this CPU in fp32 (fp16
# needs CUDA); the rest (schedule, optimizer, dropout, data budget per step) is the recipe's own.
TOY = ["--model.n_layer", "2", "--model.n_embd", "64", "--model.n_head", "2", "--model.mlp_hidden", "128",
       "--model.block_size", str(SEQ_LEN), "--train.device", "cpu", "--train.precision", "fp32",
       "--train.parallel", "ddp", "--train.effective_batch", "8", "--train.micro_batch", "4",
       "--train.max_steps", "2", "--eval.every", "0", "--checkpoint.every", "0", "--log.every", "1",
       "--log.tensorboard", "false"]


def test_the_paper_recipes_run_their_first_steps_at_toy_size(pack, tmp_path):
    for name in ("pretrain-phi-1", "pretrain-phi-1-small"):
        out = tmp_path / name
        train(name, out, "--data.path", str(pack), *TOY)
        recipe = yaml.safe_load((out / "recipe.yaml").read_text())
        assert (recipe["train"]["lr"], recipe["train"]["warmup_steps"], recipe["train"]["weight_decay"]) == \
            (1e-3, 750, 0.1)
        assert recipe["model"]["resid_dropout"] == recipe["model"]["attn_dropout"] == 0.1
        rows = [r for r in read_metrics(out) if "loss" in r]
        assert [r["step"] for r in rows] == [1, 2] and all(np.isfinite(r["loss"]) for r in rows)
        assert rows[0]["lr"] == pytest.approx(1e-3 / 750)  # the first of 750 warmup steps
    finetuned = tmp_path / "finetune-phi-1"
    train("finetune-phi-1", finetuned, "--data.path", str(pack), "--train.init_from",
          str(tmp_path / "pretrain-phi-1"), *TOY)
    recipe = yaml.safe_load((finetuned / "recipe.yaml").read_text())
    assert (recipe["train"]["lr"], recipe["train"]["warmup_steps"], recipe["train"]["weight_decay"]) == \
        (1e-4, 50, 0.01)
    assert [r["lr"] for r in read_metrics(finetuned) if "loss" in r][0] == pytest.approx(1e-4 / 50)
