import subprocess
import sys

import pytest

from textbooks import cli
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
