"""HumanEval+ judged as EvalPlus defines it (the paper reports HumanEval; EvalPlus adds ~750
inputs per task): a candidate must give the reference solution's output on every input, each
input within a time limit scaled from the reference's own time on it.

The reference's outputs and times are computed once per (task content, Python), in the sandbox
with a generous budget of their own, before any candidate runs, and cached on disk
($TEXTBOOKS_CACHE, else $XDG_CACHE_HOME/textbooks, else ~/.cache/textbooks), so a candidate's
budget never pays for the reference and a second evaluation pays nothing. Outputs travel as
marshal data: exact for tuples and lists, sets, None, and every float (inf, nan and -0.0 too),
and loading it runs no code, unlike pickle. The few outputs too large to ship (over 1 MB: 32 of
124k, string_sequence and tri up to 10**6 make 150 MB and 90 MB) are instead recomputed by the
reference inside the candidate's program, after the candidate's timed call and with their
measured time added to the program's budget: shipped, they made 200 MB programs that took longer
to load than the reference takes to run them.

Time limits follow EvalPlus (evalplus/config.py and eval/__init__.py, v0.3.1): each input gets
max(1 s, 4 x the reference's time) and the program as a whole the sum of those, capped at 60 s.
Ours count CPU time rather than wall-clock time, so that a machine busy with other work slows
neither side's clock. A candidate over an input's limit fails ("timed out on input ...") as
EvalPlus counts it: a failed test of the benchmark, where `timed_out` stays the sandbox's verdict
for a program it had to kill.
"""

from __future__ import annotations

import binascii
import dataclasses
import hashlib
import json
import marshal
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

from textbooks.benchmarks import PlusTests, Problem
from textbooks.sandbox.pool import Limits, Outcome, Result, Sandbox
from textbooks.records import atomic_path

MIN_TIME_LIMIT_S = 1.0  # EvalPlus's DEFAULT_MIN_TIME_LIMIT
TIME_LIMIT_FACTOR = 4.0  # EvalPlus's DEFAULT_GT_TIME_LIMIT_FACTOR
TASK_TIMEOUT_S = 60.0  # EvalPlus's EVALPLUS_TIMEOUT_PER_TASK: what a runaway candidate can cost
STARTUP_SLACK_S = 5.0  # decoding the inputs and outputs, forking under load
SHIPPED_OUTPUT_BYTES = 1024 * 1024  # a larger expected output is recomputed in the program
# The reference is trusted and its outputs are the benchmark: it gets all the time it needs,
# and room for megabytes of outputs on stdout.
REFERENCE_LIMITS = Limits(timeout_s=600.0, cpu_s=600, memory_mb=4096, file_size_mb=256,
                          output_bytes=256 * 1024 * 1024)
CACHE_FORMAT = 1  # bump when what is recorded changes, so that older caches are not read
OUTPUT_MARKER = "\n__textbooks_expected_outputs__ "
# Tasks with more than one right answer are checked by property, as EvalPlus does.
PROPERTY_CHECKS = {"HumanEval/32": "_is_root"}  # find_zero may return any root


@dataclass(frozen=True)
class Expected:
    outputs: list  # the reference's output for each input (None where recomputed)
    cpu_s: list[float]  # its CPU time on each input
    recomputed: list[int]  # the inputs whose output is too large to ship


def with_expected_outputs(problems: list[Problem], sandbox: Sandbox, cache_dir: Path | None = None) -> list[Problem]:
    """`problems` with each HumanEval+ problem's test built from its expected outputs, read from
    the cache or computed first in `sandbox`; the others unchanged. Raises RuntimeError naming
    the tasks whose reference solution failed."""
    plus = [p for p in problems if p.plus_tests is not None]
    if not plus:
        return problems
    expected = expected_outputs(plus, sandbox, cache_dir or default_cache_dir())
    return [checked_problem(p, expected[p.task_id]) if p.plus_tests is not None else p for p in problems]


