"""Deduplication for the stages that write documents (corpus, synth): exact (normalized content
hash) and near (MinHash LSH).

Both are datatrove-style steps: `step(records)` yields every record it is given, in order. A record
found to duplicate an earlier one gets `reason` and `duplicate_of` (the id of the earlier, kept
record), so the stage routes it to rejects; every other record is yielded unchanged. A record that
already carries a `reason` (rejected by an earlier check) is passed through untouched and is never
the original of anything, so the steps chain: `NearDedup()(ExactDedup()(records))`.

Which copy is kept is decided by input order alone (the first one seen), so a run over the same
records in the same order marks the same duplicates every time.

The per-record work (hashing, MinHash) can be done ahead, in parallel, by `DedupKeys`: a record
that carries `content_hash` and `minhash` columns is judged from them without its text. Only the
index, which spans the whole corpus, needs one sequential pass: `find_duplicates`, over shards
keyed by `with_dedup_keys`, writes the decisions that textbooks.stage.ApplyDecisions applies.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from datasketch import MinHash, MinHashLSH
from tqdm import tqdm

from textbooks.records import shard_paths
from textbooks.stage import write_decisions

# Identifier-like tokens (names, keywords, numbers). Punctuation and whitespace are left out of the
# shingles so that reformatting alone (spacing, line breaks, quotes) does not hide a copy.
TOKEN = re.compile(r"\w+")
# The Jaccard similarity from which a record is a near duplicate, by default (see NearDedup).
NEAR_THRESHOLD = 0.85
# (false-positive, false-negative) weights for choosing the LSH bands. Every LSH candidate is checked
# against the threshold with its MinHash estimate, so a false positive only costs one comparison,
# while a false negative is a missed duplicate: favour recall. At NEAR_THRESHOLD with 128 permutations
# this gives 11 bands of 11 rows, which proposes a pair at Jaccard 0.85 with probability 0.87 and at 0.90
# with 0.98 (datasketch's default (0.5, 0.5) gives 8 x 16 rows: 0.46 and 0.81).
LSH_WEIGHTS = (0.1, 0.9)
# datasketch 2's default MinHash scheme: 32-bit hash values. Named here because a MinHash rebuilt
# from stored values (DedupKeys) must say which scheme made them.
MINHASH_SCHEME, MINHASH_DTYPE = "affine32", np.uint32


def normalize_code(text: str) -> str:
    """The text as compared by exact dedup: only the changes editors and line-ending conversions make.

    - a leading UTF-8 byte-order mark is dropped;
    - line endings (\\r\\n, \\r) become \\n;
    - trailing spaces and tabs are stripped from each line;
    - blank lines at the end are dropped, and the text ends with one \\n.
    Leading whitespace (indentation is syntax in Python), blank lines inside the file, comments and
    case are kept: two files that differ there are different documents. (Trailing spaces inside a
    multi-line string literal are also stripped; such files are near-identical anyway.)
    """
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip(" \t") for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n" if lines else ""


def content_hash(text: str) -> str:
    """The SHA-256 hex digest of the normalized text: equal for exact copies up to `normalize_code`."""
    return hashlib.sha256(normalize_code(text).encode("utf-8")).hexdigest()


def code_shingles(text: str, ngram: int = 5) -> set[bytes]:
    """The set of `ngram`-grams of identifier-like tokens of `text`, each joined by spaces.

    A text with fewer than `ngram` tokens (but at least one) has one shingle: all its tokens.
    """
    tokens = TOKEN.findall(text)
    if not tokens:
        return set()
    if len(tokens) < ngram:
        return {" ".join(tokens).encode("utf-8")}
    return {" ".join(tokens[i:i + ngram]).encode("utf-8") for i in range(len(tokens) - ngram + 1)}


def minhash_signature(text: str, num_perm: int = 128, ngram: int = 5, seed: int = 1) -> MinHash | None:
    """The MinHash of the text's shingles, or None when the text has no tokens to compare."""
    shingles = code_shingles(text, ngram)
    if not shingles:
        return None
    signature = MinHash(num_perm=num_perm, seed=seed, scheme=MINHASH_SCHEME)
    signature.update_batch(list(shingles))  # MinHash is order-independent
    return signature


