"""Educational-value labelers (paper §2.1): is a code file worth showing "a student
whose goal is to learn basic coding concepts"?

phi-1 had GPT-4 label ~100k files; a classifier then learned those labels for the rest of the
corpus. Two labelers make those labels here:

- `HeuristicLabeler`: a documented score from the file's syntax tree; the default when no LLM
  endpoint is configured, and a baseline that costs nothing.
- `LLMLabeler`: asks an LLM through `textbooks.llm` (cache and token budget included).

Both add four columns to a record: `label` (bool, or None when no judgement could be made),
`label_score` (float in [0, 1], or None), `labeler` (which labeler made it, e.g. "heuristic-v2"
or "llm:<client name>") and `label_reason` (why, in a few words). `label_records` maps a labeler
over records.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass
from typing import Iterable, Iterator, Protocol, Sequence

from tqdm import tqdm

from textbooks.codetext import generated_marker
from textbooks.llm import BudgetExceeded, Client, Request
from textbooks.llm.ask import Answer, AskStopped, ask_until_parsed, attempt_sampling

LABEL_COLUMNS = ("label", "label_score", "labeler", "label_reason")


@dataclass(frozen=True)
class Label:
    """One labeler's judgement of one record: the values of LABEL_COLUMNS."""
    label: bool | None
    score: float | None
    labeler: str
    reason: str

    def columns(self) -> dict:
        return {"label": self.label, "label_score": self.score, "labeler": self.labeler, "label_reason": self.reason}


class Labeler(Protocol):
    """Labels texts in batches; `name` goes into the `labeler` column."""
    name: str
    batch_size: int

    def label_texts(self, texts: Sequence[str]) -> list[Label]:
        """One Label per text, in order."""
        ...


class LabelingStopped(BudgetExceeded):
    """The token budget ran out: the records labeled before it were yielded; the rest were not labeled."""


def label_records(records: Iterable[dict], labeler: Labeler, progress: bool = True) -> Iterator[dict]:
    """Each record with the LABEL_COLUMNS added (the text is never changed), in input order.

    Records go to the labeler in batches of `labeler.batch_size`. When an LLM labeler's budget runs
    out, the records of the batch it did label are yielded first, then LabelingStopped is raised:
    what was labeled is kept, and no record gets a label it was not given.
    """
    batch: list[dict] = []
    for record in tqdm(records, desc=f"label ({labeler.name})", unit="file", disable=not progress):
        batch.append(record)
        if len(batch) >= labeler.batch_size:
            yield from _label_batch(batch, labeler)
            batch = []
    if batch:
        yield from _label_batch(batch, labeler)


def _label_batch(batch: list[dict], labeler: Labeler) -> Iterator[dict]:
    try:
        labels = labeler.label_texts([record["text"] for record in batch])
    except PartialLabels as partial:
        for record, label in zip(batch, partial.labels):
            if label is not None:
                yield {**record, **label.columns()}
        raise LabelingStopped(str(partial.cause)) from partial.cause
    for record, label in zip(batch, labels):
        yield {**record, **label.columns()}


class PartialLabels(Exception):
    """Raised by a labeler that had to stop: `labels` holds a Label or None (not labeled) per text."""

    def __init__(self, labels: list[Label | None], cause: BaseException):
        super().__init__(str(cause))
        self.labels, self.cause = labels, cause


# --- the heuristic labeler ---------------------------------------------------------------------

