"""One declaration of a command's options makes its parser, its checks and its --help
(textbooks.options); every command is declared so."""

import argparse
import importlib
import typing
from pathlib import Path

import pytest

from textbooks import cli
from textbooks.options import CommandOptions, PositiveInt, add_arguments, opt, parse


class Example(CommandOptions):
    kind: typing.Literal["exercises", "textbook"] = opt(help="what to write", positional=True)
    data: list[Path] = opt(help="a dataset (repeatable)", metavar="DIR")
    out: Path = opt(help="where to write")
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
