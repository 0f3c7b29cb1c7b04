"""`textbooks decontam`: real standard-library functions with HumanEval solutions planted among them,
scored by n-gram, embedding and AST similarity; the copies pruned with a reason naming their task,
the tau sweep, and the similar / non-similar split written for eval."""

import ast
import inspect
import json
import re
import textwrap

import pytest

from textbooks import cli
from textbooks.benchmarks import load_benchmark
from textbooks.records import read_manifest, read_records, write_manifest, write_shard

MODULES = ("textwrap", "colorsys", "statistics", "fnmatch")
PLANTED = ("HumanEval/0", "HumanEval/12", "HumanEval/35")


def stdlib_functions() -> list[str]:
    """The module-level functions of a few standard-library modules, as written."""
    functions = []
    for name in MODULES:
        source = inspect.getsource(__import__(name))
        for node in ast.parse(source).body:
            if isinstance(node, ast.FunctionDef):
                functions.append(ast.get_source_segment(source, node))
    return functions


def renamed(code: str) -> str:
    """The code with its function, argument and local names changed, as a contaminator would."""
    tree = ast.parse(code)
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    names |= {a.arg for a in ast.walk(tree) if isinstance(a, ast.arg)}
    names |= {f.name for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)}
    for name in sorted(names, key=len, reverse=True):
        code = re.sub(rf"\b{name}\b", f"my_{name}_x", code)
    return code


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Two shards: real functions, then the same with three HumanEval solutions planted, one renamed."""
    problems = {p.task_id: p for p in load_benchmark("humaneval")}
    real = stdlib_functions()
    planted = [problems[t].prompt + problems[t].canonical_solution for t in PLANTED]
    planted[2] = renamed(planted[2])
    texts = real[:40] + planted[:2] + real[40:] + [planted[2]]
    directory = tmp_path_factory.mktemp("data")
    half = len(texts) // 2
    for shard, chunk in enumerate((texts[:half], texts[half:])):
        write_shard([{"id": f"r{shard}-{i}", "text": text, "source": "test"} for i, text in enumerate(chunk)],
                    directory / f"{shard:05d}.parquet")
    write_manifest(directory, "corpus", {"test": "decontam"}, {"records": len(texts)})
    return directory


@pytest.fixture(scope="module")
def decontaminated(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("decontam") / "out"
    assert cli.main(["decontam", "--data", str(dataset), "--against", "humaneval", "--out", str(out),
                     "--methods", "ngram,ast", "--tau", "0.9", "--workers", "2"]) == 0
    return out


def test_planted_solutions_are_pruned_with_their_task_and_the_real_functions_kept(dataset, decontaminated):
    kept, pruned = list(read_records(decontaminated)), list(read_records(decontaminated / "rejects"))
    assert len(kept) + len(pruned) == len(list(read_records(dataset)))
    assert sorted(r["ast_task"] for r in pruned) == sorted(PLANTED)
    for record in pruned:
        assert record["ast_lines"] is None  # each planted solution is its record's whole code
        assert record["reason"].startswith("similar to a benchmark problem: ast match")
        assert record["ast_task"] in record["reason"] and record["ast_match"] >= 0.9 and record["ast_parsed"]
    assert all(r["ast_match"] < 0.9 for r in kept)
    exact = [r for r in pruned if r["ast_task"] != PLANTED[2]]
    assert all(r["ngram_overlap"] > 0 and r["ngram_task"] == r["ast_task"] for r in exact)
    assert all(r["nearest_task"] is None and r["embedding_l2"] is None for r in kept + pruned)  # not asked for


def test_similar_json_splits_the_problems_and_the_sweep_is_table_3(decontaminated):
    similar = json.loads((decontaminated / "similar.json").read_text())
    tasks = similar["tasks"]
    assert len(tasks) == 164 and {t for t, v in tasks.items() if v["similar"]} == set(PLANTED)
    assert similar["prune"] == {"methods": ["ast"], "tau": 0.9, "max_l2": 0.3, "min_ngrams": 1}
    counts = read_manifest(decontaminated)["counts"]
    sweep = counts["sweep"]
    assert [row["tau"] for row in sweep] == [0.95, 0.9, 0.85, 0.8]
    assert [row["pruned"] for row in sweep] == sorted(row["pruned"] for row in sweep)  # a lower tau prunes more
    assert sweep[1]["pruned"] == counts["rejected"] == 3 and sweep[1]["similar_problems"] == 3
    assert counts["similar_problems"] == 3 and counts["problems"] == 164 and counts["flagged_by"] == {"ast": 3}


def test_several_prune_on_methods_prune_what_any_of_them_flags(dataset, tmp_path):
    out = tmp_path / "out"
    assert cli.main(["decontam", "--data", str(dataset), "--against", "humaneval", "--out", str(out),
                     "--methods", "ngram,ast", "--prune-on", "ast,ngram", "--tau", "0.999", "--min-ngrams", "5",
                     "--workers", "1"]) == 0
    pruned = {r["ast_task"]: r for r in read_records(out / "rejects")}
    assert set(pruned) == set(PLANTED)  # the renamed copy by the AST match alone: its n-grams changed
    assert "ast match" in pruned[PLANTED[2]]["reason"] and "n-grams" not in pruned[PLANTED[2]]["reason"]
    assert all("ast match" in pruned[t]["reason"] and "n-grams shared" in pruned[t]["reason"] for t in PLANTED[:2])
    assert read_manifest(out)["counts"]["flagged_by"] == {"ast": 3, "ngram": 2}


def test_a_rerun_is_up_to_date(dataset, decontaminated, capsys):
    assert cli.main(["decontam", "--data", str(dataset), "--against", "humaneval", "--out", str(decontaminated),
                     "--methods", "ngram,ast", "--tau", "0.9", "--workers", "2"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_the_embedding_method_finds_the_nearest_solution(dataset, make_tiny_checkpoint, tmp_path):
    embedder = make_tiny_checkpoint(block_size=512)
    out = tmp_path / "embedded"
    assert cli.main(["decontam", "--data", str(dataset), "--against", "humaneval", "--out", str(out),
                     "--methods", "embedding", "--prune-on", "embedding", "--max-l2", "0.001",
                     "--embedder", str(embedder), "--workers", "1"]) == 0
    pruned = list(read_records(out / "rejects"))
    # the two planted unchanged are the same text as their solution: distance 0, nearest their own task
    assert sorted(r["nearest_task"] for r in pruned) == sorted(PLANTED[:2])
    assert all(r["embedding_l2"] <= 0.001 and "embedding L2" in r["reason"] for r in pruned)
    assert all(r["embedding_l2"] > 0.001 for r in read_records(out))


def test_mbpp_from_a_file_is_a_benchmark_too(dataset, tmp_path):
    mbpp = load_benchmark("mbpp", "../shared/data/mbpp.jsonl")
    data = tmp_path / "data"
    write_shard([{"id": "copy", "text": mbpp[0].canonical_solution, "source": "test"},
                 {"id": "real", "text": stdlib_functions()[0], "source": "test"}], data / "00000.parquet")
    write_manifest(data, "corpus", {"test": "mbpp"}, {"records": 2})
    out = tmp_path / "out"
    assert cli.main(["decontam", "--data", str(data), "--against", "humaneval,mbpp=../shared/data/mbpp.jsonl",
                     "--out", str(out), "--methods", "ast", "--workers", "1"]) == 0
    [pruned] = list(read_records(out / "rejects"))
    assert pruned["id"] == "copy" and pruned["ast_task"] == mbpp[0].task_id
    assert len(json.loads((out / "similar.json").read_text())["tasks"]) == 164 + len(mbpp)


@pytest.mark.parametrize("argv, error, message", [
    (["--against", "humaneval,humaneval-plus=../shared/data/HumanEvalPlus.jsonl.gz"], ValueError, "in both"),
    (["--against", "nonsense"], SystemExit, None),
    (["--against", "humaneval", "--methods", "ast", "--prune-on", "embedding"], ValueError, "--prune-on embedding"),
    (["--against", "humaneval", "--tau", "1.5"], SystemExit, None),
])
def test_bad_options_are_refused_before_any_work(dataset, tmp_path, argv, error, message):
    out = tmp_path / "out"
    with pytest.raises(error, match=re.escape(message) if message else None):
        cli.main(["decontam", "--data", str(dataset), "--out", str(out), *argv])
    assert not out.exists()


def test_code_that_does_not_parse_is_scored_by_tokens_and_says_so(tmp_path):
    problem = {p.task_id: p for p in load_benchmark("humaneval")}["HumanEval/12"]
    broken = problem.prompt + problem.canonical_solution + "\n    return (\n"  # an unclosed bracket
    prose = textwrap.dedent("""\
        A chapter on strings: to find the longest of several strings, walk through them keeping the best.""")
    data = tmp_path / "data"
    write_shard([{"id": "broken", "text": broken, "source": "test"}, {"id": "prose", "text": prose, "source": "t"}],
                data / "00000.parquet")
    write_manifest(data, "corpus", {"test": "broken"}, {"records": 2})
    out = tmp_path / "out"
    assert cli.main(["decontam", "--data", str(data), "--against", "humaneval", "--out", str(out),
                     "--methods", "ast", "--tau", "0.8", "--workers", "1"]) == 0
    records = {r["id"]: r for r in list(read_records(out)) + list(read_records(out / "rejects"))}
    assert records["broken"]["ast_parsed"] is False and records["broken"]["ast_task"] == "HumanEval/12"
    assert records["broken"]["ast_match"] >= 0.8 and records["broken"]["reason"]
    assert records["prose"]["ast_match"] < 0.8


def test_eval_reports_pass_at_k_on_the_similar_and_the_non_similar_problems(decontaminated, tmp_path, capsys):
    problems = {p.task_id: p for p in load_benchmark("humaneval")}
    samples = tmp_path / "samples.jsonl"
    # right answers to two of the three similar problems, a wrong one to every other problem
    samples.write_text("".join(json.dumps({"task_id": task, "completion": problems[task].canonical_solution
                                           if task in PLANTED[:2] else "    return None\n"}) + "\n"
                               for task in list(problems)[:40]))
    out = tmp_path / "eval"
    assert cli.main(["eval", "humaneval", "--samples", str(samples), "--limit", "40", "--out", str(out),
                     "--split", str(decontaminated / "similar.json"), "--k", "1"]) == 0
    split = json.loads((out / "summary.json").read_text())["split"]
    assert split == {"similar": {"problems": 3, "pass@1": pytest.approx(2 / 3)},
                     "non_similar": {"problems": 37, "pass@1": 0.0}}
    assert "similar problems (3): pass@1 66.67%" in capsys.readouterr().out

    elsewhere = tmp_path / "other.json"
    elsewhere.write_text(json.dumps({"tasks": {"HumanEval/0": {"similar": True}}}))
    with pytest.raises(ValueError, match="says nothing of 39 of the 40 problems"):
        cli.main(["eval", "humaneval", "--samples", str(samples), "--limit", "40", "--out", str(tmp_path / "e2"),
                  "--split", str(elsewhere), "--k", "1"])


def test_a_killed_run_resumes_to_the_uninterrupted_output(dataset, tmp_path):
    from test_curate_resume import _kill_when, _outputs

    records = list(read_records(dataset))
    data = tmp_path / "data"
    for shard in range(8):  # small shards: the kill comes while most are still to do
        write_shard(records[shard::8], data / f"{shard:05d}.parquet")
    write_manifest(data, "corpus", {"test": "eight shards"}, {"records": len(records)})

    def argv(out):
        return ["decontam", "--data", str(data), "--against", "humaneval", "--out", str(out),
                "--methods", "ngram,ast", "--tau", "0.9", "--workers", "1"]

    assert cli.main(argv(tmp_path / "reference")) == 0
    resumed = tmp_path / "resumed"
    _kill_when(resumed / "00000.parquet", resumed, argv(resumed))
    assert cli.main(argv(resumed)) == 0
    assert read_manifest(resumed)["counts"]["steps"]["score"]["shards_skipped"] >= 1
    assert _outputs(resumed) == _outputs(tmp_path / "reference")
