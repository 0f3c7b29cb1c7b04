"""`textbooks eval --reveal F`: part of each canonical solution given with the prompt, the rest completed."""

import json
import math
from pathlib import Path

import pytest
import yaml

from test_eval import BENCHMARK_FILES, evaluate, write_samples
from textbooks import cli
from textbooks.benchmarks import Problem, load_benchmark, revealed

FRACTIONS = (0.25, 0.5, 0.75)


def expected_split(solution: str, fraction: float) -> tuple[str, str]:
    """(revealed part, rest), computed plainly: L counts the lines between the first and the last
    non-blank one, and the blank lines before the first go with any revealed line."""
    lines = solution.splitlines(keepends=True)
    solid = [i for i, line in enumerate(lines) if line.strip()]
    shown = math.floor(fraction * (solid[-1] - solid[0] + 1))
    cut = solid[0] + shown if shown else 0
    return "".join(lines[:cut]), "".join(lines[cut:])


@pytest.mark.parametrize("benchmark", ["humaneval", "mbpp"])
def test_the_revealed_prompt_is_the_prompt_and_the_first_lines_of_the_solution(benchmark):
    problems = load_benchmark(benchmark, BENCHMARK_FILES[benchmark])
    assert all(revealed(p, 0) is p for p in problems)
    for fraction in FRACTIONS:
        for problem in problems:
            shown, rest = expected_split(problem.canonical_solution, fraction)
            assert revealed(problem, fraction) == Problem(
                problem.task_id, problem.prompt + shown, rest, problem.test, problem.stop, problem.entry_point)


def test_revealed_lines_counted_by_hand():
    he0 = load_benchmark("humaneval")[0]  # has_close_elements: 8 lines, 6 of them at 0.75, 4 at 0.5
    assert revealed(he0, 0.75).prompt == he0.prompt + "".join(he0.canonical_solution.splitlines(True)[:6])
    assert revealed(he0, 0.5).canonical_solution == (
        "                if distance < threshold:\n                    return True\n\n    return False\n")
def test_blank_lines_at_either_end_are_not_counted():
    problem = Problem("t/0", prompt="def f():\n", canonical_solution=" \n    a = 1\n    return a\n\n   \n",
                      test="", stop=())
    half = revealed(problem, 0.5)  # L = 2, not 5: the blank first line comes with the one revealed
    assert (half.prompt, half.canonical_solution) == ("def f():\n \n    a = 1\n", "    return a\n\n   \n")
    assert revealed(problem, 0.49) is problem  # floor(0.49 x 2) = 0: nothing revealed
    one_line = Problem("t/1", prompt="def f():\n", canonical_solution="    return 1\n", test="", stop=())
    assert revealed(one_line, 0.99) is one_line
    hundred = Problem("t/2", prompt="", canonical_solution="x = 1\n" * 100, test="", stop=())
    assert revealed(hundred, 0.29).prompt.count("\n") == 29  # not float's floor(28.999...)


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 1.5, float("nan"), float("inf")])
def test_a_fraction_outside_0_1_is_refused(fraction, tmp_path):
    with pytest.raises(ValueError, match=r"must be .*in \[0, 1\)"):
        revealed(load_benchmark("humaneval")[0], fraction)
    samples = write_samples(tmp_path / "s.jsonl", [("HumanEval/0", "    return 1\n")])
    with pytest.raises(ValueError, match=r"^--reveal must be a fraction in \[0, 1\), got "):
        evaluate("humaneval", samples, tmp_path / "out", "--limit", "1", "--reveal", str(fraction))
    assert not (tmp_path / "out" / "eval_settings.json").exists()


def check_the_rest_of_each_solution_passes(benchmark: str, tmp_path: Path, count: int) -> None:
    """The rest of each canonical solution, as completions of the revealed prompts, passes every test
    through `textbooks eval --samples --reveal`; the revealed prompt alone (an empty completion) fails."""
    problems = load_benchmark(benchmark, BENCHMARK_FILES[benchmark])
    assert len(problems) == count
    for fraction in FRACTIONS:
        rests = [revealed(p, fraction) for p in problems]
        assert sum(r.canonical_solution != p.canonical_solution for r, p in zip(rests, problems)) > count // 2
        samples = write_samples(tmp_path / f"{fraction}.jsonl", [(r.task_id, r.canonical_solution) for r in rests])
        summary = evaluate(benchmark, samples, tmp_path / str(fraction), "--reveal", str(fraction), "--timeout", "30")
        assert summary["outcomes"] == {"passed": count}, fraction
        assert summary["reveal"] == summary["settings"]["reveal"] == fraction
    nothing = [(p.task_id, "") for p in problems[:20]]  # a loop left without its end runs out of time
    summary = evaluate(benchmark, write_samples(tmp_path / "nothing.jsonl", nothing), tmp_path / "nothing",
                       "--reveal", "0.75", "--limit", "20", "--timeout", "2")
    assert summary["outcomes"].get("passed", 0) == 0


