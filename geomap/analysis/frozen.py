"""Frozen dataclasses built from values already checked, without their generated `__init__`.

A frozen dataclass's `__init__` sets each field through `object.__setattr__` (it must get past
the class's own `__setattr__`, which refuses). A nearby query at 100,000 incidents returns 16
incidents at its median point, and builds an `Incident`, a `Distance` and a `NearbyIncident` for
each: 20 fields per row set one call at a time were a measurable part of what geomap adds to the
query (issue 16; figures in bench/README.md, "nearby.py"). `build` fills the instance's
`__dict__` at once instead: the same object (equality, hash, repr and pickling read the fields
from it), for classes with no `__post_init__` to run.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import TypeVar

T = TypeVar("T")


@functools.cache
def _fields(cls: type) -> tuple[str, ...]:
    if not dataclasses.is_dataclass(cls) or hasattr(cls, "__post_init__") or hasattr(cls, "__slots__"):
        raise TypeError(f"{cls.__name__} is not a dataclass that `build` can fill (no __post_init__, no slots)")
    return tuple(f.name for f in dataclasses.fields(cls))


def build(cls: type[T], *values: object) -> T:
    """`cls(*values)`, every field given in order, for values the caller has already checked."""
    instance = object.__new__(cls)
    instance.__dict__.update(zip(_fields(cls), values, strict=True))  # ValueError when a value is missing
    return instance
