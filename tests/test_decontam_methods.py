"""The two decontamination methods of paper §5: 13-gram overlap and the AST match rate.

The plant test is the issue's: HumanEval canonical solutions, transformed as a contaminator
would, are planted among real standard-library functions; the AST method must find the renamed
and reformatted copies that the n-gram method misses, without flagging the real functions.
Run with -s to see the tables.
"""

from __future__ import annotations

import ast
import re
import sysconfig
import textwrap
from pathlib import Path

import numpy as np
import pytest

from textbooks.similarity.astmatch import ASTMatcher, code_units, fallback_tokens, normalize
from textbooks.similarity.ngram import NGramIndex, code_tokens
from textbooks.benchmarks import load_benchmark

TAUS = (0.8, 0.9, 0.95)
CORPUS_SIZE = 3000  # real functions: enough short and long ones, fast enough for the default run

# Loop -> comprehension rewrites of a few solutions, by hand: the transformation that changes the
# tree's shape, so neither method is expected to see through all of it.
COMPREHENSIONS = {
    "HumanEval/0": "    return any(idx != idx2 and abs(elem - elem2) < threshold\n"
                   "               for idx, elem in enumerate(numbers) for idx2, elem2 in enumerate(numbers))\n",
    "HumanEval/14": "    return [string[:i+1] for i in range(len(string))]\n",
    "HumanEval/67": "    lis = [int(i) for i in s.split(' ') if i.isdigit()]\n    return n - sum(lis)\n",
    "HumanEval/104": "    odd_digit_elements = [i for i in x if all(int(c) % 2 == 1 for c in str(i))]\n"
                     "    return sorted(odd_digit_elements)\n",
    "HumanEval/113": "    counts = [sum(int(d) % 2 == 1 for d in arr) for arr in lst]\n"
                     "    return ['the number of odd elements ' + str(n) + 'n the str' + str(n) + 'ng ' + str(n)\n"
                     "            + ' of the ' + str(n) + 'nput.' for n in counts]\n",
    "HumanEval/149": "    lst.sort()\n    new_lst = [i for i in lst if len(i) % 2 == 0]\n"
                     "    return sorted(new_lst, key=len)\n",
}


def stdlib_functions(limit: int) -> list[str]:
    """Real code: the source of module-level functions and methods of the standard library's
    top-level modules, in a fixed order."""
    functions: list[str] = []
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")):
        source = path.read_text(encoding="utf-8", errors="replace")
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        lines = source.splitlines(keepends=True)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions.append(textwrap.dedent("".join(lines[node.lineno - 1:node.end_lineno])))
                if len(functions) == limit:
                    return functions
    return functions


def renamed(code: str) -> str:
    """Every function, parameter and variable the code binds gets a new name, in code and docs."""
    tree = ast.parse(code)
    names = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    names |= {node.arg for node in ast.walk(tree) if isinstance(node, ast.arg)}
    names |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}
    for index, name in enumerate(sorted(names)):
        code = re.sub(rf"(?<![\w.]){re.escape(name)}\b", f"item_{index}", code)
    return code


def reformatted(code: str) -> str:
    """The code as `ast.unparse` lays it out: other spacing, quotes, parentheses, no comments."""
    return ast.unparse(ast.parse(code)) + "\n"


def docstring_reworded(code: str) -> str:
    """Each docstring rewritten: the description in other words, the examples kept."""
    lines = code.splitlines(keepends=True)
    tree = ast.parse(code)
    documented = [node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.Module))
                  and ast.get_docstring(node) is not None]
    for node in sorted(documented, key=lambda node: -node.body[0].lineno):
        docstring = node.body[0]
        indent = " " * docstring.col_offset
        examples = [line.strip() for line in ast.get_docstring(node).splitlines() if ">>>" in line]
        words = ["Computes what the examples below show for the given arguments.", *examples]
        text = indent + '"""' + f"\n{indent}".join(words) + f'\n{indent}"""\n'
        lines[docstring.lineno - 1:docstring.end_lineno] = [text]
    return "".join(lines)


def comprehension(problem) -> str:
    return problem.prompt + COMPREHENSIONS[problem.task_id]


