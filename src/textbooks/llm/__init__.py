"""LLM clients for teachers, graders and evaluation: one protocol, three backends, a cache and a budget.

    client = open_client("http://localhost:8000/v1#my-model", cache="llm-cache.sqlite", budget_tokens=10**6)
    responses = client.complete([Request(prompt="def add(a, b):\\n", max_tokens=64, stop=("\\ndef ",))])

`model` names the backend: an http(s) URL is an OpenAI-compatible endpoint (the model name after
'#', else the first that GET /models lists); a directory with model_config.json, a training
checkpoint or a training run is one of our models; a directory with an HF config.json is a
transformers model.
"""

from __future__ import annotations

import os
from pathlib import Path

from textbooks.llm.base import (CHAT_STOP, Backend, BudgetExceeded, Client, LLMError, Request, Response,
                                render_chat)
from textbooks.llm.budget import BudgetedClient
from textbooks.llm.cache import CachedClient, ResponseCache
from textbooks.llm.http import MAX_RETRIES, TIMEOUT_S, HTTPClient, RetryPolicy, first_model
from textbooks.model.spec import resolve_model

__all__ = ["Backend", "BudgetExceeded", "CHAT_STOP", "Client", "LLMError", "Request", "Response", "ResponseCache",
           "open_client", "render_chat"]


def open_client(model: str, *, cache: str | Path | None = None, budget_tokens: int | None = None,
                spent_tokens: int = 0, concurrency: int = 4, timeout_s: float = TIMEOUT_S,
                max_retries: int = MAX_RETRIES, api_key_env: str = "OPENAI_API_KEY",
                api: str = "completions") -> Backend:
    """The client for `model` (URL, our model/checkpoint/run directory, or HF directory).

    cache: an SQLite file of responses; requests answered there before are not sent again.
    budget_tokens: the most prompt + completion tokens this client may spend (BudgetExceeded after).
    spent_tokens: what an interrupted earlier attempt at the same job spent of that budget.
    concurrency, timeout_s, max_retries, api_key_env (the variable holding the key), api
    ("completions" or "chat": where prompt-style requests go): for HTTP endpoints only.
    """
    client = _backend(model, concurrency, timeout_s, max_retries, api_key_env, api)
    if budget_tokens is not None:
        client = BudgetedClient(client, budget_tokens, spent_tokens)
    if cache is not None:
        client = CachedClient(client, cache)
    return client


def _backend(model: str, concurrency: int, timeout_s: float, max_retries: int, api_key_env: str,
             api: str) -> Backend:
    spec = resolve_model(model)
    if spec.kind == "endpoint":
        api_key = os.environ.get(api_key_env) or None
        name = spec.name or first_model(spec.url, timeout_s, api_key)
        return HTTPClient(spec.url, name, api=api, concurrency=concurrency, timeout_s=timeout_s,
                          retry=RetryPolicy(max_retries=max_retries), api_key=api_key)
    from textbooks.llm.local import CheckpointClient, HFClient  # torch: loaded only for a local model
    return CheckpointClient(spec.path) if spec.kind == "ours" else HFClient(spec.path)
