"""Mix datasets in stated proportions: phi-1's CodeTextbook is filtered code plus synthetic textbooks.

paper §2: the pretraining set is the filtered code (~6B tokens) together with under 1B tokens
of synthetic textbooks. `textbooks mix --part DIR=SHARE ...` writes one dataset in which each part
holds SHARE of the text (in UTF-8 bytes, the measure every tokenizer's count follows closely). A
part's records are taken in the order of a hash of (--seed, id), so a mix is the same on every run
and does not depend on shard layout. Without --total-bytes the mix is as large as it can be without
repeating any record (the part that runs out first sets it); with it, a part may be repeated
(upsampled, as phi-1 trained ~8 epochs over its data), each repeat under its own id (`ID~EPOCH`).
Every record keeps its columns and gains `part`, its part's name; the manifest gives each part's
records, bytes, realized share and epochs.

Example:
  textbooks mix --part runs/x/filtered=0.85 --part runs/x/passages=0.15 --out runs/x/codetextbook
"""

from __future__ import annotations

import hashlib
import typing
from collections import Counter
from pathlib import Path

from pydantic import BeforeValidator

from textbooks.options import CommandOptions, PositiveInt, hashed, opt
from textbooks.records import read_column, read_manifest, read_records, write_shard
from textbooks.stage import StageResult, StageRun, StageSpec, run_stage

STAGE = StageSpec("mix", resumable=False)
RECORDS_PER_SHARD = 1000
SHARE_TOLERANCE = 1e-6  # how far from 1 the --part shares may sum (decimal fractions do not add exactly)


def part(value) -> tuple[Path, float]:
    """DIR=SHARE, SHARE in (0, 1]."""
    if not isinstance(value, str):
        return value
    directory, _, share = value.rpartition("=")
    try:
        share_value = float(share)
    except ValueError:
        share_value = -1.0
    if not directory or not 0 < share_value <= 1:
        raise ValueError(f"expected DIR=SHARE with SHARE in (0, 1], got {value!r}")
    return Path(directory), share_value


Part = typing.Annotated[tuple[Path, float], BeforeValidator(part)]


class Options(CommandOptions):
    part: list[Part] = opt(help="a dataset and the share of the mix's bytes it holds (repeatable; shares sum to 1)",
                           metavar="DIR=SHARE")
    out: Path = opt(help="the dataset directory to write", hashed=False)
    total_bytes: PositiveInt | None = opt(None, help="the mix's size in UTF-8 bytes of text (default: the largest "
                                                     "with no record repeated)")
    seed: int = opt(0, help="which records a part contributes first")


def setup(options: Options) -> None:
    """Check the parts before any work."""
    parts = options.part
    if abs(sum(share for _, share in parts) - 1) > SHARE_TOLERANCE:
        raise ValueError(f"the --part shares sum to {sum(s for _, s in parts):g}, not 1")
    names = [directory.name for directory, _ in parts]
    if len(set(names)) != len(names):
        raise ValueError(f"two parts share a directory name ({', '.join(names)}): it names the part in the mix")
    for directory, _ in parts:
        if not directory.is_dir():
            raise FileNotFoundError(f"--part {directory} is not a dataset directory")
    # A dataset is what it is, not its name: reached through a link, or copied, it is the same dataset.
    seen: dict = {}
    for directory, _ in parts:
        for identity in (directory.resolve(), read_manifest(directory).get("config_hash")):
            if identity in seen:
                raise ValueError(f"--part {directory} and --part {seen[identity]} are the same dataset "
                                 f"({'one directory' if isinstance(identity, Path) else 'one manifest hash'}): "
                                 "a mix takes each dataset once")
            seen[identity] = directory
    owners = Counter(record_id for directory, _ in parts for record_id in set(read_column(directory, "id")))
    shared = sorted(record_id for record_id, parts_holding in owners.items() if parts_holding > 1)
    if shared:  # e.g. a corpus and its own filtered subset: the mix would hold those records twice
        raise ValueError(f"the parts share {len(shared)} record ids (such as {shared[0]!r}): a mix holds each "
                         "record once; mix datasets that do not overlap")


def run(options: Options) -> dict:
    """Write the mix of the --part datasets into OUT; return the manifest."""
    setup(options)
    # a part by its name (its content comes in by its manifest's hash, as an input)
    config = hashed(options, part=[[directory.name, share] for directory, share in options.part])
    return run_stage(STAGE, options.out, config, lambda run: _mix(run, options.part, options.total_bytes, options.seed),
                     inputs=[directory for directory, _ in options.part])


def _mix(run: StageRun, parts: list[tuple[Path, float]], total_bytes: int | None, seed: int) -> StageResult:
    ordered = {directory.name: ordered_records(directory, seed) for directory, _ in parts}
    sizes = {name: sum(text_bytes(r) for r in records) for name, records in ordered.items()}
    empty = [name for name, size in sizes.items() if size == 0]
    if empty:
        raise ValueError(f"part {empty[0]} holds no text to mix")
    total = total_bytes or min(sizes[d.name] / share for d, share in parts)
    mixed, figures = [], {}
    for directory, share in parts:
        taken, size, epochs = take(ordered[directory.name], share * total)
        mixed.extend({**record, "part": directory.name} for record in taken)
        figures[directory.name] = {"records": len(taken), "bytes": size, "share": share, "epochs": epochs}
    for start in range(0, len(mixed), RECORDS_PER_SHARD):
        write_shard(mixed[start:start + RECORDS_PER_SHARD], run.out / f"{start // RECORDS_PER_SHARD:05d}.parquet")
    written = sum(f["bytes"] for f in figures.values())
    for entry in figures.values():
        entry["realized_share"] = round(entry["bytes"] / written, 6) if written else 0.0
    counts = {"records": len(mixed), "bytes": written, "parts": figures}
    shares = ", ".join(f"{name} {f['realized_share']:.1%} ({f['epochs']} epochs)" for name, f in figures.items())
    return StageResult(counts, f"mixed {len(mixed):,} records, {written:,} bytes: {shares} -> {run.out}")


def ordered_records(directory: Path, seed: int) -> list[dict]:
    """A dataset's records in the order of a hash of (seed, id): the same whatever the shard layout."""
    return sorted(read_records(directory), key=lambda r: hashlib.sha256(f"{seed}/{r['id']}".encode()).digest())


def text_bytes(record: dict) -> int:
    return len(record["text"].encode("utf-8", "surrogatepass"))


def take(records: list[dict], quota: float) -> tuple[list[dict], int, int]:
    """Records in order, again and again if need be, while taking the next lands nearer `quota`
    bytes; their bytes; and the passes over `records` begun (a repeat gets the id ID~PASS)."""
    taken, size, passes = [], 0, 0
    while records:
        for position, record in enumerate(records):
            length = text_bytes(record)
            if 2 * size + length >= 2 * quota:  # with it the mix would be no nearer its share
                return taken, size, passes + (position > 0)
            taken.append(record if passes == 0 else {**record, "id": f"{record['id']}~{passes}"})
            size += length
        passes += 1
    return taken, size, passes