def default_cache_dir() -> Path:
    """$TEXTBOOKS_CACHE, else $XDG_CACHE_HOME/textbooks, else ~/.cache/textbooks."""
    if os.environ.get("TEXTBOOKS_CACHE"):
        return Path(os.environ["TEXTBOOKS_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "textbooks"


def python_tag() -> str:
    # marshal's format, and what a solution computes, may change with the interpreter
    return f"{sys.implementation.name}-{platform.python_version()}"


def cache_path(problem: Problem, cache_dir: Path) -> Path:
    """Where a task's expected outputs are kept: named by the sha256 of all they depend on."""
    tests = problem.plus_tests
    content = json.dumps([CACHE_FORMAT, SHIPPED_OUTPUT_BYTES, problem.task_id, tests.entry_point,
                          tests.reference, tests.inputs])
    digest = hashlib.sha256(content.encode()).hexdigest()
    return cache_dir / "humaneval-plus" / python_tag() / f"{digest}.marshal"


def expected_outputs(problems: list[Problem], sandbox: Sandbox, cache_dir: Path) -> dict[str, Expected]:
    """Each problem's expected outputs: cached ones read, missing ones computed and cached."""
    found = {p.task_id: read_cached(cache_path(p, cache_dir), len(p.plus_tests.inputs)) for p in problems}
    missing = [p for p in problems if found[p.task_id] is None]
    if missing:
        print(f"HumanEval+: running the reference solutions of {len(missing)} tasks for their expected "
              f"outputs (once; cached in {cache_dir})", file=sys.stderr)
        found.update(compute_expected_outputs(missing, sandbox, cache_dir))
    return found


def read_cached(path: Path, count: int) -> Expected | None:
    try:
        expected = Expected(*marshal.loads(path.read_bytes()))
    except (OSError, EOFError, ValueError, TypeError):
        return None  # not there, or unreadable: computed again
    return expected if len(expected.outputs) == len(expected.cpu_s) == count else None


def compute_expected_outputs(problems: list[Problem], sandbox: Sandbox, cache_dir: Path) -> dict[str, Expected]:
    """Run each problem's reference over its inputs in `sandbox` and cache what it returned."""
    results = sandbox.run_many([reference_program(p.plus_tests) for p in problems], REFERENCE_LIMITS,
                               progress=True)
    computed, failures = {}, []
    for problem, result in zip(problems, results):
        try:
            computed[problem.task_id] = decode_reference_result(result, len(problem.plus_tests.inputs))
        except ValueError as error:
            failures.append(f"{problem.task_id}: {error}")
            continue
        with atomic_path(cache_path(problem, cache_dir)) as tmp:
            tmp.write_bytes(marshal.dumps(dataclasses.astuple(computed[problem.task_id])))
    if failures:
        raise RuntimeError("the expected outputs of HumanEval+ could not be computed, so no candidate is "
                           "judged: the reference solution failed on " + "; ".join(failures))
    return computed


def reference_program(tests: PlusTests) -> str:
    call = f"_run_reference({tests.entry_point}, {_encode(tests.inputs)!r}, {OUTPUT_MARKER!r}, {SHIPPED_OUTPUT_BYTES})"
    return f"{tests.reference}\n\n{REFERENCE_RUNNER}\n{call}\n"


def decode_reference_result(result: Result, count: int) -> Expected:
    if result.outcome is not Outcome.PASSED:
        raise ValueError(f"{result.outcome.value}: {result.reason}")
    if len(result.stdout) >= REFERENCE_LIMITS.output_bytes:
        raise ValueError(f"its outputs exceed {REFERENCE_LIMITS.output_bytes} bytes")
    _, marker, payload = result.stdout.rpartition(OUTPUT_MARKER)
    if not marker:
        raise ValueError("it reported no outputs")
    try:
        expected = Expected(*marshal.loads(binascii.a2b_base64(payload)))
    except (ValueError, EOFError, TypeError):
        raise ValueError("its report of outputs is unreadable") from None
    if not len(expected.outputs) == len(expected.cpu_s) == count:
        raise ValueError(f"it reported {len(expected.outputs)} outputs for {count} inputs")
    return expected


def time_limits(cpu_s: list[float]) -> list[float]:
    """Each input's CPU-time limit: the reference's time on it x the factor, at least the floor."""
    return [max(MIN_TIME_LIMIT_S, TIME_LIMIT_FACTOR * t) for t in cpu_s]


def program_timeout(limits: list[float], expected: Expected) -> float:
    """The sandbox's budget for a whole candidate program: it matters only if the per-input
    timer cannot stop the candidate (a long call into C). The cap never cuts below the reference's
    total time x the factor; the outputs recomputed in the program add their time x the factor."""
    candidate = min(sum(limits), max(TASK_TIMEOUT_S, TIME_LIMIT_FACTOR * sum(expected.cpu_s)))
    recomputing = TIME_LIMIT_FACTOR * sum(expected.cpu_s[i] for i in expected.recomputed)
    return candidate + recomputing + STARTUP_SLACK_S


def checked_problem(problem: Problem, expected: Expected) -> Problem:
    """The problem whose program checks a candidate on every input against `expected`."""
    tests = problem.plus_tests
    limits = time_limits(expected.cpu_s)
    agrees = PROPERTY_CHECKS.get(problem.task_id, "_same")
    payload = _encode((tests.inputs, expected.outputs, limits, expected.recomputed))
    reference = (tests.reference, tests.entry_point) if expected.recomputed else None
    rule = f"{TIME_LIMIT_FACTOR:g}x the reference solution's, at least {MIN_TIME_LIMIT_S:g} s"
    arguments = f"{tests.entry_point}, {agrees}, {payload!r}, {tests.atol!r}, {reference!r}, {rule!r}"
    test = f"{CANDIDATE_CHECKER}\n_check({arguments})"
    return dataclasses.replace(problem, test=test, timeout_s=program_timeout(limits, expected), plus_tests=None)


def _encode(value) -> str:
    return binascii.b2a_base64(marshal.dumps(value), newline=False).decode("ascii")


# Runs after the reference solution, in the sandbox. Each input is a fresh object from marshal,
# so the reference may mutate it. Reports (outputs, cpu_s, recomputed), as `Expected`.
REFERENCE_RUNNER = '''
import binascii as _binascii
import marshal as _marshal
import sys as _sys
import time as _time


def _run_reference(reference, payload, marker, shipped_bytes):
    outputs, cpu_s, recomputed = [], [], []
    for number, args in enumerate(_marshal.loads(_binascii.a2b_base64(payload))):
        start = _time.process_time()
        output = reference(*args)
        cpu_s.append(_time.process_time() - start)
        if len(_marshal.dumps(output)) > shipped_bytes:
            output = None
            recomputed.append(number)
        outputs.append(output)
    report = _marshal.dumps((outputs, cpu_s, recomputed))
    _sys.stdout.write(marker + _binascii.b2a_base64(report, newline=False).decode())
'''

# Runs after the candidate, in the sandbox. Its inputs are deep-copied for the call because some
# candidates mutate their arguments; floats compare with EvalPlus's atol rule.
CANDIDATE_CHECKER = '''
import binascii as _binascii
import copy as _copy
import marshal as _marshal
import math as _math
import signal as _signal
import time as _time


class _TooSlow(BaseException):  # not an Exception: a candidate's `except Exception` cannot swallow it
    pass


def _on_cpu_limit(signum, frame):
    raise _TooSlow


def _close(out, exp, atol):
    if out == exp:  # EvalPlus's exact match first; at C speed on long lists
        return True
    if isinstance(exp, float) or isinstance(out, float):
        if isinstance(exp, (int, float)) and isinstance(out, (int, float)):
            return (_math.isclose(out, exp, rel_tol=1e-07, abs_tol=atol or 1e-06)
                    or (_math.isnan(out) and _math.isnan(exp)))
        return False
    if isinstance(exp, (list, tuple)) and isinstance(out, (list, tuple)) and type(out) is type(exp):
        return len(out) == len(exp) and all(_close(o, e, atol) for o, e in zip(out, exp))
    return False


def _same(args, out, exp, atol):
    return _close(out, exp, atol)


def _is_root(args, out, exp, atol):
    if isinstance(out, bool) or not isinstance(out, (int, float)):
        return False
    try:
        return abs(sum(c * _math.pow(out, i) for i, c in enumerate(args[0]))) <= (atol or 1e-4)
    except (OverflowError, ValueError):
        return False


# The candidate's output, or _TooSlow if it used more than `limit` s of CPU time.
def _timed_call(candidate, args, limit):
    start = _time.process_time()
    try:
        try:
            _signal.setitimer(_signal.ITIMER_PROF, limit)
            out = candidate(*args)
        finally:
            _signal.setitimer(_signal.ITIMER_PROF, 0)
    except _TooSlow:
        return _TooSlow
    return out if _time.process_time() - start <= limit else _TooSlow  # it may have caught the signal


def _check(candidate, agrees, payload, atol, reference, rule):
    inputs, expected, limits, recomputed = _marshal.loads(_binascii.a2b_base64(payload))
    if reference is not None:  # the reference, in a namespace of its own, for outputs not shipped
        namespace = {}
        exec(reference[0], namespace)
        reference = namespace[reference[1]]
    recomputed = set(recomputed)
    _signal.signal(_signal.SIGPROF, _on_cpu_limit)
    for number, (args, exp, limit) in enumerate(zip(inputs, expected, limits)):
        out = _timed_call(candidate, _copy.deepcopy(args), limit)
        if out is _TooSlow:
            raise TimeoutError(f"timed out on input {number} {args!r:.200}: more than its {limit:.3g} s "
                               f"of CPU time ({rule})")
        if number in recomputed:
            exp = reference(*_copy.deepcopy(args))
        assert agrees(args, out, exp, atol), f"wrong output for input {number} {args!r:.200}"
'''
