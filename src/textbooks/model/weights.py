"""Our model directory: `model.safetensors` (the weights) + `model_config.json` (the ModelConfig).

Training checkpoints hold the same two files, so any checkpoint is also a model directory.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from textbooks.model.config import ModelConfig
from textbooks.model.phi import Phi
from textbooks.records import atomic_path, atomic_write_json

from textbooks.layout import CONFIG, WEIGHTS


def save_model(model: Phi, directory: str | os.PathLike) -> None:
    """Write the model's weights and config into `directory`, each file atomically."""
    directory = Path(directory)
    tensors = {name: t.detach().cpu().contiguous() for name, t in model.state_dict().items()}
    with atomic_path(directory / WEIGHTS) as tmp:
        save_file(tensors, tmp, metadata={"format": "pt"})
    atomic_write_json(directory / CONFIG, model.config.to_dict())


def load_model(directory: str | os.PathLike, device: torch.device | str = "cpu",
               dtype: torch.dtype | None = None) -> Phi:
    """The model saved in `directory`, in eval mode; `dtype` None keeps the dtype it was saved in."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"model directory {directory} does not exist")
    config = read_config(directory / CONFIG)
    weights = directory / WEIGHTS
    if not weights.is_file():
        raise FileNotFoundError(f"{weights} does not exist")
    try:
        with safe_open(weights, framework="pt", device=str(device)) as f:
            tensors = ((name, f.get_tensor(name)) for name in f.keys())
            return model_from_tensors(config, tensors, weights, device, dtype)
    except SafetensorError as e:
        raise ValueError(f"{weights} is not a readable safetensors file (corrupt or truncated?): {e}") from None


def read_config(path: Path) -> ModelConfig:
    """The ModelConfig stored in a `model_config.json`."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    try:
        return ModelConfig.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, TypeError, ValueError) as e:
        raise ValueError(f"{path} is not a valid model config: {e}") from None


def model_from_tensors(config: ModelConfig, tensors: Iterable[tuple[str, torch.Tensor]], source: Path,
                       device: torch.device | str = "cpu", dtype: torch.dtype | None = None) -> Phi:
    """A Phi whose parameters are `tensors` (name, tensor), checked against `config`; `source` names them in errors.

    The model is built on the meta device and takes the tensors as they come, one by one, so
    loading needs no second copy of the weights in memory (a 1.3B model is 5.7 GB in fp32).
    """
    with torch.device("meta"):
        model = Phi(config)
    expected = model.state_dict()
    loaded = {}
    for name, tensor in tensors:
        if name not in expected:
            raise ValueError(f"{source}: unexpected tensor {name!r} for this model config")
        if tensor.shape != expected[name].shape:
            raise ValueError(f"{source}: tensor {name!r} has shape {tuple(tensor.shape)}, "
                             f"the model config expects {tuple(expected[name].shape)}")
        loaded[name] = tensor.to(device=device, dtype=dtype)
    missing = [name for name in expected if name not in loaded]
    if missing:
        raise ValueError(f"{source}: missing {len(missing)} tensor(s): {', '.join(missing[:5])}")
    model.load_state_dict(loaded, assign=True)
    model.init_rotary(device)
    return model.eval()
