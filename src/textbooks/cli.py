"""The `textbooks` command: the commands of textbooks.commands, and `run`, the pipeline that runs them.

A user error (textbooks.errors) prints one line and exits 2; any other exception is a bug and shows
its traceback.
"""

from __future__ import annotations

import os
import sys

from textbooks import commands
from textbooks.errors import USER_ERRORS

# `run` is the pipeline (textbooks.pipeline), which runs the other commands through textbooks.commands.
COMMANDS: commands.Table = {**commands.COMMANDS,
                            "run": ("textbooks.pipeline", "run a recipe's stages in order, skipping finished ones")}


def main(argv: list[str] | None = None) -> int:
    """Run a command. From the command line (argv None) a user error prints one line and exits 2;
    in-process callers (argv given) get the exception. TEXTBOOKS_DEBUG=1 always shows tracebacks."""
    if argv is not None:
        return commands.run_command(argv, COMMANDS)
    try:
        return commands.run_command(sys.argv[1:], COMMANDS)
    except Exception as error:
        if not isinstance(error, USER_ERRORS) or os.environ.get("TEXTBOOKS_DEBUG") == "1":
            raise
        name = sys.argv[1] if len(sys.argv) > 1 else ""
        print(f"textbooks {name}: error: {error}", file=sys.stderr)
        return 2


def parse_command(argv: list[str]):
    """The command's module and its parsed arguments (textbooks.commands.parse_command)."""
    return commands.parse_command(argv, COMMANDS)


if __name__ == "__main__":
    sys.exit(main())
