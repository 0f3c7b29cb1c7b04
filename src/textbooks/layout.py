"""What each kind of output directory holds: the names of its files, and `kind_of(directory)`.

Every module takes these names from here, so a file is named once (docs/architecture.md, "Say each
thing once"). This module imports nothing of ours: any layer may read it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

# Every dataset stage's output (textbooks.stage): its shards, and
MANIFEST = "manifest.json"  # written last: its presence marks the stage complete
IN_PROGRESS = ".in-progress.json"  # an unfinished run's config: a rerun with the same config resumes
WORK = ".work"  # a stage's intermediate shards, removed when the stage finishes
REJECTS = "rejects"  # the dropped records, each with its reason
STOPPED = "stopped.json"  # in WORK: why a token budget stopped a stage's requests (label, synth)
TOKENIZER = "tokenizer.json"  # the tokenizer stage's output; a pack and a checkpoint keep a copy
SIMILAR = "similar.json"  # decontam: each benchmark problem, similar to the training set or not
AUDIT = "audit.json"  # the audit's figures

# Any command's output
LOCK = ".lock"  # one writer at a time (textbooks.outputs)
LLM_CACHE = "llm-cache.sqlite"  # a command that asks an LLM keeps its responses here
GRADER_CACHE = "grader-cache.sqlite"  # a graded evaluation's grader's responses, beside the model's

# A training run
RECIPE = "recipe.yaml"  # the recipe it ran (a pipeline's run keeps the recipe it ran under this name too)
METRICS = "metrics.jsonl"
CHECKPOINTS = "checkpoints"  # one directory per checkpoint, each a model directory, and
LATEST = "latest"  # CHECKPOINTS/LATEST names the newest complete one

# A model directory (ours, or a transformers one) and a checkpoint's training state
WEIGHTS = "model.safetensors"
CONFIG = "model_config.json"  # our ModelConfig, beside our weights
HF_CONFIG = "config.json"  # a transformers model directory's
HF_TOKENIZER_CONFIG = "tokenizer_config.json"  # beside its tokenizer.json, for transformers' AutoTokenizer
TRAINER_STATE = "trainer_state.json"
OPTIMIZER = "optimizer.pt"
RNG = "rng.pt"

# An evaluation
EVAL_SETTINGS = "eval_settings.json"  # written first: what a resumed evaluation must match
SAMPLES = "samples.jsonl"
RESULTS = "results.jsonl"
SUMMARY = "summary.json"
PROBLEMS = "problems.jsonl"  # each problem's samples passed, of how many
GRADES = "grades.jsonl"  # a graded evaluation's critiques and scores

# A pipeline's run (textbooks.pipeline): a directory per stage, and
LEDGER = "pipeline.json"  # what each stage ran with, and whether it finished
REPORT = "report.html"  # the run's report (textbooks report)

STAGE_MARKERS = (MANIFEST, IN_PROGRESS)  # they name their stage
# Other kinds of directory, each known by the files it writes first, in the order they are looked
# for: a pipeline's run keeps a recipe.yaml too.
KIND_MARKERS = {
    "pipeline": (LEDGER,),
    "eval": (EVAL_SETTINGS, SUMMARY),
    "train": (RECIPE, CHECKPOINTS, METRICS),
    "audit": (AUDIT,),  # its figures alone, when its manifest is not there
    "model": (CONFIG, HF_CONFIG, WEIGHTS),
}
# Our own bookkeeping, which does not make a directory someone else's: the lock, a stage's scratch,
# and an LLM response cache (which `synth --estimate` leaves for the run it estimates) with its journal.
OWN_BOOKKEEPING = (LOCK, WORK, LLM_CACHE, GRADER_CACHE)
OTHER_FILES = "other files"


def kind_of(directory: str | os.PathLike) -> str | None:
    """What `directory` holds: a dataset stage's name ("corpus", "pack", ...), "pipeline", "eval",
    "train" or "model"; None when it does not exist or is empty (but for our bookkeeping);
    OTHER_FILES when it holds files we did not write."""
    directory = Path(directory)
    if not directory.is_dir():
        return None
    for marker in STAGE_MARKERS:
        if (directory / marker).is_file():
            return _stage_of(directory / marker)
    for kind, markers in KIND_MARKERS.items():
        if any((directory / marker).exists() for marker in markers):
            return kind
    return OTHER_FILES if any(not _is_own_bookkeeping(p.name) for p in directory.iterdir()) else None


def _stage_of(marker: Path) -> str:
    try:
        written = json.loads(marker.read_text(encoding="utf-8"))
        stage = str(written["stage"])
    except (OSError, ValueError, KeyError, TypeError):
        return f"unreadable {marker.name}"
    # A synth manifest written before its kinds were told apart says "synth", and its config the kind.
    kind = (written.get("config") or {}).get("kind") if stage == "synth" else None
    return f"synth {kind}" if kind else stage


def _is_own_bookkeeping(name: str) -> bool:
    return (any(name == own or name.startswith(own + "-") for own in OWN_BOOKKEEPING)
            or (name.startswith(".") and name.endswith(".tmp")))


def latest_checkpoint(run: Path) -> Path | None:
    """The checkpoint a training run's CHECKPOINTS/LATEST names; None when `run` has none (a model
    directory itself, which holds weights, has none)."""
    latest = run / CHECKPOINTS / LATEST
    if not latest.is_file() or (run / WEIGHTS).exists():
        return None
    name = latest.read_text(encoding="utf-8").strip()
    if not name:
        raise ValueError(f"{latest} is empty; it should name the latest checkpoint directory")
    if not (run / CHECKPOINTS / name).is_dir():
        raise FileNotFoundError(f"{run / CHECKPOINTS / name}, the latest checkpoint of {run}, does not exist")
    return run / CHECKPOINTS / name
