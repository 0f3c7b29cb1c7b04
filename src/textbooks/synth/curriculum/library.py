"""The concept library: every family's operations, gathered and checked once."""

from __future__ import annotations

from functools import lru_cache

from textbooks.synth.curriculum import lists, mappings, numbers, strings
from textbooks.synth.curriculum.concepts import DOMAINS, Family, Op

MODULES = (lists, strings, numbers, mappings)


@lru_cache(maxsize=1)
def library() -> tuple[tuple[Op, ...], dict[str, Family]]:
    """(every operation, the families by key), checked: unique keys, known domains and families."""
    ops = tuple(op for module in MODULES for op in module.OPS)
    family_list = [family for module in MODULES for family in module.FAMILIES]
    families = {family.key: family for family in family_list}
    for what, keys in (("operation", [op.key for op in ops]), ("family", [family.key for family in family_list])):
        if len(set(keys)) != len(keys):
            raise ValueError(f"{what} keys repeat: {sorted({k for k in keys if keys.count(k) > 1})}")
    for op in ops:
        domains = (*op.takes, op.gives, *([op.arg.domain] if op.arg else []))
        unknown = [d for d in domains if d != "same" and d not in DOMAINS]
        if not (op.expr or op.loop):
            raise ValueError(f"operation {op.key}: neither an expression nor a loop")
        if unknown or op.family not in families:
            raise ValueError(f"operation {op.key}: unknown domain {unknown} or family {op.family!r}")
    return ops, families


def operation(key: str) -> Op:
    """The library's operation of `key`."""
    ops, _ = library()
    found = next((op for op in ops if op.key == key), None)
    if found is None:
        raise KeyError(f"no operation {key!r} in the concept library")
    return found
