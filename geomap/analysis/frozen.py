"""Frozen dataclasses built fast: `filler(cls)` makes instances of a frozen dataclass without its
generated `__init__`, for the hottest loops (nearby builds four objects a row; issue 16,
bench/README.md "Session 12 (nearby helper)": a frozen `__init__` cost 3.0 us for `Incident`
against 0.9 us filling the instance's `__dict__`).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any


def filler(cls: type, *, checked_by: Callable[..., None] | None = None) -> Callable[..., Any]:
    """A constructor of the frozen dataclass `cls` that takes every field's value in order (no
    defaults) and fills the new instance's `__dict__` directly, not through the frozen class's
    `object.__setattr__` per field as its generated `__init__` does: the same instance (equal,
    still frozen) in about a third of the time, which the hottest loops (nearby builds four objects
    a row) need. Only for classes whose `__init__` checks nothing (no `__post_init__`), unless
    `checked_by` names what does its checks instead, which the caller must run on the values
    first (`UNCHECKED_LOCATION` after `Location.check_all`)."""
    names = [f.name for f in fields(cls)]
    if ((hasattr(cls, "__post_init__") and checked_by is None) or hasattr(cls, "__slots__")
            or not cls.__dataclass_params__.frozen):
        raise TypeError(f"{cls.__name__} checks its values, keeps slots or is not frozen: build it with its __init__")
    args = ", ".join(f"_{i}" for i in range(len(names)))
    body = "".join(f"    d[{name!r}] = _{i}\n" for i, name in enumerate(names))
    source = f"def make({args}):\n    made = new(cls)\n    d = made.__dict__\n{body}    return made\n"
    scope: dict[str, Any] = {"new": object.__new__, "cls": cls}
    exec(source, scope)  # as dataclasses writes __init__: one assignment a field, no loop
    scope["make"].__qualname__ = f"filler({cls.__name__})"
    return scope["make"]
