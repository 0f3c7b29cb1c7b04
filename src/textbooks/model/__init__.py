"""The phi-1 model: config presets, the module, weights IO and HF interop."""

from __future__ import annotations

import importlib

from textbooks.model.config import PRESETS, ModelConfig, get_config

__all__ = ["PRESETS", "ModelConfig", "Phi", "get_config", "load_model", "save_model"]

_LAZY = {"Phi": "textbooks.model.phi", "load_model": "textbooks.model.weights", "save_model": "textbooks.model.weights"}


def __getattr__(name: str):
    # torch is imported when the model itself is asked for, so reading a config stays light
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
