"""Benchmarks, pass@k and the samples files: loaders, prompts, the estimator against hand values."""

import ast
import json
import math
from pathlib import Path

import pytest

from textbooks.evaluate.benchmarks import MBPP_STOPS, load_benchmark, mbpp_prompt
from textbooks.evaluate.graded import load_graded_problems, parse_score
from textbooks.evaluate.passk import mean_pass_at_k, pass_at_k
from textbooks.evaluate.samples import append_jsonl, read_jsonl_lines, read_user_samples, truncate_torn_line

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


def test_humaneval_plus_native_format_checks_every_input_against_the_canonical_solution():
    plus = load_benchmark("humaneval-plus", DATA / "HumanEvalPlus.jsonl.gz")
    assert len(plus) == 164
    ast.parse(plus[0].program(plus[0].canonical_solution))
    assert "_oracle" in plus[0].test and "plus_input" not in plus[0].test


def test_unknown_benchmark_and_bad_files_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown benchmark"):
        load_benchmark("apps")
    with pytest.raises(FileNotFoundError):
        load_benchmark("mbpp", tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": 11}\nnot json\n')
    with pytest.raises(ValueError, match="bad.jsonl:2"):
        load_benchmark("mbpp", bad)


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
    assert read_jsonl_lines(path) == [{"a": 1}, {"a": 2}]
    truncate_torn_line(path)
    append_jsonl(path, [{"a": 4}])
    assert read_jsonl_lines(path) == [{"a": 1}, {"a": 2}, {"a": 4}]


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
