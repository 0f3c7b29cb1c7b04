"""Programs of one to four steps composed from the concept library, and their reference solutions.

A `Program` chains operations whose domains meet ("keep only the odd numbers, square each one,
reverse the order": list[int] -> list[int] -> list[int] -> list[int]) and names everything: the
function (from its steps' words), its input and each step's extra parameter (from their domains'
pools, so a model must read them from the signature, not recall them), and each step's result.
Its solution is written in one idiom: `expression` (comprehensions), `builtin` (a builtin where
the operation has one) or `loop` (explicit loops and accumulators); `reference` executes it here,
on typed inputs, to get the outputs the examples and tests show.
"""

from __future__ import annotations

import builtins
import keyword
import random
from dataclasses import dataclass
from functools import cached_property
from typing import Callable

from textbooks.synth.curriculum.concepts import DOMAINS, LOOP_NAMES, Op

IDIOMS = ("expression", "builtin", "loop")
RESERVED = frozenset(dir(builtins)) | frozenset(keyword.kwlist)  # a name that would hide a builtin the body calls
NAME_PREFIXES = ("", "", "get_", "compute_", "find_", "make_", "calc_", "to_")
MAX_STEPS = 4


@dataclass(frozen=True)
class Step:
    op: Op
    arg: str | None  # the name of its extra parameter
    out: str  # the name of its result


@dataclass(frozen=True)
class Program:
    name: str
    param: str
    domain: str  # the input's
    steps: tuple[Step, ...]
    idiom: str
    nonempty: bool  # the input is promised non-empty (a step needs it)
    typing_hints: bool  # typing's List[int] (HumanEval's style) rather than list[int]

    @property
    def gives(self) -> str:
        domain = self.domain
        for step in self.steps:
            domain = step.op.output(domain)
        return domain

    @property
    def args(self) -> list[tuple[str, str]]:
        """(name, domain) of every parameter, the input first."""
        return [(self.param, self.domain)] + [(s.arg, s.op.arg.domain) for s in self.steps if s.arg]

    def hint(self, domain: str) -> str:
        return DOMAINS[domain].typing_hint if self.typing_hints else DOMAINS[domain].hint

    @property
    def imports(self) -> str:
        """The typing import the signature needs, if any."""
        if not self.typing_hints:
            return ""
        hints = " ".join(self.hint(domain) for _, domain in self.args) + " " + self.hint(self.gives)
        names = [name for name in ("Dict", "List", "Optional", "Set", "Tuple") if f"{name}[" in hints]
        return f"from typing import {', '.join(names)}\n\n\n" if names else ""

    @property
    def signature(self) -> str:
        params = ", ".join(f"{name}: {self.hint(domain)}" for name, domain in self.args)
        return f"def {self.name}({params}) -> {self.hint(self.gives)}:"

    @property
    def body(self) -> str:
        """The solution's statements, indented into the function."""
        lines, source = [], self.param
        for number, step in enumerate(self.steps):
            last = number == len(self.steps) - 1
            loop = step.op.loop if self.idiom == "loop" or not step.op.expr else ""  # some steps are loops only
            expression = step.op.builtin if self.idiom == "builtin" and step.op.builtin else step.op.expr
            if loop:
                lines += loop.format(v=source, out=step.out, arg=step.arg).splitlines()
                lines += [f"return {step.out}"] if last else []
            elif last:
                lines.append("return " + expression.format(v=source, arg=step.arg))
            else:
                lines.append(f"{step.out} = " + expression.format(v=source, arg=step.arg))
            source = step.out
        return "".join(f"    {line}\n" if line else "\n" for line in lines)

    @cached_property
    def reference(self) -> Callable:
        """The function itself, defined here (our own generated code, not a model's)."""
        namespace: dict = {}
        exec(compile(self.imports + self.signature + "\n" + self.body, f"<{self.name}>", "exec"), namespace)
        return namespace[self.name]


def compose(ops: list[Op], rng: random.Random, steps: int, first: Op, taken: str) -> list[Op] | None:
    """A chain of `steps` operations whose domains meet, starting with `first` applied to a value of
    domain `taken`; None when no chain that long continues from there. No operation is used twice,
    and one that needs a non-empty input only follows steps that keep a non-empty input non-empty
    (the input itself is promised non-empty when a step needs it)."""
    chain = [first]
    domain, guaranteed = first.output(taken), first.keeps_nonempty
    while len(chain) < steps:
        choices = [op for op in ops if domain in op.takes and op not in chain and (guaranteed or not op.nonempty)]
        if not choices:
            return None
        op = rng.choice(choices)
        chain.append(op)
        domain, guaranteed = op.output(domain), guaranteed and op.keeps_nonempty
    return chain


def name_program(chain: list[Op], taken: str, rng: random.Random, idiom: str, typing_hints: bool) -> Program:
    """The program of `chain` (whose first step takes domain `taken`) with its names drawn: the function's
    from its last three steps' words, the parameters' from their domains' pools, and each step's result."""
    words = [rng.choice(op.words) for op in chain[-3:]]
    used = set(LOOP_NAMES) | RESERVED
    name = _fresh(rng.choice(NAME_PREFIXES) + "_".join(dict.fromkeys(words)), used)
    param = _fresh(rng.choice(DOMAINS[taken].names), used)
    steps = []
    for op in chain:
        arg = _fresh(rng.choice(op.arg.names), used) if op.arg else None
        steps.append(Step(op, arg, ""))
    steps = [Step(s.op, s.arg, _fresh(s.op.var, used)) for s in steps]
    nonempty = any(op.nonempty for op in chain)
    return Program(name, param, taken, tuple(steps), idiom, nonempty, typing_hints)


def _fresh(name: str, used: set[str]) -> str:
    """`name`, or `name` with a number when it is taken; then it is taken."""
    fresh, number = name, 2
    while fresh in used:
        fresh, number = f"{name}{number}", number + 1
    used.add(fresh)
    return fresh


def idioms_of(chain: list[Op]) -> list[str]:
    """The idioms a chain can be written in: expression always, the others where a step has one."""
    return ["expression"] + [idiom for idiom, has in (("builtin", any(op.builtin for op in chain)),
                                                        ("loop", any(op.loop for op in chain))) if has]


def draw_program(ops: list[Op], first: Op, rng: random.Random, steps: int, typing_share: float) -> Program:
    """A program of up to `steps` steps starting with `first` (fewer when no longer chain continues
    from it), its idiom, names and hints drawn from `rng`."""
    taken, chain = rng.choice(first.takes), None
    while chain is None:
        chain = compose(ops, rng, steps, first, taken)
        steps -= 1
    return name_program(chain, taken, rng, rng.choice(idioms_of(chain)), rng.random() < typing_share)
