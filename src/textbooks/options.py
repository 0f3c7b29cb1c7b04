"""A command's options, declared once (docs/architecture.md, "Say each thing once").

A command declares `class Options(CommandOptions)`, one field per option: its type, its default
and its help (`opt`). From that declaration `add_arguments(parser, Options)` makes the argparse
options and --help, and `parse(parser, Options, argv)` reads them, pydantic checking each value by
its field's type: a bad value, or an option the command does not have, is a usage error naming it
(and the options it has). A pipeline's recipe gives a stage the same options by their field names
(textbooks.pipeline turns them into the command line it prints and runs).

A field `name` is the recipe key `name` and the flag `--name` (underscores as dashes), or what
`flag=` says; `positional=True` makes it an argument without a flag. A bool is a switch; a list
takes the flag again for each item.
"""

from __future__ import annotations

import argparse
import math
import types
import typing
from typing import Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticUndefined


class CommandOptions(BaseModel):
    """A command's options: subclass it with one `opt` field per option."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


def opt(default: Any = PydanticUndefined, help: str = "", *, flag: str | None = None, metavar: str | None = None,
        positional: bool = False, const: Any = None, rest: bool = False, one_of: str | None = None,
        hashed: bool = True) -> Any:
    """A field of a `CommandOptions`: `default` (none: required), `help`, and how the command line takes it;
    `const`: the value of the flag given without one (`--estimate` alone); `rest`: the arguments
    no option takes; `one_of`: a group of options of which exactly one is given; `hashed=False`:
    not part of what a stage writes (see `hashed`)."""
    cli = {"flag": flag, "metavar": metavar, "positional": positional, "const": const, "rest": rest,
           "one_of": one_of, "hashed": hashed}
    return Field(default, description=help, json_schema_extra=cli)


def hashed(options: CommandOptions, **derived) -> dict:
    """A stage's config, whose hash its manifest records (a changed value reruns it): its options by
    field name, as JSON, but those declared `hashed=False` (where it writes, how many workers, an
    input whose manifest hash the stage adds itself), with `derived` values beside or in their place
    (a file's content for its path)."""
    fields = type(options).model_fields
    return {**options.model_dump(mode="json", include={n for n, f in fields.items() if _cli(f).get("hashed", True)}),
            **derived}


def _cli(field) -> dict:
    return field.json_schema_extra or {}


def flag_of(name: str, field) -> str:
    return _cli(field).get("flag") or "--" + name.replace("_", "-")


def add_arguments(parser: argparse.ArgumentParser, options: type[CommandOptions]) -> None:
    """The argparse options of `options`' fields, values left as text for `parse` to check."""
    groups: dict[str, argparse._MutuallyExclusiveGroup] = {}
    for name, field in options.model_fields.items():
        cli, kind, required = _cli(field), _bare(field.annotation), field.is_required()
        if cli.get("rest"):
            continue
        help_text = field.description or ""
        if not required and (shown := _shown(field.default)) is not None and "default" not in help_text:
            help_text += f" (default {shown})"
        names = [name] if cli.get("positional") else [flag_of(name, field)]
        how: dict[str, Any] = {"help": help_text}
        if cli.get("metavar"):
            how["metavar"] = cli["metavar"]
        if cli.get("positional"):
            how.update(nargs=None if required else "?", default=None)
        elif kind is bool:
            how.update(action="store_true", default=None)
        else:
            how.update(required=required, default=None)
            if typing.get_origin(kind) is list:
                how["action"] = "append"
            elif cli.get("const") is not None:
                how.update(nargs="?", const=str(cli["const"]))
        if typing.get_origin(kind) is typing.Literal:
            how["choices"] = [str(choice) for choice in typing.get_args(kind)]
        if not cli.get("positional"):
            how["dest"] = name
        if group := cli.get("one_of"):
            if group not in groups:
                groups[group] = parser.add_mutually_exclusive_group(required=True)
            groups[group].add_argument(*names, **how)
        else:
            parser.add_argument(*names, **how)


def parse(parser: argparse.ArgumentParser, options: type[CommandOptions], argv: list[str]) -> CommandOptions:
    """`argv` read by `parser` (made by `add_arguments`) into `options`; a bad value or an unknown
    option is a usage error (exit 2) naming it. A field declared `rest=True` takes the arguments no
    option does (train's `--section.key value` overrides)."""
    known, rest = parser.parse_known_args(argv)
    values = {name: value for name, value in vars(known).items() if value is not None}
    rest_field = next((name for name, field in options.model_fields.items() if _cli(field).get("rest")), None)
    if rest and rest_field is None:
        flags = ", ".join(flag_of(name, field) for name, field in options.model_fields.items()
                          if not _cli(field).get("positional"))
        parser.error(f"unrecognized arguments: {' '.join(rest)} (the options are {flags})")
    if rest_field:
        values[rest_field] = rest
    try:
        return options(**values)
    except ValidationError as error:
        parser.error(_said(error, options))


def positive_int(value):
    """A BeforeValidator: a positive integer, as text or a number."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected a positive integer, got {value!r}") from None
    if number < 1 or number != value and not isinstance(value, str):
        raise ValueError(f"expected a positive integer, got {value}")
    return number


PositiveInt = typing.Annotated[int, BeforeValidator(positive_int)]


def check_seconds(**seconds_by_flag: float) -> None:
    """Each value a positive, finite number of seconds (not 0, NaN or inf); a ValueError names the
    flag (`request_timeout=` is --request-timeout)."""
    for name, seconds in seconds_by_flag.items():
        if not 0 < seconds < math.inf:
            raise ValueError(f"--{name.replace('_', '-')} must be positive and finite, got {seconds}")


def _said(error: ValidationError, options: type[CommandOptions]) -> str:
    fields = options.model_fields
    said = []
    for problem in error.errors():
        name = str(problem["loc"][0]) if problem["loc"] else ""
        where = flag_of(name, fields[name]) if name in fields else name
        message = str(problem["ctx"]["error"]) if problem["type"] == "value_error" else problem["msg"]
        said.append(f"{where}: {message}" if where else message)
    return "; ".join(said)


def _bare(annotation):
    """`X | None` and `Annotated[X, ...]` -> X."""
    if typing.get_origin(annotation) is typing.Annotated:
        return _bare(typing.get_args(annotation)[0])
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return _bare(args[0]) if len(args) == 1 else annotation
    return annotation


def _shown(default) -> str | None:
    """A default as the command line writes it (a tuple comma-separated: `ngram,ast`); None for an
    option that is off or empty unless given, whose default --help does not say."""
    if default in (None, False) or isinstance(default, (list, tuple)) and not default:
        return None
    return ",".join(map(str, default)) if isinstance(default, (list, tuple)) else str(default)
