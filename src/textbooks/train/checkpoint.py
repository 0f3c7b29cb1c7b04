"""Training checkpoints, written whole into a temporary directory, renamed, then named in `latest`.

    RUN_DIR/checkpoints/
      step-00000100/
        model.safetensors, model_config.json   the weights (textbooks.model.weights): sample/eval load them
        optimizer.pt        AdamW state and the fp16 loss scaler (the lr schedule is a function of the step)
        trainer_state.json  step, tokens_seen, data position (epoch, offset), recipe hash, world size
        rng.pt              every rank's torch (+ CUDA), numpy and python RNG states
      latest                the name of the newest complete checkpoint

A kill at any moment leaves `latest` naming a complete checkpoint: a half-written one is only ever a
`.tmp-*` directory, removed by the next run.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from textbooks.model.weights import CONFIG, WEIGHTS, load_model, read_config, resolve_model_dir, save_model
from textbooks.records import atomic_write_json, atomic_write_text
from textbooks.train.recipe import Recipe, RecipeError, recipe_changes

CHECKPOINTS = "checkpoints"
LATEST = "latest"
TRAINER_STATE = "trainer_state.json"
OPTIMIZER = "optimizer.pt"
RNG = "rng.pt"


class CheckpointError(RuntimeError):
    """A checkpoint that is missing or unreadable; the message names the file."""


@dataclass
class Checkpoint:
    path: Path
    model: torch.nn.Module
    optimizer: dict
    state: dict
    rng: list[dict]  # one entry per rank of the run that wrote it


def checkpoint_name(step: int) -> str:
    return f"step-{step:08d}"


def has_checkpoints(run_dir: Path) -> bool:
    """Whether the run has a complete checkpoint: `latest` is written only after one is."""
    return (run_dir / CHECKPOINTS / LATEST).exists()


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint `latest` names; None when there is none; an error when it names nothing."""
    latest = run_dir / CHECKPOINTS / LATEST
    if not latest.exists():
        return None
    name = latest.read_text(encoding="utf-8").strip()
    if not name or not (latest.parent / name).is_dir():
        raise CheckpointError(f"{latest} names checkpoint {name!r}, which does not exist")
    return latest.parent / name


def save_checkpoint(run_dir: Path, step: int, model: torch.nn.Module, optimizer: dict, state: dict,
                    rng: list[dict], keep_last: int) -> Path:
    """Write a complete checkpoint of `step`, point `latest` at it, and keep only the last `keep_last`."""
    root = run_dir / CHECKPOINTS
    final = root / checkpoint_name(step)
    tmp = root / f".tmp-{final.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_model(model, tmp)
    torch.save(optimizer, tmp / OPTIMIZER)
    torch.save({"ranks": rng}, tmp / RNG)
    atomic_write_json(tmp / TRAINER_STATE, state)
    _fsync_files(tmp)
    if final.exists():  # written by a killed run after the checkpoint `latest` names; never that one
        shutil.rmtree(final)
    os.replace(tmp, final)
    atomic_write_text(root / LATEST, final.name + "\n")
    _prune(root, keep_last)
    return final


def _fsync_files(directory: Path) -> None:
    for path in directory.iterdir():
        with open(path, "rb") as f:
            os.fsync(f.fileno())


def _prune(root: Path, keep_last: int) -> None:
    if keep_last > 0:
        for old in sorted(root.glob("step-*"))[:-keep_last]:
            shutil.rmtree(old)


def remove_partial(run_dir: Path) -> None:
    """Delete checkpoints a killed run left half-written."""
    for partial in (run_dir / CHECKPOINTS).glob(".tmp-step-*"):
        shutil.rmtree(partial)


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> Checkpoint:
    """Every part of a checkpoint, or a CheckpointError naming the file that is missing or corrupt."""
    return Checkpoint(
        path=path,
        model=_read(path / WEIGHTS, lambda _: load_model(path, device=device)),
        optimizer=_read(path / OPTIMIZER, lambda p: torch.load(p, map_location=device, weights_only=True)),
        state=_read(path / TRAINER_STATE, lambda p: json.loads(p.read_text(encoding="utf-8"))),
        rng=_read(path / RNG, lambda p: torch.load(p, weights_only=True)["ranks"]),
    )


def _read(path: Path, reader):
    if not path.exists():
        raise CheckpointError(f"checkpoint file {path} is missing")
    try:
        return reader(path)
    except Exception as e:  # any reader's failure means the same thing here: this file is unusable
        raise CheckpointError(f"checkpoint file {path} is corrupt or unreadable: {e}") from e


def rng_state(device: torch.device) -> dict:
    """This process's RNG states: torch (dropout), CUDA, numpy and python."""
    name, key, pos, has_gauss, gauss = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "numpy": (name, key.tolist(), pos, has_gauss, gauss),
             "python": random.getstate()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    name, key, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, np.array(key, dtype=np.uint32), pos, has_gauss, gauss))
    random.setstate(state["python"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def checkpoint_to_resume(run_dir: Path, resume: bool, recipe: Recipe) -> Checkpoint | None:
    """The checkpoint to continue from, checked against the recipe; None for a fresh run.

    Never a silent restart: --resume without a readable checkpoint is an error, and so is a fresh
    run into a directory that already has checkpoints.
    """
    if not resume:
        if has_checkpoints(run_dir):
            raise CheckpointError(f"{run_dir} already has checkpoints: pass --resume to continue that run, "
                                  "or choose another --out")
        return None
    path = latest_checkpoint(run_dir)
    if path is None:
        raise CheckpointError(f"--resume: {run_dir} has no checkpoint to resume from "
                              f"({run_dir / CHECKPOINTS / LATEST} does not exist)")
    checkpoint = load_checkpoint(path)
    if checkpoint.state.get("recipe_hash") != recipe.hash():
        changes = "; ".join(recipe_changes(run_dir, recipe)) or "its recipe hash differs"
        raise RecipeError(f"--resume: the recipe differs from the one {run_dir} was trained with ({changes}); "
                          "only train.max_steps and the eval, checkpoint and log sections may change")
    if checkpoint.state["step"] > recipe.train.max_steps:
        raise RecipeError(f"--resume: {path.name} is past train.max_steps {recipe.train.max_steps}")
    return checkpoint


def model_dir_config(path: Path) -> dict:
    """The model config (as a dict) of a model, checkpoint or run directory, for train.init_from."""
    if not path.exists():
        raise RecipeError(f"train.init_from {path} does not exist")
    try:
        return read_config(resolve_model_dir(path) / CONFIG).to_dict()
    except (FileNotFoundError, ValueError) as e:
        raise RecipeError(f"train.init_from {path} is not a model, checkpoint or run directory: {e}") from None