# Positive features, each in [0, 1]; the weights sum to 1, so a file strong on all of them scores 1.
FEATURE_WEIGHTS = {
    "docstrings": 0.25,      # share of the module, its functions and classes that have a docstring
    "logic": 0.20,           # share of code lines inside function/class bodies (not imports, not tables)
    "function_size": 0.15,   # share of functions 2..40 lines long: small, readable units
    "functions": 0.10,       # 1 when the file defines at least one function
    "names": 0.10,           # share of defined names (functions, arguments, variables) that are meaningful
    "comments": 0.10,        # comment lines per code line, full at 1 comment per 8 lines
    "examples": 0.10,        # docstrings with ">>>" examples, full when a third of the functions have one
}
# Penalties, subtracted: each weight times a share in [0, 1].
PENALTY_WEIGHTS = {
    "data_literals": 0.6,    # share of lines in literal tables (a dict/list/tuple/set of constants, >= 5 lines)
    "imports": 0.4,          # share of top-level statements that are imports, beyond half of them
    "long_lines": 0.3,       # share of lines over 120 characters, full at 10% of them
    "generated": 0.4,        # 1 when the file's head says it was generated ("do not edit", "generated by", ...)
    # Test suites have the look of good code (small documented methods, meaningful names) but teach
    # the behaviour of some other module, not basic coding concepts (paper §2.1); without this
    # penalty stdlib tests ranked among the best files. 0.5 puts a test module below a documented
    # module of the same size; a library's one `unittest.main()`/doctest runner costs next to nothing.
    "test_code": 0.5,        # share of functions that are tests, or assertion density in a test-framework file
}
LONG_LINE = 120
TABLE_MIN_LINES = 5
# Short names a teacher would still write: loop indices, math variables, common abbreviations.
SHORT_NAMES_OK = frozenset("abcefijknsxyz") | {"lo", "hi", "df", "fn", "id", "ok", "op", "db", "io", "os", "fp", "re"}
# Modules whose import marks a test file: unittest, pytest, and CPython's own `test` package (test.support).
TEST_FRAMEWORKS = frozenset({"unittest", "pytest", "test"})
# Module-level hooks of unittest's protocol: test code even though their names do not start with "test".
TEST_HOOKS = frozenset({"load_tests", "setUpModule", "tearDownModule"})
# Assertion density (asserting statements per statement) at which a test-framework file counts fully as tests.
ASSERTS_FULL_AT = 0.25


class HeuristicLabeler:
    """Scores a Python file in [0, 1] for teaching basic coding concepts; label = score >= threshold.

    score = sum(FEATURE_WEIGHTS[f] * feature f) - sum(PENALTY_WEIGHTS[p] * penalty p), clipped to [0, 1].
    Features reward what a textbook has: docstrings, doctest examples (>>>), comments, meaningful
    names, small functions, and code that is logic rather than imports or tables. Penalties mark
    what a student learns nothing from: data literal tables, files that are mostly imports,
    generated code, very long lines, and test code (test functions, the methods of test classes,
    assertion-heavy bodies; judged from the text alone, since labelers never see paths). A file
    that does not parse as Python scores 0 (reason says why); so does an empty one. The reason
    column lists the features and penalties that counted.
    """

    name = "heuristic-v2"  # v2: the test_code penalty
    batch_size = 256

    def __init__(self, threshold: float = 0.5):
        if not 0 <= threshold <= 1:
            raise ValueError(f"threshold must be in [0, 1], got {threshold}")
        self.threshold = threshold

    def label_texts(self, texts: Sequence[str]) -> list[Label]:
        return [self.label_text(text) for text in texts]

    def label_text(self, text: str) -> Label:
        """The label of one file."""
        score, reason = heuristic_score(text)
        return Label(score >= self.threshold, round(score, 4), self.name, reason)


def heuristic_score(text: str) -> tuple[float, str]:
    """The heuristic score of `text` and a short reason (see HeuristicLabeler)."""
    return weigh_signals(code_signals(text))


@dataclass(frozen=True)
class CodeSignals:
    """What the heuristic measured in a file (features and penalties in [0, 1]), or why it could not."""
    features: dict[str, float]
    penalties: dict[str, float]
    problem: str = ""  # "empty file", "not valid Python: ...": the file scores 0


def code_signals(text: str) -> CodeSignals:
    """Parse `text` and measure FEATURE_WEIGHTS' features and PENALTY_WEIGHTS' penalties."""
    if not text.strip():
        return CodeSignals({}, {}, "empty file")
    try:
        tree = ast.parse(text)
    except SyntaxError as e:
        return CodeSignals({}, {}, f"not valid Python: {e.msg}" + (f" (line {e.lineno})" if e.lineno else ""))
    except (ValueError, RecursionError, MemoryError) as e:
        return CodeSignals({}, {}, f"not parseable Python: {type(e).__name__}")
    return CodeSignals(code_features(tree, text), code_penalties(tree, text))


