"""`textbooks eval` end to end: canonical solutions pass, wrong ones fail, pass@k, resume."""

import ast
import json
import warnings
from pathlib import Path

import pytest

from textbooks import cli
from textbooks.evaluate import harness
from textbooks.benchmarks import Problem, load_benchmark

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BENCHMARK_FILES = {"humaneval": None, "mbpp": DATA / "mbpp.jsonl", "mbpp-sanitized": DATA / "sanitized-mbpp.json",
                   "humaneval-plus": DATA / "HumanEvalPlus.jsonl.gz"}


def wrong_completion(problem: Problem) -> str:
    """The canonical solution with every function it defines redefined to return None."""
    if problem.task_id.startswith("Mbpp/"):
        with warnings.catch_warnings():  # some MBPP solutions hold invalid escapes like "\w"
            warnings.simplefilter("ignore", SyntaxWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            tree = ast.parse(problem.canonical_solution)
        names = [node.name for node in tree.body if isinstance(node, ast.FunctionDef)]
        overrides = "".join(f"\n\ndef {name}(*args, **kwargs):\n    return None\n" for name in names)
        return problem.canonical_solution + overrides
    return "    return None\n"


def write_samples(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps({"task_id": t, "completion": c}) + "\n" for t, c in rows))
    return path


def evaluate(benchmark: str, samples: Path, out: Path, *extra: str) -> dict:
    data = BENCHMARK_FILES[benchmark]
    argv = ["eval", benchmark, "--samples", str(samples), "--out", str(out), "--k", "1,2,3", *extra]
    cli.main(argv + (["--data", str(data)] if data else []))
    return json.loads((out / "summary.json").read_text())


def check_canonical_pass_and_wrong_fail(benchmark: str, tmp_path: Path) -> None:
    problems = load_benchmark(benchmark, BENCHMARK_FILES[benchmark])
    right = evaluate(benchmark, write_samples(tmp_path / "right.jsonl",
                                              [(p.task_id, p.canonical_solution) for p in problems]),
                     tmp_path / "right", "--timeout", "30")
    assert right["pass@1"] == 1.0, right["outcomes"]
    assert right["outcomes"] == {"passed": len(problems)}
    wrong = evaluate(benchmark, write_samples(tmp_path / "wrong.jsonl",
                                              [(p.task_id, wrong_completion(p)) for p in problems]),
                     tmp_path / "wrong", "--timeout", "30")
    assert wrong["pass@1"] == 0.0, [r for r in map(json.loads, open(tmp_path / "wrong" / "results.jsonl"))
                                    if r["outcome"] == "passed"][:3]


@pytest.mark.parametrize("benchmark", ["humaneval", "mbpp", "mbpp-sanitized"])
def test_canonical_solutions_pass_and_wrong_ones_fail(benchmark, tmp_path):
    check_canonical_pass_and_wrong_fail(benchmark, tmp_path)


@pytest.mark.slow
def test_humaneval_plus_canonical_solutions_pass_and_wrong_ones_fail(tmp_path):
    check_canonical_pass_and_wrong_fail("humaneval-plus", tmp_path)


def test_pass_at_k_of_mixed_samples_is_the_unbiased_estimate(tmp_path):
    problems = load_benchmark("humaneval")[:2]
    right = [(p.task_id, p.canonical_solution) for p in problems]
    wrong = [(p.task_id, "    return None\n") for p in problems]
    # problem 0: 2 of 5 right, the right ones last; problem 1: 1 of 5, first
    rows = [wrong[0]] * 3 + [right[0]] * 2 + [right[1]] + [wrong[1]] * 4
    summary = evaluate("humaneval", write_samples(tmp_path / "s.jsonl", rows), tmp_path / "out", "--limit", "2")
    # unbiased, 1 - C(n-c, k) / C(n, k): pass@2 = (1 - 3/10 + 1 - 6/10) / 2, pass@3 = (1 - 1/10 + 1 - 4/10) / 2.
    # The naive 1 - (1 - c/n)^k gives 0.5 and 0.636; "any of the first k passed" gives 0.5 and 0.5.
    assert summary["pass@1"] == pytest.approx(0.3)
    assert summary["pass@2"] == pytest.approx(0.55)
    assert summary["pass@3"] == pytest.approx(0.75)
    per_problem = [json.loads(line) for line in open(tmp_path / "out" / "problems.jsonl")]
    assert [(p["n"], p["correct"]) for p in per_problem] == [(5, 2), (5, 1)]


