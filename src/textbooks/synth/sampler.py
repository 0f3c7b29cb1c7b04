"""The diversity sampler of the synth stage (paper §2.2): the constraints that make each prompt differ.

phi-1 made its synthetic data diverse by putting random constraints into every prompt, because a
language model left alone writes "redundant, homogeneous data": textbooks are constrained by topic
and target audience, exercises mainly by function name. The axes here:

- textbooks: topic x audience x style;
- exercises: topic x difficulty x verb x signature shape. The verb and the topic's leaf make the
  function's required name (`count_binary_search`), so names vary with both.

`sample_constraints` walks the Cartesian product of a kind's axes in an order fixed by the seed
that uses every combination once before it repeats any: N prompts cover min(N, combinations)
distinct combinations. Topics come from the packaged tree (data/topics.yaml) or a user's file
(`load_topics`). A prompt is a template (templates/*.txt, or a user's file through
`load_template`) filled by `render_prompt`.

Templates are `string.Template` text: `$topic` or `${topic}` is a field and `$$` a literal dollar
sign. Braces mean nothing to it, so a template can show Python code (a dict, an f-string) as it is.
"""

from __future__ import annotations

import math
import random
import re
import string
from importlib import resources
from pathlib import Path
from typing import Iterator, Sequence

import yaml

KINDS = ("textbooks", "exercises")
TOPIC_SEPARATOR = " / "  # a leaf's topic is its path in the tree: "algorithms / sorting / insertion sort"

AUDIENCES = (
    "a high-school student new to programming",
    "a first-year university student in an introductory programming course",
    "an adult teaching themselves to code in their spare time",
    "a data analyst who knows spreadsheets and is learning Python",
    "a programmer who knows another language and is learning Python",
    "a middle-school student in an after-school coding club",
)
STYLES = (
    "a worked example followed by exercises",
    "a step-by-step tutorial that builds a small program",
    "an explanation of the concept with an everyday analogy, then code",
    "a dialogue between a teacher and a student",
    "a look at common mistakes and how to fix them",
    "a problem solved first naively, then improved",
)
DIFFICULTIES = (
    "beginner: a few lines that use one idea",
    "easy: one loop or one condition, with an edge case to handle",
    "intermediate: two or three ideas combined, with edge cases to handle",
    "advanced: a careful algorithm, with attention to edge cases and efficiency",
)
VERBS = ("count", "find", "merge", "filter", "group", "check", "convert", "build")
SIGNATURES = (
    "takes a list of integers and returns an integer",
    "takes a string and returns a string",
    "takes a list of strings and returns a dictionary mapping strings to integers",
    "takes two integers and returns a boolean",
    "takes a list of integers and an integer and returns a list of integers",
    "takes a dictionary mapping strings to lists of integers and returns a list of strings",
    "takes a list of lists of integers (a grid) and returns an integer",
    "takes a string and an integer and returns a list of strings",
)

# Each kind's axes after the topic, in the order of their digits in a combination's index.
AXES = {
    "textbooks": (("audience", AUDIENCES), ("style", STYLES)),
    "exercises": (("difficulty", DIFFICULTIES), ("verb", VERBS), ("signature", SIGNATURES)),
}
# The fields a template may use, and those it must: the verb is optional, function_name carries it.
TEMPLATE_FIELDS = {
    "textbooks": ("topic", "audience", "style"),
    "exercises": ("topic", "difficulty", "verb", "function_name", "signature", "concept"),
}
REQUIRED_FIELDS = {
    "textbooks": ("topic", "audience", "style"),
    "exercises": ("topic", "difficulty", "function_name", "signature"),
}
TEMPLATE_FILES = {"textbooks": "textbook.txt", "exercises": "exercise.txt"}

# Words a function name skips: "sum min and max with key" with "count" gives "count_sum_min_max".
FILLER_WORDS = frozenset({"a", "an", "and", "as", "by", "for", "from", "how", "in", "is", "its", "of", "on", "or",
                          "the", "to", "what", "when", "with"})
NAME_WORDS = 3  # the topic words a function name keeps
# The stride of the walk over the combinations, as a fraction of their number: 1/golden ratio, the
# multiplier of Fibonacci hashing, sends consecutive prompts far apart in every axis.
GOLDEN_FRACTION = (math.sqrt(5) - 1) / 2


def load_topics(path: str | Path | None = None) -> list[str]:
    """The topics, each a leaf's path ("algorithms / sorting / insertion sort"), without repeats:
    from the packaged tree, or from a user's file (`--topics FILE`): a YAML tree like the packaged
    one (a .yaml or .yml file) or a text file with one topic per line (blank and # lines skipped)."""
    path = Path(path) if path is not None else _packaged("data", "topics.yaml")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a UTF-8 text file of topics") from None
    topics = _yaml_topics(text, path) if path.suffix in (".yaml", ".yml") else _text_topics(text)
    if not topics:
        raise ValueError(f"{path}: holds no topics")
    return list(dict.fromkeys(topics))


def _yaml_topics(text: str, path: Path) -> list[str]:
    try:
        tree = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML: {error}") from None
    return [] if tree is None else list(_tree_leaves(tree, (), path))


def _tree_leaves(node: object, branch: tuple[str, ...], path: Path) -> Iterator[str]:
    """A mapping names branches, a list holds leaves or trees, and a key with nothing under it is a leaf."""
    if isinstance(node, dict):
        for key, child in node.items():
            named = branch + (_topic_name(key, path),)
            yield from [TOPIC_SEPARATOR.join(named)] if child is None else _tree_leaves(child, named, path)
    elif isinstance(node, list):
        for child in node:
            yield from _tree_leaves(child, branch, path)
    else:
        yield TOPIC_SEPARATOR.join(branch + (_topic_name(node, path),))