def weigh_signals(signals: CodeSignals) -> tuple[float, str]:
    """The score of measured signals under the current weights, and the reason that lists them."""
    if signals.problem:
        return 0.0, signals.problem
    features, penalties = signals.features, signals.penalties
    score = sum(FEATURE_WEIGHTS[k] * v for k, v in features.items()) - \
        sum(PENALTY_WEIGHTS[k] * v for k, v in penalties.items())
    score = min(1.0, max(0.0, score))
    shown = [f"{k} {v:.2f}" for k, v in features.items()] + [f"-{k} {v:.2f}" for k, v in penalties.items() if v]
    return score, f"score {score:.2f}: " + ", ".join(shown)


def code_features(tree: ast.Module, text: str) -> dict[str, float]:
    """The positive features of FEATURE_WEIGHTS, each in [0, 1]."""
    functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    classes = [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
    documented = [n for n in [tree, *functions, *classes] if ast.get_docstring(n)]
    with_examples = sum(">>>" in ast.get_docstring(n) for n in documented)
    code_lines = _code_lines(text)
    sizes = [n.end_lineno - n.lineno + 1 for n in functions]
    return {
        "docstrings": len(documented) / (1 + len(functions) + len(classes)),
        "logic": _share(_lines_in_bodies(tree) & code_lines, code_lines),
        "function_size": sum(2 <= s <= 40 for s in sizes) / len(sizes) if sizes else 0.0,
        "functions": 1.0 if functions else 0.0,
        "names": _meaningful_name_share(tree),
        "comments": min(1.0, 8 * _comment_lines(text) / max(1, len(code_lines))),
        "examples": min(1.0, 3 * with_examples / max(1, len(functions))),
    }


def code_penalties(tree: ast.Module, text: str) -> dict[str, float]:
    """The penalties of PENALTY_WEIGHTS, each in [0, 1]."""
    lines = text.splitlines()
    code_lines = _code_lines(text)
    top = tree.body
    imports = sum(isinstance(n, (ast.Import, ast.ImportFrom)) for n in top) / max(1, len(top))
    return {
        "data_literals": _share(_table_lines(tree), code_lines),
        "imports": max(0.0, 2 * imports - 1),
        "long_lines": min(1.0, 10 * sum(len(line) > LONG_LINE for line in lines) / max(1, len(lines))),
        "generated": 1.0 if generated_marker(text) else 0.0,
        "test_code": share_of_test_code(tree),
    }


def share_of_test_code(tree: ast.Module) -> float:
    """How much of the file is a test suite, in [0, 1]: the share of its functions that are tests, or,
    when it imports a test framework, its assertion density (full at ASSERTS_FULL_AT) if that is higher.

    Tests are functions named test_*/testName or a unittest hook (TEST_HOOKS), and every method of a
    class that has such a test method (its setUp and helpers are scaffolding too). Deriving from
    TestCase alone does not count: doctest.DocTestCase and unittest's own classes are library code.
    Assertions count only in files importing a test framework, because libraries assert invariants too.
    """
    nodes = list(ast.walk(tree))  # one walk: this runs on every file of the corpus
    functions = [n for n in nodes if isinstance(n, FUNCTIONS)]
    if not functions:
        return 0.0
    classes = [n for n in nodes if isinstance(n, ast.ClassDef)]
    share = len(_test_functions(functions, classes)) / len(functions)
    if any(map(_imports_test_framework, nodes)):
        statements = [n for n in nodes if isinstance(n, ast.stmt) and not isinstance(n, (*FUNCTIONS, ast.ClassDef))]
        density = sum(map(_is_assertion, statements)) / max(1, len(statements))
        share = max(share, min(1.0, density / ASSERTS_FULL_AT))
    return share


FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _is_test_name(name: str) -> bool:
    """unittest's and pytest's naming conventions: test_x or testX (not e.g. doctest's `testmod`)."""
    return name.startswith("test_") or (name.startswith("test") and name[4:5].isupper()) or name in TEST_HOOKS


def _test_functions(functions: list[ast.AST], classes: list[ast.ClassDef]) -> set[ast.AST]:
    """Functions named as tests, plus all methods of the classes that hold one."""
    tests = {n for n in functions if _is_test_name(n.name)}
    for node in classes:
        methods = [n for n in node.body if isinstance(n, FUNCTIONS)]
        if any(method in tests for method in methods):
            tests.update(methods)
    return tests


def _imports_test_framework(node: ast.AST) -> bool:
    """True when `node` imports unittest, pytest or test.support (anywhere, e.g. inside a test_main)."""
    if isinstance(node, ast.Import):
        return any(alias.name.split(".")[0] in TEST_FRAMEWORKS for alias in node.names)
    return isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] in TEST_FRAMEWORKS


