"""One declaration of a command's options makes its parser, its checks and its --help
(textbooks.options); every command is declared so."""

import argparse
import importlib
import typing
from pathlib import Path

import pytest

from textbooks import cli
from textbooks.options import CommandOptions, PositiveInt, add_arguments, hashed, opt, parse


class Example(CommandOptions):
    kind: typing.Literal["exercises", "textbook"] = opt(help="what to write", positional=True)
    data: list[Path] = opt(help="a dataset (repeatable)", metavar="DIR")
    out: Path = opt(help="where to write", hashed=False)
    near_threshold: float = opt(0.85, help="Jaccard similarity of a near duplicate")
    timeout_s: float = opt(3.0, help="seconds each program may run", flag="--timeout")
    n: PositiveInt | None = opt(None, help="how many")
    estimate: PositiveInt | None = opt(None, help="pilot only", const=8)
    show: bool = opt(False, help="print the best and worst")
    model: str | None = opt(None, help="a model", one_of="source")
    samples: Path | None = opt(None, help="completions", one_of="source")


def parser():
    made = argparse.ArgumentParser(prog="textbooks example")
    add_arguments(made, Example)
    return made


def test_the_command_line_reads_into_the_declared_types():
    options = parse(parser(), Example, ["textbook", "--data", "a", "--data", "b", "--out", "o", "--timeout", "1.5",
                                        "--estimate", "--show", "--n", "7", "--model", "m"])
    assert options == Example(kind="textbook", data=[Path("a"), Path("b")], out=Path("o"), timeout_s=1.5,
                              estimate=8, show=True, n=7, model="m")
    assert options.near_threshold == 0.85 and options.samples is None


@pytest.mark.parametrize("argv, said", [
    (["poem", "--data", "a", "--out", "o", "--model", "m"], "invalid choice: 'poem'"),
    (["textbook", "--out", "o", "--model", "m"], "the following arguments are required: --data"),
    (["textbook", "--data", "a", "--out", "o", "--model", "m", "--n", "0"], "--n: expected a positive integer, got 0"),
    (["textbook", "--data", "a", "--out", "o", "--model", "m", "--timeout", "soon"],
     "--timeout: Input should be a valid number"),
    (["textbook", "--data", "a", "--out", "o", "--model", "m", "--typo", "1"],
     "unrecognized arguments: --typo 1 (the options are --data, --out, --near-threshold, --timeout, --n"),
    (["textbook", "--data", "a", "--out", "o"], "one of the arguments --model --samples is required"),
    (["textbook", "--data", "a", "--out", "o", "--model", "m", "--samples", "s"], "not allowed with argument"),
])
def test_a_bad_value_is_a_usage_error_naming_its_flag(capsys, argv, said):
    with pytest.raises(SystemExit) as usage_error:
        parse(parser(), Example, argv)
    assert usage_error.value.code == 2
    assert said in capsys.readouterr().err


def test_help_says_each_option_once_with_its_default():
    text = parser().format_help()
    assert "--near-threshold NEAR_THRESHOLD" in text and "(default 0.85)" in text
    assert "--timeout TIMEOUT" in text and "--data DIR" in text and "{exercises,textbook}" in text
    assert "(default False)" not in text and "(default None)" not in text


def test_a_field_that_takes_the_rest_gets_what_no_option_takes():
    class Train(CommandOptions):
        recipe: str = opt(help="a recipe")
        overrides: list[str] = opt([], help="--section.key VALUE", rest=True)

    made = argparse.ArgumentParser()
    add_arguments(made, Train)
    assert parse(made, Train, ["--recipe", "r", "--train.lr", "1e-3"]).overrides == ["--train.lr", "1e-3"]


@pytest.mark.parametrize("name", list(cli.COMMANDS))
def test_every_command_declares_its_options_once(name):
    module = importlib.import_module(cli.COMMANDS[name][0])
    assert issubclass(module.Options, CommandOptions) and not hasattr(module, "add_arguments")


def test_a_stages_config_is_its_declared_options_by_name():
    """What a stage's manifest hashes comes from the declaration: every option by its field name
    (as JSON), but those declared hashed=False, with derived values beside or in their place."""
    options = Example(kind="textbook", data=[Path("a")], out=Path("o"), model="m", n=3)
    config = hashed(options, data=["sha of a"])
    assert config == {"kind": "textbook", "data": ["sha of a"], "near_threshold": 0.85, "timeout_s": 3.0, "n": 3,
                      "estimate": None, "show": False, "model": "m", "samples": None}
    assert hashed(options.model_copy(update={"out": Path("elsewhere")}), data=["sha of a"]) == config
    assert hashed(options.model_copy(update={"near_threshold": 0.9}), data=["sha of a"]) != config


def test_no_stage_hashes_where_it_writes_or_how_fast():
    """A stage's output moved, or run with more workers, is the same output: its config leaves out
    --out, --executor and --workers (its inputs come in by their manifests' hashes)."""
    stages = [importlib.import_module(module) for module, _ in cli.COMMANDS.values()]
    stages = [module for module in stages if hasattr(module, "STAGE")]
    assert len(stages) == 9
    for module in stages:
        fields = module.Options.model_fields
        for option in ("out", "executor", "workers"):
            if option in fields:
                assert fields[option].json_schema_extra["hashed"] is False, f"{module.STAGE.name} hashes --{option}"
