"""Benchmarks, pass@k and the samples files: loaders, prompts, the estimator against hand values."""

import ast
import copy
import dataclasses
import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from textbooks.evaluate import plus
from textbooks.benchmarks import MBPP_STOPS, PlusTests, Problem, load_benchmark, mbpp_prompt
from textbooks.evaluate.graded import load_graded_problems, parse_score
from textbooks.evaluate.passk import mean_pass_at_k, pass_at_k
from textbooks.evaluate.samples import append_jsonl, read_appended_rows, read_user_samples, truncate_torn_line

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.parametrize("n, c, k, expected", [
    (5, 2, 1, 2 / 5),  # 1 - C(3,1)/C(5,1)
    (5, 2, 2, 1 - 3 / 10),  # 1 - C(3,2)/C(5,2)
    (5, 2, 3, 1 - 1 / 10),  # 1 - C(3,3)/C(5,3)
    (5, 2, 4, 1.0),  # any 4 of 5 include a correct one
    (10, 0, 5, 0.0),
    (10, 10, 1, 1.0),
    (200, 1, 100, 0.5),  # 1 - C(199,100)/C(200,100) = 1 - 100/200
    (20, 3, 10, 1 - math.comb(17, 10) / math.comb(20, 10)),
])
def test_pass_at_k_matches_hand_computed_values(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_pass_at_k_rejects_impossible_counts():
    with pytest.raises(ValueError):
        pass_at_k(5, 6, 1)
    with pytest.raises(ValueError):
        pass_at_k(5, 1, 6)


def test_mean_pass_at_k_averages_problems_and_skips_k_above_n():
    scores = mean_pass_at_k({"a": (5, 2), "b": (5, 0)}, [1, 2, 10])
    assert scores == {"pass@1": pytest.approx(0.2), "pass@2": pytest.approx(0.35)}


def test_humaneval_comes_from_the_package_and_matches_the_shared_copy():
    packaged = load_benchmark("humaneval")
    shared = load_benchmark("humaneval", DATA / "HumanEval.jsonl.gz")
    assert len(packaged) == 164 and packaged == shared
    program = packaged[0].program(packaged[0].canonical_solution)
    assert program.startswith(packaged[0].prompt) and program.rstrip().endswith("check(has_close_elements)")


def test_mbpp_loads_the_test_split_and_the_sanitized_set():
    full = load_benchmark("mbpp", DATA / "mbpp.jsonl")
    assert [p.task_id for p in full] == [f"Mbpp/{i}" for i in range(11, 511)]
    sanitized = load_benchmark("mbpp-sanitized", DATA / "sanitized-mbpp.json")
    assert len(sanitized) == 427
    assert all("\r" not in p.canonical_solution for p in full)


def test_mbpp_prompt_is_the_description_with_its_test_asserts():
    problem = load_benchmark("mbpp", DATA / "mbpp.jsonl")[0]
    record = next(json.loads(line) for line in open(DATA / "mbpp.jsonl") if json.loads(line)["task_id"] == 11)
    assert problem.prompt == mbpp_prompt(record["text"], record["test_list"])
    assert record["text"] in problem.prompt and all(t in problem.prompt for t in record["test_list"])
    assert problem.stop == MBPP_STOPS
    ast.parse(problem.prompt)  # a docstring the model continues with code


def test_humaneval_plus_native_format_waits_for_its_expected_outputs():
    plus = load_benchmark("humaneval-plus", DATA / "HumanEvalPlus.jsonl.gz")
    assert len(plus) == 164
    assert sum(len(p.plus_tests.inputs) for p in plus) == 1570 + 122683  # base and plus inputs (README)
    with pytest.raises(ValueError, match="HumanEval/0 .*with_expected_outputs"):
        plus[0].program(plus[0].canonical_solution)  # a program without its checks would pass anything


def test_unknown_benchmark_and_bad_files_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown benchmark"):
        load_benchmark("apps")
    with pytest.raises(FileNotFoundError):
        load_benchmark("mbpp", tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": 11}\nnot json\n')
    with pytest.raises(ValueError, match="bad.jsonl:2"):
        load_benchmark("mbpp", bad)


def test_reading_the_benchmarks_does_not_import_torch():
    """Every stage that needs the benchmarks (evaluation, decontamination) reads them without torch."""
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from textbooks.benchmarks import load_benchmark
        data = Path({str(DATA)!r})
        files = {{"humaneval": None, "humaneval-plus": data / "HumanEvalPlus.jsonl.gz",
                 "mbpp": data / "mbpp.jsonl", "mbpp-sanitized": data / "sanitized-mbpp.json"}}
        print({{name: len(load_benchmark(name, path)) for name, path in files.items()}})
        print(sorted(m for m in sys.modules if m == "torch" or m.startswith("torch.")))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    counts, torch_modules = done.stdout.splitlines()
    assert counts == "{'humaneval': 164, 'humaneval-plus': 164, 'mbpp': 500, 'mbpp-sanitized': 427}"
    assert torch_modules == "[]"


def test_user_samples_number_repeats_and_name_bad_lines(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text('{"task_id": "A", "completion": "x"}\n{"task_id": "A", "completion": "y"}\n'
                    '{"task_id": "B", "completion": "z"}\n')
    samples = read_user_samples(path)
    assert [(s.task_id, s.index, s.completion) for s in samples] == [("A", 0, "x"), ("A", 1, "y"), ("B", 0, "z")]
    path.write_text('{"task_id": "A", "completion": "x"}\n{"task_id": "A"}\n')
    with pytest.raises(ValueError, match="s.jsonl:2"):
        read_user_samples(path)


def test_a_line_torn_by_a_kill_is_dropped_and_cut_before_appending(tmp_path):
    path = tmp_path / "rows.jsonl"
    append_jsonl(path, [{"a": 1}, {"a": 2}])
    with open(path, "a") as f:
        f.write('{"a": 3')  # the kill came mid-line
    assert read_appended_rows(path) == [{"a": 1}, {"a": 2}]
    truncate_torn_line(path)
    append_jsonl(path, [{"a": 4}])
    assert read_appended_rows(path) == [{"a": 1}, {"a": 2}, {"a": 4}]


@pytest.mark.parametrize("answer, score", [
    ("Looks right.\nScore: 7/10", 7.0),
    ("Score: 3/10 at first, but on reflection\nScore: **9**/10", 9.0),
    ("The solution is fine. score = 10 / 10", 10.0),
    ("I would give it an 8.", None),
    ("Score: 11/10", None),
    ("", None),
])
def test_grades_parse_only_a_score_out_of_ten(answer, score):
    assert parse_score(answer) == score


def test_shipped_graded_problems_are_valid_python_prompts():
    problems = load_graded_problems(None)
    assert len(problems) >= 10 and len({p.task_id for p in problems}) == len(problems)
    for problem in problems:
        ast.parse(problem.prompt + "    pass\n")


# HumanEval+ judged against expected outputs computed once (evaluate/plus.py).

PLUS_TASKS = ("HumanEval/0", "HumanEval/31", "HumanEval/32")
# HumanEval's own canonical is_prime: right, but O(n); HumanEval+ asks it about 10000000031.
LINEAR_IS_PRIME = """    if n < 2:
        return False
    for k in range(2, n - 1):
        if n % k == 0:
            return False
    return True
"""
# Newton's method from x = 100 first, where the canonical solution starts from 0: often another root.
OTHER_ROOT = """    slopes = [c * i for i, c in enumerate(xs)][1:]
    for start in (100.0, 0.0):
        x = start
        for _ in range(1000):
            if abs(poly(xs, x)) < 1e-5:
                return x
            if poly(slopes, x) == 0:
                break
            x -= poly(xs, x) / poly(slopes, x)
    return x
"""
RETURN_NONE = "    return None\n"


@pytest.fixture(scope="module")
def plus_problems() -> dict:
    return {p.task_id: p for p in load_benchmark("humaneval-plus", DATA / "HumanEvalPlus.jsonl.gz")}


@pytest.fixture(scope="module")
def sandbox():
    from textbooks.sandbox.pool import Sandbox

    with Sandbox(workers=2) as box:
        yield box


@pytest.fixture(scope="module")
def plus_verdicts(plus_problems, tmp_path_factory) -> dict:
    """The verdicts of `textbooks eval`'s execution step on a few HumanEval+ tasks, by
    (task_id, completion name)."""
    from textbooks.evaluate.harness import execute_samples
    from textbooks.evaluate.samples import Sample

    completions = {"HumanEval/0": {}, "HumanEval/31": {"linear": LINEAR_IS_PRIME},
                   "HumanEval/32": {"other root": OTHER_ROOT, "wrong root": "    return 1.5 + 0.5 * xs[0]\n"}}
    named = [(task_id, name, completion) for task_id in PLUS_TASKS
             for name, completion in {"canonical": plus_problems[task_id].canonical_solution,
                                      "none": RETURN_NONE, **completions[task_id]}.items()]
    samples = [Sample(task_id, index, completion) for index, (task_id, _, completion) in enumerate(named)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TEXTBOOKS_CACHE", str(tmp_path_factory.mktemp("cache")))
        results = execute_samples([plus_problems[t] for t in PLUS_TASKS], samples, tmp_path_factory.mktemp("out"),
                                  10.0, 2)
    return {(task_id, name): results[(task_id, index)] for index, (task_id, name, _) in enumerate(named)}


def test_humaneval_plus_canonical_solutions_pass(plus_verdicts):
    for task_id in PLUS_TASKS:
        assert plus_verdicts[(task_id, "canonical")]["outcome"] == "passed", plus_verdicts[(task_id, "canonical")]


def test_humaneval_plus_find_zero_accepts_any_root_and_rejects_a_wrong_one(plus_problems, plus_verdicts):
    inputs = plus_problems["HumanEval/32"].plus_tests.inputs
    canonical, other = (run_in_process(plus_problems["HumanEval/32"], c, inputs)
                        for c in (plus_problems["HumanEval/32"].canonical_solution, OTHER_ROOT))
    assert sum(abs(a - b) > 1e-3 for a, b in zip(canonical, other)) > 100  # other roots, not the same ones
    assert plus_verdicts[("HumanEval/32", "other root")]["outcome"] == "passed"
    wrong = plus_verdicts[("HumanEval/32", "wrong root")]
    assert wrong["outcome"] == "failed" and "wrong output for input" in wrong["reason"]


def test_humaneval_plus_fails_a_right_but_too_slow_candidate_on_time(plus_problems, plus_verdicts):
    small = [args for args in plus_problems["HumanEval/31"].plus_tests.inputs if args[0] < 100_000]
    assert (run_in_process(plus_problems["HumanEval/31"], LINEAR_IS_PRIME, small)
            == run_in_process(plus_problems["HumanEval/31"], plus_problems["HumanEval/31"].canonical_solution, small))
    slow = plus_verdicts[("HumanEval/31", "linear")]
    # a failed test of the benchmark, not a program the sandbox had to kill
    assert slow["outcome"] == "failed" and "timed out on input" in slow["reason"], slow
    assert "CPU time" in slow["reason"] and slow["duration_s"] < 30


def test_humaneval_plus_fails_return_none(plus_verdicts):
    for task_id in PLUS_TASKS:
        verdict = plus_verdicts[(task_id, "none")]
        assert verdict["outcome"] == "failed" and "wrong output for input 0" in verdict["reason"], verdict


def run_in_process(problem, completion: str, inputs: list) -> list:
    """A trusted completion's outputs, computed here (the canonical solutions and our own)."""
    namespace = {}
    exec(problem.prompt + completion, namespace)
    return [namespace[problem.entry_point](*copy.deepcopy(args)) for args in inputs]


def fake_plus_problem(task_id: str, reference: str, inputs: list) -> Problem:
    tests = PlusTests(entry_point="f", reference=reference, inputs=inputs, atol=0.0)
    return Problem(task_id=task_id, prompt="", canonical_solution=reference, test="", stop=(), entry_point="f",
                   plus_tests=tests)


# Every kind of value the reference may return, each one a trap for a lossy encoding.
TRICKY = "def f(k):\n    return [(1, 2), [1, 2], {1, 2}, float('inf'), float('nan'), -0.0, None, {'a': (1.5,)}," \
         " 10 ** 30, True, 'x', frozenset({3}), b'\\x00'][k]\n"


def test_expected_outputs_survive_the_trip_exactly(sandbox, tmp_path):
    problem = fake_plus_problem("Fake/tricky", TRICKY, [[k] for k in range(13)])
    computed = plus.expected_outputs([problem], sandbox, tmp_path)["Fake/tricky"].outputs
    cached = plus.expected_outputs([problem], NoSandbox(), tmp_path)["Fake/tricky"].outputs
    here = run_in_process(problem, TRICKY, problem.plus_tests.inputs)
    for outputs in (computed, cached):
        assert [type(o) for o in outputs] == [type(o) for o in here]
        assert repr(outputs) == repr(here)  # nan, -0.0 and the types inside containers too
    (checked,) = plus.with_expected_outputs([problem], NoSandbox(), tmp_path)
    assert sandbox.run(checked.program(TRICKY)).outcome.value == "passed"
    as_lists = "def f(k):\n    out = _f(k)\n    return list(out) if isinstance(out, tuple) else out\n"
    failed = sandbox.run(checked.program(TRICKY.replace("def f", "def _f") + as_lists))
    assert failed.outcome.value == "failed" and "wrong output for input 0" in failed.reason


def test_expected_outputs_are_read_from_the_cache_and_keyed_by_content(sandbox, plus_problems, tmp_path,
                                                                      monkeypatch):
    problems = [plus_problems["HumanEval/0"], plus_problems["HumanEval/2"]]
    counting = CountingSandbox(sandbox)
    first = plus.expected_outputs(problems, counting, tmp_path)
    assert counting.references == 2
    assert plus.expected_outputs(problems, NoSandbox(), tmp_path) == first  # no reference runs again
    changed_tests = dataclasses.replace(problems[0].plus_tests, inputs=problems[0].plus_tests.inputs[:-1])
    changed = dataclasses.replace(problems[0], plus_tests=changed_tests)
    assert plus.cache_path(changed, tmp_path) != plus.cache_path(problems[0], tmp_path)
    plus.expected_outputs([changed, problems[1]], counting, tmp_path)
    assert counting.references == 3  # the changed task only
    key = plus.cache_path(problems[1], tmp_path)
    monkeypatch.setattr(plus, "python_tag", lambda: "cpython-9.9.9")
    assert plus.cache_path(problems[1], tmp_path) != key


def test_a_reference_that_fails_is_an_error_naming_its_task(sandbox, tmp_path):
    problems = [fake_plus_problem("Fake/fine", "def f(x):\n    return x\n", [[1]]),
                fake_plus_problem("Fake/broken", "def f(x):\n    return 1 / x\n", [[1], [0]])]
    with pytest.raises(RuntimeError, match=r"Fake/broken: failed: ZeroDivisionError") as error:
        plus.with_expected_outputs(problems, sandbox, tmp_path)
    assert "Fake/fine" not in str(error.value)


def test_outputs_too_large_to_ship_are_recomputed_in_the_program(sandbox, tmp_path, monkeypatch):
    monkeypatch.setattr(plus, "SHIPPED_OUTPUT_BYTES", 1000)
    problem = fake_plus_problem("Fake/large", "def f(n):\n    return 'x' * n\n", [[10], [5000], [20]])
    expected = plus.expected_outputs([problem], sandbox, tmp_path)["Fake/large"]
    assert expected.recomputed == [1] and expected.outputs == ["x" * 10, None, "x" * 20]
    (checked,) = plus.with_expected_outputs([problem], NoSandbox(), tmp_path)
    assert "x" * 5000 not in checked.test
    assert sandbox.run(checked.program(problem.canonical_solution)).outcome.value == "passed"
    wrong = sandbox.run(checked.program("def f(n):\n    return 'x' * min(n, 4999)\n"))
    assert wrong.outcome.value == "failed" and "wrong output for input 1" in wrong.reason


def test_time_limits_scale_with_the_reference_as_evalplus_does():
    assert plus.time_limits([0.0, 0.2, 0.5]) == [1.0, 1.0, 2.0]  # max(1 s, 4 x the reference's)
    small = plus.Expected(outputs=[0] * 3, cpu_s=[0.0, 0.2, 0.5], recomputed=[])
    assert plus.program_timeout(plus.time_limits(small.cpu_s), small) == 4.0 + plus.STARTUP_SLACK_S
    many = plus.Expected(outputs=[0] * 1000, cpu_s=[0.001] * 999 + [2.0], recomputed=[999])
    # capped at EvalPlus's 60 s a task, plus the time of the outputs recomputed in the program
    assert plus.program_timeout(plus.time_limits(many.cpu_s), many) == 60.0 + 8.0 + plus.STARTUP_SLACK_S


class NoSandbox:
    def run_many(self, *args, **kwargs):
        raise AssertionError("a reference solution ran although its expected outputs were cached")


class CountingSandbox:
    def __init__(self, sandbox):
        self.sandbox, self.references = sandbox, 0

    def run_many(self, sources, *args, **kwargs):
        self.references += len(sources)
        return self.sandbox.run_many(sources, *args, **kwargs)


@pytest.mark.slow
def test_all_humaneval_plus_canonical_solutions_pass_under_load_three_runs_in_a_row(tmp_path, monkeypatch):
    from textbooks import cli

    monkeypatch.setenv("TEXTBOOKS_CACHE", str(tmp_path / "cache"))
    computed = []
    compute = plus.compute_expected_outputs

    def counting(problems, *args):
        computed.append(len(problems))
        return compute(problems, *args)

    monkeypatch.setattr(plus, "compute_expected_outputs", counting)
    problems = load_benchmark("humaneval-plus", DATA / "HumanEvalPlus.jsonl.gz")
    canonical = write_samples(tmp_path / "canonical.jsonl", [(p.task_id, p.canonical_solution) for p in problems])
    wrong = write_samples(tmp_path / "none.jsonl", [(p.task_id, RETURN_NONE) for p in problems])

    def evaluate(samples: Path, out: str) -> dict:
        cli.main(["eval", "humaneval-plus", "--samples", str(samples), "--data", str(DATA / "HumanEvalPlus.jsonl.gz"),
                  "--out", str(tmp_path / out), "--k", "1"])
        return json.loads((tmp_path / out / "summary.json").read_text())

    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])  # a second process loading the CPU
    try:
        for run in range(3):
            assert evaluate(canonical, f"canonical-{run}")["outcomes"] == {"passed": 164}
        assert evaluate(wrong, "none")["outcomes"] == {"failed": 164}
    finally:
        busy.kill()
        busy.wait()
    assert computed == [164]  # once, then read from the cache


def write_samples(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps({"task_id": t, "completion": c}) + "\n" for t, c in rows))
    return path


@pytest.mark.parametrize("benchmark, record, lacks", [
    ("humaneval", {"id": 1, "prompt": "def f():\n"}, "'task_id'"),
    ("humaneval", {"task_id": "X/0", "prompt": "def f():\n", "canonical_solution": "    pass\n"}, "'test'"),
    ("mbpp", {"task_id": 11, "text": "Write f.", "code": "def f(): pass"}, "'test_list'"),
    ("mbpp-sanitized", {"task_id": 11, "code": "def f(): pass", "test_list": []}, "'prompt'"),
])
def test_a_benchmark_file_of_another_format_is_one_line_naming_file_record_and_field(tmp_path, benchmark, record,
                                                                                     lacks):
    path = tmp_path / "bench.jsonl"
    path.write_text(json.dumps(record) + "\n")
    with pytest.raises(ValueError, match=f"^{path}: record 1 is not a problem of this benchmark: it lacks {lacks} "
                                         r"\(it has "):
        load_benchmark(benchmark, path)
