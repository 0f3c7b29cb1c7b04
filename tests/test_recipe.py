from pathlib import Path

import pytest
import yaml

from textbooks.model.config import ModelConfig
from textbooks.train.recipe import (
    RecipeError, load_recipe, packaged_recipes, parse_overrides, recipe_from_dict, recipe_path,
    resolve_model_config,
)

MINIMAL = {"model": {"preset": "cpu-tiny"}, "data": {"path": "pack"}}


def write(tmp_path: Path, recipe: dict) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_every_packaged_recipe_loads_and_validates():
    names = packaged_recipes()
    assert {"pretrain-phi-1.yaml", "pretrain-phi-1-small.yaml", "finetune-phi-1.yaml",
            "cpu-pretrain.yaml", "cpu-finetune.yaml"} <= set(names)
    for name in names:
        recipe = load_recipe(name)
        assert recipe.accumulation(1) >= 1
        assert recipe.train.warmup_steps < recipe.train.max_steps


def test_paper_recipes_hold_the_papers_numbers():
    pretrain, finetune = load_recipe("pretrain-phi-1"), load_recipe("finetune-phi-1")
    assert (pretrain.train.effective_batch, pretrain.train.lr, pretrain.train.warmup_steps,
            pretrain.train.weight_decay, pretrain.train.max_steps, pretrain.train.precision) == \
        (1024, 1e-3, 750, 0.1, 36000, "fp16")
    assert pretrain.model.preset == "phi-1" and "attn_dropout" not in pretrain.model.overrides  # the preset's 0.1
    assert (finetune.train.effective_batch, finetune.train.lr, finetune.train.warmup_steps,
            finetune.train.weight_decay, finetune.train.max_steps, finetune.checkpoint.every) == \
        (256, 1e-4, 50, 0.01, 6000, 1000)
    assert finetune.train.init_from and finetune.model.preset is None


def test_overrides_are_parsed_by_the_fields_type(tmp_path):
    path = write(tmp_path, MINIMAL)
    recipe = load_recipe(path, ["--train.lr", "3e-4", "--data.path=x", "--log.tensorboard", "false",
                                "--train.max_steps", "12", "--model.attn_dropout", "0", "--train.init_from", "null",
                                "--train.precision", "bf16"])
    assert recipe.train.lr == 3e-4 and isinstance(recipe.train.lr, float)
    assert recipe.data.path == "x"
    assert recipe.log.tensorboard is False
    assert recipe.train.max_steps == 12
    assert recipe.model.overrides == {"attn_dropout": 0.0}
    assert recipe.train.init_from is None
    assert recipe.train.precision == "bf16"


def test_yaml_exponents_without_a_dot_are_floats(tmp_path):
    # PyYAML reads `1e-3` as a string; the field type makes it a float
    path = write(tmp_path, {**MINIMAL, "train": {"lr": "1e-3", "min_lr": 0}})
    recipe = load_recipe(path)
    assert recipe.train.lr == 1e-3 and recipe.train.min_lr == 0.0


@pytest.mark.parametrize("overrides, message", [
    (["--trian.lr", "1"], "unknown section 'trian'.*sections are model, data, train"),
    (["--train.lrr", "1"], "--train.lrr: unknown key 'lrr' in section train; valid keys: max_steps"),
    (["--model.layers", "2"], "unknown key 'layers' in section model; valid keys: preset, vocab_size"),
    (["--train.max_steps", "ten"], r"^--train.max_steps: input should be a valid integer.* \(got 'ten'\)$"),
    (["--train.max_steps", "0"], r"--train.max_steps: input should be greater than 0 \(got '0'\)"),
    (["--train.lr", "fast"], "--train.lr: input should be a valid number"),
    (["--log.tensorboard", "maybe"], "--log.tensorboard: input should be a valid boolean"),
    (["--train.precision", "fp8"],
     r"--train.precision: input should be 'auto', 'fp32', 'bf16' or 'fp16' \(got 'fp8'\)"),
    (["--model.preset", "gpt-5"], r"--model.preset: input should be 'phi-1', .*'cpu-base' \(got 'gpt-5'\)"),
    (["--train.lr"], "--train.lr: missing value"),
    (["stray"], "unexpected argument 'stray'"),
    (["--train.effective_batch", "10", "--train.micro_batch", "4"], "effective_batch 10 is not a multiple"),
    (["--train.init_from", "runs/x"], "exactly one of model.preset"),
])
def test_bad_overrides_name_the_offending_key(tmp_path, overrides, message):
    with pytest.raises(RecipeError, match=message) as error:
        load_recipe(write(tmp_path, MINIMAL), overrides)
    assert "\n" not in str(error.value)  # one line, not pydantic's report


