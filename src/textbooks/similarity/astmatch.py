"""The AST match rate between training code and benchmark solutions (paper §5).

§5 prunes every exercise whose "match rate" to a HumanEval solution, a string edit distance
between the two syntax trees, is at least tau. This module makes that precise:

Normalization. Both sides are parsed with `ast` and flattened to a token sequence, a pre-order
walk of the tree: one token per node (its type: `For`, `Call`, `Compare`, `Add`, ...), so
formatting, parentheses, comments and line breaks are gone. On top of that:
  - identifiers the code binds itself (function and class names, parameters, assigned and loop
    variables, imports, exception and match names) become one token `v`, so renaming is free;
    names it only reads (builtins such as `len`, globals, type hints such as `List`), attribute
    names and keyword-argument names stay: a contaminator cannot rename them without changing
    what the code does, and they are what tells two short functions apart;
  - docstrings and other bare string statements are dropped, and so are module-level imports
    (a benchmark prompt's `from typing import List` preamble is not part of the solution);
  - string and bytes literals become `str`, numbers `num`; True, False, None and ... stay.
A second, *raw* sequence of the same walk keeps the names and literal values.

Units. A record is scored as a whole and as each function it defines (methods and nested ones
included), so a solution buried in a file among other functions is found by its own unit. A
reference is its whole code (prompt + canonical solution).

Score. Each token is mapped to one character of a shared vocabulary, so rapidfuzz's string
edit distance is a token-level edit distance, computed for all pairs at once by
`rapidfuzz.process.cdist`. The distance is Indel (insertions and deletions only, a substitution
costs 2), normalized by the summed length: for a reference r and a unit u
    norm_sim = 1 - indel(norm_r, norm_u) / (|norm_r| + |norm_u|)  ( = 2 LCS / (|r| + |u|) )
    raw_sim  = the same on the raw sequences
Indel rather than Levenshtein because a contaminator's added statements are insertions: two
added statements keep 90% of HumanEval copies at tau 0.8 under Indel, half under Levenshtein,
with no real standard-library function reaching 0.8 under either.
    score    = max(raw_sim, norm_sim * min(1, |norm_r| / min_tokens))
and a record's match is its best score over units and references, with that reference's task.

Length. The shrink factor is the answer to short code: a 1-3 line solution normalizes to a
couple of dozen tokens, and many unrelated real functions normalize to the same few (a call on a
parameter, returned). Below `min_tokens` the normalized form alone is too little evidence, so its
score is scaled down in proportion; the raw form, which normalization did not blur, still
scores a verbatim copy of a short solution at 1.0. A renamed copy of a very short solution is
thereby given up on purpose: it cannot be told from independent code.

Fallback. Code that does not parse (prose, fragments, Python 2) is compared on the token level:
`ngram.code_tokens`, with non-keyword, non-builtin names as `v`, strings as `str` and numbers as
`num`, scored like the normalized form (with the same length shrink) against the references'
token sequences, and its match says `parsed=False`.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import textwrap
import warnings
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
from rapidfuzz.distance import Indel
from rapidfuzz.process import cdist

from textbooks.similarity.ngram import code_tokens

# Tuned on HumanEval vs the standard library (tests/test_decontam_methods.py, the report):
# below it, real one-line methods (`return self._call("x")`) reach 0.8 against one-line solutions.
MIN_TOKENS = 20
UNITS_PER_BATCH = 20_000  # bounds the (references x units) score matrix of one cdist call

_KEPT_NAMES = frozenset(dir(builtins)) | frozenset(keyword.kwlist) | frozenset(keyword.softkwlist)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_SURROGATES = range(0xD800, 0xE000)  # not encodable as str characters rapidfuzz can take
_USABLE_CODE_POINTS = 0x110000 - 0x100 - len(_SURROGATES)


@dataclass(frozen=True)
class ASTMatch:
    task: str | None  # the best-matching reference task
    score: float  # match rate in [0, 1]; 1.0 = the same normalized code
    parsed: bool  # False: the record's code did not parse, the score is the token-level fallback
    lines: tuple[int, int] | None = None  # the first and last line of the function matched; None: the whole


@dataclass(frozen=True)
class UnitForm:
    """One unit (a whole code or one function) as normalized and raw token sequences."""
    norm: tuple[str, ...]
    raw: tuple[str, ...]
    lines: tuple[int, int] | None = field(default=None, compare=False)  # a function's; None: the whole code


def bound_names(tree: ast.AST) -> set[str]:
    """The identifiers a tree binds itself: only these are renamed by normalization."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            bound.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            bound.update(node.names)
    return bound