TRANSFORMS = {
    "renamed": lambda p: renamed(p.prompt + p.canonical_solution),
    "reformatted": lambda p: reformatted(p.prompt + p.canonical_solution),
    "docstring reworded": lambda p: docstring_reworded(p.prompt + p.canonical_solution),
    "loop -> comprehension": comprehension,
}


@pytest.fixture(scope="module")
def humaneval():
    return load_benchmark("humaneval")


@pytest.fixture(scope="module")
def references(humaneval):
    return {p.task_id: p.prompt + p.canonical_solution for p in humaneval}


@pytest.fixture(scope="module")
def matcher(references):
    return ASTMatcher(references, workers=2)


@pytest.fixture(scope="module")
def ngram_index(humaneval):
    return NGramIndex({p.task_id: [p.prompt, p.canonical_solution] for p in humaneval}, n=13)


@pytest.fixture(scope="module")
def corpus():
    return stdlib_functions(CORPUS_SIZE)


def test_code_tokens_ignore_layout_and_fall_back_on_prose():
    assert code_tokens("x = f( a,\n      b )  # note\n") == code_tokens("x = f(a, b)\n")
    assert code_tokens("don't stop (now") == ["don", "'", "t", "stop", "(", "now"]  # tokenize gives up
    # cut off in an open bracket: the code's own tokens up to there, so it compares with the whole
    assert code_tokens('def f(x):\n    """Doc."""\n    return g(x,\n') == \
        ["def", "f", "(", "x", ")", ":", '"""Doc."""', "return", "g", "(", "x", ","]


def test_ngram_counts_shared_ngrams_and_names_the_task():
    index = NGramIndex({"A": ["a b c d e", "z y x w v"], "B": ["c d e f g"]}, n=3)
    hit = index.overlap("a b c d e f")  # abc, bcd, cde from A; cde, def from B
    assert hit.count == 4 and hit.task == "A"
    assert index.overlap("q r s t") == type(hit)(count=0, task=None)


def test_normalization_ignores_names_layout_comments_docstrings_and_literals():
    base = normalize("def area(width, height):\n    '''Area.'''\n    total = width * height + 1\n"
                     "    return total if total > 0 else 'none'\n")
    variants = [
        "def f(a, b):\n    '''Area.'''\n    t = a * b + 1\n    return t if t > 0 else 'none'\n",
        "def area(width,height):\n  total=(width*height)+1  # why\n  return (total\n   if total>0 else \"none\")\n",
        "def area(width, height):\n    total = width * height + 1\n    return total if total > 0 else 'none'\n",
        "def area(width, height):\n    '''Another doc.'''\n    total = width * height + 7\n"
        "    return total if total > 0 else 'other'\n",
    ]
    assert all(normalize(code) == base for code in variants)
    # What a contaminator cannot change without changing the code still counts.
    assert normalize(base_with := "def area(w, h):\n    return max(w, h)\n") != normalize(
        base_with.replace("max", "min"))
    assert normalize("def f(x):\n    return x.upper()\n") != normalize("def f(x):\n    return x.lower()\n")


def test_units_are_the_code_and_every_function_it_defines():
    code = "import os\n\ndef a():\n    def inner():\n        return 1\n    return inner\n\n" \
           "class C:\n    def m(self):\n        return 2\n"
    assert len(code_units(code)) == 4  # the file, a, inner, C.m
    assert code_units("def f(x)\n    return x\n") is None
    # a method cut out of its class, still indented, is code all the same
    assert code_units("    def m(self):\n        return 2\n") == code_units("def m(self):\n    return 2\n")


def test_a_buried_solution_still_matches(matcher, humaneval, corpus):
    for problem in humaneval[:40:8]:
        planted = renamed(problem.prompt + problem.canonical_solution)
        file = "\n\n".join([*corpus[:3], planted, *corpus[3:6]])
        match = matcher.match([file])[0]
        assert match.task == problem.task_id and match.score >= 0.8 and match.parsed
        first, last = match.lines  # where in the file the match is: the planted function
        found = "\n".join(file.splitlines()[first - 1:last])
        assert found.startswith("def ") and found in planted
        if problem.prompt.count("def ") == 1:  # a lone function is its own unit, as if not buried
            assert match.score == matcher.match([planted])[0].score