def _is_assertion(statement: ast.stmt) -> bool:
    """An assert statement, a call of self.assert*/self.fail*, or `with self.assertRaises(...)`/`pytest.raises`."""
    if isinstance(statement, ast.Assert):
        return True
    if isinstance(statement, ast.Expr):
        calls = [statement.value]
    elif isinstance(statement, (ast.With, ast.AsyncWith)):
        calls = [item.context_expr for item in statement.items]
    else:
        return False
    return any(isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
               and call.func.attr.startswith(("assert", "fail", "raises")) for call in calls)


def _share(part: set[int], whole: set[int]) -> float:
    return len(part & whole) / len(whole) if whole else 0.0


def _code_lines(text: str) -> set[int]:
    """Line numbers (1-based) holding something other than blanks and comments."""
    return {i for i, line in enumerate(text.splitlines(), 1) if line.strip() and not line.lstrip().startswith("#")}


def _comment_lines(text: str) -> int:
    """Number of `#` comments (tokenized, so a '#' inside a string does not count)."""
    try:
        return sum(tok.type == tokenize.COMMENT for tok in tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return sum(line.lstrip().startswith("#") for line in text.splitlines())


def _lines_in_bodies(tree: ast.Module) -> set[int]:
    """Lines of top-level functions and classes, minus the literal tables inside them."""
    lines: set[int] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            lines.update(range(node.lineno, node.end_lineno + 1))
    return lines - _table_lines(tree)


LITERAL_NODES = (ast.Constant, ast.Dict, ast.List, ast.Tuple, ast.Set, ast.UnaryOp, ast.BinOp, ast.Name)


def _table_lines(tree: ast.Module) -> set[int]:
    """Lines of literal tables spanning TABLE_MIN_LINES lines or more: containers of constants, and
    strings assigned to a name (e.g. a codec's decoding table; docstrings are not assigned)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        is_table = isinstance(node, (ast.Dict, ast.List, ast.Tuple, ast.Set)) and _is_literal(node)
        if is_table or (isinstance(value, ast.Constant) and isinstance(value.value, (str, bytes))):
            table = node if is_table else value
            if table.end_lineno - table.lineno + 1 >= TABLE_MIN_LINES:
                lines.update(range(table.lineno, table.end_lineno + 1))
    return lines


def _is_literal(node: ast.AST) -> bool:
    """True when `node` holds only constants (names allowed: tables often refer to constants)."""
    return all(isinstance(child, LITERAL_NODES) or isinstance(child, (ast.expr_context, ast.operator, ast.unaryop))
               for child in ast.walk(node))


def _meaningful_name_share(tree: ast.Module) -> float:
    """Share of defined names that say something: 3+ characters and not a letter plus digits, or a usual short one."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.arg) and node.arg not in ("self", "cls"):
            names.append(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.append(node.id)
    if not names:
        return 0.0
    return sum(_is_meaningful(name) for name in names) / len(names)


def _is_meaningful(name: str) -> bool:
    bare = name.strip("_").lower()
    if bare in SHORT_NAMES_OK or not bare:
        return True
    return len(bare) >= 3 and not re.fullmatch(r"[a-z]{1,2}\d+|[a-z]\d*[a-z]?\d+", bare)


# --- the LLM labeler ---------------------------------------------------------------------------

SYSTEM_PROMPT = "You are an experienced programming teacher choosing code for a beginners' course."
USER_PROMPT = """\
Determine the educational value of the following code file for a student whose goal is to learn \
basic coding concepts.

High educational value: clear, self-contained and instructive code that a beginner can follow; it \
explains itself (docstrings, comments, examples), uses meaningful names and shows concepts such as \
functions, loops, data structures or algorithms. Low educational value: configuration, boilerplate, \
data tables, generated code, or code that only makes sense with context the student cannot see.

Give your reasons in at most three sentences, then end with one line that is exactly \
"Educational value: yes" or "Educational value: no".

```python
{code}
```"""
# The verdict line; markdown emphasis is stripped before matching, and the last verdict wins
# (a model may quote the format before giving its own answer). phi-1 asked GPT-4 for a binary
# high/low judgement, so "high"/"low" are read as yes/no too.
VERDICT = re.compile(r"educational\s+value\s*(?:is\s*)?[:=\-–]\s*(yes|no|high|low)\b", re.IGNORECASE)
POSITIVE = ("yes", "high")


def parse_verdict(reply: str) -> bool | None:
    """True/False from the reply's last "Educational value: yes|no" line, None when there is none."""
    plain = re.sub(r"[*_`#>]", "", reply)
    matches = VERDICT.findall(plain)
    return matches[-1].lower() in POSITIVE if matches else None


def truncate_code(text: str, max_chars: int) -> tuple[str, bool]:
    """`text` cut to at most `max_chars` characters at a line break, with a note saying how much was cut."""
    if len(text) <= max_chars:
        return text, False
    cut = text.rfind("\n", 0, max_chars)
    cut = cut if cut > 0 else max_chars
    return text[:cut] + f"\n# ... [truncated: {len(text) - cut} more characters]", True


class LLMLabeler:
    """Asks `client` whether each file has educational value; the label is its binary verdict.

    The reply must end with "Educational value: yes|no" (label_score 1.0 / 0.0; label_reason is the
    model's reasoning). A reply without a verdict is asked again with a new seed (and
    `retry_temperature`), up to `max_attempts` in all; after that the record's label is None with
    the reason, never a guessed default. Files are cut to `max_chars` characters. The client's
    cache makes a rerun send nothing it has sent before (every attempt has its own seed, so its own
    cache key); when its token budget runs out, labeling stops with what was labeled kept.
    """

    def __init__(self, client: Client, *, max_chars: int = 6000, max_tokens: int = 256, max_attempts: int = 3,
                 seed: int = 0, retry_temperature: float = 0.7, batch_size: int = 32):
        if max_attempts < 1 or max_chars < 100 or batch_size < 1:
            raise ValueError(f"need max_attempts >= 1, max_chars >= 100 and batch_size >= 1; got "
                             f"{max_attempts}, {max_chars}, {batch_size}")
        self.client, self.name = client, f"llm:{client.name}"
        self.max_chars, self.max_tokens, self.max_attempts = max_chars, max_tokens, max_attempts
        self.seed, self.retry_temperature, self.batch_size = seed, retry_temperature, batch_size

    def request(self, text: str, attempt: int) -> Request:
        """The request for `text` at attempt 0, 1, ...: greedy first, then sampled with a new seed."""
        code, _ = truncate_code(text, self.max_chars)
        return Request(messages=(("system", SYSTEM_PROMPT), ("user", USER_PROMPT.format(code=code))),
                       max_tokens=self.max_tokens, **attempt_sampling(attempt, self.seed, self.retry_temperature))

    def label_texts(self, texts: Sequence[str]) -> list[Label]:
        """One Label per text; PartialLabels (with the finished ones) when the budget runs out."""
        try:
            answers = ask_until_parsed(self.client, texts, self.request, parse_verdict, self.max_attempts)
        except AskStopped as stop:
            finished = [self._label(a, text) if a.value is not None else None for a, text in zip(stop.answers, texts)]
            raise PartialLabels(finished, stop) from stop
        return [self._label(answer, text) for answer, text in zip(answers, texts)]

    def _label(self, answer: Answer[bool], text: str) -> Label:
        if answer.value is None:
            return Label(None, None, self.name, f"no 'Educational value: yes|no' line after {answer.attempts} "
                                                f"attempt(s); last reply: {answer.reply[-200:]!r}")
        reason = VERDICT.split(re.sub(r"[*_`#>]", "", answer.reply))[0].strip()[-300:] or "(no reasoning given)"
        if len(text) > self.max_chars:
            reason += f" [judged on the first {self.max_chars} of {len(text)} characters]"
        return Label(answer.value, 1.0 if answer.value else 0.0, self.name, reason)
