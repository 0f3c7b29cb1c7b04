"""Training checkpoints, written whole into a temporary directory, renamed, then named in `latest`.

    RUN_DIR/checkpoints/
      step-00000100/
        model.safetensors, model_config.json   the weights (textbooks.model.weights): sample/eval load them
        optimizer.pt        AdamW state and the fp16 loss scaler (the lr schedule is a function of the step)
        trainer_state.json  step, tokens_seen, data position (epoch, offset), recipe hash, world size
        rng.pt              every rank's torch (+ CUDA), numpy and python RNG states
      latest                the name of the newest complete checkpoint

A kill at any moment leaves `latest` naming a complete checkpoint, and every `step-*` directory
complete: a half-written or half-deleted one is only ever a `.tmp-*` directory, removed by the next
run. A write that fails (a full disk, a read-only or unwritable directory) removes its partial
directory and raises a CheckpointError that says what failed and which checkpoint survives. A
resume whose `latest` checkpoint is unreadable falls back, with a warning, to the newest readable
one before it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import random
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError

from textbooks.layout import CHECKPOINTS, CONFIG, LATEST, OPTIMIZER, RNG, TOKENIZER, TRAINER_STATE, WEIGHTS
from textbooks.model.weights import load_model, read_config, save_model
from textbooks.model.spec import resolve_model_dir
from textbooks.errors import UserError
from textbooks.records import atomic_write_json, atomic_write_text
from textbooks.train.recipe import Recipe, RecipeError, recipe_changes

STATE_KEYS = ("step", "tokens_seen", "epoch", "offset")
# A write that fails without an errno (torch.save's "iostream error") on a filesystem with less free
# space than this failed for want of space: a full filesystem fills to within a block or so.
FULL_BELOW = 1 << 20
UNWRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)


class CheckpointError(UserError):
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


def save_checkpoint(run_dir: Path, step: int, model: torch.nn.Module, optimizer: dict, state: dict,
                    rng: list[dict], keep_last: int, tokenizer: Path | None = None) -> Path:
    """Write a complete checkpoint of `step`, point `latest` at it, and keep only the last `keep_last`.
    A copy of the `tokenizer` its data was made with goes beside the weights: the checkpoint is a
    model directory that `generate`, `serve` and `eval` read without guessing its vocabulary.

    A failed write removes what it wrote and raises a CheckpointError saying why and what survives.
    """
    root = run_dir / CHECKPOINTS
    final = root / checkpoint_name(step)
    tmp = root / f".tmp-{final.name}"
    writes = [(tmp, lambda: _recreate(tmp)),
              (tmp / WEIGHTS, lambda: save_model(model, tmp)),
              (tmp / OPTIMIZER, lambda: torch.save(optimizer, tmp / OPTIMIZER)),
              (tmp / RNG, lambda: torch.save({"ranks": rng}, tmp / RNG)),
              (tmp / TRAINER_STATE, lambda: atomic_write_json(tmp / TRAINER_STATE, state)),
              *([(tmp / TOKENIZER, lambda: shutil.copyfile(tokenizer, tmp / TOKENIZER))] if tokenizer else []),
              (tmp, lambda: _fsync_tree(tmp)),
              (final, lambda: _move_into_place(tmp, final)),
              (root / LATEST, lambda: atomic_write_text(root / LATEST, final.name + "\n"))]
    for path, write in writes:
        try:
            write()
        except (OSError, RuntimeError, SafetensorError) as e:
            message = _write_failure(run_dir, step, path, e)  # before the cleanup frees the space it diagnoses
            _remove_unfinished(tmp, final)
            raise CheckpointError(message) from None
    _prune(root, step, keep_last)
    return final


def _recreate(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)


def _fsync_tree(directory: Path) -> None:
    # the files and their names are on disk before the rename publishes them (a crash, not only a kill)
    for path in [*directory.iterdir(), directory]:
        _fsync(path)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _move_into_place(tmp: Path, final: Path) -> None:
    if final.exists():  # left by a killed or abandoned run, after the one `latest` names; never that one
        _discard(final)
    os.replace(tmp, final)
    _fsync(final.parent)  # the rename is on disk before `latest` names it


def _remove_unfinished(tmp: Path, final: Path) -> None:
    # best effort: the CheckpointError being raised already says what failed
    shutil.rmtree(tmp, ignore_errors=True)
    if final.exists() and _named_by_latest(final.parent) != final.name:  # moved into place, never named
        with contextlib.suppress(OSError):
            _discard(final)


def _write_failure(run_dir: Path, step: int, path: Path, error: Exception) -> str:
    """What failed, why, and which checkpoint survives: the message of a failed checkpoint write."""
    root = run_dir / CHECKPOINTS
    cause, full = _cause(error, root)
    remedy = "free space" if full else f"make {root} writable" if _errno(error) in UNWRITABLE else "fix that"
    survivor = _named_by_latest(root)
    if survivor:
        survives = (f"{root / LATEST} still names {survivor}, which is complete: {remedy} and rerun with "
                    "--resume to continue from it")
    else:
        survives = f"No earlier checkpoint exists: {remedy} and rerun to start the run again"
    return (f"could not write the checkpoint of step {step}: writing {path} failed: {cause}; the partial "
            f"checkpoint was removed. {survives}")


def _errno(error: Exception) -> int | None:
    if isinstance(error, OSError):
        return error.errno
    # safetensors keeps the errno only in its message ("... (os error 28)")
    found = re.search(r"\(os error (\d+)\)", str(error)) if isinstance(error, SafetensorError) else None
    return int(found.group(1)) if found else None


def _cause(error: Exception, root: Path) -> tuple[str, bool]:
    """The cause of a failed write in words, and whether it was a full disk.

    torch.save reports a full disk without an errno ("basic_ios::clear: iostream error"), so the
    free space left beside its partial file says it.
    """
    code = _errno(error)
    if code:
        return os.strerror(code).lower(), code in (errno.ENOSPC, errno.EDQUOT)
    try:
        free = shutil.disk_usage(root).free
    except OSError:
        return _error_text(error), False
    if free < FULL_BELOW:
        return f"no space left on device ({free} bytes free on that filesystem; {_error_text(error)})", True
    return f"{_error_text(error)} ({free} bytes free on that filesystem)", False


def _named_by_latest(root: Path) -> str | None:
    try:
        return (root / LATEST).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def _prune(root: Path, step: int, keep_last: int) -> None:
    """Keep the last `keep_last` checkpoints up to `step`; drop any later one, left by an abandoned run."""
    current = checkpoint_name(step)
    checkpoints = sorted(root.glob("step-*"))
    earlier = [path for path in checkpoints if path.name <= current]
    later = [path for path in checkpoints if path.name > current]
    for old in later + (earlier[:-keep_last] if keep_last > 0 else []):
        _discard(old)


def _discard(checkpoint: Path) -> None:
    # renamed first: a kill during the delete leaves a .tmp-* directory, never half a step-* one
    trash = checkpoint.with_name(f".tmp-{checkpoint.name}.old")
    shutil.rmtree(trash, ignore_errors=True)
    os.replace(checkpoint, trash)
    shutil.rmtree(trash)


def remove_partial(run_dir: Path) -> None:
    """Delete checkpoints a killed run left half-written or half-deleted."""
    for partial in (run_dir / CHECKPOINTS).glob(".tmp-step-*"):
        shutil.rmtree(partial)


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> Checkpoint:
    """Every part of a checkpoint, or a CheckpointError naming the file that is missing or corrupt."""
    if not path.is_dir():
        raise CheckpointError(f"checkpoint {path} does not exist")
    return Checkpoint(
        path=path,
        model=_read(path / WEIGHTS, lambda _: load_model(path, device=device)),
        optimizer=_read(path / OPTIMIZER, lambda p: _with_keys(
            torch.load(p, map_location=device, weights_only=True), ("optimizer", "scaler"))),
        state=_read(path / TRAINER_STATE, lambda p: _with_keys(json.loads(p.read_text(encoding="utf-8")), STATE_KEYS)),
        rng=_read(path / RNG, lambda p: _with_keys(torch.load(p, weights_only=True), ("ranks",))["ranks"]),
    )


def _with_keys(value, keys: tuple[str, ...]) -> dict:
    if not isinstance(value, dict) or any(key not in value for key in keys):
        raise ValueError(f"it should hold {', '.join(keys)}")
    return value


def _read(path: Path, reader):
    if not path.exists():
        raise CheckpointError(f"checkpoint file {path} is missing")
    try:
        return reader(path)
    except Exception as e:  # any reader's failure means the same thing here: this file is unusable
        raise CheckpointError(f"checkpoint file {path} is corrupt or unreadable: {_error_text(e)}") from e


def _error_text(error: Exception) -> str:
    """The informative line of an error: torch's weights_only failures lead with advice that does not apply."""
    text = str(error)
    detail = text.partition("WeightsUnpickler error:")[2] or text
    return next((line.strip() for line in detail.splitlines() if line.strip()), type(error).__name__)


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
    if not has_checkpoints(run_dir):
        raise CheckpointError(f"--resume: {run_dir} has no checkpoint to resume from "
                              f"({run_dir / CHECKPOINTS / LATEST} does not exist)")
    checkpoint = newest_readable_checkpoint(run_dir)
    if checkpoint.state.get("recipe_hash") != recipe.hash():
        changes = "; ".join(recipe_changes(run_dir, recipe)) or "its recipe hash differs"
        raise RecipeError(f"--resume: the recipe differs from the one {run_dir} was trained with ({changes}); "
                          "only train.max_steps and the eval, checkpoint and log sections may change")
    if checkpoint.state["step"] > recipe.train.max_steps:
        raise RecipeError(f"--resume: {checkpoint.path.name} is past train.max_steps {recipe.train.max_steps}")
    return checkpoint


