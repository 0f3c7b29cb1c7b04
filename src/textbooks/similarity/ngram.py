"""13-gram overlap between training records and benchmark problems (paper §5).

The paper's first check: a record that shares a 13-gram of tokens with a HumanEval prompt or
solution is suspect. Tokens are Python's own (so whitespace, comments and line breaks do not
matter), which is all the normalization this method gets: a renamed variable breaks every n-gram
that spans it, the weakness §5 answers with the AST match rate (`astmatch`).
"""

from __future__ import annotations

import io
import re
import tokenize
from collections import Counter
from dataclasses import dataclass
from typing import Mapping, Sequence

# Layout and comment tokens carry no code; dropping them makes the n-grams formatting-blind.
_LAYOUT_TOKENS = frozenset({tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                            tokenize.DEDENT, tokenize.ENCODING, tokenize.ENDMARKER})
# Prose or broken code: words, numbers and single punctuation marks.
_FALLBACK_TOKEN = re.compile(r"\w+|[^\w\s]")


def code_tokens(text: str) -> list[str]:
    """The normalized tokens of a text: Python's tokenize where it can (comments, line breaks and
    indentation dropped), then, from where it fails, a regex fallback (words and punctuation marks):
    code cut off in an open bracket keeps its tokens, so it still compares with the whole code."""
    tokens, end = [], (1, 0)
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type not in _LAYOUT_TOKENS and token.string.strip():  # an ERRORTOKEN may be a space
                tokens.append(token.string)
            end = token.end
    except (tokenize.TokenError, SyntaxError):  # unterminated strings, bad dedents, prose
        line_starts = [0] + [i + 1 for i, char in enumerate(text) if char == "\n"]
        tokens.extend(_FALLBACK_TOKEN.findall(text[line_starts[end[0] - 1] + end[1]:]))
    return tokens


def ngrams(tokens: Sequence[str], n: int) -> set[tuple[str, ...]]:
    """The distinct n-grams of a token sequence (none if it is shorter than n)."""
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


@dataclass(frozen=True)
class NGramHit:
    count: int  # distinct n-grams of the record found in some reference
    task: str | None  # the reference task sharing the most n-grams with the record (None if count == 0)


class NGramIndex:
    """Every n-gram of the benchmark texts, with the tasks it occurs in."""

    def __init__(self, references: Mapping[str, Sequence[str]], n: int = 13):
        """`references`: task_id -> its texts (prompt, solution); `n`: 13 in the paper."""
        self.n = n
        self._tasks: dict[tuple[str, ...], set[str]] = {}
        for task, texts in references.items():
            for text in texts:
                for gram in ngrams(code_tokens(text), n):
                    self._tasks.setdefault(gram, set()).add(task)

    def overlap(self, text: str) -> NGramHit:
        """How many distinct n-grams of `text` occur in the benchmark, and the task most of them
        come from (ties broken by task id, so the answer is deterministic)."""
        shared = [gram for gram in ngrams(code_tokens(text), self.n) if gram in self._tasks]
        if not shared:
            return NGramHit(count=0, task=None)
        per_task = Counter(task for gram in shared for task in self._tasks[gram])
        task = min(per_task, key=lambda t: (-per_task[t], t))
        return NGramHit(count=len(shared), task=task)
