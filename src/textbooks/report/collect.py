"""Read a run directory into plain dicts: what each stage wrote, for the report's sections.

Every part is optional. A run may hold only some stages, a stage may be unfinished, a file may be
missing or half-written (a stage killed mid-line): what is there is read, what is not is None or
left out, and nothing here raises on a missing piece.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterator

import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from textbooks.layout import AUDIT, LEDGER, MANIFEST, METRICS, OTHER_FILES, RECIPE, REJECTS, SUMMARY, kind_of

MODEL_KINDS = {"train", "eval", "audit", "pack", "tokenizer"}  # every other kind with a manifest is a dataset
COMPARED_TASKS = 6  # prompts shown side by side (paper §3)


def read_json(path: Path) -> dict | list | None:
    """The JSON in `path`, or None when it is missing or not (yet) valid JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def read_jsonl(path: Path) -> Iterator[dict]:
    """The objects of a JSONL file; a missing file has none, and a torn last line is skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            yield row


def read_recipe(run_dir: Path) -> dict:
    """RUN_DIR/recipe.yaml, the recipe the run ran; {} when there is none or it does not parse."""
    try:
        recipe = yaml.safe_load((run_dir / RECIPE).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return recipe if isinstance(recipe, dict) else {}


def stage_kind(name: str, entry: dict, directory: Path) -> str | None:
    """The ledger's `kind`; for older ledgers the command's first word(s) (`synth textbook`); for a
    directory no ledger names, what its files say it is (None: not a stage's output)."""
    if entry.get("kind"):
        return entry["kind"]
    command = entry.get("command") or []
    if command:
        return " ".join(command[:2]) if command[0] == "synth" and len(command) > 1 else command[0]
    kind = kind_of(directory)
    return None if kind in (None, OTHER_FILES, "pipeline", "model") or kind.startswith("unreadable") else kind


def stage_directory(run_dir: Path, name: str, command: list[str]) -> Path:
    """RUN_DIR/<name>; else the command's --out, as written or, for a moved run, inside RUN_DIR."""
    directory = run_dir / name
    if directory.is_dir() or "--out" not in command[:-1]:
        return directory
    out = Path(command[command.index("--out") + 1])
    return out if out.is_dir() else run_dir / out.name


def run_order(ledger: dict, recipe_order: list[str]) -> list[str]:
    """The ledger's stages in the order the recipe lists them; the others each after its inputs (a
    stable topological order): the ledger file's keys are sorted by name, not by when stages ran."""
    ordered = [name for name in recipe_order if name in ledger]
    pending = [name for name in ledger if name not in ordered]
    while pending:
        ready = [name for name in pending
                 if all(dep in ordered or dep not in ledger for dep in ledger[name].get("inputs") or {})]
        ready = ready or pending[:1]  # a cycle cannot come from the pipeline; do not loop on one
        ordered.extend(ready)
        pending = [name for name in pending if name not in ready]
    return ordered


def list_stages(run_dir: Path, recipe: dict) -> list[dict]:
    """Each stage of the run, in run order: the ledger's, then any other directory holding a
    stage's output (e.g. an audit run by hand); name, kind, directory and ledger entry."""
    ledger = read_json(run_dir / LEDGER)
    ledger = ledger if isinstance(ledger, dict) else {}
    recipe_stages = recipe.get("stages")
    stages = []
    for name in run_order(ledger, list(recipe_stages) if isinstance(recipe_stages, dict) else []):
        entry = ledger[name] if isinstance(ledger[name], dict) else {}
        directory = stage_directory(run_dir, name, entry.get("command") or [])
        stages.append({"name": name, "kind": stage_kind(name, entry, directory), "dir": directory, "entry": entry})
    known = {stage["dir"].resolve() for stage in stages}
    for directory in sorted(p for p in run_dir.iterdir() if p.is_dir() and p.resolve() not in known):
        kind = stage_kind(directory.name, {}, directory)
        if kind:
            stages.append({"name": directory.name, "kind": kind, "dir": directory, "entry": {}})
    return stages


def overview_row(stage: dict) -> dict:
    """A stage's line in the run's overview: kind, finished, wall time and peak memory."""
    entry = stage["entry"]
    usage = entry.get("usage") or {}
    return {"name": stage["name"], "kind": stage["kind"], "finished": entry.get("finished"),
            "wall_s": usage.get("wall_s"), "peak_mib": usage.get("peak_mib"), "present": stage["dir"].is_dir()}


def dataset_row(stage: dict) -> dict | None:
    """A dataset stage's line in the funnel: records in, kept and rejected, rejects by reason, size,
    wall time, peak memory and records/s; a synth stage's teacher ledger, a mix's parts."""
    manifest = read_json(stage["dir"] / MANIFEST)
    if not isinstance(manifest, dict):
        return None
    counts = manifest.get("counts") or {}
    kept, rejected = counts.get("records"), counts.get("rejected")
    by_reason = counts.get("by_reason") or rejects_by_reason(stage["dir"])
    if rejected is None and by_reason:
        rejected = sum(by_reason.values())
    records_in = counts.get("records_in")
    if records_in is None:
        records_in = kept + rejected if kept is not None and rejected is not None else _steps_records_in(counts)
    usage = stage["entry"].get("usage") or {}
    wall_s = usage.get("wall_s") or manifest.get("wall_time_s")
    rate = counts.get("records_per_s") or (round(records_in / wall_s, 2) if records_in and wall_s else None)
    size, unit = (counts["tokens"], "tokens") if isinstance(counts.get("tokens"), int) else \
        (text_bytes(stage["dir"]), "text bytes")
    return {"name": stage["name"], "kind": stage["kind"], "records_in": records_in, "kept": kept,
            "rejected": rejected, "by_reason": dict(sorted(by_reason.items(), key=lambda kv: -kv[1])),
            "size": size, "size_unit": unit, "wall_s": wall_s, "peak_mib": usage.get("peak_mib"),
            "records_per_s": rate, "teacher": counts.get("cost") or {}, "parts": counts.get("parts") or {}}


def _steps_records_in(counts: dict) -> int | None:
    """Records the stage read, from its steps' counts (a labeler reads all and keeps a sample)."""
    steps = [step.get("records_in") for step in (counts.get("steps") or {}).values() if isinstance(step, dict)]
    return max((n for n in steps if isinstance(n, int)), default=None)


def reason_kind(reason: str) -> str:
    """A reject reason without its particulars: 'low educational value (score 0.2)' -> 'low educational value'."""
    return re.split(r"\s*[(:]", reason, maxsplit=1)[0].strip() or reason


def rejects_by_reason(directory: Path) -> dict[str, int]:
    """Rejects counted by reason kind, read from rejects/*.parquet (when the manifest has no count)."""
    counts: dict[str, int] = {}
    for path in sorted((directory / REJECTS).glob("*.parquet")):
        try:
            table = pq.read_table(path, columns=["reason"])
        except Exception:  # a shard being written, or without a reason column: counted as nothing
            continue
        for reason in table.column("reason").to_pylist():
            kind = reason_kind(str(reason))
            counts[kind] = counts.get(kind, 0) + 1
    return counts


def text_bytes(directory: Path) -> int | None:
    """UTF-8 bytes of the `text` of the records a stage kept (its Parquet shards); None if it has none."""
    total, found = 0, False
    for path in sorted(directory.glob("*.parquet")):
        try:
            column = pq.read_table(path, columns=["text"]).column("text")
        except Exception:
            continue
        total += pc.sum(pc.binary_length(column)).as_py() or 0
        found = True
    return total if found else None


def pack_row(stage: dict) -> dict | None:
    """A pack stage's documents and tokens per split; a tokenizer's vocabulary."""
    manifest = read_json(stage["dir"] / MANIFEST)
    if not isinstance(manifest, dict):
        return None
    usage = stage["entry"].get("usage") or {}
    splits = {name: split.get("tokens") for name, split in (manifest.get("splits") or {}).items()}
    return {"name": stage["name"], "kind": stage["kind"], "counts": manifest.get("counts") or {}, "splits": splits,
            "seq_len": manifest.get("seq_len"), "vocab_size": manifest.get("vocab_size"),
            "wall_s": usage.get("wall_s") or manifest.get("wall_time_s"), "peak_mib": usage.get("peak_mib")}


def training_run(stage: dict) -> dict | None:
    """A train stage's loss and val_loss curves, final loss, tokens seen and mean tokens/s."""
    train, val = [], []
    for row in read_jsonl(stage["dir"] / METRICS):
        if "loss" in row:
            train.append(row)
        elif "val_loss" in row:
            val.append(row)
    if not train and not val:
        return None
    speeds = [row["tokens_per_s"] for row in train if row.get("tokens_per_s")]
    return {"name": stage["name"], "steps": [r["step"] for r in train], "loss": [r["loss"] for r in train],
            "val_steps": [r["step"] for r in val], "val_loss": [r["val_loss"] for r in val],
            "final_loss": train[-1]["loss"] if train else None,
            "final_val_loss": val[-1]["val_loss"] if val else None,
            "tokens_seen": train[-1].get("tokens_seen") if train else None,
            "tokens_per_s": sum(speeds) / len(speeds) if speeds else None,
            "wall_s": (stage["entry"].get("usage") or {}).get("wall_s")}


def eval_run(stage: dict) -> dict | None:
    """An eval stage's summary: its benchmark, pass@k, bits per byte, outcomes and split."""
    summary = read_json(stage["dir"] / SUMMARY)
    if not isinstance(summary, dict):
        return None
    return {"name": stage["name"], "dir": stage["dir"], "benchmark": summary.get("benchmark", "?"),
            "pass": {k: v for k, v in summary.items() if k.startswith("pass@")},
            "bits_per_byte": summary.get("bits_per_byte"), "problems": summary.get("problems"),
            "samples": summary.get("samples"), "outcomes": summary.get("outcomes") or {},
            "split": summary.get("split") or {}, "settings": summary.get("settings") or {}}


def decontam_sweep(stage: dict) -> dict | None:
    """A decontam stage's tau sweep (Table 3's columns) and how many problems it found similar."""
    manifest = read_json(stage["dir"] / MANIFEST)
    counts = (manifest.get("counts") or {}) if isinstance(manifest, dict) else {}
    if not counts.get("sweep"):
        return None
    return {"name": stage["name"], "sweep": counts["sweep"], "similar_problems": counts.get("similar_problems"),
            "problems": counts.get("problems")}


def exercise_stage(stages: list[dict]) -> dict | None:
    """The finished stage holding the exercises the finetune stage trained on: the latest decontam
    stage (its kept records), else the latest synth exercises stage; None when the run has neither."""
    finished = [stage for stage in stages if isinstance(read_json(stage["dir"] / MANIFEST), dict)]
    decontams = [stage for stage in finished if stage["kind"] == "decontam"]
    return (decontams or [stage for stage in finished if stage["kind"] == "synth exercises"] or [None])[-1]


def audit_run(stage: dict) -> dict | None:
    """An audit's key figures and the paths of its PNGs."""
    audit = read_json(stage["dir"] / AUDIT)
    if not isinstance(audit, dict):
        return None
    plots = [stage["dir"] / name for name in audit.get("plots") or [] if (stage["dir"] / name).is_file()]
    return {"name": stage["name"], "data": audit.get("data"), "records": audit.get("records"),
            "tokens": (audit.get("tokens") or {}).get("total"), "duplicates": audit.get("duplicates") or {},
            "distinct_ngrams": audit.get("distinct_ngrams") or {}, "clusters": audit.get("clusters") or {},
            "top_pair": (audit.get("similar_pairs") or [None])[0], "plots": plots}


def ablation(recipe: dict, evals: dict[str, dict]) -> list[dict]:
    """The recipe's arms (label -> eval stages, one per seed and kind of evaluation) as rows per arm,
    benchmark and kind (greedy, a revealed fraction, sampled: `eval_label`): each seed's bits per byte,
    pass@1 and pass@10 and their means. Stages without a summary are left out."""
    arms = recipe.get("arms")
    if not isinstance(arms, dict):
        return []
    rows = []
    for arm, stage_names in arms.items():
        runs = [evals[name] for name in stage_names or [] if name in evals]
        for label in dict.fromkeys(eval_label(run) for run in runs):
            seeds = [run for run in runs if eval_label(run) == label]
            row = {"arm": str(arm), "benchmark": label, "stages": [run["name"] for run in seeds]}
            for metric, values in (("bits_per_byte", [run["bits_per_byte"] for run in seeds]),
                                   ("pass@1", [run["pass"].get("pass@1") for run in seeds]),
                                   ("pass@10", [run["pass"].get("pass@10") for run in seeds])):
                row.update({metric: values, f"{metric}_mean": _mean(values)})
            rows.append(row)
    return rows


def eval_label(run: dict) -> str:
    """An eval stage's benchmark, with how it asked when not greedy: "humaneval (reveal 0.5)" (that much
    of each solution given) or "humaneval (20 samples at T 0.8)"."""
    settings, benchmark = run["settings"], run["benchmark"]
    if settings.get("reveal"):
        return f"{benchmark} (reveal {settings['reveal']:g})"
    if (settings.get("n_samples") or 1) > 1:
        return f"{benchmark} ({settings['n_samples']} samples at T {settings.get('temperature', 0):g})"
    return benchmark


def _mean(values: list) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None
