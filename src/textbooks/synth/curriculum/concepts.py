"""The typed concept library of the curriculum teacher: domains of values, operations, families.

A `Domain` is a kind of value a function takes or gives ("list[int]", "word", "grid"): its type hint,
how a docstring names it, what a parameter of it may be called, and typed random values for tests
(edge cases first: empty, one element, negatives, duplicates). An `Op` is one primitive operation
from one domain to another, written once as code (an expression, and where the concept allows a
loop and a builtin idiom) and at least three times as English (imperative clauses a docstring
strings together). A `Family` is a group of operations that one lesson teaches (filters, maps,
reductions, ...), tied to a leaf of the packaged topic tree, with its explanations and a common
mistake.

Code templates are `str.format` text over these fields: `{v}` the input's name, `{out}` the name
the step's result gets (loop idiom), `{arg}` the operation's extra parameter. Loop variables use
the names in LOOP_NAMES, which no parameter pool contains, so they never shadow an argument.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from typing import Callable

# The only names a loop template may bind besides "{out}": no parameter pool and no Op.var holds them.
LOOP_NAMES = frozenset({"x", "y", "i", "j", "ch", "word", "key", "value", "row", "item", "seen", "left", "right",
                        "start", "end", "pair", "cell", "part", "best", "other"})


@dataclass(frozen=True)
class Domain:
    name: str
    hint: str  # the type hint with builtin generics: "list[int]"
    typing_hint: str  # the same with typing's names: "List[int]" (HumanEval's style)
    described: str  # how a docstring names it: "a list of integers"
    names: tuple[str, ...]  # what a parameter of it may be called
    sample: Callable[[random.Random], object]  # one random value
    edges: tuple = ()  # edge-case values tried first

    def values(self, rng: random.Random, count: int) -> list:
        """`count` values in a seeded order: up to a third are edge cases, the rest random."""
        edges = rng.sample(self.edges, min(len(self.edges), count // 3))
        values = edges + [self.sample(rng) for _ in range(count - len(edges))]
        rng.shuffle(values)
        return values


VALUE_RANGES = ((-20, 20), (0, 9), (-5, 5))


def _ints(rng: random.Random, most: int = 8) -> list[int]:
    """A list of integers from a range drawn too: a narrow one makes repeats common (so tests of
    counting, searching and duplicates do not all answer alike), a wide one makes them rare."""
    low, high = rng.choice(VALUE_RANGES)
    return [rng.randint(low, high) for _ in range(rng.randint(0, most))]


def _word(rng: random.Random, most: int = 8) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(1, most)))


def _words(rng: random.Random, most: int = 6) -> list[str]:
    return [_word(rng) for _ in range(rng.randint(0, most))]


def _text(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits + "  ,.!?"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 16)))


def _grid(rng: random.Random) -> list[list[int]]:
    width = rng.randint(1, 4)
    return [[rng.randint(-9, 9) for _ in range(width)] for _ in range(rng.randint(0, 4))]


def _counts(rng: random.Random) -> dict[str, int]:
    return {_word(rng, 5): rng.randint(-10, 30) for _ in range(rng.randint(0, 5))}


LIST_NAMES = ("nums", "numbers", "values", "scores", "readings", "data", "arr", "lst", "seq",
              "integers", "marks", "ages", "prices", "counts", "points", "samples", "elements", "heights",
              "temps", "weights", "series", "amounts", "entries", "totals", "ids", "sizes", "levels")
STR_NAMES = ("s", "text", "string", "line", "phrase", "message", "name", "label", "msg", "txt",
             "sentence", "title", "code", "token", "chars", "value_str", "raw", "input_text", "content")
WORDS_NAMES = ("words", "names", "strings", "tokens", "labels", "tags", "terms", "fruits", "cities", "colors",
               "animals", "titles", "lines", "vocab", "keywords", "phrases", "pets", "guests")

DOMAINS: dict[str, Domain] = {d.name: d for d in (
    Domain("int", "int", "int", "an integer", ("n", "num", "number", "val", "k", "m", "a", "b", "z", "amount"),
           lambda rng: rng.randint(-50, 50), (0, 1, -1, 7, -12)),
    Domain("nat", "int", "int", "a non-negative integer",
           ("n", "num", "number", "val", "k", "m", "amount", "size", "limit", "total_n"),
           lambda rng: rng.randint(0, 5000), (0, 1, 9, 10, 100, 1221)),
    Domain("small", "int", "int", "a small non-negative integer", ("n", "k", "m", "size", "steps", "times", "depth"),
           lambda rng: rng.randint(0, 10), (0, 1, 2, 5)),
    Domain("pos", "int", "int", "a positive integer", ("n", "k", "m", "num", "number", "size", "width", "base_n"),
           lambda rng: rng.randint(1, 60), (1, 2, 12, 13, 36)),
    Domain("bool", "bool", "bool", "a boolean", ("flag", "ok", "enabled", "verbose", "strict", "on"),
           lambda rng: rng.random() < 0.5, (True, False)),
    Domain("float", "float", "float", "a number", ("x_value", "amount", "ratio", "rate", "measure", "level"),
           lambda rng: round(rng.uniform(-100, 100), 2), (0.0, 1.5, -2.25)),
    Domain("opt_int", "int | None", "Optional[int]", "an integer or None", ("found", "maybe"),
           lambda rng: rng.choice([None, rng.randint(-20, 20)]), (None, 0)),
    Domain("str", "str", "str", "a string", STR_NAMES, _text, ("", "a", "Hello World", "aaBB 12!", "  x  ")),
    Domain("word", "str", "str", "a word of lowercase letters", ("w", "term", "name", "token", "s", "word_in"),
           lambda rng: _word(rng), ("a", "level", "abba", "zz", "python")),
    Domain("sentence", "str", "str", "a sentence of words separated by single spaces",
           ("sentence", "text", "line", "phrase", "message", "caption", "headline", "s"),
           lambda rng: " ".join(_words(rng, 6)), ("", "one", "the cat sat", "a bb a")),
    Domain("char", "str", "str", "a single character", ("ch_", "letter", "char", "symbol", "c", "mark"),
           lambda rng: rng.choice(string.ascii_lowercase), ("a", "e", "z")),
    Domain("list[int]", "list[int]", "List[int]", "a list of integers", LIST_NAMES, _ints,
           ([], [5], [-3], [2, 2, 2], [-4, 0, 4], [3, 1, 2, 3, 1])),
    Domain("list[float]", "list[float]", "List[float]", "a list of numbers", LIST_NAMES,
           lambda rng: [round(rng.uniform(-50, 50), 1) for _ in range(rng.randint(1, 6))],
           ([1.0], [2.5, -1.5], [0.0, 0.0, 3.0])),
    Domain("list[str]", "list[str]", "List[str]", "a list of words", WORDS_NAMES, _words,
           ([], ["a"], ["bb", "a", "bb"], ["apple", "kiwi", "fig"])),
    Domain("list[bool]", "list[bool]", "List[bool]", "a list of booleans", ("flags", "answers", "checks", "votes"),
           lambda rng: [rng.random() < 0.5 for _ in range(rng.randint(0, 6))], ([], [True], [False, False])),
    Domain("set[int]", "set[int]", "Set[int]", "a set of integers", ("unique", "members", "group", "pool", "ids_set"),
           lambda rng: set(_ints(rng)), (set(), {0}, {-1, 1})),
    Domain("dict[str, int]", "dict[str, int]", "Dict[str, int]", "a dictionary mapping words to integers",
           ("counts", "scores", "stock", "inventory", "ages", "table", "tally", "prices", "mapping", "votes"),
           _counts, ({}, {"a": 1}, {"x": -2, "y": 2, "z": 0})),
    Domain("dict[str, list[str]]", "dict[str, list[str]]", "Dict[str, List[str]]",
           "a dictionary mapping words to lists of words", ("groups", "index", "by_key", "buckets"),
           lambda rng: {_word(rng, 4): _words(rng, 3) for _ in range(rng.randint(0, 3))}, ({},)),
    Domain("dict[int, list[str]]", "dict[int, list[str]]", "Dict[int, List[str]]",
           "a dictionary mapping integers to lists of words", ("groups", "by_length", "buckets"),
           lambda rng: {rng.randint(1, 5): _words(rng, 3) for _ in range(rng.randint(0, 3))}, ({},)),
    Domain("tuple[int, int]", "tuple[int, int]", "Tuple[int, int]", "a pair of integers",
           ("pair", "bounds", "span", "point", "limits"),
           lambda rng: (rng.randint(-20, 20), rng.randint(-20, 20)), ((0, 0), (1, -1))),
    Domain("list[tuple[str, int]]", "list[tuple[str, int]]", "List[Tuple[str, int]]",
           "a list of (word, integer) pairs", ("pairs", "records", "rows", "entries", "results"),
           lambda rng: [(_word(rng, 5), rng.randint(0, 99)) for _ in range(rng.randint(0, 5))], ([], [("a", 1)])),
    Domain("grid", "list[list[int]]", "List[List[int]]", "a grid of integers (a list of rows of equal length)",
           ("grid", "matrix", "table", "board", "rows", "cells"), _grid, ([], [[1]], [[1, 2], [3, 4]])),
)}


@dataclass(frozen=True)
class Arg:
    """The extra parameter an operation takes besides its input ("the numbers greater than {arg}")."""

    domain: str
    names: tuple[str, ...]  # what it may be called; none of them in LOOP_NAMES


@dataclass(frozen=True)
class Op:
    """One primitive operation: code in one to three idioms, English in at least three phrasings."""

    key: str  # unique: "keep_odd"
    family: str  # the key of its Family in FAMILIES
    takes: tuple[str, ...]  # the domains of its input
    gives: str  # the domain of its output; "same": the input's
    phrasings: tuple[str, ...]  # imperative clauses, "{arg}" the extra parameter: "keep only the odd numbers"
    expr: str  # an expression of "{v}" (and "{arg}"): "[x for x in {v} if x % 2]"; "": a loop only
    words: tuple[str, ...]  # words a function name may take from it: ("odd", "odds")
    var: str  # the name of its result in a solution of several steps: "odds"
    loop: str = ""  # statements that compute "{out}" from "{v}": the loop idiom
    builtin: str = ""  # another expression, through a builtin: "list(filter(...))"
    arg: Arg | None = None
    nonempty: bool = False  # its input must not be empty (max, first element)
    keeps_nonempty: bool = False  # a non-empty input gives a non-empty output (maps, sorts)

    def output(self, taken: str) -> str:
        return taken if self.gives == "same" else self.gives


@dataclass(frozen=True)
class Mistake:
    """A common mistake of a family: code that runs and shows the wrong result, why, and the fix."""

    wrong: str  # a block that runs alone and prints what goes wrong
    why: str
    fixed: str  # the same block, right; it runs alone too


@dataclass(frozen=True)
class Family:
    """A group of operations one lesson teaches, tied to a leaf of the topic tree."""

    key: str
    topic: str  # a leaf of data/topics.yaml, its whole path: "python / lists / list comprehensions"
    title: str  # "Filtering a list"
    explanations: tuple[str, ...]  # paragraphs, each a complete explanation of the idea
    mistakes: tuple[Mistake, ...] = field(default=())
