"""The textbook effect in miniature: `textbooks run ablation`, measured on this machine.

The packaged ablation recipe trains the same model (cpu-tiny) with the same token budget and seed on
(a) the raw standard library corpus, (b) its filtered half, (c) the filtered code mixed half and half
with passages mined from CPython's documentation, (d) the same with the curriculum teacher's lessons,
and finetunes (d) on the curriculum's decontaminated exercises (e); two seeds each. This runs it
(adding MBPP's greedy and revealed evaluations of every arm when --mbpp names the file: no package
ships MBPP; its 500 problems x 20 samples would cost each model about five minutes more) and prints,
per arm, benchmark and kind of evaluation (greedy; half of each solution revealed; 20 samples at
temperature 0.8), bits per byte on the canonical solutions, pass@1 and pass@10 for each seed, and the
run's wall time. The report of the run (OUT/report.html) has the same table and its plot.

The anchor is the raw arm: `ratio` is the raw arm's mean HumanEval bits per byte over the filtered
+ curriculum arm's (above 1: the textbook data predicts the benchmark's code better).

    python bench/ablation.py [--out /tmp/textbooks-ablation] [--mbpp ../shared/data/mbpp.jsonl] [--quick]

--quick runs the same stages at toy size (a slice of the corpus, a few steps, four problems) in
about two minutes: it shows the machinery, not the effect. Run it on a quiet machine. The last line
printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

from textbooks.pipeline import packaged_config
from textbooks.report.collect import eval_label

SHARED_MBPP = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mbpp.jsonl"
QUICK_TRAIN = {"model.n_layer": 1, "model.block_size": 64, "train.max_steps": 4, "train.warmup_steps": 1,
               "checkpoint.every": 2, "eval.every": 2}


def ablation_recipe(mbpp: Path | None, quick: bool) -> dict:
    """The packaged recipe, with an MBPP evaluation beside each HumanEval one, at toy size when quick."""
    recipe = yaml.safe_load(packaged_config("ablation.yaml").read_text(encoding="utf-8"))
    stages = recipe["stages"]
    if mbpp:  # decontaminated against both, so that MBPP's split is known too
        stages["decontam"]["against"] += f",mbpp={mbpp}"
        for evals in recipe["arms"].values():
            for name in [name for name in evals if not stages[name].get("n_samples")]:
                stages[f"{name}-mbpp"] = {**stages[name], "benchmark": "mbpp", "data": str(mbpp)}
                evals.append(f"{name}-mbpp")
    if quick:
        shrink(stages)
    return recipe


def shrink(stages: dict) -> None:
    """Toy sizes: a slice of the corpus, 40 curriculum records, short sequences, a few steps, four problems."""
    stages["corpus"]["limit"] = 150
    stages["label"]["sample"] = 100
    stages["tokenizer"]["vocab_size"] = 600
    for options in stages.values():
        if options.get("teacher") == "curriculum":
            options["n"] = 40
        if options.get("use") == "pack":
            options["seq_len"] = 64
            options["val_fraction"] = 0.2
        if options.get("use") == "train":
            options["overrides"] = {**options["overrides"], **QUICK_TRAIN}
        if options.get("use") == "eval":
            options.update(limit=4, max_new_tokens=16)


def arm_figures(out: Path, arms: dict) -> dict:
    """arm -> benchmark (and kind of evaluation, when not greedy: the report's `eval_label`) ->
    {"bits_per_byte", "pass@1", "pass@10": [per seed]} from each eval's summary."""
    figures: dict = {}
    for arm, evals in arms.items():
        for name in evals:
            summary = json.loads((out / name / "summary.json").read_text(encoding="utf-8"))
            key = eval_label({**summary, "settings": summary.get("settings") or {}})
            seeds = figures.setdefault(arm, {}).setdefault(key, {"bits_per_byte": [], "pass@1": [], "pass@10": []})
            for metric in seeds:
                seeds[metric].append(summary.get(metric))
    return figures


def table(figures: dict) -> str:
    rows = [f"{'arm':<20} {'benchmark':<36} {'bits/byte per seed':>22} {'mean':>7} {'pass@1 per seed':>18} "
            f"{'pass@10 per seed':>18}"]
    for arm, benchmarks in figures.items():
        for benchmark, seeds in benchmarks.items():
            bpb, passed, passed10 = (" ".join("-" if v is None else f"{v:.4f}" for v in seeds[metric])
                                     for metric in ("bits_per_byte", "pass@1", "pass@10"))
            known = [v for v in seeds["bits_per_byte"] if v is not None]
            mean = f"{statistics.mean(known):.4f}" if known else "-"
            rows.append(f"{arm:<20} {benchmark:<36} {bpb:>22} {mean:>7} {passed:>18} {passed10:>18}")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("/tmp/textbooks-ablation"))
    parser.add_argument("--mbpp", type=Path, default=SHARED_MBPP if SHARED_MBPP.is_file() else None,
                        help="MBPP's mbpp.jsonl (default: ../shared/data's, when present)")
    parser.add_argument("--quick", action="store_true", help="toy sizes, about a minute")
    args = parser.parse_args()
    out = args.out.with_name(args.out.name + "-quick") if args.quick else args.out
    recipe = ablation_recipe(args.mbpp, args.quick)
    recipe_path = out.with_name(out.name + ".yaml")
    recipe_path.write_text(yaml.safe_dump(recipe, sort_keys=False), encoding="utf-8")

    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "textbooks.cli", "run", str(recipe_path), "--out", str(out)])
    if done.returncode:
        sys.exit(f"textbooks run {recipe_path} failed ({done.returncode})")
    wall = time.perf_counter() - began
    figures = arm_figures(out, recipe["arms"])
    print(table(figures))
    raw = statistics.mean(figures["raw"]["humaneval"]["bits_per_byte"])
    textbooks = statistics.mean(figures["filtered+curriculum"]["humaneval"]["bits_per_byte"])
    print(f"wall time {wall:.0f} s; report: {out / 'report.html'}")
    print(json.dumps({"wall_s": round(wall, 1), "arms": figures, "anchor": "raw arm, HumanEval bits per byte",
                      "ratio": round(raw / textbooks, 4), "quick": args.quick}))


if __name__ == "__main__":
    main()
