"""`textbooks synth exercises --teacher mined`: real standard-library functions mined into exercises,
verified in the sandbox, deduplicated, through the one stage shape."""

import ast
import json
import os
import re
from pathlib import Path

import pytest

from textbooks import cli
from textbooks.records import read_manifest, read_records, write_manifest, write_shard

STDLIB = Path(os.__file__).parent
MODULES = ("statistics.py", "pickletools.py", "difflib.py", "colorsys.py")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Two shards of real modules; the second repeats statistics.py under another id, as a copy would."""
    out = tmp_path_factory.mktemp("corpus")
    records = [{"id": f"stdlib/{name}", "text": (STDLIB / name).read_text(encoding="utf-8"), "source": "stdlib",
                "path": str(STDLIB / name)} for name in MODULES]
    copy = {**records[0], "id": "copy/statistics.py", "path": "copy/statistics.py"}
    write_shard(records[:2], out / "00000.parquet")
    write_shard([*records[2:], copy], out / "00001.parquet")
    write_manifest(out, "corpus", {"test": "synth"}, {"records": len(records) + 1})
    return out


@pytest.fixture(scope="module")
def exercises(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "exercises"
    assert cli.main(["synth", "exercises", "--data", str(corpus), "--out", str(out), "--workers", "2"]) == 0
    return out


def test_kept_exercises_passed_their_docstring_examples_in_the_sandbox(exercises):
    kept = list(read_records(exercises))
    # fmean passes with the `from math import fsum` it uses carried above it
    assert {"median", "median_low", "median_high", "read_uint1", "fmean"} <= {r["entry_point"] for r in kept}
    for record in kept:
        assert record["verified"] is True and record["verdict"] == "passed"
        assert record["source"] == "synth:exercises" and record["teacher"] == "mined"
        assert record["prompt"] + record["solution"] == record["text"]
        # the function, after the imports it uses (as in HumanEval's prompts)
        imports, found, _ = record["text"].partition(f"def {record['entry_point']}(")
        assert found and all(isinstance(node, (ast.Import, ast.ImportFrom)) for node in ast.parse(imports).body)
        assert '"""' in record["prompt"]
        assert f"{record['entry_point']}(" in record["tests"]


def test_failures_and_copies_are_rejected_with_their_reason_and_none_is_lost(exercises):
    manifest = read_manifest(exercises)
    kept, rejects = list(read_records(exercises)), list(read_records(exercises / "rejects"))
    assert len(kept) + len(rejects) == manifest["counts"]["records_in"] > 0
    by_name = {r["entry_point"]: r for r in rejects if r["constraints"].count("copy/") == 0}
    # difflib's get_close_matches needs its module's SequenceMatcher: defined alone, it fails with that reason
    assert by_name["get_close_matches"]["reason"].startswith("failed verification: failed: NameError")
    assert "SequenceMatcher" in by_name["get_close_matches"]["reason"]
    copies = [r for r in rejects if "copy/" in r["constraints"]]
    kept_ids = {r["id"] for r in kept}
    assert copies and all(r["reason"] == "exact duplicate" for r in copies if r["verdict"] == "passed")
    assert {r["duplicate_of"] for r in copies if r["verdict"] == "passed"} <= kept_ids
    assert manifest["counts"]["records"] == len(kept) and 0 < manifest["counts"]["pass_rate"] < 1


def test_a_rerun_is_up_to_date(corpus, exercises, capsys):
    capsys.readouterr()
    assert cli.main(["synth", "exercises", "--data", str(corpus), "--out", str(exercises)]) == 0
    assert "up to date" in capsys.readouterr().out


def test_mined_textbook_passages_come_from_cpythons_documentation_and_their_code_runs(tmp_path):
    out = tmp_path / "passages"
    assert cli.main(["synth", "textbook", "--out", str(out), "--workers", "2"]) == 0
    kept, rejects = list(read_records(out)), list(read_records(out / "rejects"))
    manifest = read_manifest(out)
    assert len(kept) + len(rejects) == manifest["counts"]["records_in"] and len(kept) > 300
    assert all(r["source"] == "synth:textbook" and r["teacher"] == "mined" for r in kept)
    assert any('"pydoc_data.topics:' in r["constraints"] for r in kept)
    with_code = [r for r in kept if r["code_blocks"]]
    assert with_code and all(r["code_passed"] >= 1 for r in with_code)  # a passage whose code all fails is dropped
    assert all(r["reason"].startswith(("no code block runs", "a code block does not parse", "exact duplicate",
                                       "near duplicate")) for r in rejects)


