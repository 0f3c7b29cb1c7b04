"""Tokenize corpus datasets into fixed-length token shards for training.

Documents are tokenized, each followed by <|endoftext|>, and concatenated into one token stream per
split (§2.3: "files concatenated with <|endoftext|> between them"). Row i of a split is
stream[i*S : i*S + S + 1], so consecutive rows overlap by one token and every token is a target
once; the trailing partial row is dropped. Each document goes wholly to train or to val, decided by
a hash of its id and the seed, so no document is in both. Shards are raw little-endian arrays
(uint16 when the vocabulary fits, else uint32) of shape (rows, S + 1); manifest.json records the
rows and tokens (rows * S, the training targets) of each split.

Example:
  textbooks pack --data data/corpus --tokenizer data/tokenizer.json --out data/pack --seq-len 512
"""

from __future__ import annotations

import hashlib
import itertools
import re
import sys
import time
from pathlib import Path
from typing import Annotated, Iterable, Iterator

import numpy as np
from pydantic import Field
from tokenizers import Tokenizer
from tqdm import tqdm

from textbooks.layout import TOKENIZER  # OUT/tokenizer.json: the tokenizer that made the pack's ids, a copy
from textbooks.records import atomic_path, atomic_write_text, read_records, record_count
from textbooks.options import CommandOptions, PositiveInt, hashed, opt
from textbooks.stage import StageResult, StageRun, StageSpec, run_stage
from textbooks.tokens import PACK_STAGE, eot_id, load_tokenizer, scrub_surrogates

STAGE = StageSpec(PACK_STAGE, outputs=re.compile(rf"(train|val)-\d{{5}}\.bin|{re.escape(TOKENIZER)}"), subdirs=(),
                  resumable=False)
SPLITS = ("train", "val")
SHARD_TOKENS = 1 << 26  # ~64M tokens (128 MB as uint16) per shard file
# Text per encode_batch call: the tokenizer needs tens of bytes of working memory per byte of text.
ENCODE_BATCH_CHARS = 1 << 20


def token_dtype(vocab_size: int) -> np.dtype:
    """The smallest little-endian unsigned dtype that holds every token id."""
    return np.dtype("<u2") if vocab_size <= 1 << 16 else np.dtype("<u4")


def split_of(doc_id: str, seed: int, val_fraction: float) -> str:
    """'val' for a stable pseudo-random `val_fraction` of document ids, else 'train'."""
    digest = hashlib.blake2b(f"{seed}:{doc_id}".encode("utf-8"), digest_size=8).digest()
    return "val" if int.from_bytes(digest, "little") / 2**64 < val_fraction else "train"


class SplitWriter:
    """Cuts one split's token stream into overlapping rows of S + 1 tokens and writes them to shards."""

    def __init__(self, out_dir: Path, split: str, seq_len: int, dtype: np.dtype, rows_per_shard: int) -> None:
        self.out_dir, self.split, self.seq_len, self.dtype = out_dir, split, seq_len, dtype
        self.rows_per_shard = rows_per_shard
        self.tail = np.empty(0, dtype)  # stream tokens not yet in a row, plus the last row's final token
        self.pending: list[np.ndarray] = []  # complete rows waiting for their shard
        self.pending_rows = 0
        self.rows = 0
        self.shards: list[str] = []

    def add(self, tokens: np.ndarray) -> None:
        stream = np.concatenate([self.tail, tokens])
        n_rows = (len(stream) - 1) // self.seq_len
        if n_rows > 0:
            windows = np.lib.stride_tricks.sliding_window_view(stream, self.seq_len + 1)
            self.pending.append(windows[::self.seq_len][:n_rows].copy())
            self.pending_rows += n_rows
            stream = stream[n_rows * self.seq_len:]
        self.tail = stream
        while self.pending_rows >= self.rows_per_shard:
            self._write_shard(self.rows_per_shard)

    def close(self) -> dict:
        """Write the last shard (the partial row in `tail` is dropped); return the split's manifest entry."""
        if self.pending_rows:
            self._write_shard(self.pending_rows)
        return {"rows": self.rows, "tokens": self.rows * self.seq_len, "shards": self.shards}

    def _write_shard(self, n_rows: int) -> None:
        rows = np.concatenate(self.pending)
        name = f"{self.split}-{len(self.shards):05d}.bin"
        with atomic_path(self.out_dir / name) as tmp:
            rows[:n_rows].tofile(tmp)
        self.pending = [rows[n_rows:]] if len(rows) > n_rows else []
        self.pending_rows -= n_rows
        self.rows += n_rows
        self.shards.append(name)


class Options(CommandOptions):
    data: list[Path] = opt(help="a dataset directory of documents (repeatable)", metavar="DIR", hashed=False)
    tokenizer: Path = opt(help="a tokenizer.json, or a directory holding one", hashed=False)  # hashed by content
    out: Path = opt(help="the pack directory to write", hashed=False)
    seq_len: PositiveInt = opt(help="tokens per training sequence (S)")
    val_fraction: Annotated[float, Field(ge=0, lt=1)] = opt(0.005, help="fraction of documents held out")
    seed: int = opt(0, help="seed of the train/val assignment")
    shard_tokens: PositiveInt = opt(SHARD_TOKENS, help="about this many tokens per shard")


