"""`textbooks synth exercises|textbook --teacher curriculum`: the offline teacher that is a program.
Every record it keeps passed in the sandbox, a generator bug is a reject with its verdict, the
exercises come in every shape and with many names, and nothing it writes shares a run of eight
words with a benchmark's prompt."""

from __future__ import annotations

import collections
import json
import re
from pathlib import Path

import pytest

from textbooks import cli
from textbooks.benchmarks import load_benchmark
from textbooks.records import read_manifest, read_records
from textbooks.synth import cli as synth_cli
from textbooks.synth.curriculum import exercises as curriculum_exercises
from textbooks.synth.curriculum import lessons
from textbooks.synth.curriculum.library import library
from textbooks.synth.curriculum.teacher import plan, record

MBPP = Path(__file__).resolve().parents[2] / "shared" / "data" / "mbpp.jsonl"


@pytest.fixture(scope="module")
def exercises_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("curriculum") / "exercises"
    assert cli.main(["synth", "exercises", "--teacher", "curriculum", "--n", "400", "--out", str(out)]) == 0
    return out


def test_every_kept_exercise_passed_its_tests_in_the_sandbox(exercises_run):
    kept = list(read_records(exercises_run))
    assert len(kept) >= 380
    assert all(r["verified"] and r["verdict"] == "passed" and r["teacher"] == "curriculum" for r in kept)
    for r in kept[:50]:
        namespace: dict = {}
        exec(r["prompt"] + r["solution"] + "\n" + r["tests"], namespace)  # the record is what was verified
        assert r["entry_point"] in namespace and r["tests"].count("assert ") >= 2
    counts = read_manifest(exercises_run)["counts"]
    assert counts["pass_rate"] == 1.0
    assert 0 < counts["distinct_solutions"] <= counts["records"]


def test_exercises_come_in_every_style_and_idiom_with_many_names(exercises_run):
    kept = list(read_records(exercises_run))
    constraints = [json.loads(r["constraints"]) for r in kept]
    assert {c["style"] for c in constraints} == {"paragraph", "sentence", "args"}
    assert {c["idiom"] for c in constraints} == {"expression", "builtin", "loop"}
    assert {len(c["concept"]) for c in constraints} == {1, 2, 3, 4}
    assert any(r["prompt"].startswith("from typing import") for r in kept)
    assert sum(">>> " in r["prompt"] for r in kept) > 50 and sum("Args:" in r["prompt"] for r in kept) > 50
    parameters = collections.Counter(re.match(r".*?def \w+\((\w+)", r["prompt"], re.S).group(1) for r in kept)
    assert len(parameters) >= 40 and parameters.most_common(1)[0][1] < len(kept) / 10
    assert len({r["entry_point"] for r in kept}) >= len(kept) / 2


def test_n_exercises_start_once_from_every_operation():
    ops, _ = library()
    firsts = collections.Counter(entry["first"] for entry in plan("exercises", len(ops), seed=3))
    assert set(firsts) == {op.key for op in ops} and set(firsts.values()) == {1}


def _curriculum(n, out, kind="exercises"):
    """The curriculum's run, in this process (so that a test's monkeypatching reaches it)."""
    return synth_cli.run(synth_cli.Options(kind=kind, teacher="curriculum", n=n, out=out, executor="serial"))


def test_a_record_is_the_same_whatever_the_shard_layout(tmp_path, monkeypatch):
    monkeypatch.setattr(synth_cli, "MIN_SHARDS", 1)
    first = _curriculum(30, tmp_path / "a")
    monkeypatch.setattr(synth_cli, "MIN_SHARDS", 8)
    second = _curriculum(30, tmp_path / "b")
    assert first["counts"]["steps"]["compose"]["shards"] == 1 and second["counts"]["steps"]["compose"]["shards"] == 8
    assert first["counts"]["records"] == second["counts"]["records"]
    ids = [sorted(r["id"] for r in read_records(tmp_path / name)) for name in ("a", "b")]
    assert ids[0] == ids[1]


def test_a_generator_bug_is_a_reject_with_its_verdict(tmp_path, monkeypatch):
    """Exercises whose asserts the generator got wrong (here: every tenth one's) never come out kept."""
    real = curriculum_exercises.asserts
    calls = collections.Counter()

    def wrong_now_and_then(program, pairs):
        calls["n"] += 1
        text = real(program, pairs)
        return text.replace(" == ", " != ", 1) if calls["n"] % 10 == 0 else text

    monkeypatch.setattr(curriculum_exercises, "asserts", wrong_now_and_then)
    manifest = _curriculum(60, tmp_path / "out")
    rejects = list(read_records(tmp_path / "out" / "rejects"))
    assert len(rejects) >= 5 and manifest["counts"]["by_reason"]["failed verification: failed"] == len(rejects)
    assert all("AssertionError" in r["verdict"] for r in rejects)
    assert all(" != " not in r["tests"] for r in read_records(tmp_path / "out"))


