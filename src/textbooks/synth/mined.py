"""The offline teacher (`--teacher mined`, docs/architecture.md, "Teachers"): exercises and textbook passages mined
from real material on this machine, in the records a teacher LLM's would have (paper §2.2).

Exercises: each documented module-level function of a corpus record whose doctest examples call it.
Its `prompt` is the imports it uses, then the file's lines from `def` to the end of the docstring
(decorators left out): a signature and docstring to complete (paper §2.2), with its imports above
it as HumanEval's prompts have them ("from typing import List"). Its `solution` is the lines after,
its `text` the two together. An import is carried when the function's signature or body (not its
decorators, which the prompt leaves out) reads a name that the module binds only by its top-level
absolute imports, and only that name: `from os import path as p, sep` becomes `from os import path
as p` for a function that reads `p` alone. Not carried: relative imports (`from . import x` means
nothing outside its package), imports under an `if` or a `try` (which branch ran is the module's
business: `if TYPE_CHECKING` never runs, a `try` falls back to something else), and a name the
module also binds otherwise (a def, an assignment, a `del`). `from __future__ import annotations`
binds no name a function reads, so it is not carried: the exercise evaluates its annotations, and
one that names a class of the module fails as a helper does.

Its `tests` are the docstring's examples as a program: each example's statements run in a
`with _DoctestExample(...)` block that asserts, as doctest would (its parser, its output checker,
the example's directives), that what the example printed or raised is what the docstring says; an
unexpected exception is itself the verdict (a NameError, say). A pass means every example matched.
Verification (exercises.verify_exercises) runs the prompt's imports and the function alone, without
the rest of its module, so one that needs its module's other names (a helper, a constant, what a
relative import brings) fails with that reason, as intended; so does an example that needs them.

Passages: the language reference that ships with CPython (`pydoc_data.topics`) and the longer
module and class docstrings of the standard library, cut at paragraph boundaries, with code kept
as ```python blocks: interactive sessions (">>> ") and indented blocks that follow a reST "::" or
that parse as Python.
"""

from __future__ import annotations

import ast
import doctest
import itertools
import re
import symtable
import textwrap
import tokenize
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from textbooks.sources import default_source_dir, python_files, record_id
from textbooks.synth.exercises import NOT_RUN, Exercise, defines, exercise_record, provenance

TEACHER = "mined"
TEXTBOOK_SOURCE = "synth:textbook"
# What a model reads as a function is its lines as the tokenizer counts them (ast's line numbers):
# str.splitlines would also split at form feeds and other separators that live inside lines.
LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
# The tests program runs each example in a `with _DoctestExample(...)` block, as doctest would (its
# parser, its output checker, each example's directives), and asserts what it printed. Not doctest's
# runner: it calls sys.settrace, which the sandbox refuses, and its examples are strings, where the
# verifier (exercises.check_tests) rightly wants asserts and calls of the function it can see. The
# class's imports are local, so a function that needs its module's `io` or `doctest` still fails.
EXAMPLE_CHECKER = '''\
class _DoctestExample:
    """One docstring example, run in a `with` block: what it prints, and the values the interactive
    prompt would show, must match `want` as doctest compares them; an exception must match `exc_msg`,
    and is the verdict itself when none was expected."""

    def __init__(self, source, want, exc_msg=None, flags=0):
        import contextlib
        import io

        self.source, self.want, self.exc_msg, self.flags = source, want, exc_msg, flags
        self.printed = io.StringIO()
        self.redirect = contextlib.redirect_stdout(self.printed)

    def __enter__(self):
        self.redirect.__enter__()
        return self

    def show(self, value):
        import sys

        sys.displayhook(value)

    def __exit__(self, kind, error, trace):
        import doctest

        self.redirect.__exit__(None, None, None)
        if error is not None and self.exc_msg is None:
            return False
        want = self.want if self.exc_msg is None else self.exc_msg
        got = self.printed.getvalue() if error is None else self.exception_message(error)
        check = doctest.OutputChecker().check_output
        ignore_detail = error is not None and self.flags & doctest.IGNORE_EXCEPTION_DETAIL
        matched = check(want, got, self.flags) or ignore_detail and check(self.name_of(want), self.name_of(got), 0)
        assert matched, f"{self.source.strip()} gave {got!r}, expected {want!r}"
        return True

    @staticmethod
    def name_of(message):
        """The exception's name alone, without its module or detail (IGNORE_EXCEPTION_DETAIL)."""
        return message.split("\\n", 1)[0].split(":", 1)[0].rsplit(".", 1)[-1]

    @staticmethod
    def exception_message(error):
        """As doctest reads it: from the line naming the exception (a SyntaxError's lines before it
        show the code), notes included."""
        import traceback

        lines, kind = traceback.format_exception_only(type(error), error), type(error)
        named = (kind.__qualname__, f"{kind.__module__}.{kind.__qualname__}")
        return "".join(lines[next((i for i, line in enumerate(lines) if line.startswith(named)), 0):])
'''
# Docstrings of tests teach how CPython is tested, not Python.
TEST_DIRS = frozenset({"test", "tests", "idle_test"})
MIN_DOCSTRING_CHARS = 300  # "a few hundred characters": shorter docstrings are a line or two of API notes
HEADING_RULE = re.compile(r"^\s*([*=~^#-])\1{2,}\s*$")
LIST_ITEM = re.compile(r"\s*(?:[-*+•]|\d+[.)])\s+")
IMPORTS = (ast.Import, ast.ImportFrom)


