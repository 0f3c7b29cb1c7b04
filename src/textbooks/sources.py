"""Sources of corpus records (paper §2.1: the raw code that curation filters).

A source spec is one string:
- a directory: every *.py file under it (a single .py file works too); "stdlib" and "packages"
  name this interpreter's standard library and installed packages (NAMED_SOURCES; write ./stdlib
  for a directory of that name);
- a data file, one record per row: JSON lines (.jsonl, .jsonl.gz, .json, .json.gz) or Parquet;
- a Hugging Face dataset, streamed: "hf:NAME?data_dir=...&split=...&text_field=...&config=...", or
  an alias of HF_ALIASES ("hf:the-stack", "hf:stackoverflow"). NAME may be a local directory of
  JSONL/Parquet files, which `datasets` reads offline.

`plan_units` cuts the sources into work units (JSON-serializable dicts, at most `shard_size` records
each), so an executor can read them in parallel and resume unit by unit; `read_unit` reads one.

Every record has the same columns, whatever its source, so that shards of different sources make
one table: id, text, source ("local" | "jsonl" | "parquet" | "hf"), path, row (0 for a whole file,
else the 1-based line or row), meta (JSON of the input row's other scalar fields: repository,
license, ... so the provenance survives) and bytes (UTF-8 size of the text). A record that cannot
become a document is still yielded, with a `reason` ("binary", "not utf-8", "empty", "oversized (N
bytes > MAX)", "generated (marker: ...)", "malformed (FILE:LINE: ...)", "unreadable (...)"), so the
corpus stage sends it to rejects instead of losing it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import sysconfig
from dataclasses import asdict, dataclass, fields
from itertools import islice
from pathlib import Path
from typing import IO, Iterator
from urllib.parse import parse_qsl

import pyarrow.parquet as pq

from textbooks.codetext import generated_marker

# Caches, and installed packages inside a tree (inside the standard library they are not the
# standard library, and default_sources walks them as their own source). Hidden directories
# (.git, .venv, .tox) are skipped too.
SKIP_DIRS = frozenset({"__pycache__", "site-packages", "dist-packages"})
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz")
PARQUET_SUFFIXES = (".parquet",)
HF_PREFIX = "hf:"
HF_PARAMETERS = ("config", "data_dir", "split", "text_field")
HF_ALIASES = {
    # The Stack, deduplicated, its Python subset: phi-1's code corpus (paper §2.1). Gated on the hub:
    # accept its terms there and log in (`huggingface-cli login`) or set HF_TOKEN.
    "the-stack": {"name": "bigcode/the-stack-dedup", "data_dir": "data/python", "split": "train",
                  "text_field": "content"},
    # koutch/stackoverflow_python: ~987k public Python questions, each with an answer (columns title,
    # question_id, question_body, question_score, question_date, answer_id, answer_body, answer_score,
    # answer_date, tags; Parquet on the hub, no token needed). Chosen because it is public and
    # Python-only, like the StackOverflow part of phi-1's corpus (paper §2.1). The answer is the
    # text, being where the code is; the title, question and scores stay in `meta`.
    "stackoverflow": {"name": "koutch/stackoverflow_python", "split": "train", "text_field": "answer_body"},
}


def default_source_dir() -> Path:
    """This interpreter's standard library: real Python code present on every machine."""
    return Path(sysconfig.get_paths()["stdlib"])


# Sources named after this interpreter's directories (sysconfig's keys): "stdlib" and "packages".
NAMED_SOURCES = {"stdlib": ("stdlib",), "packages": ("purelib", "platlib")}


def named_source_dirs(name: str) -> list[str]:
    """The directories of a NAMED_SOURCES name: distinct and existing, in sysconfig's order."""
    paths = sysconfig.get_paths()
    dirs: list[str] = []
    for key in NAMED_SOURCES[name]:
        path = paths.get(key)
        if path and Path(path).is_dir() and str(Path(path)) not in dirs:
            dirs.append(str(Path(path)))
    return dirs


def resolve_source(spec: str) -> list[str]:
    """A source spec with a named source expanded to its directories and a path made absolute."""
    if spec in NAMED_SOURCES:
        return named_source_dirs(spec)
    return [spec] if spec.startswith("hf:") else [str(Path(spec).expanduser().resolve())]


def default_sources() -> list[str]:
    """This interpreter's standard library, then its installed packages: real code no one here wrote."""
    return list(dict.fromkeys(named_source_dirs("stdlib") + named_source_dirs("packages")))