def _topic_name(value: object, path: Path) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)) or not str(value).strip():
        raise ValueError(f"{path}: {value!r} is not a topic: a topic tree maps names to lists of topic names "
                         "or to further trees")
    return str(value).strip()


def _text_topics(text: str) -> list[str]:
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def combination_count(kind: str, topics: Sequence[str]) -> int:
    """How many distinct constraint combinations `kind` has over `topics`."""
    return len(set(topics)) * math.prod(len(values) for _, values in AXES[_checked_kind(kind)])


def sample_constraints(kind: str, n: int, seed: int, topics: Sequence[str]) -> list[dict]:
    """`n` constraint dicts for `kind` ("textbooks" or "exercises") prompts, in an order fixed by
    `seed` that uses every combination of the axes once before it repeats any: n prompts cover
    min(n, combinations) distinct combinations, and any len(topics) consecutive ones every topic."""
    topics = list(dict.fromkeys(topics))
    if not topics:
        raise ValueError("sampling constraints needs at least one topic")
    if n < 0:
        raise ValueError(f"cannot sample {n} constraints")
    rng = random.Random(seed)
    # The seed orders each axis's values and picks where the walk starts; the axes are small, the
    # product may be huge, so only the axes are shuffled and the product is walked, not listed.
    axes = [(name, rng.sample(values, len(values))) for name, values in (("topic", topics), *AXES[_checked_kind(kind)])]
    total = math.prod(len(values) for _, values in axes)
    stride, start = _coprime_stride(total), rng.randrange(total)
    # i -> (stride * i + start) mod total is a permutation of range(total) because gcd(stride, total)
    # is 1, so the first `total` prompts are distinct combinations; the rest repeat them in order.
    return [_decode(kind, axes, (stride * i + start) % total) for i in range(n)]


def _coprime_stride(total: int) -> int:
    stride = max(1, round(total * GOLDEN_FRACTION))
    while math.gcd(stride, total) != 1:
        stride += 1
    return stride


def _decode(kind: str, axes: list[tuple[str, list[str]]], index: int) -> dict:
    """The combination numbered `index` in mixed radix. The topic is the lowest digit: the stride is
    coprime to the number of topics too, so consecutive prompts run through every topic in turn."""
    constraints = {}
    for name, values in axes:
        index, digit = divmod(index, len(values))
        constraints[name] = values[digit]
    if kind == "exercises":
        constraints["function_name"] = function_name(constraints["topic"], constraints["verb"])
        constraints["concept"] = ""  # a curriculum concept's line, with `synth --concepts`
    return constraints


def function_name(topic: str, verb: str) -> str:
    """An exercise's required function name: `verb`, then up to three words of the topic's leaf
    ("count_binary_search"; the branch above it if the leaf has no usable word). phi-1 drew its
    exercises' diversity mainly from constraining function names (paper §2.2)."""
    for part in reversed(topic.split(TOPIC_SEPARATOR)):
        words = [w for w in re.findall(r"[a-z0-9]+", part.lower().replace("'", "")) if w not in FILLER_WORDS]
        if words:
            return "_".join([verb, *words[:NAME_WORDS]])
    return verb


def load_template(kind: str, path: str | Path | None = None) -> str:
    """The prompt template of `kind`: the packaged one, or a user's file (`--prompt-template FILE`).
    A template (string.Template text) that misses a required field or names an unknown one is a
    ValueError listing the fields it may use."""
    path = Path(path) if path is not None else _packaged("templates", TEMPLATE_FILES[_checked_kind(kind)])
    text = path.read_text(encoding="utf-8")
    _check_template(kind, text, str(path))
    return text


def render_prompt(kind: str, constraints: dict, template: str | None = None) -> str:
    """The prompt of one constraint dict: `template` (string.Template text; the packaged template
    of `kind` when None) with its `$fields` filled from `constraints`."""
    if template is None:
        template = load_template(kind)
    else:
        _check_template(kind, template, "the prompt template")
    return string.Template(template).substitute(constraints)


def _check_template(kind: str, text: str, source: str) -> None:
    allowed, required = TEMPLATE_FIELDS[_checked_kind(kind)], REQUIRED_FIELDS[kind]
    used, stray_lines = _template_fields(text)
    problems = []
    if unknown := sorted(set(used) - set(allowed)):
        problems.append("unknown field(s) " + ", ".join(f"${name}" for name in unknown))
    if missing := [name for name in required if name not in used]:
        problems.append("missing field(s) " + ", ".join(f"${name}" for name in missing))
    if stray_lines:
        problems.append(f"a $ naming no field on line(s) {', '.join(map(str, stray_lines))} (write $$ for a $)")
    if problems:
        raise ValueError(f"{source}: {'; '.join(problems)}. A {kind} template may use "
                         f"{', '.join(f'${name}' for name in allowed)} and must use "
                         f"{', '.join(f'${name}' for name in required)}")


def _template_fields(text: str) -> tuple[list[str], list[int]]:
    """The fields a template names, and the lines of any $ that names none (string.Template's own
    pattern, which Template.get_identifiers only exposes from Python 3.11)."""
    fields, stray_lines = [], []
    for match in string.Template.pattern.finditer(text):
        if match.group("named") or match.group("braced"):
            fields.append(match.group("named") or match.group("braced"))
        elif match.group("invalid") is not None:
            stray_lines.append(text.count("\n", 0, match.start()) + 1)
    return fields, stray_lines


def _checked_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}: one of {', '.join(KINDS)}")
    return kind


def _packaged(*parts: str) -> Path:
    return Path(str(resources.files("textbooks").joinpath("synth", *parts)))
