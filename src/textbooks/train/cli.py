"""Pretrain or finetune a model from a YAML recipe (pretraining and finetuning are one loop, paper §2.3).

RECIPE is a YAML file or the name of a packaged recipe: pretrain-phi-1, pretrain-phi-1-small,
finetune-phi-1, cpu-pretrain, cpu-finetune. Any recipe value can be replaced with --section.key VALUE.
RUN_DIR receives recipe.yaml (the resolved recipe), metrics.jsonl, tensorboard/ and checkpoints/.

Examples:
  textbooks train --recipe cpu-pretrain --out runs/tiny --data.path data/pack
  textbooks train --recipe cpu-pretrain --out runs/tiny --data.path data/pack --resume --train.max_steps 2000
  torchrun --nproc_per_node 8 -m textbooks.cli train --recipe pretrain-phi-1 --out runs/phi-1 --data.path data/pack
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from textbooks.options import CommandOptions, opt

AFTER_FAILURE = ("Checkpoints are written whole or not at all: checkpoints/latest names the last complete one; "
                 "rerun with --resume to continue from it.")
# The functions below import torch and the trainer themselves: run() must call use_jemalloc, which
# may re-exec this process, before seconds go into importing torch.


class Options(CommandOptions):
    recipe: str = opt(help="recipe YAML file, or the name of a packaged recipe")
    out: Path = opt(help="the run directory", metavar="RUN_DIR")
    resume: bool = opt(False, help="continue the run in RUN_DIR from its latest checkpoint")
    overrides: list[str] = opt([], help="--section.key VALUE: a recipe value replaced", rest=True)


def plan_check(options: Options) -> None:
    """What can be checked before the pack exists (a pipeline checks it before any stage runs): the
    recipe and its overrides, each key and value."""
    from textbooks.train.recipe import load_recipe

    load_recipe(options.recipe, options.overrides)


def pack_shape(path: str) -> tuple[int, int]:
    """The pack's (vocab_size, seq_len), after checking that its train split and tokenizer are readable."""
    from textbooks.tokens import TokenDataset
    from textbooks.train.recipe import RecipeError

    try:
        train = TokenDataset(path, split="train")
    except (FileNotFoundError, ValueError, KeyError) as e:
        raise RecipeError(f"data.path {path}: {e}") from None
    return train.vocab_size, train.seq_len


def setup(recipe_path: str, overrides: list[str], run_dir: Path, resume: bool):
    """Load and resolve the recipe, join the process group, and find the checkpoint to resume from."""
    from textbooks.hardware import resolve_precision
    from textbooks.layout import TOKENIZER
    from textbooks.model.spec import resolve_model_dir
    from textbooks.train import distributed
    from textbooks.train.checkpoint import check_tokenizer, checkpoint_to_resume, model_dir_config
    from textbooks.train.recipe import load_recipe, resolve_model_config, resolved_recipe
    from textbooks.train.trainer import TrainingRun

    recipe = load_recipe(recipe_path, overrides)
    init_from = recipe.train.init_from
    init_config = model_dir_config(Path(init_from)) if init_from else None
    config = resolve_model_config(recipe, *pack_shape(recipe.data.path), init_config)
    recipe = resolved_recipe(recipe, config)
    device_type = distributed.resolve_device_type(recipe.train)
    precision = resolve_precision(recipe.train.precision, device_type)
    recipe = recipe.model_copy(update={"train": recipe.train.model_copy(update={"precision": precision})})
    world, device = distributed.init_distributed(device_type)
    recipe.accumulation(world.world_size)
    distributed.set_threads(device)
    checkpoint = checkpoint_to_resume(run_dir, resume, recipe)
    data_tokenizer = Path(recipe.data.path) / TOKENIZER  # checked against the pack's manifest by pack_shape
    if init_from:
        check_tokenizer(resolve_model_dir(Path(init_from)), data_tokenizer, "train.init_from")
    if checkpoint:
        check_tokenizer(checkpoint.path, data_tokenizer, "--resume: the checkpoint")
    return TrainingRun(recipe, config, run_dir, device, world, checkpoint)


def main(run):
    """Train the resolved run to train.max_steps; the final TrainState. The main rank holds the run
    directory (textbooks.outputs) while it trains: it alone writes there."""
    from textbooks.outputs import claim_output
    from textbooks.train import distributed
    from textbooks.train.recipe import save_run_recipe
    from textbooks.train.trainer import Trainer

    try:
        with claim_output(run.run_dir, "train") if run.world.is_main else contextlib.nullcontext():
            if run.world.is_main:
                save_run_recipe(run.run_dir, run.recipe)
            trainer = Trainer(run)
            if run.world.is_main:
                print(f"training {trainer.model.num_params() / 1e6:.2f}M parameters on {run.device} x "
                      f"{run.world.world_size}: steps {trainer.state.step} -> {run.recipe.train.max_steps}",
                      file=sys.stderr)
            return trainer.fit()
    finally:
        distributed.shutdown()


def run(options: Options) -> int:
    from textbooks.allocator import use_jemalloc

    use_jemalloc()
    main(setup(options.recipe, options.overrides, options.out, options.resume))
    return 0
