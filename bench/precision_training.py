"""bf16 against fp32 training on this CPU: tokens per second, and the loss curve it buys them with.

`precision: auto` (the CPU recipes' setting) trains in bf16 autocast where the CPU computes bf16
natively (AVX512-BF16 or AMX) and in fp32 elsewhere. This measures what that choice is worth: the
cpu-pretrain recipe (cpu-tiny, 256-token rows, 16 rows a step) trained by `textbooks train` twice
from the same seed on the same pack, once with --train.precision fp32 and once bf16, one after the
other in subprocesses (each under the trainer's own allocator and threads). The pack is the
standard library's corpus, tokenized (8,192 tokens) and packed into --work, once; later runs reuse it.

Figures: the median tokens/s of each run's steps after the first five (warm-up: kernel selection,
allocator growth), their ratio (target: bf16 at least 1.6x fp32 where the CPU has native bf16),
and the loss curves compared as means over windows of ten steps after warm-up: the largest
relative gap (target: within 2%) and that of the last window.

    python bench/precision_training.py [--steps 150] [--work /tmp/textbooks-precision-bench] [--quick]

Run it on a quiet machine. The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from textbooks.hardware import cpu_bf16_flags

TARGET_RATIO = 1.6
TARGET_GAP = 0.02
WARMUP_STEPS = 5
WINDOW = 10


def textbooks(*argv: str) -> None:
    """Run a textbooks command quietly; its error output if it fails."""
    done = subprocess.run([sys.executable, "-m", "textbooks.cli", *argv], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    if done.returncode:
        sys.exit(f"textbooks {' '.join(argv)} failed:\n{done.stderr[-3000:]}")


def build_pack(work: Path, limit: int) -> Path:
    """The standard library's corpus, a tokenizer and a pack of 256-token rows (each skipped when up to date)."""
    textbooks("corpus", "--source", "stdlib", "--limit", str(limit), "--out", str(work / "corpus"))
    textbooks("tokenizer", "--data", str(work / "corpus"), "--vocab-size", "8192", "--out", str(work / "tokenizer"))
    textbooks("pack", "--data", str(work / "corpus"), "--tokenizer", str(work / "tokenizer"), "--seq-len", "256",
              "--out", str(work / "pack"))
    return work / "pack"


def train(pack: Path, out: Path, precision: str, steps: int, batch: int) -> list[dict]:
    """One cpu-pretrain run from scratch; its per-step metrics."""
    textbooks("train", "--recipe", "cpu-pretrain", "--out", str(out), "--data.path", str(pack),
              "--train.precision", precision, "--train.max_steps", str(steps), "--train.warmup_steps",
              str(max(1, steps // 10)), "--train.effective_batch", str(batch), "--train.micro_batch", str(batch),
              "--log.every", "1", "--log.tensorboard", "false", "--eval.every", "0", "--checkpoint.every", "0")
    lines = (out / "metrics.jsonl").read_text().splitlines()
    return [row for row in map(json.loads, lines) if "loss" in row]


def window_means(rows: list[dict]) -> list[float]:
    losses = [row["loss"] for row in rows[WARMUP_STEPS:]]
    return [statistics.fmean(losses[i:i + WINDOW]) for i in range(0, len(losses) - WINDOW + 1, WINDOW)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=150, help="optimizer steps per run (the recipe's 150)")
    parser.add_argument("--batch", type=int, default=16, help="rows of 256 tokens per step (the recipe's 16)")
    parser.add_argument("--files", type=int, default=2000, help="standard-library files in the corpus")
    parser.add_argument("--work", type=Path, default=Path("/tmp/textbooks-precision-bench"))
    parser.add_argument("--quick", action="store_true", help="30 steps of 4 rows: within a minute")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.batch, args.files = 30, 4, 300
    pack = build_pack(args.work, args.files)
    runs = {}
    for precision in ("fp32", "bf16"):
        out = args.work / f"run-{precision}-{args.steps}x{args.batch}"
        subprocess.run(["rm", "-rf", str(out)], check=True)
        began = time.perf_counter()
        rows = train(pack, out, precision, args.steps, args.batch)
        runs[precision] = {"rows": rows, "wall_s": round(time.perf_counter() - began, 1),
                           "tokens_per_s": statistics.median(r["tokens_per_s"] for r in rows[WARMUP_STEPS:])}
        print(f"{precision}: {runs[precision]['tokens_per_s']:,.0f} tokens/s, final loss {rows[-1]['loss']:.4f} "
              f"({runs[precision]['wall_s']} s)", flush=True)
    fp32, bf16 = window_means(runs["fp32"]["rows"]), window_means(runs["bf16"]["rows"])
    gaps = [abs(b - a) / a for a, b in zip(fp32, bf16)]
    ratio = runs["bf16"]["tokens_per_s"] / runs["fp32"]["tokens_per_s"]
    print(f"bf16 / fp32: {ratio:.2f}x tokens/s (target {TARGET_RATIO}x); loss windows within "
          f"{max(gaps):.2%} (target {TARGET_GAP:.0%}), the last {gaps[-1]:.2%}")
    print(json.dumps({"bench": "precision_training", "steps": args.steps, "batch_rows": args.batch,
                      "tokens_per_step": args.batch * 256, "cpu_bf16_flags": cpu_bf16_flags(),
                      "cpus": os.cpu_count(), "fp32_tokens_per_s": runs["fp32"]["tokens_per_s"],
                      "bf16_tokens_per_s": runs["bf16"]["tokens_per_s"], "ratio": round(ratio, 3),
                      "target_ratio": TARGET_RATIO, "fp32_final_loss": runs["fp32"]["rows"][-1]["loss"],
                      "bf16_final_loss": runs["bf16"]["rows"][-1]["loss"], "loss_window_means_fp32": fp32,
                      "loss_window_means_bf16": bf16, "max_loss_gap": round(max(gaps), 5),
                      "last_loss_gap": round(gaps[-1], 5), "target_loss_gap": TARGET_GAP,
                      "wall_s": {p: runs[p]["wall_s"] for p in runs}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
