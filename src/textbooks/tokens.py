"""Tokenizers and token packs, as every stage reads them: load a tokenizer (a tokenizer.json, or
an HF vocab.json + merges.txt directory), its <|endoftext|>, and the rows of a pack.

The tokenizer and pack stages (textbooks.prepare) write these; training, evaluation, generation,
the audit and the embedders read them from here.
"""

from __future__ import annotations

import bisect
import itertools
import json
import operator
import os
import re
from pathlib import Path
from typing import Iterable

import numpy as np
from tokenizers import AddedToken, Tokenizer, decoders, pre_tokenizers
from tokenizers.models import BPE

from textbooks.layout import TOKENIZER
from textbooks.records import file_sha256, read_manifest

PACK_STAGE = "pack"  # the stage a pack's manifest names
EOT = "<|endoftext|>"
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def scrub_surrogates(text: str) -> str:
    """Replace lone surrogates (which cannot be encoded as UTF-8) with U+FFFD."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def byte_level_tokenizer(model: BPE, added_tokens: Iterable[str]) -> Tokenizer:
    """A byte-level tokenizer of `model`, with `added_tokens` (the whitespace runs) and <|endoftext|>."""
    tokenizer = Tokenizer(model)
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_tokens([AddedToken(content, normalized=False) for content in added_tokens])
    # EOT keeps its id when the vocabulary has it (id 0 when we train, 50256 in codegen's).
    tokenizer.add_special_tokens([AddedToken(EOT, special=True, normalized=False)])
    return tokenizer


def load_tokenizer(path: str | os.PathLike) -> Tokenizer:
    """Load a tokenizer.json, or a directory holding one (or an HF vocab.json + merges.txt pair)."""
    path = Path(path)
    if path.is_dir():
        if (path / TOKENIZER).is_file():
            path = path / TOKENIZER
        elif (path / "vocab.json").is_file() and (path / "merges.txt").is_file():
            return _load_vocab_merges(path)
        else:
            raise FileNotFoundError(f"{path} holds neither tokenizer.json nor vocab.json + merges.txt")
    if not path.is_file():
        raise FileNotFoundError(f"tokenizer {path} does not exist")
    try:
        return Tokenizer.from_file(str(path))
    except Exception as e:  # the Rust side raises a bare Exception for malformed files
        raise ValueError(f"{path} is not a valid tokenizer.json: {e}") from None


def _load_vocab_merges(directory: Path) -> Tokenizer:
    # The layout of HF GPT-2-style model directories such as codegen-350M-mono, whose
    # added_tokens.json holds the whitespace runs.
    added_path = directory / "added_tokens.json"
    added = json.loads(added_path.read_text(encoding="utf-8")) if added_path.is_file() else {}
    in_id_order = sorted(added, key=added.get)
    try:
        model = BPE.from_file(str(directory / "vocab.json"), str(directory / "merges.txt"))
    except Exception as e:  # the Rust side raises a bare Exception for malformed files
        raise ValueError(f"{directory}: vocab.json + merges.txt do not make a BPE: {e}") from None
    tokenizer = byte_level_tokenizer(model, in_id_order)
    for content in in_id_order:
        if tokenizer.token_to_id(content) != added[content]:
            raise ValueError(f"{added_path}: token {content!r} should have id {added[content]} but got "
                             f"{tokenizer.token_to_id(content)}; added ids must follow vocab.json without gaps")
    return tokenizer


def same_tokenizer(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two tokenizer files (or directories) define the same tokenizer, ids and all."""
    return load_tokenizer(a).to_str() == load_tokenizer(b).to_str()


def eot_id(tokenizer: Tokenizer) -> int:
    """The id of <|endoftext|>, the document separator."""
    token_id = tokenizer.token_to_id(EOT)
    if token_id is None:
        raise ValueError(f"the tokenizer has no {EOT} token")
    return token_id