@pytest.mark.parametrize("recipe, message", [
    ({**MINIMAL, "optimizer": {"lr": 1}}, "unknown section 'optimizer'"),
    ({**MINIMAL, "train": {"learning_rate": 1}}, "recipe.yaml: unknown key 'learning_rate' in section train; "
                                                 "valid keys: max_steps, effective_batch"),
    ({**MINIMAL, "train": {"max_steps": True}}, r"recipe.yaml: train.max_steps: expected int \(got True\)"),
    ({**MINIMAL, "train": {"lr": True}}, r"train.lr: expected float \(got True\)"),
    ({**MINIMAL, "train": 5}, r"recipe.yaml: train: input should be a valid dictionary.* \(got 5\)"),
    ({"model": {"preset": "cpu-tiny"}}, "recipe.yaml: data.path is required"),
    ({**MINIMAL, "train": {"lr": 1e-4, "min_lr": 1e-3}}, r"train.min_lr: must be at most train.lr 0.0001 \(got 0.001"),
    ({**MINIMAL, "model": {"preset": "cpu-tiny", "n_layer": None}}, "model.n_layer: input should be a valid integer"),
])
def test_bad_recipe_files_name_the_offending_key(tmp_path, recipe, message):
    with pytest.raises(RecipeError, match=message) as error:
        load_recipe(write(tmp_path, recipe))
    assert "\n" not in str(error.value)


def test_an_empty_section_takes_the_defaults(tmp_path):
    recipe = load_recipe(write(tmp_path, {**MINIMAL, "train": None, "log": None}))
    assert recipe.train.max_steps == 1000 and recipe.log.tensorboard is True


def test_unknown_recipe_name_lists_the_packaged_ones():
    with pytest.raises(RecipeError, match="packaged recipes: .*cpu-pretrain.yaml"):
        recipe_path("no-such-recipe")


def test_parse_overrides_accepts_both_spellings():
    assert parse_overrides(["--train.lr", "3e-4", "--data.path=a=b"]) == [("train", "lr", "3e-4"),
                                                                         ("data", "path", "a=b")]


def test_hash_ignores_length_and_cadence_but_not_what_is_computed():
    base = recipe_from_dict(MINIMAL)
    cadence = recipe_from_dict({**MINIMAL, "train": {"max_steps": 5}, "log": {"every": 1, "tensorboard": False},
                                "eval": {"every": 7}, "checkpoint": {"every": 2, "keep_last": 9}})
    assert base.hash() == cadence.hash()
    for changed in ({"train": {"lr": 5e-4}}, {"train": {"seed": 1}}, {"model": {"preset": "cpu-small"}}):
        assert recipe_from_dict({**MINIMAL, **changed}).hash() != base.hash()


def test_hash_is_stable_across_versions():
    # runs checkpointed by earlier versions must still resume: these are the hashes they recorded
    assert recipe_from_dict(MINIMAL).hash() == "bc8016f5f9cde645"
    parsed = recipe_from_dict({**MINIMAL, "model": {"preset": "cpu-tiny", "attn_dropout": 0},
                               "train": {"lr": "1e-3", "compile": "yes"}})
    assert parsed.hash() == "bc008bdf5daf081b"


def test_model_vocab_defaults_to_the_packs_padded_to_64():
    recipe = recipe_from_dict({**MINIMAL, "model": {"preset": "cpu-tiny", "n_layer": 2}})
    config = resolve_model_config(recipe, pack_vocab=8001, seq_len=256)
    assert config.vocab_size == 8064
    assert config.n_layer == 2 and config.n_embd == 256
    assert resolve_model_config(recipe, pack_vocab=8192, seq_len=256).vocab_size == 8192


def test_model_config_must_fit_the_pack():
    small_vocab = recipe_from_dict({**MINIMAL, "model": {"preset": "cpu-tiny", "vocab_size": 64}})
    with pytest.raises(RecipeError, match="model.vocab_size 64 is smaller than the pack's vocabulary of 100"):
        resolve_model_config(small_vocab, pack_vocab=100, seq_len=16)
    with pytest.raises(RecipeError, match="longer than model.block_size 512"):
        resolve_model_config(recipe_from_dict(MINIMAL), pack_vocab=100, seq_len=1024)
    bad_heads = recipe_from_dict({**MINIMAL, "model": {"preset": "cpu-tiny", "n_head": 3}})
    with pytest.raises(RecipeError, match="model: n_embd 256 is not a multiple of n_head 3"):
        resolve_model_config(bad_heads, pack_vocab=100, seq_len=16)


def test_init_from_takes_the_architecture_from_the_checkpoint():
    recipe = recipe_from_dict({"data": {"path": "p"}, "train": {"init_from": "run"}, "model": {"resid_dropout": 0.0}})
    base = ModelConfig(vocab_size=128, n_layer=2, n_embd=64, n_head=1, mlp_hidden=128, block_size=32).to_dict()
    config = resolve_model_config(recipe, pack_vocab=100, seq_len=16, init_config=base)
    assert (config.vocab_size, config.n_layer, config.resid_dropout, config.attn_dropout) == (128, 2, 0.0, 0.1)