def record_id(key: str) -> str:
    """A short id that is stable across runs for the same key (a path, a URL, ...)."""
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def python_files(root: str | os.PathLike) -> Iterator[Path]:
    """Every *.py file under `root`, in a deterministic (sorted, depth-first) order."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            if name.endswith(".py"):
                yield Path(dirpath) / name


# ---------------------------------------------------------------------------------------------
# Planning


def plan_units(sources: list[str], shard_size: int, limit: int | None = None,
               text_field: str | None = None) -> list[dict]:
    """The work units of `sources`, in source order: each reads into at most `shard_size` records
    (except an HF stream shard, whose length is unknown), `limit` records at most in all.

    Raises FileNotFoundError / ValueError naming a spec that is not a source.
    """
    if shard_size < 1:
        raise ValueError(f"shard_size must be positive, got {shard_size}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be positive, got {limit}")
    units: list[dict] = []
    remaining = limit
    for spec in sources:
        if remaining == 0:
            break
        planned = _plan_source(str(spec), shard_size, remaining, text_field)
        units.extend(planned)
        if remaining is not None:
            # the most records each unit can read (HF units planned under a limit have a stop)
            remaining -= sum(len(u["paths"]) if u["kind"] == "files" else u["stop"] - u["start"] for u in planned)
    return units


def _plan_source(spec: str, shard_size: int, limit: int | None, text_field: str | None) -> list[dict]:
    if spec.startswith(HF_PREFIX):
        return _plan_hf(spec, shard_size, limit, text_field)
    path = Path(spec)
    if not path.exists():
        raise FileNotFoundError(f"source {spec} does not exist")
    if path.is_dir() or spec.endswith(".py"):
        paths = [str(p) for p in islice(python_files(path), limit)] if path.is_dir() else [str(path)]
        return [{"kind": "files", "paths": paths[i:i + shard_size]} for i in range(0, len(paths), shard_size)]
    if spec.endswith(JSONL_SUFFIXES):
        return _plan_jsonl(path, shard_size, limit, text_field)
    if spec.endswith(PARQUET_SUFFIXES):
        rows = pq.ParquetFile(path).metadata.num_rows
        return [{"kind": "parquet", "path": str(path), "start": start, "stop": stop, "text_field": text_field}
                for start, stop in _ranges(rows, shard_size, limit)]
    raise ValueError(f"source {spec} is not a directory, a .py, {', '.join(JSONL_SUFFIXES)} or .parquet file, "
                     f"or hf:NAME")


def _ranges(rows: int, shard_size: int, limit: int | None) -> list[tuple[int, int]]:
    """[start, stop) row ranges of at most `shard_size` rows covering the first `limit` of `rows`."""
    rows = min(rows, limit) if limit is not None else rows
    return [(start, min(start + shard_size, rows)) for start in range(0, rows, shard_size)]


def _plan_jsonl(path: Path, shard_size: int, limit: int | None, text_field: str | None) -> list[dict]:
    """Row ranges of a JSON-lines file. For an uncompressed file each unit also has the byte offset of
    its first line, so reading it seeks there instead of reading every line before it."""
    unit_offsets, position, lines = [], 0, 0
    with _open_lines(path) as f:
        for line in islice(f, limit):  # under a limit, the lines after it are never read
            if lines % shard_size == 0:
                unit_offsets.append(position)
            position, lines = position + len(line), lines + 1
    compressed = path.name.endswith(".gz")
    return [{"kind": "jsonl", "path": str(path), "start": start, "stop": stop, "text_field": text_field,
             "offset": None if compressed else offset}
            for (start, stop), offset in zip(_ranges(lines, shard_size, limit), unit_offsets)]


# ---------------------------------------------------------------------------------------------
# Hugging Face datasets


@dataclass(frozen=True)
class HFSource:
    """A parsed "hf:" spec: what `datasets.load_dataset` is called with, and the text column."""

    spec: str
    name: str
    split: str = "train"
    data_dir: str | None = None
    config: str | None = None
    text_field: str | None = None


def parse_hf_spec(spec: str, text_field: str | None = None) -> HFSource:
    """Parse "hf:NAME?key=value&..." (keys: HF_PARAMETERS) or "hf:ALIAS[?...]"; the spec's own
    text_field wins over the alias's, which wins over `text_field` (the --text-field of all sources)."""
    body = spec[len(HF_PREFIX):]
    name, _, query = body.partition("?")
    if not name:
        raise ValueError(f"source {spec}: no dataset name after 'hf:'")
    try:
        params = dict(parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)))
    except ValueError:
        raise ValueError(f"source {spec}: cannot parse the query {query!r} (expected key=value&...)") from None
    unknown = sorted(set(params) - set(HF_PARAMETERS))
    if unknown:
        raise ValueError(f"source {spec}: unknown parameter {unknown[0]!r} (known: {', '.join(HF_PARAMETERS)})")
    given = {key: value for key, value in params.items() if value}  # "split=" leaves the default
    settings = {"text_field": text_field, **HF_ALIASES.get(name, {"name": name}), **given}
    return HFSource(spec=spec, **settings)