@dataclass(frozen=True)
class DedupKeys:
    """A step that adds what dedup compares: `content_hash` and `minhash` (the signature's hash
    values as bytes; None when the text has no tokens). Records with a `reason` pass untouched."""

    num_perm: int = 128
    ngram: int = 5
    seed: int = 1

    def __call__(self, records: Iterable[dict]) -> Iterator[dict]:
        for record in records:
            if not record.get("reason"):
                signature = minhash_signature(record["text"], self.num_perm, self.ngram, self.seed)
                record = {**record, "content_hash": content_hash(record["text"]),
                          "minhash": None if signature is None
                          else signature.hashvalues.astype(MINHASH_DTYPE).tobytes()}
            yield record


class DedupStep:
    """A dedup step: yields every record in order, a duplicate marked with `reason` and
    `duplicate_of`. A record an earlier check already rejected passes untouched and is never an
    original. Subclasses decide, in `judge`, whether a record copies an earlier one."""

    COUNT = "duplicates"  # the name of this step's count in `counts()`

    def __init__(self) -> None:
        self.seen = 0
        self.duplicates = 0

    def __call__(self, records: Iterable[dict]) -> Iterator[dict]:
        for record in records:
            self.seen += 1
            if not record.get("reason"):
                record = self.judge(record)
                self.duplicates += bool(record.get("reason"))
            yield record

    def judge(self, record: dict) -> dict:
        """The record, or a copy of it marked as a duplicate."""
        raise NotImplementedError

    def counts(self) -> dict:
        """Records seen and duplicates found so far."""
        return {"seen": self.seen, self.COUNT: self.duplicates}


class ExactDedup(DedupStep):
    """Marks a record whose normalized content hash was seen before as an exact duplicate of the first."""

    COUNT = "exact_duplicates"

    def __init__(self) -> None:
        super().__init__()
        self.first_id: dict[str, str] = {}

    def judge(self, record: dict) -> dict:
        key = record.get("content_hash") or content_hash(record["text"])
        original = self.first_id.setdefault(key, record["id"])
        if original == record["id"]:
            return record
        return {**record, "reason": "exact duplicate", "duplicate_of": original}


class NearDedup(DedupStep):
    """Marks a record whose estimated Jaccard similarity to an earlier kept record is >= `threshold`.

    Shingles are `ngram`-grams of identifier-like tokens (see `code_shingles`); their MinHash with
    `num_perm` permutations and a fixed `seed` goes into a datasketch MinHashLSH index. LSH only
    proposes candidates; a record is a duplicate when the MinHash estimate against a candidate is at
    least `threshold`, and it points to the best-matching candidate (the earliest kept one on ties).
    Only kept records enter the index, so every `duplicate_of` names a record that stays.

    The default, NEAR_THRESHOLD, is the Jaccard threshold BigCode used to near-deduplicate The Stack
    (the corpus phi-1 starts from, paper §2.1) with 5-grams: high enough that two modules sharing a
    license header and boilerplate stay distinct, low enough to catch a copy with a renamed function
    or a few edited lines.
    """

    COUNT = "near_duplicates"

    def __init__(self, threshold: float = NEAR_THRESHOLD, num_perm: int = 128, ngram: int = 5, seed: int = 1) -> None:
        if not 0.0 < threshold <= 0.99:  # above 0.99 the LSH has too few bands to index anything
            raise ValueError(f"the near-duplicate threshold must be in (0, 0.99], got {threshold}")
        if ngram < 1 or num_perm < 2:
            raise ValueError(f"ngram must be >= 1 and num_perm >= 2, got {ngram} and {num_perm}")
        super().__init__()
        self.threshold, self.num_perm, self.ngram, self.seed = threshold, num_perm, ngram, seed
        self.index = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=LSH_WEIGHTS)
        self.kept: list[tuple[str, MinHash]] = []  # position in this list is the LSH key

    def judge(self, record: dict) -> dict:
        """A near copy gets reason "near duplicate (estimated Jaccard J)" and `duplicate_of`."""
        signature = self._signature(record)
        if signature is None:
            return record
        match = self._best_match(signature)
        if match is None:
            self.index.insert(len(self.kept), signature)
            self.kept.append((record["id"], signature))
            return record
        original, similarity = match
        return {**record, "reason": f"near duplicate (estimated Jaccard {similarity:.2f})",
                "duplicate_of": original}

    def _signature(self, record: dict) -> MinHash | None:
        """The record's MinHash: from its `minhash` column when DedupKeys computed it ahead, else from its text."""
        if "minhash" not in record:
            return minhash_signature(record["text"], self.num_perm, self.ngram, self.seed)
        if record["minhash"] is None:
            return None
        values = np.frombuffer(record["minhash"], dtype=MINHASH_DTYPE)
        if len(values) != self.num_perm:
            raise ValueError(f"record {record['id']} has a {len(values)}-permutation MinHash, expected {self.num_perm}")
        return MinHash(num_perm=self.num_perm, seed=self.seed, hashvalues=values, scheme=MINHASH_SCHEME)

    def _best_match(self, signature: MinHash) -> tuple[str, float] | None:
        """(id, estimated Jaccard) of the most similar kept record at or above the threshold, or None."""
        best = None
        for key in sorted(self.index.query(signature)):  # sorted: ties go to the earliest kept record
            original, kept_signature = self.kept[key]
            similarity = signature.jaccard(kept_signature)
            if similarity >= self.threshold and (best is None or similarity > best[1]):
                best = (original, similarity)
        return best


