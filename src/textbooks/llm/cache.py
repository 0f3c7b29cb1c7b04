"""A response cache in SQLite, so a rerun sends nothing twice, and a ledger of the tokens spent.

A response is stored under sha256 of (client name, every Request field) as soon as it arrives, so
an interrupted run keeps what it paid for. Identical requests in one call are sent once when
greedy; when sampled without a seed, the k-th identical request of a call gets its own key
(occurrence k), so n samples stay n different samples and a rerun finds each of them again.

A request is also recorded as it is sent (`in_flight`) until its response is stored. A row left
there was in flight when its process was killed: the endpoint probably charged for it and its reply
is lost. When it is sent again, its response says so (`resent`), and a ledger can count it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Sequence

from textbooks.llm.base import Backend, OnResponse, OnSend, Request, Response
from textbooks.records import atomic_write_json

KEY_VERSION = 1  # bump when the meaning of a cached response changes

SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY, client TEXT NOT NULL, request TEXT NOT NULL, text TEXT NOT NULL,
    finish_reason TEXT NOT NULL, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
    created REAL NOT NULL, retries INTEGER NOT NULL DEFAULT 0, counted INTEGER NOT NULL DEFAULT 0,
    resent INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS ledger (
    client TEXT PRIMARY KEY, requests INTEGER NOT NULL, prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS in_flight (key TEXT PRIMARY KEY, sends INTEGER NOT NULL);
"""
ADDED_COLUMNS = ("retries", "counted", "resent")  # a cache written before responses kept them reads them as 0