def pack_tokenizer(pack_dir: str | Path) -> Path:
    """The tokenizer.json that made a pack's token ids, checked against the sha256 its manifest
    recorded: token ids read with another vocabulary are garbage that trains without a word."""
    path = Path(pack_dir) / TOKENIZER
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: a pack's token ids mean nothing without the tokenizer "
                                "that made them; rerun pack")
    expected, actual = read_manifest(pack_dir)["config"].get("tokenizer_sha256"), file_sha256(path)
    if expected and actual != expected:
        raise ValueError(f"{path} is not the tokenizer this pack was made with (its sha256 is {actual}, "
                         f"the manifest's {expected}): it was replaced; restore it or rerun pack")
    return path


class TokenDataset:
    """One split of a token pack: `ds[i]` is row i, an int64 array of seq_len + 1 tokens (memory-mapped).

    A row holding an id outside the vocabulary (a damaged or foreign shard of the right size) is
    an error naming the shard and row, not an IndexError deep in the model."""

    def __init__(self, pack_dir: str | Path, split: str = "train") -> None:
        self.pack_dir, self.split = Path(pack_dir), split
        manifest = read_manifest(self.pack_dir)
        if manifest.get("stage") != PACK_STAGE:
            raise ValueError(f"{self.pack_dir} is not a token pack (its stage is {manifest.get('stage')!r})")
        self.tokenizer_path = pack_tokenizer(self.pack_dir)
        if split not in manifest["splits"]:
            raise KeyError(f"{self.pack_dir} has no split {split!r}; it has {sorted(manifest['splits'])}")
        self.seq_len, self.vocab_size = manifest["seq_len"], manifest["vocab_size"]
        self.eot_id = manifest["eot_id"]
        self.dtype = np.dtype(manifest["dtype"]).newbyteorder("<")
        info = manifest["splits"][split]
        self.shard_paths = [self.pack_dir / name for name in info["shards"]]
        self._ends = list(itertools.accumulate(self._rows_in(path) for path in self.shard_paths))
        if len(self) != info["rows"]:
            raise ValueError(f"{self.pack_dir}: split {split!r} shards hold {len(self)} rows, "
                             f"the manifest says {info['rows']}")
        self._shards: list[np.memmap] | None = None  # opened on first access, also after unpickling

    def _rows_in(self, path: Path) -> int:
        if not path.is_file():
            raise FileNotFoundError(f"shard {path} of split {self.split!r} is missing")
        row_bytes = (self.seq_len + 1) * self.dtype.itemsize
        size = path.stat().st_size
        if size == 0 or size % row_bytes:
            raise ValueError(f"shard {path} has {size} bytes, not a multiple of one row "
                             f"((seq_len {self.seq_len} + 1) x {self.dtype.itemsize} bytes): truncated or foreign")
        return size // row_bytes

    def __len__(self) -> int:
        return self._ends[-1] if self._ends else 0

    def __getitem__(self, index: int) -> np.ndarray:
        index = operator.index(index)
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"row {index} is out of range for the {len(self)} rows of split {self.split!r}")
        shard = bisect.bisect_right(self._ends, index)
        first_row = self._ends[shard - 1] if shard else 0
        row = self._open_shards()[shard][index - first_row].astype(np.int64)
        if row.max(initial=0) >= self.vocab_size:
            raise ValueError(f"shard {self.shard_paths[shard]}, row {index - first_row}: token id {row.max()} is "
                             f"outside the pack's vocabulary of {self.vocab_size}: the shard is damaged or foreign")
        return row

    def _open_shards(self) -> list[np.memmap]:
        if self._shards is None:
            width = self.seq_len + 1
            self._shards = [np.memmap(path, dtype=self.dtype, mode="r").reshape(-1, width)
                            for path in self.shard_paths]
        return self._shards

    def __getstate__(self) -> dict:
        # Pickle (e.g. into DataLoader workers) the paths, not the mapped data.
        return {**self.__dict__, "_shards": None}
