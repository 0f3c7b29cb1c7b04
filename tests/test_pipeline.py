"""`textbooks run`: the stage table wires a recipe's stages, skips what is up to date, reruns a
changed stage and what follows it, resumes a killed one; end to end on a slice of the standard library."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from test_curate_resume import DefJudge, _kill_when, _outputs
from test_synth_teacher import _reply
from textbooks import cli, commands
from textbooks.sources import default_source_dir, python_files
from textbooks.pipeline import packaged_config, plan, record_step, start
from textbooks.records import read_manifest

SMALL_RUN = {
    "stages": {
        "corpus": {"source": "stdlib", "limit": 150},
        "label": {"sample": 100},  # both classes, enough of each for the forest's held-out split
        "classify": {"top_fraction": 0.5},
        "tokenizer": {"vocab_size": 600},
        "pack": {"seq_len": 64, "val_fraction": 0.1},
        "train": {"recipe": "cpu-pretrain.yaml",
                  "overrides": {"model.preset": "cpu-tiny", "model.n_layer": 1, "model.block_size": 64,
                                "train.max_steps": 4, "train.warmup_steps": 1, "checkpoint.every": 2}},
        "eval": {"benchmark": "humaneval", "limit": 4, "max_new_tokens": 16, "bits_per_byte": True},
    }
}


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """60 files of this machine's standard library, in a directory of their own."""
    directory = tmp_path_factory.mktemp("sources")
    for number, path in enumerate(sorted(python_files(default_source_dir()))[:60]):
        shutil.copy(path, directory / f"{number:03d}_{path.name}")
    return directory


def write_recipe(path: Path, stages: dict) -> Path:
    path.write_text(yaml.safe_dump({"stages": stages}, sort_keys=False))
    return path