def _is_bare_string(node: ast.AST) -> bool:
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, (str, bytes)))


def _constant_tokens(value: object) -> tuple[str, str]:
    if value is None or value is Ellipsis or isinstance(value, bool):
        return repr(value), repr(value)
    kind = "str" if isinstance(value, (str, bytes)) else "num"
    return kind, repr(value)[:40]  # long literals: their start identifies them well enough


def _node_tokens(node: ast.AST, bound: set[str]) -> tuple[list[str], list[str]]:
    kind = type(node).__name__
    if isinstance(node, ast.Name):
        return ([node.id if node.id not in bound else "v"], [node.id])
    if isinstance(node, ast.Constant):
        norm, raw = _constant_tokens(node.value)
        return [norm], [raw]
    if isinstance(node, ast.arg):
        return [kind], [node.arg]
    if isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
        return [kind], [kind, node.name]
    if isinstance(node, ast.Attribute):
        return [kind, node.attr], [kind, node.attr]
    if isinstance(node, ast.keyword):
        return [kind, str(node.arg)], [kind, str(node.arg)]
    return [kind], [kind]


def unit_form(roots: Sequence[ast.AST], bound: set[str], lines: tuple[int, int] | None = None) -> UnitForm:
    """The pre-order token sequences of the trees in `roots` (docstrings and bare strings skipped,
    expression contexts such as Load/Store carrying nothing)."""
    norm: list[str] = []
    raw: list[str] = []
    stack = list(reversed(roots))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.expr_context) or _is_bare_string(node):
            continue
        node_norm, node_raw = _node_tokens(node, bound)
        norm += node_norm
        raw += node_raw
        stack.extend(reversed(list(ast.iter_child_nodes(node))))
    return UnitForm(tuple(norm), tuple(raw), lines)


def code_units(code: str) -> list[UnitForm] | None:
    """The units of a code: the whole of it (module-level imports left out) and each function it
    defines, methods and nested ones included; None if it does not parse, even dedented (a method
    cut out of its class keeps its indentation)."""
    try:
        with warnings.catch_warnings():  # invalid escapes in strings only warn
            warnings.simplefilter("ignore")
            tree = ast.parse(textwrap.dedent(code))
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # ValueError: NUL bytes
        return None
    bound = bound_names(tree)
    body = [stmt for stmt in tree.body if not isinstance(stmt, (ast.Import, ast.ImportFrom))]
    units = {unit_form(body, bound): None}  # a dict keeps order and drops a lone function's twin
    for node in ast.walk(tree):
        if isinstance(node, _FUNCTIONS):
            units[unit_form([node], bound, (node.lineno, node.end_lineno))] = None
    return list(units)


def normalize(code: str) -> tuple[str, ...] | None:
    """The normalized token sequence of a whole code (see the module docstring), None if it does
    not parse."""
    units = code_units(code)
    return units[0].norm if units else None


def fallback_tokens(text: str) -> list[str]:
    """Token-level normalization for code that does not parse: names a text defines itself
    cannot be told from others, so every non-keyword, non-builtin name becomes `v`."""
    out = []
    for token in code_tokens(text):
        if token.isidentifier():
            out.append(token if token in _KEPT_NAMES else "v")
        elif token[:1].isdigit() or (token[:1] == "." and token[1:2].isdigit()):
            out.append("num")
        elif token[-1:] in "'\"" and len(token) > 1:
            out.append("str")
        else:
            out.append(token)
    return out


class TokenAlphabet:
    """Maps each distinct token to one character, so a token sequence becomes a string whose
    character edit distance is the token edit distance."""

    def __init__(self):
        self._chars: dict[str, str] = {}

    def encode(self, tokens: Sequence[str]) -> str:
        """The string of `tokens`, new tokens getting the next free character."""
        chars = self._chars
        for token in tokens:
            if token not in chars:
                chars[token] = self._char(len(chars))
        return "".join([chars[token] for token in tokens])

    @staticmethod
    def _char(index: int) -> str:
        # Past ASCII/Latin-1 (no meaning, just distinct code points), around the surrogates; past
        # the last code point tokens share characters, which only rare raw literals reach.
        point = 0x100 + index % _USABLE_CODE_POINTS
        return chr(point + len(_SURROGATES) if point >= _SURROGATES.start else point)


