"""A model with the tokenizer it was trained with, loaded from whatever names it: one of our model
directories or checkpoints, a training run (its latest checkpoint), or an HF Phi directory (its
weights converted on load). Every command that runs one of these models in-process loads it here.

A model's token ids mean nothing with another vocabulary, so the tokenizer is the one the model
records: saved beside it (in the checkpoint or its run), else its run's pack's. A tokenizer given
explicitly serves a model that records none, and must match the recorded one where there is one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml
from tokenizers import Tokenizer

from textbooks.layout import RECIPE, TOKENIZER
from textbooks.model.spec import ModelSpec, is_endpoint, resolve_model
from textbooks.tokens import load_tokenizer, pack_tokenizer, same_tokenizer


@dataclass
class Pretrained:
    """A loaded model (a `Phi`), its tokenizer, and the files they came from."""

    model: "Phi"  # noqa: F821 (torch is imported when a model is loaded, not when this module is)
    tokenizer: Tokenizer
    model_dir: Path
    tokenizer_path: Path


def load_pretrained(path: str | os.PathLike, tokenizer: str | os.PathLike | None = None, device: str = "cpu",
                    dtype=None, what: str = "model") -> Pretrained:
    """The model `path` names with its tokenizer (see `locate`); `dtype` None keeps the saved one."""
    spec, tokenizer_path = locate(path, tokenizer, what)
    if spec.kind == "hf":
        from textbooks.model.hf import load_hf_dir

        model = load_hf_dir(spec.path, device, dtype)
    else:
        from textbooks.model.weights import load_model

        model = load_model(spec.path, device, dtype)
    return Pretrained(model, load_tokenizer(tokenizer_path), spec.path, tokenizer_path)


def locate(path: str | os.PathLike, tokenizer: str | os.PathLike | None = None,
           what: str = "model") -> tuple[ModelSpec, Path]:
    """The local model `path` names and its tokenizer's file, checked without loading either:
    `tokenizer` serves a model that records none; `what` names the argument in errors."""
    if is_endpoint(path):
        raise ValueError(f"{what} {path} is an endpoint; this needs a local model")
    if not Path(path).exists():
        raise FileNotFoundError(f"{what} {path} does not exist")
    spec = resolve_model(path)
    explicit = Path(tokenizer) if tokenizer else None
    if spec.kind == "hf":  # an HF directory holds its tokenizer (tokenizer.json, or vocab.json + merges.txt)
        return spec, explicit or spec.path
    return spec, find_tokenizer(spec.path, explicit)


def find_tokenizer(model_dir: Path, explicit: Path | None = None) -> Path:
    """The tokenizer one of our models was trained with (`recorded_tokenizer`), or `explicit` for a
    model that records none; both given must be the same tokenizer."""
    recorded = recorded_tokenizer(model_dir)
    if explicit is None:
        if recorded is None:
            raise FileNotFoundError(f"no {TOKENIZER} found for {model_dir}; pass --tokenizer")
        return recorded
    if recorded is not None and not same_tokenizer(explicit, recorded):
        raise ValueError(f"--tokenizer {explicit} is not the tokenizer {model_dir} was trained with "
                         f"({recorded}); drop --tokenizer to use that one")
    return explicit


def recorded_tokenizer(model_dir: Path) -> Path | None:
    """The tokenizer.json a model directory records: beside it or its run, else its run's pack's
    (checked against the pack's manifest); None if none."""
    for directory in (model_dir, model_dir.parent, model_dir.parent.parent):
        if (directory / TOKENIZER).exists():
            return directory / TOKENIZER
        recipe = directory / RECIPE
        if recipe.exists():
            data_path = (yaml.safe_load(recipe.read_text()) or {}).get("data", {}).get("path")
            if data_path and (Path(data_path) / TOKENIZER).exists():
                return pack_tokenizer(data_path)
    return None