def test_the_default_recipe_runs_the_whole_recipe_and_a_dry_run_changes_nothing(tmp_path, capsys):
    stages = yaml.safe_load(packaged_config("default.yaml").read_text())["stages"]
    steps = {step.stage.name: step for step in plan(stages, tmp_path / "out")}
    assert {name: list(step.inputs) for name, step in steps.items()} == {
        "corpus": [], "label": ["corpus"], "classify": ["corpus", "label"], "synth-textbook": [],
        "mix": ["classify", "synth-textbook"], "tokenizer": ["mix"], "pack": ["mix", "tokenizer"],
        "pretrain": ["pack"], "synth-exercises": [], "decontam": ["synth-exercises"],
        "pack-exercises": ["decontam", "tokenizer"], "finetune": ["pack-exercises", "pretrain"],
        "eval-base": ["pretrain", "decontam"], "eval-final": ["finetune", "decontam"],
        "eval-base-reveal": ["pretrain"], "eval-final-reveal": ["finetune"], "eval-final-sampled": ["finetune"],
        "audit-pretraining": ["mix"], "audit-exercises": ["decontam"]}
    out = tmp_path / "out"
    assert steps["mix"].command[:5] == ["mix", "--part", f"{out / 'classify'}=0.5",
                                        "--part", f"{out / 'synth-textbook'}=0.5"]
    for synth in ("synth-textbook", "synth-exercises"):  # the curriculum teacher: a program, no --data
        assert steps[synth].command[4:7] == ["--teacher", "curriculum", "--n"]
    assert "--reveal" in steps["eval-final-reveal"].command and "20" in steps["eval-final-sampled"].command
    assert steps["finetune"].command[:5] == ["train", "--data.path", str(out / "pack-exercises"),
                                             "--train.init_from", str(out / "pretrain")]
    assert steps["eval-final"].command[:6] == ["eval", "humaneval", "--model", str(out / "finetune"),
                                               "--split", str(out / "decontam" / "similar.json")]
    assert all(step.action == "run" for step in steps.values())

    assert cli.main(["run", "--out", str(tmp_path / "out"), "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("[run]") == 19 and "tokenizer (reads mix)" in printed
    assert not (tmp_path / "out").exists()  # nothing was run, nothing written


def test_without_curation_the_tokenizer_and_pack_read_the_corpus(tmp_path):
    steps = plan({"corpus": {}, "tokenizer": {"vocab_size": 400}, "pack": {"seq_len": 16}}, tmp_path)
    assert [list(step.inputs) for step in steps] == [[], ["corpus"], ["corpus", "tokenizer"]]


def test_each_input_reads_the_latest_stage_of_its_kind_or_the_one_from_names(tmp_path):
    steps = {step.stage.name: step for step in plan({
        "corpus": {}, "other": {"use": "corpus", "source": "packages"}, "tokenizer": {},
        "pack-a": {"use": "pack", "from": {"data": "corpus"}}, "pack-b": {"use": "pack"},
        "train-a": {"use": "train", "from": {"data": "pack-a"}}, "train-b": {"use": "train"},
        "eval": {}}, tmp_path)}
    assert list(steps["tokenizer"].inputs) == ["other"]  # the latest documents
    assert list(steps["pack-a"].inputs) == ["corpus", "tokenizer"]
    assert list(steps["pack-b"].inputs) == ["other", "tokenizer"]
    assert list(steps["train-a"].inputs) == ["pack-a"] and list(steps["train-b"].inputs) == ["pack-b"]
    assert list(steps["eval"].inputs) == ["train-b"] and "--split" not in steps["eval"].command
    assert steps["other"].command[:2] == ["corpus", "--out"] and steps["other"].out == tmp_path / "other"


def test_a_teacher_reaches_the_labeler_and_synthesis_with_their_teacher_options(tmp_path):
    stages = {"corpus": {}, "label": {}, "synth-exercises": {"with_teacher": {"n": 50}},
              "synth-textbook": {"timeout": 5, "with_teacher": {"n": 20}}}
    mined = {step.stage.name: step.command for step in plan(stages, tmp_path)}
    assert mined["synth-exercises"] == ["synth", "exercises", "--data", str(tmp_path / "corpus"),
                                        "--out", str(tmp_path / "synth-exercises")]
    assert "--labeler" not in mined["label"] and "--n" not in mined["synth-textbook"]
    url = "http://127.0.0.1:9/v1#teacher"
    taught = {step.stage.name: step for step in plan(stages, tmp_path, teacher=url)}
    assert taught["label"].command[-2:] == ["--labeler", url]
    assert taught["synth-exercises"].command == ["synth", "exercises", "--out", str(tmp_path / "synth-exercises"),
                                                 "--teacher", url, "--n", "50"]  # no corpus to mine
    assert list(taught["synth-exercises"].inputs) == []
    assert taught["synth-textbook"].command[4:] == ["--teacher", url, "--timeout", "5", "--n", "20"]


def test_a_curriculum_stage_reads_no_corpus_and_a_recipe_teacher_replaces_it(tmp_path):
    stages = {"corpus": {}, "synth-exercises": {"teacher": "curriculum", "n": 300, "with_teacher": {"n": 50}}}
    offline = {step.stage.name: step for step in plan(stages, tmp_path)}
    assert offline["synth-exercises"].command == ["synth", "exercises", "--out", str(tmp_path / "synth-exercises"),
                                                  "--teacher", "curriculum", "--n", "300"]
    assert list(offline["synth-exercises"].inputs) == []
    url = "http://127.0.0.1:9/v1#teacher"
    taught = {step.stage.name: step for step in plan(stages, tmp_path, teacher=url)}
    assert taught["synth-exercises"].command[4:] == ["--teacher", url, "--n", "50"]


@pytest.mark.parametrize("stages,message", [
    ({"corpus": {}, "clasify": {}}, "the stage clasify runs no known command"),
    ({"corpus": {}, "classify": {}}, "classify stage reads the output of label"),
    ({"pack": {"seq_len": 8}}, "pack stage reads the output of a stage that writes documents, tokenizer"),
    ({"corpus": {}, "tokenizer": {"vocab_size": 400}, "pack": {"seq_len": 8},
      "train": {"recipe": "cpu-pretrain.yaml", "lr": 1}}, "unknown train stage keys: lr"),
    ({"corpus": {}, "tokenizer": {"from": {"corpus": "corpus"}}}, "tokenizer stage has no input corpus"),
    ({"corpus": {}, "tokenizer": {"from": {"data": "mix"}}}, "tokenizer stage reads mix .its `from:`."),
    ({"corpus": {}, "mix": {"part": {"corpus": 0.5, "synth-textbook": 0.5}}, "synth-textbook": {}},
     "mix stage reads synth-textbook .its parts.: no stage of that name runs before it"),
    ({"corpus": {"with_teacher": {"limit": 5}}}, "corpus stage has with_teacher options, but corpus asks no teacher"),
])
def test_a_recipe_that_cannot_run_is_named_before_anything_runs(tmp_path, stages, message):
    with pytest.raises(ValueError, match=message):
        cli.main(["run", str(write_recipe(tmp_path / "r.yaml", stages)), "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out" / "corpus").exists()


@pytest.mark.parametrize("text, message", [
    ("", "this one has none"), ("stages: {}\n", "this one has none"), ("- corpus\n", "this one has none"),
    ("stages:\n  corpus: {limit: 3\n", "is not valid YAML: while parsing a flow mapping"),
])
def test_a_recipe_with_nothing_to_run_or_bad_yaml_is_refused_and_the_run_kept(tmp_path, text, message):
    """An empty or malformed recipe file is one line naming it, and the run's recipe.yaml is kept."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "recipe.yaml").write_text("stages: {corpus: {}}\n")
    (tmp_path / "r.yaml").write_text(text)
    with pytest.raises(ValueError, match=f"r.yaml.*{message}") as refused:
        cli.main(["run", str(tmp_path / "r.yaml"), "--out", str(out)])
    assert "\n" not in str(refused.value) and (out / "recipe.yaml").read_text() == "stages: {corpus: {}}\n"


@pytest.mark.parametrize("name", ["../../victim/corpus", "{tmp}/victim/corpus", "a/b", "..", ".hidden",
                                  "report.html", "recipe.yaml", "pipeline.json", ".lock", "llm-cache.sqlite"])
def test_a_stage_name_is_a_plain_name_in_out_never_a_path(tmp_path, name):
    """A stage writes OUT/<name>: a name that is a path, or one of the run's own files, is refused
    before anything runs, dry or not, and a dataset outside OUT is left as it was."""
    victim = tmp_path / "victim" / "corpus"
    victim.mkdir(parents=True)
    (victim / "manifest.json").write_text('{"stage": "corpus"}')
    recipe = write_recipe(tmp_path / "r.yaml", {name.format(tmp=tmp_path): {"use": "corpus", "limit": 3}})
    for dry in ([], ["--dry-run"]):
        with pytest.raises(ValueError, match="is not a plain name"):
            cli.main(["run", str(recipe), "--out", str(tmp_path / "run" / "out"), *dry])
    assert [p.name for p in victim.iterdir()] == ["manifest.json"] and not (tmp_path / "run").exists()


def test_a_recipe_is_a_file_or_a_packaged_name_and_its_arms_name_its_stages(tmp_path, capsys):
    assert cli.main(["run", "ablation", "--out", str(tmp_path / "out"), "--dry-run"]) == 0
    assert "eval-raw-s1" in capsys.readouterr().out
    with pytest.raises(FileNotFoundError, match="neither a file nor a packaged recipe"):
        cli.main(["run", "ablaton", "--out", str(tmp_path / "out")])
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({"stages": {"corpus": {}}, "arms": {"raw": ["corpus", "eval-raw"]}}))
    with pytest.raises(ValueError, match="arms name stages the recipe does not have: eval-raw"):
        cli.main(["run", str(recipe), "--out", str(tmp_path / "out")])


@pytest.mark.parametrize("override, message", [
    ({"train.max_stesp": 4}, "train.max_stesp"), ({"train.max_steps": "many"}, "train.max_steps"),
    ({"modle.n_layer": 1}, "modle"),
])
def test_a_typo_inside_train_overrides_is_named_before_any_stage_runs(sources, tmp_path, override, message):
    """The training recipe's overrides are checked against its schema when the plan is made, dry or
    not, not after the stages before training have run."""
    stages = {"corpus": {"source": str(sources)}, "tokenizer": {"vocab_size": 400}, "pack": {"seq_len": 16},
              "train": {"recipe": "cpu-pretrain.yaml", "overrides": override}}
    recipe = write_recipe(tmp_path / "r.yaml", stages)
    for dry in (["--dry-run"], []):
        with pytest.raises(ValueError, match=message):
            cli.main(["run", str(recipe), "--out", str(tmp_path / "out"), *dry])
    assert not (tmp_path / "out" / "corpus").exists()


def test_a_misspelt_stage_option_is_named_before_any_stage_runs(sources, tmp_path, capsys):
    recipe = write_recipe(tmp_path / "r.yaml", {"corpus": {"source": str(sources)}, "label": {"smaple": 5}})
    with pytest.raises(SystemExit) as usage_error:
        cli.main(["run", str(recipe), "--out", str(tmp_path / "out")])
    assert usage_error.value.code == 2 and "textbooks label: error: unrecognized arguments: --smaple 5" in \
        capsys.readouterr().err
    assert not (tmp_path / "out" / "corpus").exists()


def test_a_killed_training_run_resumes_and_a_changed_one_starts_over(tmp_path):
    stages = {"corpus": {}, "tokenizer": {"vocab_size": 400}, "pack": {"seq_len": 16},
              "train": {"recipe": "cpu-pretrain.yaml", "overrides": {"train.max_steps": 10}}}
    for step in plan(stages, tmp_path):  # as a run killed during training leaves it
        (tmp_path / step.stage.name).mkdir()
        record_step(tmp_path, step, finished=step.stage.name != "train")
    (tmp_path / "train" / "checkpoints").mkdir()
    (tmp_path / "train" / "checkpoints" / "latest").write_text("step-00000004")

    train = plan(stages, tmp_path)[-1]
    assert (train.action, train.why) == ("resume", "its last run did not finish")
    assert start(train, tmp_path)[-1] == "--resume"
    assert train.command[train.command.index("--train.max_steps") + 1] == "10"

    stages["train"]["overrides"]["train.max_steps"] = 20
    train = plan(stages, tmp_path)[-1]
    assert (train.action, train.why) == ("run", "its options changed")
    assert "--resume" not in start(train, tmp_path) and not (tmp_path / "train").exists()


def test_two_stages_skip_when_up_to_date_rerun_what_changed_and_resume_a_killed_stage(sources, tmp_path, capsys):
    out = tmp_path / "out"
    with DefJudge(delay_s=0.05) as judge:
        def recipe(limit=60, sample=40):
            return write_recipe(tmp_path / "r.yaml", {
                "corpus": {"source": str(sources), "shard_size": 15, "limit": limit},
                "label": {"sample": sample, "labeler": f"{judge.url}#judge"}})

        # killed mid-way through label's shards, then rerun: corpus is skipped, label resumes
        _kill_when(out / "label" / "00000.parquet", out / "label", ["run", str(recipe()), "--out", str(out)])
        assert cli.main(["run", str(recipe()), "--out", str(out)]) == 0
        printed = capsys.readouterr().out
        assert "[up to date] corpus" in printed and "[resume] label (reads corpus): its last run did not finish" \
            in printed and "resuming the unfinished label" in printed
        assert read_manifest(out / "label")["counts"]["steps"]["label"]["shards_skipped"] >= 1
        assert cli.main(["label", "--data", str(out / "corpus"), "--out", str(tmp_path / "reference"),
                         "--sample", "40", "--labeler", f"{judge.url}#judge"]) == 0
        assert _outputs(out / "label") == _outputs(tmp_path / "reference")

        # up to date: nothing runs, nothing is asked of the judge
        asked, labeled = judge.count, (out / "label" / "manifest.json").stat().st_mtime_ns
        capsys.readouterr()
        assert cli.main(["run", str(recipe()), "--out", str(out)]) == 0
        assert capsys.readouterr().out.count("[up to date]") == 2 and judge.count == asked
        assert (out / "label" / "manifest.json").stat().st_mtime_ns == labeled

        # label's options changed: label reruns (its cached answers cost nothing), corpus does not
        corpus_made = (out / "corpus" / "manifest.json").stat().st_mtime_ns
        assert cli.main(["run", str(recipe(sample=20)), "--out", str(out)]) == 0
        printed = capsys.readouterr().out
        assert "[up to date] corpus" in printed and "[run] label (reads corpus): its options changed" in printed
        assert read_manifest(out / "label")["counts"]["records"] == 20 and judge.count == asked
        assert (out / "corpus" / "manifest.json").stat().st_mtime_ns == corpus_made

        # the corpus changed: it reruns, and so does label, which reads it
        assert cli.main(["run", str(recipe(limit=30, sample=20)), "--out", str(out)]) == 0
        printed = capsys.readouterr().out
        assert "[run] corpus" in printed and "[run] label (reads corpus): its input corpus changed" in printed
        assert re.search(r"corpus +[\d.]+ s +[\d,]+ MiB\nlabel +[\d.]+ s +[\d,]+ MiB", printed)  # what each cost
        assert read_manifest(out / "corpus")["counts"]["records_in"] == 30
        corpus_hash = read_manifest(out / "corpus")["config_hash"]
        assert read_manifest(out / "label")["inputs"] == {str(out / "corpus"): corpus_hash}
    ledger = json.loads((out / "pipeline.json").read_text())
    assert all(entry["finished"] for entry in ledger.values())
    assert all(entry["usage"]["wall_s"] >= 0 and entry["usage"]["peak_mib"] > 20 for entry in ledger.values())


def test_a_stage_output_the_pipeline_did_not_make_is_not_replaced(sources, tmp_path):
    out = tmp_path / "out"
    (out / "corpus").mkdir(parents=True)
    (out / "corpus" / "notes.txt").write_text("mine\n")
    recipe = write_recipe(tmp_path / "r.yaml", {"corpus": {"source": str(sources)}})
    with pytest.raises(FileExistsError, match="holds"):
        cli.main(["run", str(recipe), "--out", str(out)])
    assert (out / "corpus" / "notes.txt").read_text() == "mine\n"


def textbooks(*args):
    return subprocess.run([sys.executable, "-m", "textbooks.cli", *args], capture_output=True, text=True,
                          timeout=900)


@pytest.mark.slow
def test_run_builds_every_stage_and_a_rerun_redoes_nothing(tmp_path):
    recipe = write_recipe(tmp_path / "small.yaml", SMALL_RUN["stages"])
    first = textbooks("run", str(recipe), "--out", str(tmp_path / "out"))
    assert first.returncode == 0, first.stderr
    for stage in ("corpus", "label", "classify", "tokenizer", "pack"):
        assert (tmp_path / "out" / stage / "manifest.json").exists()
    kept = read_manifest(tmp_path / "out" / "classify")["counts"]["records"]
    assert read_manifest(tmp_path / "out" / "pack")["counts"]["documents"] == kept
    assert (tmp_path / "out" / "train" / "checkpoints" / "latest").read_text().strip() == "step-00000004"
    summary = json.loads((tmp_path / "out" / "eval" / "summary.json").read_text())
    assert summary["problems"] == 4 and summary["bits_per_byte"] > 0

    again = textbooks("run", str(recipe), "--out", str(tmp_path / "out"))
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("[up to date]") == 7, again.stdout


def test_synthesis_and_decontamination_run_as_stages_of_a_recipe(tmp_path, capsys):
    """Exercises mined from the curated corpus, then compared with HumanEval; passages from CPython's
    documentation; each its own stage, wired by the table, and up to date on a rerun."""
    recipe = write_recipe(tmp_path / "r.yaml", {
        "corpus": {"source": "stdlib", "limit": 300},
        "synth-textbook": {"docstrings": str(Path(json.__file__).parent)},
        "synth-exercises": {},
        "decontam": {"against": "humaneval", "methods": "ngram,ast", "tau": 0.9}})
    out = tmp_path / "out"
    assert cli.main(["run", str(recipe), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "$ textbooks synth exercises --data " + str(out / "corpus") in printed
    assert "$ textbooks decontam --data " + str(out / "synth-exercises") in printed
    assert read_manifest(out / "synth-textbook")["counts"]["records"] > 100
    exercises = read_manifest(out / "synth-exercises")["counts"]["records"]
    assert exercises > 0 and read_manifest(out / "decontam")["counts"]["records_in"] == exercises
    assert (out / "decontam" / "similar.json").exists()
    assert yaml.safe_load((out / "recipe.yaml").read_text()) == yaml.safe_load(recipe.read_text())  # for the report
    assert {name: entry["kind"] for name, entry in json.loads((out / "pipeline.json").read_text()).items()} == {
        "corpus": "corpus", "synth-textbook": "synth textbook", "synth-exercises": "synth exercises",
        "decontam": "decontam"}
    assert "Decontamination tau sweep: decontam" in (out / "report.html").read_text()  # every run ends with it
    assert cli.main(["run", str(recipe), "--out", str(out)]) == 0
    assert capsys.readouterr().out.count("[up to date]") == 4


class OneTeacher(DefJudge):
    """One endpoint for every question a recipe asks a teacher: a file's educational value (as
    DefJudge judges it), an exercise (a correct one, named as asked) or a textbook section."""

    def completion(self, path: str, body: dict) -> dict:
        prompt = body["messages"][-1]["content"]
        if not (name := re.search(r"must be named `(\w+)`", prompt)) and "textbook" not in prompt:
            return super().completion(path, body)
        tag = str(abs(hash(prompt)))
        text = _reply(name.group(1), "good", tag) if name else (
            f"# Adding numbers ({tag})\n\n" + "Addition is the first thing a program computes. " * 6 +
            f"\n\n```python\nprint({len(tag)} + 1)\n```\n")
        return {"object": "chat.completion", "usage": {"prompt_tokens": 50, "completion_tokens": 50},
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}]}


def test_a_recipe_with_a_teacher_is_the_same_file_with_teacher_set(sources, tmp_path):
    """The labeler and both synthesis stages ask the recipe's teacher (a real server on loopback), and
    the exercises are made by it, not mined from the corpus."""
    stages = {"corpus": {"source": str(sources), "limit": 20}, "label": {"sample": 10},
              "synth-textbook": {"with_teacher": {"n": 4}}, "synth-exercises": {"with_teacher": {"n": 5}}}
    with OneTeacher() as teacher:
        recipe = tmp_path / "r.yaml"
        recipe.write_text(yaml.safe_dump({"teacher": f"{teacher.url}#teacher", "stages": stages}, sort_keys=False))
        assert cli.main(["run", str(recipe), "--out", str(tmp_path / "out")]) == 0
        assert teacher.count == 10 + 4 + 5
    out = tmp_path / "out"
    assert read_manifest(out / "label")["config"]["labeler"] == f"{teacher.url}#teacher"
    assert read_manifest(out / "synth-textbook")["counts"]["records"] == 4
    exercises = read_manifest(out / "synth-exercises")
    assert exercises["counts"]["records"] == 5 and exercises["config"]["teacher"] == f"{teacher.url}#teacher"


def test_the_readme_recipe_is_a_recipe_that_plans(tmp_path):
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    recipe = yaml.safe_load(re.search(r"```yaml\n(.*?)```", readme, re.S).group(1))
    steps = plan(recipe["stages"], tmp_path, recipe["teacher"])
    assert [step.stage.name for step in steps] == list(recipe["stages"])
    for step in steps:
        commands.parse_command(step.command)  # every option is one its command takes
    assert list(steps[-1].inputs) == ["finetune", "decontam"]


@pytest.mark.parametrize("name", ["default", "ablation", "cpu-3h"])
def test_each_packaged_recipe_plans_and_its_commands_parse(name, tmp_path):
    from textbooks.pipeline import load_pipeline

    recipe = load_pipeline(packaged_config(f"{name}.yaml"))
    steps = plan(recipe["stages"], tmp_path)
    for step in steps:
        commands.parse_command(step.command)
    assert [step.stage.kind.name for step in steps][-2:] in (["eval", "eval"], ["audit", "audit"])
