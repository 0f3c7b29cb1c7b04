"""The curriculum teacher at scale: N exercises written, verified in the sandbox and deduplicated by
`textbooks synth exercises --teacher curriculum --n N`, the whole stage as a user runs it.

Anchor: the issue's target, 100,000 verified exercises in at most 5 minutes (300 s) on 2 cores. The
ratio is 300 s scaled to N over the measured wall time (above 1: faster than the target). Also
printed: exercises kept, the verification pass rate, rejects by reason, the distinct normalized
solutions the exercises hold (names numbered, docstrings left out: how much they really vary),
distinct operations chains, and each step's seconds.

    python bench/curriculum_throughput.py [--n 100000] [--quick]

Run it alone: another busy process on the machine slows the sandbox's workers several times.
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from textbooks.records import read_column, read_manifest

TARGET_S, TARGET_N = 300.0, 100_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=TARGET_N, help="exercises to write (default 100,000)")
    parser.add_argument("--quick", action="store_true", help="5,000 exercises, well within a minute")
    args = parser.parse_args()
    n = 5_000 if args.quick else args.n
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "exercises"
        began = time.perf_counter()
        command = [str(Path(sys.executable).with_name("textbooks")), "synth", "exercises", "--teacher", "curriculum",
                   "--n", str(n), "--out", str(out)]
        subprocess.run(command, check=True, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - began
        counts = read_manifest(out)["counts"]
        chains = len(set(read_column(out, "constraints")))
    allowed = TARGET_S * n / TARGET_N
    figures = {"n": n, "cores": os.cpu_count(), "wall_s": round(wall, 1), "kept": counts["records"],
               "kept_per_s": round(counts["records"] / wall, 1), "pass_rate": counts["pass_rate"],
               "rejected": counts["by_reason"], "dedup": counts["dedup"],
               "distinct_solutions": counts["distinct_solutions"], "distinct_constraints": chains,
               "steps_s": {name: step["seconds"] for name, step in counts["steps"].items()},
               "target_s": allowed, "ratio": round(allowed / wall, 2)}
    print(f"{counts['records']:,} of {n:,} exercises kept in {wall:.0f} s ({figures['kept_per_s']:.0f}/s), "
          f"{counts['distinct_solutions']:,} distinct solutions; target {allowed:.0f} s: ratio {figures['ratio']}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
