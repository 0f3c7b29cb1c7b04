"""The training exercise nearest to a solved completion: did the model solve it, or recall it?

The paper's §3 credits finetuning on CodeExercises with abilities the exercises do not hold; §5 asks
how close the exercises come to the benchmark. Beside a completion that passed, the report shows
the exercise of the run's finetuning data (`collect.exercise_stage`) with the highest AST match rate
to it, and the 13-grams the two share: decontam's own measures (`textbooks.similarity.astmatch` and
`.ngram`) in decontam's roles, the completion in its prompt (the program that ran) standing for the
benchmark solution and the exercise for the training record.

Cost. The match rate needs each exercise parsed (~0.3 ms each: half a minute for 100k exercises,
per completion). So the exercises are first ranked by the Indel similarity of their text to the
program's, both without docstrings and comments (which the match rate ignores, and which make
most of a HumanEval prompt): a regex, then rapidfuzz in C++ on every core, ~1.3 s for 12 HumanEval
programs x 100k exercises on two shared cores. Only the CANDIDATES closest as text are parsed and
scored (~0.1 s per program). A copy, even renamed, is close as text; for 20 HumanEval solutions
among 1,046 documented functions of the standard library, the 300 closest held the best match of
17, and the best found fell at most 0.04 short for the other 3. With CANDIDATES or fewer exercises
every one is scored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from rapidfuzz.distance import Indel
from rapidfuzz.process import cdist

from textbooks.similarity.astmatch import ASTMatcher, code_units
from textbooks.similarity.ngram import NGramIndex
from textbooks.records import shard_column, shard_paths

CANDIDATES = 300  # exercises closest as text whose AST match rate is computed, per program
# What the text comparison leaves out: triple-quoted strings (docstrings) and comments.
_NOT_CODE = re.compile(r'("""|\'\'\').*?\1|#[^\n]*', re.S)


@dataclass(frozen=True)
class Exercises:
    """The records of an exercise dataset: their ids and texts, in order."""
    stage: str
    ids: list[str]
    texts: list[str]


@dataclass(frozen=True)
class NearestExercise:
    id: str
    text: str
    ast_match: float  # the AST match rate (decontam's score) between the exercise and the program
    parsed: bool  # False: the exercise does not parse and the rate is astmatch's token-level fallback
    ngrams: int  # distinct n-grams of the exercise that occur in the program
    n: int  # the n of those n-grams: 13, as in decontam


def read_exercises(stage: dict) -> Exercises:
    """The ids and texts of a dataset stage's records (its Parquet or JSONL shards; a shard that
    cannot be read, or lacks either column, is left out: the report does not fail on it)."""
    ids, texts = [], []
    try:
        paths = shard_paths(stage["dir"])
    except OSError:
        paths = []
    for path in paths:
        try:
            shard_ids, shard_texts = shard_column(path, "id"), shard_column(path, "text")
        except (OSError, ValueError):
            continue
        if len(shard_ids) == len(shard_texts):
            ids += [str(i) for i in shard_ids]
            texts += [str(t or "") for t in shard_texts]
    return Exercises(stage["name"], ids, texts)


def program(prompt: str | None, completion: str) -> str | None:
    """The code a completion makes: prompt + completion when that parses, else the completion alone
    (the prompt not known offline); None when neither parses (decontam cannot take it as a reference)."""
    for code in ([prompt + completion] if prompt else []) + [completion]:
        if code_units(code) is not None:
            return code
    return None


def nearest_exercises(programs: list[str], exercises: Exercises) -> list[NearestExercise | None]:
    """Each program's nearest exercise (see the module docstring); None for all when there are none."""
    if not programs or not exercises.texts:
        return [None] * len(programs)
    closeness = cdist([_NOT_CODE.sub("", code) for code in programs], [_NOT_CODE.sub("", t) for t in exercises.texts],
                      scorer=Indel.normalized_similarity, dtype=np.float32, workers=-1)
    return [nearest(code, np.argsort(-row, kind="stable")[:CANDIDATES].tolist(), exercises)
            for code, row in zip(programs, closeness)]


def nearest(code: str, candidates: list[int], exercises: Exercises) -> NearestExercise:
    """Of the `candidates` (indices, closest as text first), the one with the highest AST match rate
    to `code`; a tie goes to the one closer as text."""
    matches = ASTMatcher({"completion": code}).match([exercises.texts[i] for i in candidates])
    best = max(range(len(candidates)), key=lambda j: (matches[j].score, -j))
    index, match = candidates[best], matches[best]
    ngrams = NGramIndex({"completion": (code,)})
    return NearestExercise(id=exercises.ids[index], text=exercises.texts[index], ast_match=round(match.score, 4),
                           parsed=match.parsed, ngrams=ngrams.overlap(exercises.texts[index]).count, n=ngrams.n)