def test_humaneval_the_rest_of_each_solution_passes(tmp_path):
    check_the_rest_of_each_solution_passes("humaneval", tmp_path, 164)


def test_mbpp_the_rest_of_each_solution_passes(tmp_path):
    check_the_rest_of_each_solution_passes("mbpp", tmp_path, 500)


def test_a_rerun_with_another_reveal_is_refused(tmp_path):
    problem = revealed(load_benchmark("humaneval")[0], 0.5)
    samples = write_samples(tmp_path / "s.jsonl", [(problem.task_id, problem.canonical_solution)])
    assert evaluate("humaneval", samples, tmp_path / "out", "--limit", "1", "--reveal", "0.5")["pass@1"] == 1.0
    with pytest.raises(ValueError, match=r"other settings \(reveal\)"):
        evaluate("humaneval", samples, tmp_path / "out", "--limit", "1", "--reveal", "0.25")
    with pytest.raises(ValueError, match=r"other settings \(reveal\)"):
        evaluate("humaneval", samples, tmp_path / "out", "--limit", "1")
    assert evaluate("humaneval", samples, tmp_path / "out", "--limit", "1", "--reveal", "0.5")["pass@1"] == 1.0


def test_an_out_written_before_reveal_existed_resumes_as_reveal_0(tmp_path):
    problem = load_benchmark("humaneval")[0]
    samples = write_samples(tmp_path / "s.jsonl", [(problem.task_id, problem.canonical_solution)])
    evaluate("humaneval", samples, tmp_path / "out", "--limit", "1")
    settings = tmp_path / "out" / "eval_settings.json"
    old = json.loads(settings.read_text())
    del old["reveal"]
    settings.write_text(json.dumps(old))
    assert evaluate("humaneval", samples, tmp_path / "out", "--limit", "1")["reveal"] == 0
    with pytest.raises(ValueError, match=r"other settings \(reveal\)"):
        evaluate("humaneval", samples, tmp_path / "out", "--limit", "1", "--reveal", "0.5")


def test_graded_problems_have_nothing_to_reveal(tmp_path):
    with pytest.raises(ValueError, match="--reveal needs canonical solutions"):
        cli.main(["eval", "graded", "--model", "http://127.0.0.1:9/v1", "--grader", "http://127.0.0.1:9/v1",
                  "--out", str(tmp_path / "out"), "--reveal", "0.5"])


def test_help_explains_reveal(capsys):
    with pytest.raises(SystemExit):
        cli.main(["eval", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--reveal F" in text and "floor(F x L)" in text


def test_a_recipe_eval_stage_takes_reveal(tmp_path, capsys):
    stages = {"corpus": {}, "tokenizer": {"vocab_size": 512}, "pack": {"seq_len": 64}, "train": {},
              "eval": {"reveal": 0.5, "limit": 3}}
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump({"stages": stages}, sort_keys=False))
    assert cli.main(["run", str(tmp_path / "recipe.yaml"), "--out", str(tmp_path / "run"), "--dry-run"]) == 0
    eval_command = capsys.readouterr().out.rsplit("$ textbooks ", 1)[1].split()
    assert eval_command[:2] == ["eval", "humaneval"] and eval_command[-4:] == ["--reveal", "0.5", "--limit", "3"]


def test_a_model_is_asked_to_complete_the_revealed_prompt_and_scored_on_the_rest(tmp_path, monkeypatch):
    import textbooks.llm
    from textbooks.evaluate import bpb
    from textbooks.llm.base import Response

    problems = {p.prompt: p for p in (revealed(p, 0.5) for p in load_benchmark("humaneval")[:4])}

    class Answers:  # an "LLM" that knows the rest of each solution, but only after the revealed prompt
        def complete(self, requests):
            return [Response(problems[r.prompt].canonical_solution if r.prompt in problems else "", "stop", 0, 0)
                    for r in requests]

    monkeypatch.setattr(textbooks.llm, "open_client", lambda *args, **kwargs: Answers())
    scored = []
    monkeypatch.setattr(bpb, "canonical_bits_per_byte", lambda model, problems: scored.extend(problems) or 1.0)
    cli.main(["eval", "humaneval", "--model", "http://127.0.0.1:9/v1", "--limit", "4", "--k", "1", "--reveal", "0.5",
              "--bits-per-byte", "--out", str(tmp_path / "out")])
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["pass@1"] == 1.0 and summary["reveal"] == 0.5
    assert scored == list(problems.values())