def test_bits_per_byte_of_a_known_predictor_is_computed_by_hand():
    import math

    import torch

    from textbooks.evaluate.bpb import LocalScorer, bits_per_byte

    # one token per byte; each position puts probability 1/2 on the next byte value (logit ln 255
    # against 255 others at 0), so the solution "cdef" after "ab" costs exactly 1 bit per byte
    def logits(ids: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(*ids.shape, 256)
        out.scatter_(-1, ((ids + 1) % 256).unsqueeze(-1), math.log(255))
        return out

    scorer = LocalScorer(encode=lambda text: list(text.encode()), logits=logits, max_len=64)
    problem = Problem("t/0", prompt="ab", canonical_solution="cdef", test="", stop=())
    assert bits_per_byte(scorer, [problem]) == pytest.approx(1.0)
    # a byte it did not predict costs log2(510) bits: "cdex" is 3 bits + 8.994 bits over 4 bytes
    surprise = Problem("t/1", prompt="ab", canonical_solution="cdex", test="", stop=())
    assert bits_per_byte(scorer, [surprise]) == pytest.approx((3 + math.log2(510)) / 4)


def test_a_null_completion_is_refused_with_its_line(tmp_path):
    problem = load_benchmark("humaneval")[0]
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": problem.task_id, "completion": "    return 1\n"}) + "\n"
                       + json.dumps({"task_id": problem.task_id, "completion": None}) + "\n")
    with pytest.raises(ValueError, match=r"s.jsonl:2: the completion must be a string, not null"):
        evaluate("humaneval", samples, tmp_path / "out", "--limit", "1")


def test_a_run_that_failed_on_bad_input_does_not_hold_its_out(tmp_path):
    problem = load_benchmark("humaneval")[0]
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": problem.task_id, "completion": None}) + "\n")
    with pytest.raises(ValueError, match="not null"):
        evaluate("humaneval", samples, tmp_path / "out", "--limit", "1")
    write_samples(samples, [(problem.task_id, problem.canonical_solution)])  # corrected
    assert evaluate("humaneval", samples, tmp_path / "out", "--limit", "1")["pass@1"] == 1.0
    # one that produced results still holds them against other settings
    with pytest.raises(ValueError, match="other settings"):
        evaluate("humaneval", samples, tmp_path / "out", "--limit", "1", "--timeout", "3")


def test_a_rerun_executes_nothing_done_and_finishes_a_killed_run(tmp_path, monkeypatch):
    problems = load_benchmark("humaneval")[:6]
    samples = write_samples(tmp_path / "s.jsonl", [(p.task_id, p.canonical_solution) for p in problems])
    out = tmp_path / "out"
    evaluate("humaneval", samples, out, "--limit", "6")
    results = (out / "results.jsonl").read_text().splitlines(keepends=True)
    # as if killed after 2 verdicts, in the middle of writing the third
    (out / "results.jsonl").write_text("".join(results[:2]) + results[2][:10])
    executed = []
    original = harness.execute_samples

    def counting(problems, samples, *args):
        executed.append(len(samples) - 2)
        return original(problems, samples, *args)

    monkeypatch.setattr(harness, "execute_samples", counting)
    summary = evaluate("humaneval", samples, out, "--limit", "6")
    assert summary["pass@1"] == 1.0
    rows = [json.loads(line) for line in open(out / "results.jsonl")]
    assert sorted((r["task_id"], r["index"]) for r in rows) == sorted((p.task_id, 0) for p in problems)
    before = (out / "results.jsonl").read_text()
    evaluate("humaneval", samples, out, "--limit", "6")
    assert (out / "results.jsonl").read_text() == before  # nothing re-executed


def test_a_rerun_with_other_settings_is_refused(tmp_path):
    problems = load_benchmark("humaneval")[:1]
    samples = write_samples(tmp_path / "s.jsonl", [(problems[0].task_id, problems[0].canonical_solution)])
    evaluate("humaneval", samples, tmp_path / "out", "--limit", "1")
    with pytest.raises(ValueError, match="other settings.*timeout"):
        evaluate("humaneval", samples, tmp_path / "out", "--limit", "1", "--timeout", "3")