def _open_stream(source: HFSource):
    """The dataset as a stream (rows are fetched as they are read, nothing is downloaded first)."""
    try:
        import datasets
    except ImportError:
        raise ImportError("hf: sources need the Hugging Face `datasets` package: "
                          "pip install 'textbooks[hub]' (or datasets)") from None
    return datasets.load_dataset(source.name, name=source.config, data_dir=source.data_dir,
                                 split=source.split, streaming=True)


def _plan_hf(spec: str, shard_size: int, limit: int | None, text_field: str | None) -> list[dict]:
    """One unit per shard of the stream (usually one data file), whose length is unknown until read.

    Under a limit, units are instead row ranges of the whole stream, `shard_size` rows each: a
    unit skips the rows before its range, which is cheap for the samples a limit asks for.
    """
    source = parse_hf_spec(spec, text_field)
    stream = _open_stream(source)
    base = {"kind": "hf", **asdict(source)}
    if limit is not None:
        return [{**base, "shard_index": None, "num_shards": None, "start": start, "stop": stop}
                for start, stop in _ranges(limit, shard_size, None)]
    shards = stream.n_shards
    return [{**base, "shard_index": index, "num_shards": shards, "start": 0, "stop": None}
            for index in range(shards)]


def _read_hf(unit: dict, max_bytes: int) -> Iterator[dict]:
    """Rows of a stream shard (path "SPEC#shard=I/N", rows counted in the shard), or of a row range of
    the whole stream (path SPEC, rows counted in the stream)."""
    source = HFSource(**{f.name: unit[f.name] for f in fields(HFSource)})
    stream = _open_stream(source)
    path = source.spec
    if unit["shard_index"] is not None:
        stream = stream.shard(num_shards=unit["num_shards"], index=unit["shard_index"])
        path = f"{source.spec}#shard={unit['shard_index']}/{unit['num_shards']}"
    if unit["stop"] is not None:
        stream = stream.skip(unit["start"]).take(unit["stop"] - unit["start"])
    for number, row in enumerate(stream, unit["start"] + 1):
        yield _row_record(row, source.text_field, "hf", path, number, max_bytes)


# ---------------------------------------------------------------------------------------------
# Reading


def read_unit(unit: dict, max_bytes: int) -> Iterator[dict]:
    """The records of one planned unit, in order; a record that cannot be kept has a `reason`."""
    readers = {"files": _read_files, "jsonl": _read_jsonl, "parquet": _read_parquet, "hf": _read_hf}
    reader = readers.get(unit.get("kind"))
    if reader is None:
        raise ValueError(f"unknown unit kind {unit.get('kind')!r} (known: {', '.join(readers)})")
    return (_reject_generated(record) for record in reader(unit, max_bytes))


def _reject_generated(record: dict) -> dict:
    """Generated code teaches a student nothing (paper §2.1). Decided here, for every kind of source,
    so that read_local_file stays a plain file reader."""
    marker = None if record.get("reason") else generated_marker(record["text"])
    return {**record, "reason": f"generated (marker: {marker!r})"} if marker else record


def _empty_record(source: str, path: str, row: int = 0) -> dict:
    """A record with its provenance and no text yet: every source's records have these columns.
    Row 0 is a whole file, whose id is its path's; a row of a data file is keyed by path and row."""
    key = path if row == 0 else f"{path}:{row}"
    return {"id": record_id(key), "text": "", "source": source, "path": path, "row": row, "meta": "{}", "bytes": 0}


def _read_files(unit: dict, max_bytes: int) -> Iterator[dict]:
    for path in unit["paths"]:
        yield read_local_file(Path(path), max_bytes)


