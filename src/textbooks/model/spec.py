"""What a "model" argument names: the one resolver every command asks (docs/architecture.md, "Models": "a
model to evaluate can be our checkpoint, an HF model directory, or an OpenAI-compatible endpoint").

    resolve_model("runs/x/train")                 -> ModelSpec("ours", runs/x/train/checkpoints/step-00200)
    resolve_model("http://127.0.0.1:8000/v1#m")   -> ModelSpec("endpoint", url="http://127.0.0.1:8000/v1", name="m")

Light on purpose (no torch): commands decide what to load before loading it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from textbooks.layout import CHECKPOINTS, CONFIG, HF_CONFIG, LATEST, latest_checkpoint


@dataclass(frozen=True)
class ModelSpec:
    """A resolved model: `kind` is "ours" (our weights in `path`), "hf" (a transformers directory
    at `path`) or "endpoint" (an OpenAI-compatible server at `url`, model `name`, None: its first)."""

    kind: str
    path: Path | None = None
    url: str | None = None
    name: str | None = None


def is_endpoint(spec: str | os.PathLike) -> bool:
    return str(spec).startswith(("http://", "https://"))


def resolve_model(spec: str | os.PathLike) -> ModelSpec:
    """The model `spec` names: an http(s) URL (`URL#name` picks the model), one of our model
    directories or checkpoints, a training run (its latest checkpoint), or an HF model directory."""
    if is_endpoint(spec):
        url, _, name = str(spec).partition("#")
        return ModelSpec("endpoint", url=url, name=name or None)
    path = Path(spec).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"model {spec} is neither an http(s) URL nor an existing directory")
    model_dir = resolve_model_dir(path)
    if (model_dir / CONFIG).is_file():
        return ModelSpec("ours", path=model_dir)
    if (path / HF_CONFIG).is_file():
        return ModelSpec("hf", path=path)
    raise ValueError(f"{spec} holds neither {CONFIG} (our model), {CHECKPOINTS}/{LATEST} (a training run) "
                     f"nor {HF_CONFIG} (an HF model)")


def resolve_model_dir(path: str | os.PathLike) -> Path:
    """The model directory meant by `path`: itself, or a training run's latest checkpoint."""
    return latest_checkpoint(Path(path)) or Path(path)


def our_model_dir(path: str | os.PathLike, what: str = "model") -> Path:
    """The directory of our model that `path` names (a training run: its latest checkpoint);
    `what` names the argument in errors. An HF directory or an endpoint is refused."""
    if not Path(path).exists():
        raise FileNotFoundError(f"{what} {path} does not exist")
    model = resolve_model(path)
    if model.kind != "ours":
        raise ValueError(f"{what} {path} is an HF model directory, not one of ours; import it with "
                         f"`textbooks convert --from-hf {path} OUT`")
    return model.path