def test_samples_must_cover_the_benchmark(tmp_path):
    problems = load_benchmark("humaneval")[:3]
    samples = write_samples(tmp_path / "s.jsonl", [(problems[0].task_id, "    return 1\n")])
    with pytest.raises(ValueError, match="no sample for 2 of 3 problems"):
        evaluate("humaneval", samples, tmp_path / "out", "--limit", "3")
    samples = write_samples(tmp_path / "t.jsonl", [("HumanEval/9999", "    return 1\n")])
    with pytest.raises(ValueError, match="not in this benchmark"):
        evaluate("humaneval", samples, tmp_path / "out2", "--limit", "3")


@pytest.fixture(scope="module")
def tiny_checkpoint(make_tiny_checkpoint) -> Path:
    return make_tiny_checkpoint(block_size=512)


def test_eval_of_our_checkpoint_is_reproducible_resumable_and_scores_bits_per_byte(tiny_checkpoint, tmp_path,
                                                                                   monkeypatch):
    args = ["eval", "humaneval", "--model", str(tiny_checkpoint), "--limit", "3", "--n-samples", "2",
            "--temperature", "0.8", "--max-new-tokens", "12", "--k", "1,2", "--bits-per-byte"]
    cli.main(args + ["--out", str(tmp_path / "a")])
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["samples"] == 6 and set(summary) >= {"pass@1", "pass@2", "bits_per_byte"}
    assert 0 < summary["bits_per_byte"] < 50
    samples = [json.loads(line) for line in open(tmp_path / "a" / "samples.jsonl")]
    assert len(samples) == 6 and len({(s["task_id"], s["index"]) for s in samples}) == 6

    cli.main(args + ["--out", str(tmp_path / "b")])  # same seed, fresh directory: the same completions
    again = [json.loads(line) for line in open(tmp_path / "b" / "samples.jsonl")]
    assert [s["completion"] for s in again] == [s["completion"] for s in samples]

    import textbooks.llm

    def no_generation(*args, **kwargs):
        raise AssertionError("a finished evaluation generated again")

    monkeypatch.setattr(textbooks.llm, "open_client", no_generation)
    cli.main(args + ["--out", str(tmp_path / "a")])
    assert json.loads((tmp_path / "a" / "summary.json").read_text())["pass@1"] == summary["pass@1"]


def test_our_checkpoint_its_hf_export_and_an_endpoint_serving_it_score_the_same(tiny_checkpoint, tmp_path):
    from transformers import PreTrainedTokenizerFast

    from test_serve import running
    from textbooks.llm.local import CheckpointClient
    from textbooks.model.hf import export_hf
    from textbooks.tokens import EOT

    local = CheckpointClient(tiny_checkpoint)
    export_hf(local.model, tmp_path / "hf")
    PreTrainedTokenizerFast(tokenizer_file=str(tiny_checkpoint / "tokenizer.json"), eos_token=EOT).save_pretrained(
        tmp_path / "hf")
    args = ["eval", "humaneval", "--limit", "3", "--max-new-tokens", "12", "--k", "1"]

    def completions(model: str, out: str) -> list[str]:
        cli.main(args + ["--model", model, "--out", str(tmp_path / "eval" / out)])
        return [json.loads(line)["completion"] for line in open(tmp_path / "eval" / out / "samples.jsonl")]

    ours = completions(str(tiny_checkpoint), "ours")
    assert completions(str(tmp_path / "hf"), "hf") == ours
    with running(local) as (url, _):
        assert completions(url, "endpoint") == ours
    assert any(ours)


@pytest.mark.parametrize("timeout", ["nan", "0", "-1", "inf"])
def test_a_timeout_that_is_not_a_positive_number_of_seconds_is_refused_before_any_work(tmp_path, timeout):
    samples = write_samples(tmp_path / "s.jsonl", [("HumanEval/0", "    return True\n")])
    with pytest.raises(ValueError, match=f"--timeout must be positive and finite, got {float(timeout)}"):
        cli.main(["eval", "humaneval", "--samples", str(samples), "--limit", "1", "--timeout", timeout,
                  "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()