PENDING = "pending_reason"
DEDUP_COLUMNS = ("content_hash", "minhash", PENDING)  # what only the dedup pass needs


def with_dedup_keys(records: Iterable[dict]) -> Iterator[dict]:
    """Records with their dedup keys, for `find_duplicates`. A reject of an earlier check keeps its
    reason as `pending_reason`, so it stays in the keyed shard (the executor would route a `reason`
    to that step's rejects) and reaches the stage's rejects in order, through the decisions."""
    for record in DedupKeys()(records):
        reason = record.pop("reason", None)
        yield {"content_hash": None, "minhash": None, **record, PENDING: reason}


def find_duplicates(keyed_dirs: Path | list[Path], out_path: Path, threshold: float) -> dict:
    """The sequential pass over directories of keyed shards (`with_dedup_keys`): every record's keys,
    directory after directory in shard order, through exact then near dedup (so a record of an
    earlier directory, such as a dataset to dedup against, is the original a later one copies).

    Writes the decision on each rejected record ({id, reason, duplicate_of}: an earlier step's reject
    or a duplicate) to `out_path`, for textbooks.stage.ApplyDecisions; returns the dedup counts. A
    finished pass (from a killed run) is not redone.
    """
    if out_path.exists():
        return json.loads(pq.read_schema(out_path).metadata[b"counts"])
    exact, near = ExactDedup(), NearDedup(threshold)
    rejected = [{"id": r["id"], "reason": r["reason"], "duplicate_of": r.get("duplicate_of")}
                for r in near(exact(tqdm(_dedup_keys(keyed_dirs), desc="dedup", unit="record"))) if r.get("reason")]
    counts = {**exact.counts(), **near.counts()}
    write_decisions(out_path, rejected, pa.schema(
        [("id", pa.string()), ("reason", pa.string()), ("duplicate_of", pa.string())],
        metadata={"counts": json.dumps(counts)}))
    return counts


def _dedup_keys(keyed_dirs: Path | list[Path]) -> Iterator[dict]:
    """Each record's id and keys (never its text); an earlier step's reject carries its reason."""
    for path in [p for d in ([keyed_dirs] if isinstance(keyed_dirs, Path) else keyed_dirs) for p in shard_paths(d)]:
        for record in pq.read_table(path, columns=["id", *DEDUP_COLUMNS]).to_pylist():
            reason = record.pop(PENDING)
            yield {**record, "reason": reason} if reason else record
