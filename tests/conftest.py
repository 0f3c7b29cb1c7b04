"""Shared test fixtures."""

import ast
import inspect
import json
import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def make_tiny_checkpoint(tmp_path_factory):
    """Builds one of our model directories with a tokenizer beside it: random weights (seed 0), a
    real code vocabulary trained on the source of `modules`."""

    def make(block_size: int, modules=(ast, json, os)) -> Path:
        import torch

        from textbooks.model.config import ModelConfig
        from textbooks.model.phi import Phi
        from textbooks.model.weights import save_model
        from textbooks.prepare.tokenizer import train_tokenizer

        directory = tmp_path_factory.mktemp("tiny-model")
        tokenizer = train_tokenizer([inspect.getsource(m) for m in modules], 400, directory / "tokenizer.json")
        torch.manual_seed(0)
        config = ModelConfig(vocab_size=tokenizer.get_vocab_size(), n_layer=2, n_embd=64, n_head=2, mlp_hidden=128,
                             rotary_dim=16, block_size=block_size)
        save_model(Phi(config), directory)
        return directory

    return make
