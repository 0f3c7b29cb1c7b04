"""Facts about a code text that more than one stage needs.

The corpus stage rejects generated files and the heuristic labeler penalizes them (PAPER.md §1:
generated code teaches a student nothing); both ask `generated_marker`, so they agree on what
"generated" means.
"""

from __future__ import annotations

import re

GENERATED_HEAD = re.compile(
    r"auto-?generated|automatically generated|generated (?:by|from|with)|do not (?:edit|modify)", re.IGNORECASE)
HEAD_LINES, HEAD_CHARS = 15, 1500  # generators announce themselves at the top of the file


def generated_marker(text: str) -> str | None:
    """The phrase in the file's head that says it was generated ("DO NOT EDIT", ...), or None."""
    head = "\n".join(text.splitlines()[:HEAD_LINES])[:HEAD_CHARS]
    match = GENERATED_HEAD.search(head)
    return match.group(0) if match else None