def setup(options: Options) -> tuple[list[Path], Tokenizer]:
    """Check the datasets and read the tokenizer before any work."""
    tokenizer_path = options.tokenizer.expanduser()
    if not tokenizer_path.exists():
        raise FileNotFoundError(f"--tokenizer {tokenizer_path} does not exist")
    # the datasets are checked by the lifecycle: finished, whole, with `id` and `text` (StageSpec.reads)
    return [d.expanduser().resolve() for d in options.data], load_tokenizer(tokenizer_path)


def run(options: Options) -> dict:
    """Pack the documents of --data into OUT (format: module docstring); return the manifest."""
    dataset_dirs, tokenizer = setup(options)
    config = hashed(options, tokenizer_sha256=hashlib.sha256(tokenizer.to_str().encode("utf-8")).hexdigest())
    return run_stage(STAGE, options.out, config, lambda run: _pack(run, dataset_dirs, tokenizer, options),
                     inputs=dataset_dirs)


def _pack(run: StageRun, dataset_dirs: list[Path], tokenizer: Tokenizer, options: Options) -> StageResult:
    atomic_write_text(run.out / TOKENIZER, tokenizer.to_str())
    vocab_size, seq_len = tokenizer.get_vocab_size(), options.seq_len
    dtype = token_dtype(vocab_size)
    rows_per_shard = max(1, options.shard_tokens // (seq_len + 1))
    writers = {split: SplitWriter(run.out, split, seq_len, dtype, rows_per_shard) for split in SPLITS}
    counts = _tokenize_into(_documents(dataset_dirs), tokenizer, writers, options.seed, options.val_fraction,
                            total=record_count(dataset_dirs))
    splits = {split: writer.close() for split, writer in writers.items()}
    return StageResult(counts, _report(splits, counts, seq_len, dtype, time.time() - run.started,
                                       options.val_fraction),
                       extra={"seq_len": seq_len, "dtype": dtype.name, "vocab_size": vocab_size,
                              "eot_id": eot_id(tokenizer), "splits": splits})


def _tokenize_into(records: Iterable[dict], tokenizer: Tokenizer, writers: dict[str, SplitWriter],
                   seed: int, val_fraction: float, total: int | None) -> dict:
    eot, dtype = eot_id(tokenizer), writers["train"].dtype
    # A literal "<|endoftext|>" inside a document is text, not a boundary: only we insert EOT.
    tokenizer.encode_special_tokens = True
    tokenizer.no_truncation()  # an HF tokenizer.json may carry a max_length that would cut documents
    tokenizer.no_padding()
    counts = {"documents": 0, **{f"{split}_documents": 0 for split in SPLITS}}
    progress = tqdm(desc="pack", unit="doc", total=total)
    for batch in _batches(records, ENCODE_BATCH_CHARS):
        encodings = tokenizer.encode_batch([scrub_surrogates(r["text"]) for r in batch], add_special_tokens=False)
        pieces: dict[str, list[list[int]]] = {split: [] for split in SPLITS}
        for record, encoding in zip(batch, encodings):
            split = split_of(str(record["id"]), seed, val_fraction)
            pieces[split] += [encoding.ids, [eot]]
            counts[f"{split}_documents"] += 1
        for split, token_lists in pieces.items():
            if token_lists:
                writers[split].add(np.fromiter(itertools.chain.from_iterable(token_lists), dtype))
        counts["documents"] += len(batch)
        progress.update(len(batch))
    progress.close()
    return counts


def _batches(records: Iterable[dict], max_chars: int) -> Iterator[list[dict]]:
    batch, chars = [], 0
    for record in records:
        batch.append(record)
        chars += len(record["text"])
        if chars >= max_chars:
            yield batch
            batch, chars = [], 0
    if batch:
        yield batch


def _documents(dataset_dirs: list[Path]) -> Iterator[dict]:
    for directory in dataset_dirs:
        for record in read_records(directory):
            if "id" not in record or not isinstance(record.get("text"), str):
                raise ValueError(f"a record in {directory} lacks an 'id' or a 'text' string: {sorted(record)}")
            yield record


def _report(splits: dict, counts: dict, seq_len: int, dtype: np.dtype, seconds: float, val_fraction: float) -> str:
    tokens = sum(s["tokens"] for s in splits.values())
    if val_fraction > 0 and splits["val"]["rows"] == 0:
        print(f"warning: the val split is empty: too few documents for val_fraction {val_fraction}",
              file=sys.stderr)
    rows = ", ".join(f"{name} {s['rows']} rows ({s['tokens']:,} tokens)" for name, s in splits.items())
    return (f"packed {counts['documents']} documents into {rows} of {seq_len} + 1 {dtype.name} in {seconds:.1f}s "
            f"({tokens / max(seconds, 1e-9):,.0f} tokens/s)")