def cache_key(client_name: str, request: Request, occurrence: int = 0) -> str:
    """The cache key of `request` sent to `client_name` (its `occurrence`-th copy in one call)."""
    fields = {"v": KEY_VERSION, "client": client_name, "request": asdict(request), "occurrence": occurrence}
    return hashlib.sha256(json.dumps(fields, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def call_keys(client_name: str, requests: Sequence[Request]) -> list[str]:
    """The key of each request of one call: equal sampled requests without a seed get distinct keys."""
    seen: dict[Request, int] = {}
    keys = []
    for request in requests:
        sampled = request.temperature > 0 and request.seed is None
        occurrence = seen.get(request, 0) if sampled else 0
        seen[request] = occurrence + 1
        keys.append(cache_key(client_name, request, occurrence))
    return keys


class ResponseCache:
    """The SQLite file; safe to share between threads (one connection behind a lock) and processes (WAL)."""

    def __init__(self, path: str | Path):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.db = sqlite3.connect(path, timeout=60, check_same_thread=False, isolation_level=None)
        with self.lock:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(SCHEMA)
            columns = {row[1] for row in self.db.execute("PRAGMA table_info(responses)")}
            for column in ADDED_COLUMNS:
                if column not in columns:
                    self.db.execute(f"ALTER TABLE responses ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0")

    def get_many(self, keys: Sequence[str]) -> dict[str, Response]:
        """The stored responses among `keys`."""
        found = {}
        with self.lock:
            for start in range(0, len(keys), 500):  # SQLite caps the number of bound parameters
                chunk = keys[start:start + 500]
                rows = self.db.execute(
                    "SELECT key, text, finish_reason, prompt_tokens, completion_tokens, retries, created, counted, "
                    f"resent FROM responses WHERE key IN ({','.join('?' * len(chunk))})", chunk)
                found.update({key: Response(*fields, counted=bool(counted), resent=resent)
                              for key, *fields, counted, resent in rows})
        return found

    def sending(self, key: str) -> None:
        """Record that the request under `key` is being sent (once more, if a killed process sent it too)."""
        with self.lock:
            self.db.execute("INSERT INTO in_flight VALUES (?, 1) ON CONFLICT(key) DO UPDATE SET sends = sends + 1",
                            (key,))

    def not_in_flight(self, keys: Sequence[str]) -> None:
        """Forget that the requests under `keys` were sent: their process saw them end, answered or not."""
        with self.lock:
            self.db.executemany("DELETE FROM in_flight WHERE key = ?", [(key,) for key in keys])

    def put(self, key: str, client_name: str, request: Request, response: Response) -> Response:
        """Store a fresh response and add its tokens to the client's ledger, in one transaction; the
        response as stored: `resent` says how often a killed process had sent its request before."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                [sends] = self.db.execute("SELECT sends FROM in_flight WHERE key = ?", (key,)).fetchone() or [1]
                response = replace(response, resent=sends - 1)
                self.db.execute("DELETE FROM in_flight WHERE key = ?", (key,))
                self.db.execute(
                    "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (key, client_name, json.dumps(asdict(request), ensure_ascii=False), response.text,
                     response.finish_reason, response.prompt_tokens, response.completion_tokens, time.time(),
                     response.retries, int(response.counted), response.resent))
                self.db.execute(
                    "INSERT INTO ledger VALUES (?, 1, ?, ?) ON CONFLICT(client) DO UPDATE SET "
                    "requests = requests + 1, prompt_tokens = prompt_tokens + excluded.prompt_tokens, "
                    "completion_tokens = completion_tokens + excluded.completion_tokens",
                    (client_name, response.prompt_tokens, response.completion_tokens))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        return response

    def ledger(self) -> dict[str, dict[str, int]]:
        """Per client name: requests sent and prompt/completion tokens spent, over every run using this file."""
        with self.lock:
            rows = self.db.execute("SELECT client, requests, prompt_tokens, completion_tokens FROM ledger").fetchall()
        return {client: {"requests": n, "prompt_tokens": pt, "completion_tokens": ct} for client, n, pt, ct in rows}

    def close(self) -> None:
        with self.lock:
            self.db.close()


class CachedClient(Backend):
    """`inner` behind the cache: only requests without a stored response reach it."""

    def __init__(self, inner: Backend, path: str | Path):
        self.inner, self.name, self.cache = inner, inner.name, ResponseCache(path)

    def complete(self, requests: Sequence[Request], progress: bool = False,
                 on_response: OnResponse | None = None, on_send: OnSend | None = None) -> list[Response]:
        """Stored responses for the requests seen before; the others sent once each, then stored."""
        keys = call_keys(self.name, requests)
        found = self.cache.get_many(keys)
        missing: dict[str, Request] = {}
        first_index: dict[str, int] = {}  # a missing request's first place in `requests`
        for i, (key, request) in enumerate(zip(keys, requests)):
            if key not in found and key not in missing:
                missing[key], first_index[key] = request, i
        missing_keys = list(missing)

        def store(index: int, response: Response) -> None:
            key = missing_keys[index]
            found[key] = replace(self.cache.put(key, self.name, missing[key], response), cached_at=None)

        sent_keys: list[str] = []

        def sent(index: int) -> None:
            self.cache.sending(missing_keys[index])
            sent_keys.append(missing_keys[index])
            if on_send is not None:
                on_send(first_index[missing_keys[index]])

        if missing:
            try:
                self.inner.complete(list(missing.values()), progress, on_response=store, on_send=sent)
            finally:  # only a killed process leaves a request in flight: here each sent has ended
                self.cache.not_in_flight([key for key in sent_keys if key not in found])
        responses = [found[key] for key in keys]
        if on_response is not None:
            for i, response in enumerate(responses):
                on_response(i, response)
        return responses

    def close(self) -> None:
        self.inner.close()
        self.cache.close()


LEDGER_AT_START = "ledger-at-start.json"  # in a stage's OUT/.work: its cache's spent tokens when its run began


def tokens_spent_in_run(cache_path: Path, start_path: Path) -> int:
    """The tokens a stage's run has spent so far: nothing on a first attempt (its cache's ledger, and
    the time, are recorded in `start_path`, in the stage's scratch directory); on a resumed one, what
    the ledger has gained since the first attempt began. So a run killed and resumed keeps to its
    budget as a whole, and stops where the uninterrupted run would have."""
    cache = ResponseCache(cache_path)
    try:
        total = sum(entry["prompt_tokens"] + entry["completion_tokens"] for entry in cache.ledger().values())
    finally:
        cache.close()
    if not start_path.exists():
        atomic_write_json(start_path, {"tokens": total, "time": time.time()})
    return total - json.loads(start_path.read_text(encoding="utf-8"))["tokens"]


def run_began(start_path: Path) -> float:
    """When the run recorded in `start_path` (by tokens_spent_in_run) began: a response the cache
    stored before then was paid for by another run or an --estimate pilot (a cache hit this run got
    free); one stored since, by an interrupted attempt of this run, was paid for by this run."""
    # 0: a run begun by a version that did not record the time counts every reply as its own
    return json.loads(start_path.read_text(encoding="utf-8")).get("time", 0.0)
