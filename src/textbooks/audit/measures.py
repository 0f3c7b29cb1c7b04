"""The figures of `textbooks audit`, each a small function of texts, token ids or embeddings;
audit.cli's docstring lists them and why (paper §2's diversity and redundancy)."""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import re
from collections import Counter, defaultdict
from typing import Iterable

import numpy as np
from tqdm import tqdm

from textbooks.similarity.dedup import ExactDedup, NearDedup

# The token counter used without --tokenizer: an identifier or keyword, a number (with its dots
# and suffixes, so 1.5e3 and 0x1F are one token each), or any other single non-space character
# (operators and brackets count one per character). Whitespace is not counted: a BPE tokenizer
# merges most of it into the tokens around it, and indentation would otherwise dominate code.
CODE_TOKEN = re.compile(r"[A-Za-z_]\w*|\d[\w.]*|[^\w\s]")
NGRAM_ORDERS = (1, 2, 4)
# Odd 64-bit multiplier of the polynomial n-gram hash; collisions among the ~1e7 n-grams of a
# 20k-record sample have probability ~1e-5, far below the precision the ratios are reported at.
NGRAM_HASH_BASE = np.uint64(0x9E3779B97F4A7C15)
MAX_CLUSTERS = 50


class TokenCounter:
    """Counts and lists the tokens of texts: with an HF `tokenizers.Tokenizer` its tokens, else
    CODE_TOKEN's matches (numbered in order of first sight for n-grams). `name` says which."""

    def __init__(self, tokenizer=None, name: str | None = None):
        self.tokenizer = tokenizer
        self.name = name or f"regex {CODE_TOKEN.pattern}"
        self.vocab: dict[str, int] = {}

    def count(self, texts: list[str]) -> list[int]:
        """The number of tokens of each text."""
        if self.tokenizer is None:
            return [len(CODE_TOKEN.findall(text)) for text in texts]
        return [len(e.ids) for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]

    def ids(self, texts: list[str]) -> list[np.ndarray]:
        """The token ids of each text (int64), for n-gram counting."""
        if self.tokenizer is not None:
            return [np.asarray(e.ids, dtype=np.int64)
                    for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]
        return [np.fromiter((self.vocab.setdefault(t, len(self.vocab)) for t in CODE_TOKEN.findall(text)),
                            dtype=np.int64) for text in texts]


def sample_key(record_id: str, seed: int) -> int:
    """A record's place in the sampling order: a hash of its id and the seed, so that the sample
    depends on neither shard order nor shard count, and the same seed draws the same records."""
    return int.from_bytes(hashlib.blake2b(f"{seed}:{record_id}".encode(), digest_size=8).digest(), "big")


class BottomKSample:
    """The `size` records of smallest `sample_key` seen so far (a bottom-k sample), in one pass."""

    def __init__(self, size: int):
        self.size = size
        self.heap: list[tuple[int, int, dict]] = []  # (-key, -position, record): the root is the largest key

    def offer(self, key: int, position: int, record: dict) -> None:
        # the position is unique, so records themselves are never compared
        item = (-key, -position, record)
        if len(self.heap) < self.size:
            heapq.heappush(self.heap, item)
        elif item > self.heap[0]:
            heapq.heapreplace(self.heap, item)

    def records(self) -> list[dict]:
        """The sampled records in dataset order."""
        return [record for _, _, record in sorted(self.heap, key=lambda item: -item[1])]


def near_duplicate_counts(texts: list[str]) -> dict:
    """Exact, then near duplicates among `texts` in order, by similarity.dedup's steps at their defaults
    (a text's position is its id, so that records sharing an id are still compared)."""
    exact, near = ExactDedup(), NearDedup()
    records = ({"id": str(i), "text": text} for i, text in enumerate(texts))
    for _ in near(exact(tqdm(records, desc="near-dup", unit="record", total=len(texts)))):
        pass
    return {"exact": exact.duplicates, "near": near.duplicates, "threshold": near.threshold}


def ngram_hashes(ids: np.ndarray, n: int) -> np.ndarray:
    """A uint64 hash of each of the len(ids) - n + 1 n-grams of one document (n-grams never cross
    documents); for n = 1 the ids themselves."""
    width = len(ids) - n + 1
    if width <= 0:
        return np.empty(0, dtype=np.uint64)
    hashes = np.zeros(width, dtype=np.uint64)
    for j in range(n):
        hashes = hashes * NGRAM_HASH_BASE + ids[j:j + width].astype(np.uint64) + np.uint64(1)
    return hashes