# ---------------------------------------------------------------------------------------------
# Exercises


def mine_exercises(records: Iterable[dict], allow_untested: bool = False,
                   skipped: Counter | None = None) -> Iterator[dict]:
    """One exercise record per documented module-level function of `records` whose doctest
    examples call it (any documented one if `allow_untested`, with `tests` "" and the reason under
    "untested" in its constraints). Each function or module not mined is counted in `skipped`
    under its reason."""
    skipped = Counter() if skipped is None else skipped
    for record in records:
        text = record["text"].removeprefix("\ufeff")  # a UTF-8 BOM, which ast refuses in a str
        module = parse_quietly(text)
        if module is None:
            skipped["module not parseable"] += 1
            continue
        lines = LINE.findall(text)
        imports = ModuleImports.of(module, text)
        functions = [node for node in module.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
        last = {node.name: node for node in functions}  # a later def of the same name replaces the earlier
        for node in functions:
            if last[node.name] is node:
                exercise = function_exercise(node, lines, record, allow_untested, imports)
            else:
                exercise = "redefined later in its module"
            if isinstance(exercise, str):
                skipped[exercise] += 1
            else:
                yield exercise


def parse_quietly(text: str) -> ast.Module | None:
    """The module's tree, or None if it is not Python this interpreter parses. Old code's invalid
    escapes would print a SyntaxWarning per file: silenced, as they change nothing here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ast.parse(text)
        except (SyntaxError, ValueError, RecursionError):  # ValueError: a null byte
            return None


def function_exercise(node: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str], record: dict,
                      allow_untested: bool, imports: ModuleImports) -> dict | str:
    """The exercise record of one module-level function, or why it is not one."""
    docstring = ast.get_docstring(node, clean=False)
    if not (docstring or "").strip():
        return "no docstring"
    if len(node.body) < 2:
        return "no body after the docstring"
    docstring_end = node.body[0].end_lineno
    if node.body[1].lineno <= docstring_end:
        return "docstring shares a line with code"
    tests, untested = examples_tests(docstring, node.name)
    if untested and not allow_untested:
        return untested
    def_line = lines[node.lineno - 1]
    carried = imports.used_by("".join(lines[node.lineno - 1:node.end_lineno]))
    newline = def_line[len(def_line.rstrip("\r\n")):]  # the file's own line ending, for the imports too
    # Two blank lines after the imports, as PEP 8 and HumanEval's prompts have them.
    header = newline.join(carried) + newline * 3 if carried else ""
    prompt = header + "".join(lines[node.lineno - 1:docstring_end])
    solution = "".join(lines[docstring_end:node.end_lineno])
    constraints = {"mined_from": mined_from(record), "function": node.name}
    if untested:
        constraints["untested"] = untested
    return {**exercise_record(Exercise(prompt, solution, tests, node.name), constraints, TEACHER, {}),
            "id": record_id(f"{record['id']}:{node.name}")}


@dataclass(frozen=True)
class ModuleImports:
    """A module's top-level absolute imports, and the names among those they bind that a mined
    function may carry them for: the names the module binds by no other statement (module docstring)."""

    statements: tuple[ast.Import | ast.ImportFrom, ...]
    names: frozenset[str]

    @classmethod
    def of(cls, module: ast.Module, text: str) -> ModuleImports:
        try:
            table = symbols(text)
        except SyntaxError:  # ast parses what the compiler may still refuse (a name global and a parameter)
            return cls((), frozenset())
        statements = tuple(node for node in module.body if isinstance(node, IMPORTS) and not getattr(node, "level", 0))
        # `from m import *` binds names the source does not show: never carried
        top_level = Counter(bound_name(alias) for node in statements for alias in node.names if alias.name != "*")
        everywhere = Counter(bound_name(alias) for node in module_scope_imports(module.body) for alias in node.names)
        names = {name for name, count in top_level.items()
                 if everywhere[name] == count and not table.lookup(name).is_assigned()}
        return cls(statements, frozenset(names))

    def used_by(self, function: str) -> list[str]:
        """The import statements, in the module's order, that bind what the source of `function` reads,
        each cut to the names it reads. The source compiles alone, as the module compiled (`of`)."""
        read = self.names & global_reads(function) if self.names else set()
        kept = [(node, [alias for alias in node.names if bound_name(alias) in read]) for node in self.statements]
        return [ast.unparse(cut_import(node, aliases)) for node, aliases in kept if aliases]


def cut_import(node: ast.Import | ast.ImportFrom, aliases: list[ast.alias]) -> ast.Import | ast.ImportFrom:
    """The absolute import statement `node` with only `aliases`."""
    return ast.Import(aliases) if isinstance(node, ast.Import) else ast.ImportFrom(node.module, aliases, 0)


def bound_name(alias: ast.alias) -> str:
    """The name an import binds: `import os.path` binds `os`."""
    return alias.asname or alias.name.split(".")[0]


def module_scope_imports(statements: list[ast.AST]) -> Iterator[ast.Import | ast.ImportFrom]:
    """The imports that bind names of the module: its own statements', and those under its `if`,
    `try`, `with`, `for`, `while` and `match` blocks, but not inside its functions and classes."""
    for statement in statements:
        if isinstance(statement, IMPORTS):
            yield statement
        elif not isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for field in ("body", "orelse", "handlers", "finalbody", "cases"):  # handlers and cases hold bodies
                yield from module_scope_imports(getattr(statement, field, []))


def global_reads(function: str) -> set[str]:
    """The names the source of a function reads from its globals, in its signature or any scope of its
    body (a local of the same name shadows one)."""
    tables, names = [symbols(function)], set()
    while tables:
        table = tables.pop()
        names.update(name.get_name() for name in table.get_symbols() if name.is_global() and name.is_referenced())
        tables.extend(table.get_children())
    return names


def symbols(source: str) -> symtable.SymbolTable:
    """The symbol table of `source`, whose invalid escapes warn no more than `parse_quietly`'s do."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return symtable.symtable(source, "<mined>", "exec")


def examples_tests(docstring: str, name: str) -> tuple[str, str]:
    """(tests program, "") of the docstring's examples, or ("", why they cannot check the function `name`):
    doctest must find examples to run, each must parse, one must call `name`, and none may define or
    import a `name` of its own (checking the installed module's function passes whatever the solution)."""
    examples = doctest_examples(docstring)
    if examples is None:
        return "", "doctest examples not parseable"
    if not examples:
        return "", "no doctest examples"
    trees = [parse_quietly(example.source) for example in examples]
    if None in trees:
        return "", "an example does not parse"
    nodes = [node for tree in trees for node in ast.walk(tree)]
    if any(defines(node, name) or isinstance(node, ast.alias) and node.name == "*" for node in nodes):
        return "", "examples define or import the function"
    if not any(isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name
               for node in nodes):
        return "", "examples do not call the function"
    return EXAMPLE_CHECKER + "".join(example_block(example, tree) for example, tree in zip(examples, trees)), ""


def doctest_examples(text: str, keep_skipped: bool = False) -> list[doctest.Example] | None:
    """The examples doctest finds in `text`, +SKIP ones left out unless `keep_skipped`; None if doctest
    cannot read it (its own complaint: inconsistent indentation, a prompt without a space, ...)."""
    try:
        examples = doctest.DocTestParser().get_examples(text)
    except ValueError:
        return None
    return [example for example in examples if keep_skipped or not example.options.get(doctest.SKIP)]


def example_block(example: doctest.Example, tree: ast.Module) -> str:
    """One example as code of the tests program: its statements in a `with _DoctestExample(...)` block."""
    arguments = [repr(example.source), repr(example.want)]
    if example.exc_msg is not None:
        arguments.append(f"exc_msg={example.exc_msg!r}")
    flags = sum(flag for flag, on in example.options.items() if on)
    if flags:
        arguments.append(f"flags={flags}")
    body = ast.unparse(ShownExpressions().visit(tree)) or "pass"
    return f"\n\nwith _DoctestExample({', '.join(arguments)}) as _example:\n{textwrap.indent(body, '    ')}\n"


class ShownExpressions(ast.NodeTransformer):
    """Each expression statement an interactive prompt would echo (outside functions and classes)
    rewritten to hand its value to `_example.show`, which echoes it the same way."""

    def visit_Expr(self, node: ast.Expr) -> ast.Expr:
        show = ast.Attribute(ast.Name("_example", ast.Load()), "show", ast.Load())
        return ast.Expr(ast.Call(show, [node.value], []))

    def visit_FunctionDef(self, node: ast.AST) -> ast.AST:
        return node

    visit_AsyncFunctionDef = visit_ClassDef = visit_FunctionDef


def mined_from(record: dict) -> str:
    """Where a record's text was read: its file (and row, for a data file), else its id."""
    path, row = record.get("path"), record.get("row") or 0
    if not path:
        return record["id"]
    return f"{path}:{row}" if row else path


# ---------------------------------------------------------------------------------------------
# Textbook passages


def mine_passages(max_chars: int = 4000, roots: Iterable[str | Path] | None = None,
                  min_docstring_chars: int = MIN_DOCSTRING_CHARS, skipped: Counter | None = None) -> Iterator[dict]:
    """Passage records of at most `max_chars`: the topics of `pydoc_data.topics`, then the module and
    top-level class docstrings of at least `min_docstring_chars` under `roots` (default: the standard
    library, its tests left out). A paragraph longer than `max_chars` alone, and a file that cannot
    be read or parsed, are counted in `skipped` under their reason."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be positive, got {max_chars}")
    skipped = Counter() if skipped is None else skipped
    roots = [default_source_dir()] if roots is None else roots
    for origin, text in itertools.chain(topic_documents(), docstring_documents(roots, min_docstring_chars, skipped)):
        yield from document_passages(origin, text, max_chars, skipped)


def topic_documents() -> Iterator[tuple[str, str]]:
    """(origin, text) of each topic of the language reference that ships with the interpreter."""
    from pydoc_data.topics import topics  # half a megabyte of text, which mining exercises never needs

    for topic in sorted(topics):
        yield f"pydoc_data.topics:{topic}", topics[topic]


def docstring_documents(roots: Iterable[str | Path], min_chars: int, skipped: Counter) -> Iterator[tuple[str, str]]:
    """(dotted name, text under a heading of that name) of each long module and top-level class docstring."""
    for root in map(Path, roots):
        for path in python_files(root):
            if TEST_DIRS.intersection(path.relative_to(root).parts[:-1]):
                continue
            module = parse_file(path)
            if module is None:
                skipped["file not readable or parseable"] += 1
                continue
            name = module_name(root, path)
            classes = [node for node in module.body if isinstance(node, ast.ClassDef)]
            for dotted, node in [(name, module), *((f"{name}.{c.name}", c) for c in classes)]:
                docstring = ast.get_docstring(node) or ""
                if len(docstring) >= min_chars:
                    yield dotted, f"{dotted}\n{'=' * len(dotted)}\n\n{docstring}"


def module_name(root: Path, path: Path) -> str:
    """The dotted name of the module at `path` under `root`: a directory on sys.path, or a package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if (root / "__init__.py").is_file():
        parts.insert(0, root.name)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def parse_file(path: Path) -> ast.Module | None:
    try:
        with tokenize.open(path) as f:  # honours the file's coding cookie
            return parse_quietly(f.read())
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None


@dataclass(frozen=True)
class Unit:
    """A piece a passage is never cut inside: a paragraph, or a fenced code block."""

    text: str
    code: bool = False
    parsed: bool = False


def document_passages(origin: str, text: str, max_chars: int, skipped: Counter) -> Iterator[dict]:
    """The passage records of one document, its heading repeated atop each passage after the first."""
    units = document_units(text)
    heading = units.pop(0) if units and is_heading(units[0]) else None
    budget = max_chars - (len(heading.text) + 2 if heading else 0)
    for part, pieces in enumerate(pack(units, budget, skipped)):
        pieces = [heading, *pieces] if heading else pieces
        code = [unit for unit in pieces if unit.code]
        yield {"id": record_id(f"{origin}#{part}"), "text": "\n\n".join(unit.text for unit in pieces),
               "source": TEXTBOOK_SOURCE, **provenance({"mined_from": origin, "part": part}, TEACHER, {}),
               "code_blocks": len(code), "code_parsed": sum(unit.parsed for unit in code),
               "verified": False, "verdict": NOT_RUN}


def is_heading(unit: Unit) -> bool:
    lines = unit.text.splitlines()
    return not unit.code and len(lines) == 2 and bool(HEADING_RULE.match(lines[1]))


def pack(units: list[Unit], budget: int, skipped: Counter) -> Iterator[list[Unit]]:
    """Consecutive units gathered into passages of at most `budget` characters (joined by a blank line)."""
    passage: list[Unit] = []
    size = 0
    for unit in units:
        if len(unit.text) > budget:
            skipped["paragraph longer than max_chars"] += 1
            continue
        if passage and size + 2 + len(unit.text) > budget:
            yield passage
            passage, size = [], 0
        size += (2 if passage else 0) + len(unit.text)
        passage.append(unit)
    if passage:
        yield passage


def document_units(text: str) -> list[Unit]:
    """The paragraphs and code blocks of a plain-text document (reST docstring or rendered reference).

    A block of code starts with ">>> " (an interactive session), or is indented deeper than the
    prose before it and either follows a reST "::" or parses as Python. The scan goes on inside an
    indented block that is not code, so a session nested in a note is still found."""
    lines = text.splitlines()
    units: list[Unit] = []
    prose: list[str] = []
    # the indentation of the prose being read's text; whether a blank line, or a "::", came just before
    context, after_blank, literal, i = 0, True, False, 0
    while i < len(lines):
        end = code_end(lines, i, context, after_blank, literal)
        if end:
            units += prose_units(prose) + [code_unit(lines[i:end])]
            prose, literal, i = [], False, end
        elif lines[i].strip():
            prose.append(lines[i])
            context, after_blank, literal = text_indentation(lines[i]), False, lines[i].rstrip().endswith("::")
            i += 1
        else:
            units += prose_units(prose)
            prose, after_blank, i = [], True, i + 1
    return units + prose_units(prose)


def code_end(lines: list[str], start: int, context: int, after_blank: bool, literal: bool) -> int:
    """The end (exclusive) of the code block starting at lines[start], or 0 if none starts there."""
    line = lines[start]
    if line.lstrip().startswith(">>>"):
        return session_end(lines, start)
    if not (after_blank and line.strip() and indentation(line) > context):
        return 0
    end = start + 1
    for j in range(start + 1, len(lines)):
        if lines[j].strip():
            if indentation(lines[j]) <= context:
                break
            end = j + 1
    return end if literal or looks_like_code(dedent(lines[start:end])) else 0


def session_end(lines: list[str], start: int) -> int:
    """The end of an interactive session: its lines up to a blank line, and on past blank lines while
    the next line is another prompt at the same indentation."""
    prompt = lines[start][:indentation(lines[start])] + ">>>"
    end = start
    while True:
        while end < len(lines) and lines[end].strip():
            end += 1
        following = next((j for j in range(end, len(lines)) if lines[j].strip()), None)
        if following is None or not lines[following].startswith(prompt):
            return end
        end = following


def prose_units(lines: list[str]) -> list[Unit]:
    """A paragraph, with reST's literal marker "::" read as the colon it renders to."""
    text = "\n".join(lines).rstrip()
    if text.endswith("::"):
        text = text[:-1].rstrip(" :") if text.endswith(" ::") else text[:-1]
    return [Unit(text)] if text.strip() else []


def code_unit(lines: list[str]) -> Unit:
    code = dedent(lines)
    parsed = session_parses(code) if code.lstrip().startswith(">>>") else parse_quietly(code) is not None
    return Unit(f"```python\n{code}\n```", code=True, parsed=parsed)


def session_parses(session: str) -> bool:
    """Whether every statement typed at the session's prompts parses, +SKIP ones included."""
    examples = doctest_examples(session, keep_skipped=True)
    return bool(examples) and all(parse_quietly(example.source) is not None for example in examples)


def looks_like_code(text: str) -> bool:
    """Whether indented text is code: it parses, and is more than names and literals (a file name, a
    quoted phrase, a lone word, which parse too)."""
    module = parse_quietly(text)
    return module is not None and any(
        not (isinstance(node, ast.Expr) and isinstance(node.value, (ast.Name, ast.Attribute, ast.Constant)))
        for node in module.body)


def dedent(lines: list[str]) -> str:
    return textwrap.dedent("\n".join(lines)).strip("\n")


def indentation(line: str) -> int:
    return len(line) - len(line.lstrip())


def text_indentation(line: str) -> int:
    """Where a prose line's text starts: after a list item's bullet or number, whose continuation
    lines and literal blocks are indented to there."""
    item = LIST_ITEM.match(line)
    return item.end() if item else indentation(line)
