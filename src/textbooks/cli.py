"""The `textbooks` command: the commands of textbooks.commands, and `run`, the pipeline that runs them."""

from __future__ import annotations

import os
import sys

from textbooks import commands
from textbooks.errors import USER_ERRORS

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


if __name__ == "__main__":
    sys.exit(main())