def distinct_ngram_ratios(documents: list[np.ndarray], orders: Iterable[int] = NGRAM_ORDERS) -> dict[str, dict]:
    """distinct-n for each n: distinct n-grams / all n-grams over the documents (None when none)."""
    figures = {}
    for n in orders:
        hashes = np.concatenate([ngram_hashes(ids, n) for ids in documents] or [np.empty(0, np.uint64)])
        distinct = int(len(np.unique(hashes)))
        figures[str(n)] = {"distinct": distinct, "total": int(len(hashes)),
                           "ratio": round(distinct / len(hashes), 6) if len(hashes) else None}
    return figures


def default_clusters(distinct_texts: int) -> int:
    """k when --clusters is not given: sqrt(n), the usual rule of thumb, capped at MAX_CLUSTERS so
    that the effective number of clusters of two large datasets is measured on the same scale."""
    return max(1, min(MAX_CLUSTERS, round(math.sqrt(distinct_texts))))


def effective_clusters(sizes: np.ndarray) -> float:
    """exp(entropy) of the share of records per cluster: k when the clusters are equal, 1 when one
    holds everything. It tells how many clusters the data really spreads over."""
    shares = sizes[sizes > 0] / sizes.sum()
    return float(np.exp(-(shares * np.log(shares)).sum()))


def cluster_coverage(vectors: np.ndarray, weights: np.ndarray, k: int, seed: int) -> dict:
    """k-means of the embeddings, each weighted by how many records have that text: the records per
    cluster (largest first), the largest's share and the effective number of clusters."""
    from sklearn.cluster import KMeans

    k = min(k, len(vectors))
    labels = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(vectors, sample_weight=weights)
    sizes = np.sort(np.bincount(labels, weights=weights, minlength=k))[::-1]
    return {"k": k, "sizes": [int(s) for s in sizes], "largest_share": round(float(sizes[0] / sizes.sum()), 6),
            "effective_clusters": round(effective_clusters(sizes), 3)}


def most_similar_pairs(vectors: np.ndarray, top: int, block: int = 1024) -> list[tuple[float, int, int]]:
    """The `top` pairs (cosine, i, j), i < j, of highest cosine among L2-normalized rows, best first.
    The similarity matrix is computed `block` rows at a time, so memory stays block x N."""
    n, best = len(vectors), []
    for start in range(0, n, block):
        sims = vectors[start:start + block] @ vectors.T
        rows = np.arange(start, start + len(sims))[:, None]
        sims[np.arange(n)[None, :] <= rows] = -np.inf  # each unordered pair once, never a row with itself
        flat = sims.ravel()
        m = min(top, flat.size)
        for f in np.argpartition(-flat, m - 1)[:m]:
            if np.isfinite(flat[f]):
                best.append((float(flat[f]), start + int(f) // n, int(f) % n))
        best = sorted(best, reverse=True)[:top]
    return best


class ConstraintHistogram:
    """Counts of each constraint key's values over the records' `constraints` (JSON objects, as
    `textbooks synth` writes them; a value that is not a string is counted by its JSON)."""

    def __init__(self):
        self.counts: dict[str, Counter] = defaultdict(Counter)
        self.records = 0

    def add(self, constraints, record_id) -> None:
        if constraints is None:
            return
        if isinstance(constraints, str):
            try:
                constraints = json.loads(constraints)
            except json.JSONDecodeError:
                constraints = None
        if not isinstance(constraints, dict):
            raise ValueError(f"record {record_id}: `constraints` must be a JSON object, got {constraints!r}")
        self.records += 1
        for key, value in constraints.items():
            self.counts[key][value if isinstance(value, str) else json.dumps(value, sort_keys=True)] += 1

    def summary(self, top: int) -> dict | None:
        """Per key: the records having it, its distinct values and the `top` most common with their
        counts; None when no record has constraints."""
        if not self.records:
            return None
        return {key: {"records": sum(counts.values()), "distinct": len(counts),
                      "top": [[value, count] for value, count in counts.most_common(top)]}
                for key, counts in sorted(self.counts.items())}


def length_summary(lengths: np.ndarray) -> dict:
    """Quantiles and mean of the records' lengths in tokens."""
    p10, p50, p90 = np.percentile(lengths, [10, 50, 90])
    return {"min": int(lengths.min()), "p10": round(float(p10), 3), "median": round(float(p50), 3),
            "p90": round(float(p90), 3), "max": int(lengths.max()), "mean": round(float(lengths.mean()), 3)}