def with_added_statements(problem) -> str:
    """The solution with two statements a contaminator might add: a guard and a debug print."""
    body = problem.canonical_solution
    indent = re.match(r"\s*", body).group(0) or "    "
    return (problem.prompt + f"{indent}if False:\n{indent}    raise ValueError('bad input')\n"
            + body.rstrip() + f"\n{indent}print('done')\n")


def test_a_couple_of_added_statements_still_scores_high(matcher, humaneval):
    """Failure mode (a): a contaminator adds statements. Measured over all of HumanEval."""
    scores = np.array([m.score for m in matcher.match([with_added_statements(p) for p in humaneval])])
    print(f"\n2 added statements: caught at tau 0.8 {np.mean(scores >= 0.8):.0%}, 0.9 {np.mean(scores >= 0.9):.0%},"
          f" median score {np.median(scores):.2f}")
    assert np.mean(scores >= 0.8) >= 0.8  # Levenshtein instead of Indel: about half


def test_code_that_does_not_parse_falls_back_to_tokens_and_says_so(matcher, humaneval):
    problem = humaneval[12]
    broken = renamed(problem.prompt + problem.canonical_solution).replace("def ", "def def ", 1)
    match = matcher.match([broken])[0]
    assert not match.parsed and match.task == problem.task_id and match.score >= 0.8
    prose = matcher.match(["The quick brown fox jumps over the lazy dog, doesn't it?"])[0]
    assert not prose.parsed and prose.score < min(TAUS)
    assert fallback_tokens("x = len(y) + 2.5 * 'a'") == ["v", "=", "len", "(", "v", ")", "+", "num", "*", "str"]


def test_short_real_functions_do_not_match_short_solutions(references, corpus):
    """Failure mode (b): many real one-liners normalize like HumanEval's one-line solutions.
    The length shrink (min_tokens) is what keeps them out; without it they reach tau 0.8."""
    found = {}
    for min_tokens in (1, ASTMatcher.__init__.__defaults__[1]):
        scores = np.array([m.score for m in ASTMatcher(references, workers=2, min_tokens=min_tokens).match(corpus)])
        found[min_tokens] = [int(np.sum(scores >= tau)) for tau in TAUS]
        print(f"\nmin_tokens={min_tokens}: real functions (of {len(corpus)}) at tau {TAUS}: {found[min_tokens]}")
    without, with_shrink = found.values()
    assert without[0] > 0 and with_shrink[0] == 0


def test_plants_among_real_functions(matcher, ngram_index, humaneval, corpus):
    """The issue's test: AST catches the renamed and reformatted copies at tau 0.8, 13-grams
    miss most renamed ones, and real functions stay below tau."""
    plants = {name: [(p.task_id, transform(p)) for p in humaneval
                     if name != "loop -> comprehension" or p.task_id in COMPREHENSIONS]
              for name, transform in TRANSFORMS.items()}
    records = corpus + [code for planted in plants.values() for _, code in planted]
    matches = matcher.match(records)
    hits = [ngram_index.overlap(code) for code in records]
    print(f"\n{'transformation':24}{'planted':>8}{'AST@0.8':>9}{'AST@0.9':>9}{'AST@0.95':>9}{'13-gram':>9}")
    start, caught = len(corpus), {}
    for name, planted in plants.items():
        ast_matches, ngram_hits = matches[start:start + len(planted)], hits[start:start + len(planted)]
        start += len(planted)
        right = [m.score for m, (task, _) in zip(ast_matches, planted) if m.task == task]
        caught[name] = (sum(s >= 0.8 for s in right), sum(h.count > 0 for h in ngram_hits), len(planted))
        print(f"{name:24}{len(planted):>8}" + "".join(f"{sum(s >= tau for s in right):>9}" for tau in TAUS)
              + f"{caught[name][1]:>9}")
    real = [m.score for m in matches[:len(corpus)]]
    ngram_real = sum(h.count > 0 for h in hits[:len(corpus)])
    print(f"{'real functions (FP)':24}{len(corpus):>8}" + "".join(f"{sum(s >= tau for s in real):>9}" for tau in TAUS)
          + f"{ngram_real:>9}")
    for name in ("renamed", "reformatted"):
        ast_caught, _, total = caught[name]
        assert ast_caught >= 0.9 * total, name
    assert caught["renamed"][1] <= 0.5 * caught["renamed"][2]
    assert sum(s >= 0.8 for s in real) <= 0.001 * len(corpus)