def test_docstrings_names_whose_docstrings_become_passages(tmp_path):
    package = tmp_path / "src" / "shapes"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    prose = "A square has four equal sides, so its area is the side times itself. " * 6
    (package / "square.py").write_text(f'"""Squares.\n\n{prose}\n\n>>> 3 * 3\n9\n"""\n')
    out = tmp_path / "passages"
    assert cli.main(["synth", "textbook", "--docstrings", str(tmp_path / "src"), "--out", str(out),
                     "--workers", "1"]) == 0
    origins = [json.loads(r["constraints"])["mined_from"] for r in read_records(out)]
    assert "shapes.square" in origins  # this directory's module, with its example run
    assert not any(origin.startswith(("json", "collections")) for origin in origins)  # not the standard library's
    assert all(origin.startswith(("shapes", "pydoc_data.topics:")) for origin in origins)
    with pytest.raises(NotADirectoryError, match="--docstrings"):
        cli.main(["synth", "textbook", "--docstrings", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")])


def test_a_killed_mined_textbook_run_resumes_without_mining_again(tmp_path, monkeypatch):
    from test_curate_resume import _kill_when

    import textbooks.synth.mined

    docs = Path(json.__file__).parent  # a small package: the run is quick, and killed before it ends
    argv = ["synth", "textbook", "--docstrings", str(docs), "--workers", "1"]
    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    assert cli.main([*argv, "--out", str(reference)]) == 0
    _kill_when(resumed / ".work" / "mined.complete", resumed, [*argv, "--out", str(resumed)])

    def mine_again(*args, **kwargs):
        raise AssertionError("the passages were mined again")

    monkeypatch.setattr(textbooks.synth.mined, "mine_passages", mine_again)
    assert cli.main([*argv, "--out", str(resumed)]) == 0
    assert sorted(r["id"] for r in read_records(resumed)) == sorted(r["id"] for r in read_records(reference))


def test_copies_of_a_dataset_given_to_dedup_against_are_rejected(corpus, tmp_path):
    """Exercises mined before from statistics.py (another copy of it): this run's are copies of them."""
    other = tmp_path / "other-corpus"
    write_shard([{"id": "other/statistics.py", "text": (STDLIB / "statistics.py").read_text(encoding="utf-8"),
                  "source": "stdlib", "path": "other/statistics.py"}], other / "00000.parquet")
    write_manifest(other, "corpus", {"test": "other"}, {"records": 1})
    earlier = tmp_path / "earlier"
    assert cli.main(["synth", "exercises", "--data", str(other), "--out", str(earlier)]) == 0
    out = tmp_path / "deduped"
    assert cli.main(["synth", "exercises", "--data", str(corpus), "--out", str(out),
                     "--dedup-against", str(earlier)]) == 0
    earlier_ids = {r["id"] for r in read_records(earlier)}
    kept = {r["entry_point"] for r in read_records(out)}
    assert "median" not in kept and "read_uint1" in kept  # statistics' exercises were there already
    copies = [r for r in read_records(out / "rejects") if r["reason"] == "exact duplicate"]
    assert {r["duplicate_of"] for r in copies} >= earlier_ids
    assert str(earlier) in read_manifest(out)["inputs"]


def test_a_corpus_with_nothing_to_mine_is_one_line_not_a_crash(tmp_path):
    """Records that hold no documented function (a corpus of assignments, or passages given as
    --data) leave nothing to verify: a one-line error that says so, not an Arrow error."""
    write_shard([{"id": "a", "text": "x = 1\n", "source": "s"}, {"id": "b", "text": "Prose, no code.", "source": "s"}],
                tmp_path / "corpus" / "00000.parquet")
    write_manifest(tmp_path / "corpus", "corpus", {}, {"records": 2})
    with pytest.raises(ValueError, match=r"^synth exercises has nothing to verify: --data .*corpus holds no "
                                         "documented module-level function"):
        cli.main(["synth", "exercises", "--data", str(tmp_path / "corpus"), "--out", str(tmp_path / "out")])


@pytest.mark.parametrize("argv, message", [
    (["exercises"], "--teacher mined needs --data"),
    (["exercises", "--data", "{tmp}/missing"], "is not a dataset directory"),
    (["exercises", "--data", "{tmp}", "--n", "3"], "--teacher mined takes all"),
    (["textbook", "--data", "{tmp}"], "it takes no --data"),
    (["textbook", "--allow-untested"], "--allow-untested keeps mined functions"),
    (["exercises", "--data", "{tmp}", "--docstrings", "packages"], "--docstrings names what"),
    (["exercises", "--teacher", "http://127.0.0.1:9/v1#t", "--n", "3", "--allow-untested"], "--allow-untested"),
    (["exercises", "--teacher", "http://127.0.0.1:9/v1#t"], "needs --n"),
    (["exercises", "--teacher", "http://127.0.0.1:9/v1#t", "--n", "3", "--data", "{tmp}"], "needs none"),
    (["exercises", "--data", "{tmp}", "--timeout", "0"], "--timeout must be positive"),
    (["exercises", "--data", "{tmp}", "--timeout", "nan"], "--timeout must be positive and finite, got nan"),
    (["textbook", "--teacher", "curriculum", "--n", "3", "--estimate"], "--teacher curriculum asks none"),
])
def test_options_that_do_not_go_together_are_refused_before_any_work(argv, message, tmp_path):
    out = tmp_path / "out"
    with pytest.raises((ValueError, FileNotFoundError), match=re.escape(message)):
        cli.main(["synth", *[a.format(tmp=tmp_path) for a in argv], "--out", str(out)])
    assert not out.exists()