def newest_readable_checkpoint(run_dir: Path) -> Checkpoint:
    """The checkpoint `latest` names or, when it is unreadable, the newest readable one before it.

    A fallback is announced on stderr and `latest` is pointed at the checkpoint used, so that it
    again names a complete one (evaluation and a failed write's message rely on that). Every rank
    makes the same choice from the same files, and writes the same name atomically.
    """
    root = run_dir / CHECKPOINTS
    named = _named_by_latest(root)
    if not named:
        raise CheckpointError(f"--resume: {root / LATEST} is empty or unreadable; it should name the latest checkpoint")
    earlier = sorted((path for path in root.glob("step-*") if path.name < named), reverse=True)
    failures = []
    for path in [root / named, *earlier]:
        try:
            checkpoint = load_checkpoint(path)
        except CheckpointError as e:
            failures.append(str(e))
            continue
        if failures:
            print(f"warning: {root / LATEST} names {named}, which cannot be resumed from: {'; '.join(failures)}. "
                  f"Resuming from {path.name}, the newest readable checkpoint, instead; {LATEST} now names it",
                  file=sys.stderr)
            _point_latest_at(path)
        return checkpoint
    raise CheckpointError(f"--resume: no checkpoint of {run_dir} is readable: {'; '.join(failures)}")