def read_local_file(path: Path, max_bytes: int) -> dict:
    """The record of one file; when it cannot be kept, the record has a `reason` and its text may be "".
    (Whether it is generated is read_unit's decision.)"""
    record = _empty_record("local", str(path))
    try:
        record["bytes"] = path.stat().st_size
        if record["bytes"] > max_bytes:  # decided before reading, so a huge file is never loaded
            return {**record, "reason": f"oversized ({record['bytes']} bytes > {max_bytes})"}
        data = path.read_bytes()
    except OSError as e:
        return {**record, "reason": f"unreadable ({e.strerror or e})"}
    record["bytes"] = len(data)
    if b"\0" in data:
        return {**record, "reason": "binary"}
    try:
        record["text"] = data.decode("utf-8")
    except UnicodeDecodeError:
        return {**record, "text": data.decode("utf-8", errors="replace"), "reason": "not utf-8"}
    return _judge_text(record)


def _judge_text(record: dict) -> dict:
    """The record, with a `reason` if its (decoded, small enough) text is binary or empty."""
    text = record["text"]
    if "\0" in text:
        return {**record, "reason": "binary"}
    if not text.strip():
        return {**record, "reason": "empty"}
    return record


def _row_record(row: object, text_field: str | None, source: str, path: str, number: int, max_bytes: int) -> dict:
    """The record of one row of a data file or dataset: its text field as the text, its other scalar
    fields as `meta`. A row that is not an object or lacks a string text field is "malformed"."""
    record = _empty_record(source, path, number)
    if not isinstance(row, dict):
        return {**record, "reason": f"malformed ({path}:{number}: a {type(row).__name__}, not an object)"}
    field = text_field or ("text" if "text" in row else "content")
    record["meta"] = _meta(row, field)
    text = row.get(field)
    if not isinstance(text, str):
        what = f"no {field!r} field" if field not in row else f"{field!r} is {type(text).__name__}, not a string"
        return {**record, "reason": f"malformed ({path}:{number}: {what})"}
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate, which JSON's "\\ud800" escapes can produce
        text = text.encode("utf-8", errors="replace").decode("utf-8")
        return {**record, "text": text, "bytes": len(text.encode("utf-8")), "reason": "not utf-8"}
    if size > max_bytes:
        return {**record, "bytes": size, "reason": f"oversized ({size} bytes > {max_bytes})"}
    return _judge_text({**record, "text": text, "bytes": size})


def _meta(row: dict, text_field: str) -> str:
    """The row's other scalar fields as sorted JSON; lists and nested objects are left out."""
    scalars = {k: v for k, v in row.items() if k != text_field and not isinstance(v, (list, tuple, dict, bytes))}
    return json.dumps(scalars, sort_keys=True, default=str)


def _open_lines(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")


def _read_jsonl(unit: dict, max_bytes: int) -> Iterator[dict]:
    """Lines [start, stop) of a JSON-lines file; blank lines hold no row and are skipped."""
    path = unit["path"]
    with _open_lines(Path(path)) as f:
        if unit["offset"] is not None:
            f.seek(unit["offset"])
            lines = enumerate(f, unit["start"] + 1)
        else:
            lines = ((n, line) for n, line in enumerate(f, 1) if n > unit["start"])
        for number, line in lines:
            if number > unit["stop"]:
                break
            if line.strip():
                yield _jsonl_record(line, unit["text_field"], path, number, max_bytes)


def _jsonl_record(line: bytes, text_field: str | None, path: str, number: int, max_bytes: int) -> dict:
    try:
        row = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        problem = "not UTF-8"
    except json.JSONDecodeError as e:
        problem = f"invalid JSON: {e.msg} at column {e.colno}"
    else:
        return _row_record(row, text_field, "jsonl", path, number, max_bytes)
    return {**_empty_record("jsonl", path, number), "bytes": len(line),
            "reason": f"malformed ({path}:{number}: {problem})"}


def _read_parquet(unit: dict, max_bytes: int) -> Iterator[dict]:
    """Rows [start, stop) of a Parquet file, reading only the row groups that hold them."""
    path, start, stop = unit["path"], unit["start"], unit["stop"]
    parquet = pq.ParquetFile(path)
    first = 0  # the index of the row group's first row in the file
    for group in range(parquet.num_row_groups):
        rows = parquet.metadata.row_group(group).num_rows
        lo, hi = max(start - first, 0), min(stop - first, rows)
        if lo < hi:
            table = parquet.read_row_group(group).slice(lo, hi - lo)
            for number, row in enumerate(table.to_pylist(), first + lo + 1):
                yield _row_record(row, unit["text_field"], "parquet", path, number, max_bytes)
        first += rows