class ASTMatcher:
    """Scores code against benchmark solutions by the AST match rate (module docstring)."""

    def __init__(self, references: Mapping[str, str], workers: int = 1, min_tokens: int = MIN_TOKENS):
        """`references`: task_id -> solution code (e.g. HumanEval prompt + canonical solution);
        `workers`: threads of each rapidfuzz cdist call; `min_tokens`: see Length above."""
        self.tasks = list(references)
        self.workers = workers
        self.alphabet = TokenAlphabet()
        forms = []
        for task, code in references.items():
            units = code_units(code)
            if units is None:
                raise ValueError(f"reference {task} does not parse")
            forms.append(units[0])
        self._norm = [self.alphabet.encode(form.norm) for form in forms]
        self._raw = [self.alphabet.encode(form.raw) for form in forms]
        self._tokens = [self.alphabet.encode(fallback_tokens(code)) for code in references.values()]
        self._norm_weight = _length_weight(self._norm, min_tokens)
        self._token_weight = _length_weight(self._tokens, min_tokens)

    def match(self, codes: Sequence[str]) -> list[ASTMatch]:
        """The best match of each code over its units and the references, in order."""
        owners, norms, raws, spans, unparsed = [], [], [], [], []
        for index, code in enumerate(codes):
            units = code_units(code)
            if units is None:
                unparsed.append(index)
                continue
            for unit in units:
                owners.append(index)
                norms.append(self.alphabet.encode(unit.norm))
                raws.append(self.alphabet.encode(unit.raw))
                spans.append(unit.lines)
        best = Best(len(codes))
        for start in range(0, len(owners), UNITS_PER_BATCH):
            batch = slice(start, start + UNITS_PER_BATCH)
            scores = np.maximum(self._similarity(self._raw, raws[batch]),
                                self._similarity(self._norm, norms[batch]) * self._norm_weight)
            best.keep(owners[batch], spans[batch], scores)
        if unparsed:
            texts = [self.alphabet.encode(fallback_tokens(codes[i])) for i in unparsed]
            best.keep(unparsed, [None] * len(unparsed), self._similarity(self._tokens, texts) * self._token_weight)
        skipped = set(unparsed)
        return [ASTMatch(task=self.tasks[best.task[i]] if self.tasks else None, score=float(best.score[i]),
                         parsed=i not in skipped, lines=best.lines[i]) for i in range(len(codes))]

    def _similarity(self, references: list[str], units: list[str]) -> np.ndarray:
        # (references, units): 1 - Levenshtein distance / the longer length, all pairs in C++.
        return cdist(references, units, scorer=Indel.normalized_similarity,
                     dtype=np.float32, workers=self.workers)


def _length_weight(forms: list[str], min_tokens: int) -> np.ndarray:
    # (references, 1): the shrink of a short reference's normalized score, see Length above.
    lengths = np.array([len(form) for form in forms], dtype=np.float32)
    return np.minimum(1.0, lengths / max(min_tokens, 1))[:, None]


class Best:
    """Each code's best score so far, with its reference and the lines of its unit."""

    def __init__(self, codes: int):
        self.score = np.zeros(codes, dtype=np.float32)
        self.task = np.zeros(codes, dtype=np.int64)
        self.lines: list[tuple[int, int] | None] = [None] * codes

    def keep(self, owners: list[int], spans: list[tuple[int, int] | None], scores: np.ndarray) -> None:
        """scores: (references, units), owners and spans: each unit's code and lines. Units are few
        per code, so a plain scatter loop is cheap."""
        if scores.size == 0:
            return
        unit_task = scores.argmax(axis=0)
        unit_best = scores[unit_task, np.arange(scores.shape[1])]
        for owner, span, score, ref in zip(owners, spans, unit_best.tolist(), unit_task.tolist()):
            if score > self.score[owner]:
                self.score[owner], self.task[owner], self.lines[owner] = score, ref, span
