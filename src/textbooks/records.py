"""The data contract between stages (docs/architecture.md, "The dataset contract"): records, shards,
manifests, atomic writes.

A record is one document: `id`, `text`, `source`, plus stage columns. A dataset directory holds
Parquet shards, a `manifest.json`, and a `rejects/` shard set. Every file is written under a
temporary name and renamed into place, so a crash never leaves a half-written shard behind.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import secrets
import subprocess
import time
from pathlib import Path
from typing import Iterable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from textbooks import __version__
from textbooks.layout import MANIFEST

BASE_COLUMNS = ("id", "text", "source")


@contextlib.contextmanager
def naming_path(path: str | os.PathLike) -> Iterator[None]:
    """Give an OSError raised in the block `path` as its file name when it has none: writers such as
    pyarrow's, a file's flush or TensorBoard's say "no space left on device" but not where."""
    try:
        yield
    except OSError as e:
        if e.filename is not None:
            raise
        raise OSError(e.errno, e.strerror or str(e), str(path)) from e


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    # created like any output file (0666 less the umask), unlike mkstemp's private 0600
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        with naming_path(path):
            yield tmp
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_json(path: str | os.PathLike, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_shard(records: list[dict], path: str | os.PathLike) -> None:
    """Write records to one Parquet shard, atomically."""
    missing = [c for c in BASE_COLUMNS if records and c not in records[0]]
    if missing:
        raise ValueError(f"records lack required columns: {', '.join(missing)}")
    # every record's columns: pyarrow would take the first record's alone and drop the others' silently
    columns = list(dict.fromkeys(key for record in records for key in record))
    table = pa.Table.from_pylist([{c: record.get(c) for c in columns} for record in records])
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def unify_shard_schemas(dataset_dir: str | os.PathLike) -> None:
    """Give every Parquet shard of a directory one schema, so that pyarrow, pandas or `datasets` can
    open the directory as one table.

    Shards written one by one infer their own: a column that is all None in one shard is typed
    null there, and an empty shard has no columns at all. Each shard whose schema differs from the
    union of all of them is rewritten (atomically) with the missing columns as nulls.
    """
    paths = [p for p in shard_paths(dataset_dir) if p.suffix == ".parquet"]
    schemas = {p: pq.read_schema(p) for p in paths}
    if len({str(s) for s in schemas.values()}) <= 1:
        return
    target = pa.unify_schemas([s.remove_metadata() for s in schemas.values()])
    for path, schema in schemas.items():
        if not schema.remove_metadata().equals(target):
            table = pq.read_table(path)
            columns = [table.column(f.name).cast(f.type) if f.name in schema.names
                       else pa.nulls(table.num_rows, f.type) for f in target]
            with atomic_path(path) as tmp:
                pq.write_table(pa.Table.from_arrays(columns, schema=target), tmp)


def shard_paths(dataset_dir: str | os.PathLike) -> list[Path]:
    """The data shards of a dataset directory (Parquet or JSONL), in name order."""
    root = Path(dataset_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset directory {root} does not exist")
    return sorted(p for p in root.iterdir() if p.suffix in (".parquet", ".jsonl") and not p.name.startswith("."))


def read_records(dataset_dir: str | os.PathLike) -> Iterator[dict]:
    """Every record of a dataset directory, shard by shard."""
    for path in shard_paths(dataset_dir):
        yield from read_shard(path)


def read_shard(path: str | os.PathLike) -> Iterator[dict]:
    """The records of one Parquet or JSONL shard."""
    path = Path(path)
    if path.suffix == ".parquet":
        with naming_corrupt_shard(path):
            for batch in pq.ParquetFile(path).iter_batches():
                yield from batch.to_pylist()
    else:
        yield from _read_jsonl(path)


@contextlib.contextmanager
def naming_corrupt_shard(path: Path) -> Iterator[None]:
    """Turn pyarrow's complaint about an unreadable file (which often omits it) into one naming the shard."""
    try:
        yield
    except pa.ArrowException as e:
        if isinstance(e, OSError):  # a failure to read the disk, not the file's content: errno kept
            raise
        raise ValueError(f"shard {path} is corrupt or not a Parquet file: {e}") from None


def check_shards(dataset_dir: str | os.PathLike, columns: Iterable[str] = ()) -> None:
    """Read every Parquet shard's footer (a JSONL shard's first record), so that a truncated or
    foreign shard, or one without the `columns` a stage reads, is named before any work is spent on
    the others (a shard damaged inside is named when it is read). An empty shard has no columns."""
    for path in shard_paths(dataset_dir):
        if path.suffix == ".parquet":
            with naming_corrupt_shard(path):
                metadata = pq.read_metadata(path)
            names = metadata.schema.to_arrow_schema().names if metadata.num_rows else None
        else:
            names = list(next(_read_jsonl(path), None) or {}) or None
        missing = [column for column in columns if names is not None and column not in names]
        if missing:
            raise ValueError(f"{path} has no {', '.join(f'`{c}`' for c in missing)} column (it has "
                             f"{', '.join(names) or 'none'}): not a dataset this stage reads")


def read_column(dataset_dir: str | os.PathLike, name: str) -> list:
    """One column of every shard of a dataset directory, in order (see `shard_column`)."""
    return [value for path in shard_paths(dataset_dir) for value in shard_column(path, name)]


def shard_column(path: str | os.PathLike, name: str) -> list:
    """One column of one shard; Parquet reads only that column. A shard without the column (an
    empty shard has no columns) has no values."""
    path = Path(path)
    if path.suffix != ".parquet":
        return [record[name] for record in _read_jsonl(path) if name in record]
    with naming_corrupt_shard(path):
        if name not in pq.read_schema(path).names:
            return []
        return pq.read_table(path, columns=[name]).column(name).to_pylist()


def rows_by_id(path: str | os.PathLike) -> dict[str, dict]:
    """The rows of one Parquet file keyed by their `id`: a stage's per-record decisions, for the
    step that applies them shard by shard."""
    with naming_corrupt_shard(Path(path)):
        return {row["id"]: row for row in pq.read_table(path).to_pylist()}


def read_jsonl(path: str | os.PathLike, complete_lines_only: bool = False) -> Iterator[tuple[int, object]]:
    """Each (line number, value) of a .jsonl or .jsonl.gz file, blank lines skipped; a line that is
    not JSON is an error naming the file and line. `complete_lines_only`: for a file we append to,
    a final line without its newline (a write cut short by a kill) is left out."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if complete_lines_only and not line.endswith("\n"):
                return
            if line.strip():
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}:{number}: malformed JSON line: {e}") from None


def _read_jsonl(path: Path) -> Iterator[dict]:
    for number, record in read_jsonl(path):
        if not isinstance(record, dict):
            raise ValueError(f"{path}:{number}: a record must be a JSON object, not {type(record).__name__}")
        yield record


def config_hash(config: dict | list) -> str:
    """A stable hash of a stage's configuration: equal configs give equal hashes."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 of a file's bytes (a tokenizer, a samples file: small files that must not change)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def files_fingerprint(files: Iterable[str | os.PathLike]) -> str:
    """A short hash of the files' resolved names, sizes and modification times: it changes when
    a model (or any file) is rewritten, without reading gigabytes of weights."""
    digest = hashlib.sha256()
    for file in map(Path, files):
        stat = file.stat()
        digest.update(f"{file.resolve()}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:12]


def code_version() -> str:
    """The package version, plus the git commit when running from a checkout."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent,
            capture_output=True, text=True, timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{__version__}+{commit}" if commit else __version__


def throughput(records: int, nbytes: int, seconds: float) -> dict:
    """A manifest's rates: records/s and MB/s, to 4 significant figures (a tiny run is not 0.0)."""
    seconds = max(seconds, 1e-9)
    return {"records_per_s": float(f"{records / seconds:.4g}"), "mb_per_s": float(f"{nbytes / 1e6 / seconds:.4g}")}


def write_manifest(
    dataset_dir: str | os.PathLike,
    stage: str,
    config: dict,
    counts: dict,
    inputs: Iterable[str | os.PathLike] = (),
    started: float | None = None,
    **extra,
) -> dict:
    """Write `manifest.json`, last, so its presence marks the stage complete."""
    manifest = {
        "stage": stage,
        "config": config,
        "config_hash": config_hash(config),
        "inputs": {str(p): read_manifest(p).get("config_hash") for p in inputs},
        "counts": counts,
        "code_version": code_version(),
        "wall_time_s": round(time.time() - started, 3) if started else None,
        **extra,
    }
    atomic_write_json(Path(dataset_dir) / MANIFEST, manifest)
    return manifest


def record_count(dataset_dirs: Iterable[str | os.PathLike]) -> int | None:
    """The records of finished stages' outputs, as their manifests count them (None when one does not)."""
    counts = [read_manifest(d).get("counts", {}).get("records") for d in dataset_dirs]
    return sum(counts) if all(isinstance(c, int) for c in counts) else None


def read_manifest(dataset_dir: str | os.PathLike) -> dict:
    path = Path(dataset_dir) / MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"{dataset_dir} has no {MANIFEST}: is it a finished stage's output?")
    return json.loads(path.read_text(encoding="utf-8"))