def test_every_lesson_is_kept_only_if_all_its_blocks_run(tmp_path, monkeypatch):
    out = tmp_path / "lessons"
    assert cli.main(["synth", "textbook", "--teacher", "curriculum", "--n", "24", "--out", str(out)]) == 0
    kept = list(read_records(out))
    assert len(kept) >= 20 and all(r["verified"] and r["verdict"] == "passed" for r in kept)
    for r in kept:
        assert set(re.findall(r"^## .*$", r["text"], re.M)) == {"## The idea", "## A worked example",
                                                               "## A common mistake", "## Exercise"}
    _, families = library()
    assert len({json.loads(r["constraints"])["family"] for r in kept}) >= min(20, len(families))
    # A worked example whose shown output is wrong fails its session, and so the whole lesson.
    real = lessons._calls
    monkeypatch.setattr(lessons, "_calls", lambda tests: [(call, output + " + [0]") for call, output in real(tests)])
    manifest = _curriculum(6, tmp_path / "broken", "textbook")
    assert manifest["counts"]["records"] == 0 and manifest["counts"]["by_reason"] == {"a code block fails": 6}


def test_exercises_and_passages_are_two_kinds_of_output_neither_replaces_the_other(tmp_path):
    """synth textbook into a finished synth exercises output (or the reverse) is refused, touching
    nothing, as every other cross-kind --out is; an output written before the kinds were told apart
    (its manifest says `synth`) is known by its config's kind."""
    exercises = tmp_path / "exercises"
    assert cli.main(["synth", "exercises", "--teacher", "curriculum", "--n", "12", "--out", str(exercises)]) == 0
    assert read_manifest(exercises)["stage"] == "synth exercises"
    before = sorted((p.name, p.stat().st_mtime_ns) for p in exercises.iterdir())
    with pytest.raises(FileExistsError, match="holds the output of the synth exercises stage, not synth textbook"):
        cli.main(["synth", "textbook", "--teacher", "curriculum", "--n", "12", "--out", str(exercises)])
    manifest = read_manifest(exercises)
    (exercises / "manifest.json").write_text(json.dumps({**manifest, "stage": "synth"}))  # as an older run wrote it
    with pytest.raises(FileExistsError, match="holds the output of the synth exercises stage"):
        cli.main(["synth", "textbook", "--out", str(exercises)])
    assert sorted((p.name, p.stat().st_mtime_ns) for p in exercises.iterdir() if p.name != "manifest.json") == \
        [entry for entry in before if entry[0] != "manifest.json"]
    assert cli.main(["synth", "exercises", "--teacher", "curriculum", "--n", "12", "--out", str(exercises)]) == 0


def test_lessons_cover_every_family():
    _, families = library()
    planned = plan("textbook", len(families), seed=0)
    assert {entry["family"] for entry in planned} == set(families)
    lesson = record("textbook", planned[0])
    assert lesson["text"].count("```python") >= 5 and "reason" not in lesson


def _runs(text: str, size: int = 8) -> set[tuple[str, ...]]:
    """The runs of `size` words of a text, lower-cased, numbers and punctuation aside."""
    words = [w for w in re.findall(r"[a-z_]+", text.lower())]
    return {tuple(words[i:i + size]) for i in range(len(words) - size + 1)}


def test_no_template_or_docstring_shares_eight_words_with_a_benchmark_prompt():
    benchmark = set()
    for problem in load_benchmark("humaneval"):
        benchmark |= _runs(problem.prompt)
    if MBPP.exists():
        for line in MBPP.read_text().splitlines():
            benchmark |= _runs(json.loads(line)["text"])
    assert len(benchmark) > 10_000
    ops, families = library()
    ours = [phrasing for op in ops for phrasing in op.phrasings]
    ours += [text for family in families.values() for text in (*family.explanations, family.title)]
    ours += [mistake.why for family in families.values() for mistake in family.mistakes]
    ours += [record("exercises", entry)["prompt"] for entry in plan("exercises", 3000, seed=11)]
    shared = [text for text in ours if _runs(text) & benchmark]
    assert not shared, shared[:3]


def test_with_concepts_a_teacher_llm_is_asked_for_the_curriculums_exercises():
    from textbooks.synth.sampler import load_template, load_topics

    options = synth_cli.Options(kind="exercises", teacher="http://127.0.0.1:9/v1#t", n=40, seed=5, concepts=True,
                                out="unused")
    prompts = synth_cli.plan_records(load_topics(), load_template("exercises"), options)
    ops, families = library()
    firsts = {entry["first"] for entry in plan("exercises", 40, seed=5)}
    for prompt in prompts:
        constraints = json.loads(prompt["constraints"])
        assert constraints["concept"].startswith("What it computes: ") and constraints["concept"] in prompt["text"]
        assert f"`{constraints['function_name']}`" in prompt["text"]
        assert constraints["topic"] in {family.topic for family in families.values()}
    assert len(firsts) == 40
    plain = synth_cli.plan_records(load_topics(), load_template("exercises"),
                                   options.model_copy(update={"concepts": False}))
    assert all("What it computes" not in prompt["text"] for prompt in plain)
    with pytest.raises(ValueError, match="--concepts .* synth exercises only"):
        cli.main(["synth", "textbook", "--teacher", "http://127.0.0.1:9/v1#t", "--n", "2", "--concepts",
                  "--out", "/tmp/never-written"])
