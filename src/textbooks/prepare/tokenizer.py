"""Train a byte-level BPE tokenizer on a corpus (textbooks.tokens loads one).

The tokenizer stage writes a directory, like every stage: OUT/tokenizer.json and a manifest.json
whose config hash (vocabulary size, documents, input corpora) lets a rerun skip the training.

The tokenizer follows codegen-350M-mono's, which phi-1 uses (§2.3): GPT-2 byte-level BPE plus added
tokens for runs of 2-31 spaces and 2-9 tabs, so that indentation costs one token per line. Every
byte sequence round-trips: decode(encode(text)) == text.

Example:
  textbooks tokenizer --data data/corpus --vocab-size 16384 --out data/tokenizer
"""

from __future__ import annotations

import itertools
import os
import re
import time
from pathlib import Path
from typing import Iterable

from tokenizers import Regex, Tokenizer, pre_tokenizers
from tokenizers.models import BPE
from tokenizers.trainers import BpeTrainer
from tqdm import tqdm

from textbooks.layout import MANIFEST, TOKENIZER
from textbooks.options import CommandOptions, PositiveInt, hashed, opt
from textbooks.records import atomic_write_text, check_shards, read_records, record_count
from textbooks.stage import StageResult, StageRun, StageSpec, run_stage
from textbooks.tokens import EOT, byte_level_tokenizer, scrub_surrogates

STAGE = StageSpec("tokenizer", outputs=re.compile(re.escape(TOKENIZER)), subdirs=(), resumable=False)
# codegen's whitespace tokens, longest first as in its added_tokens.json.
WHITESPACE_RUNS = tuple(" " * n for n in range(31, 1, -1)) + tuple("\t" * n for n in range(9, 1, -1))
MIN_VOCAB_SIZE = 1 + 256 + len(WHITESPACE_RUNS)  # EOT, the byte alphabet, the whitespace runs


def train_tokenizer(texts: Iterable[str], vocab_size: int, out_path: str | os.PathLike) -> Tokenizer:
    """Train a byte-level BPE of `vocab_size` tokens (whitespace runs and EOT included); save it to `out_path`."""
    if vocab_size < MIN_VOCAB_SIZE:
        raise ValueError(f"vocab_size {vocab_size} is too small: the tokenizer needs at least {MIN_VOCAB_SIZE} "
                         "(EOT, 256 bytes, whitespace runs)")
    learner = Tokenizer(BPE())
    # Whitespace runs become added tokens at encode time, which cut the text around them; removing
    # them before the byte-level split shows the trainer the same pieces the final tokenizer sees.
    learner.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(" {2,}|\t{2,}"), behavior="removed"),
        pre_tokenizers.ByteLevel(add_prefix_space=False),
    ])
    trainer = BpeTrainer(
        vocab_size=vocab_size - len(WHITESPACE_RUNS),
        special_tokens=[EOT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte has a token: nothing is unknown
        show_progress=False,
    )
    learner.train_from_iterator((scrub_surrogates(t) for t in texts), trainer)
    tokenizer = byte_level_tokenizer(learner.model, WHITESPACE_RUNS)
    atomic_write_text(out_path, tokenizer.to_str())
    return tokenizer


class Options(CommandOptions):
    data: list[Path] = opt(help="a corpus dataset directory (repeatable)", metavar="DIR", hashed=False)
    vocab_size: PositiveInt = opt(help="tokens in the vocabulary, all included")
    out: Path = opt(help="the directory to write (it receives tokenizer.json and manifest.json)", hashed=False)
    max_docs: PositiveInt | None = opt(None, help="train on at most this many documents")


def setup(options: Options) -> list[Path]:
    """Check the options before any work; return the corpus directories."""
    data_dirs = [Path(d).resolve() for d in options.data]
    for directory in data_dirs:
        if not directory.is_dir():
            raise FileNotFoundError(f"--data {directory} is not a directory")
        check_shards(directory)  # a damaged shard is named now, before the other options
    if options.vocab_size < MIN_VOCAB_SIZE:
        raise ValueError(f"--vocab-size {options.vocab_size} is below the minimum of {MIN_VOCAB_SIZE}")
    if options.out.suffix == ".json":
        raise ValueError(f"--out {options.out} names a file: give the directory to write (it receives "
                         f"{TOKENIZER} and {MANIFEST}), such as {options.out.with_suffix('')}")
    return data_dirs


def run(options: Options) -> dict:
    """Train the tokenizer of --data into OUT/tokenizer.json; return the stage's manifest."""
    data_dirs = setup(options)
    return run_stage(STAGE, options.out, hashed(options),
                     lambda run: _train(run, data_dirs, options.vocab_size, options.max_docs), inputs=data_dirs)


def _train(run: StageRun, data_dirs: list[Path], vocab_size: int, max_docs: int | None) -> StageResult:
    records = record_count(data_dirs)
    documents = min(filter(None, (records, max_docs)), default=None)
    texts = itertools.islice((record["text"] for data in data_dirs for record in read_records(data)), max_docs)
    tokenizer = train_tokenizer(tqdm(texts, desc="tokenizer", unit="doc", total=documents), vocab_size,
                                run.out / TOKENIZER)
    return StageResult({"documents": documents, "vocab_size": tokenizer.get_vocab_size()},
                       f"trained a {tokenizer.get_vocab_size()}-token tokenizer on {documents} documents in "
                       f"{time.time() - run.started:.1f}s -> {run.out / TOKENIZER}")
