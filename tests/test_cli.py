import subprocess
import sys

import pytest
import yaml

from textbooks import cli, pipeline
from textbooks.allocator import find_jemalloc


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert name in out


@pytest.mark.parametrize("name", list(cli.COMMANDS))
def test_every_command_has_help(name, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main([name, "--help"])
    assert exit_.value.code == 0
    assert f"textbooks {name}" in capsys.readouterr().out


def test_unknown_command_is_an_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["no-such-command"])
    assert exit_.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_dotted_overrides_are_rejected_where_not_accepted(capsys):
    with pytest.raises(SystemExit):
        cli.main(["generate", "somewhere", "--train.lr", "1e-3"])
    assert "unrecognized arguments: --train.lr" in capsys.readouterr().err


def test_default_pipeline_wires_each_stage_to_the_one_before(tmp_path):
    recipe = pipeline.load_pipeline(pipeline.packaged_config("default.yaml"))
    commands = pipeline.stage_commands(recipe["stages"], tmp_path)
    assert [c[0] for c in commands] == list(pipeline.STAGES)
    by_name = {c[0]: c for c in commands}
    assert str(tmp_path / "corpus") in by_name["pack"]
    assert str(tmp_path / "pack") in by_name["train"]
    assert by_name["generate"][1] == str(tmp_path / "train")
    assert "--resume" not in by_name["train"]


def test_pipeline_resumes_a_started_training_run(tmp_path):
    (tmp_path / "train" / "checkpoints").mkdir(parents=True)
    (tmp_path / "train" / "checkpoints" / "latest").write_text("step-00000010")
    commands = pipeline.stage_commands({"train": {"recipe": "cpu-pretrain.yaml"}}, tmp_path)
    assert "--resume" in commands[0]


def test_pipeline_rejects_unknown_stages(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"stages": {"corpus": {}, "distill": {}}}))
    with pytest.raises(ValueError, match="distill"):
        pipeline.load_pipeline(path)


@pytest.mark.skipif(find_jemalloc() is None, reason="libjemalloc2 is not installed")
def test_training_command_reexecs_itself_under_jemalloc():
    code = ("import sys; sys.argv[0] = 'textbooks'\n"
            "from textbooks.allocator import use_jemalloc, jemalloc_loaded\n"
            "use_jemalloc(); print(jemalloc_loaded())")
    env = {"PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "True"
    opted_out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               env={**env, "TEXTBOOKS_NO_JEMALLOC": "1"}, check=True)
    assert opted_out.stdout.strip() == "False"