def _point_latest_at(checkpoint: Path) -> None:
    latest = checkpoint.parent / LATEST
    try:
        atomic_write_text(latest, checkpoint.name + "\n")
    except OSError as e:
        raise CheckpointError(f"--resume: could not point {latest} at {checkpoint.name}: "
                              f"{os.strerror(e.errno).lower() if e.errno else e}") from None


def check_tokenizer(model_dir: Path, data_tokenizer: Path, role: str) -> None:
    """Refuse to train on from `model_dir` (a checkpoint to resume, a model to finetune) with data
    made by another tokenizer than the one it records: its ids would mean other tokens."""
    from textbooks.model.pretrained import recorded_tokenizer
    from textbooks.tokens import same_tokenizer

    recorded = recorded_tokenizer(model_dir)
    if recorded is not None and not same_tokenizer(recorded, data_tokenizer):
        raise RecipeError(f"{role} {model_dir} was trained with the tokenizer {recorded}, and data.path was made "
                          f"with another ({data_tokenizer}): pack the data with the model's tokenizer")


def model_dir_config(path: Path) -> dict:
    """The model config (as a dict) of a model, checkpoint or run directory, for train.init_from."""
    if not path.exists():
        raise RecipeError(f"train.init_from {path} does not exist")
    try:
        return read_config(resolve_model_dir(path) / CONFIG).to_dict()
    except (FileNotFoundError, ValueError) as e:
        raise RecipeError(f"train.init_from {path} is not a model, checkpoint or run directory: {e}") from None
