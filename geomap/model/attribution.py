"""The "attributed to" rule: an incident is attributed to the groups its affirmative claims name.

The one definition of the rule. Its other forms are derived from this module or checked
against it: `incidents.attributed_groups` (kept by the triggers of migration 0005, whose frozen
stance list `tests/model/test_records.py` compares with `AFFIRMATIVE_STANCES`), the import's
COPY text (`geomap.db.rows`), the map's categories (`geomap.layers.scene`) and the duplicate
finder (`geomap.analysis.duplicates`).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from geomap.vocabulary import AFFIRMATIVE_STANCES, STANCES

__all__ = ["AFFIRMATIVE_STANCES", "STANCES", "Named", "attributes", "attributed_groups"]


class Named(Protocol):
    """Anything with a claim's group and stance (a validated claim, a map's claim)."""

    group: str
    stance: str


def attributes(stance: str) -> bool:
    """Whether a claim of this stance attributes the incident to its group ("disputed" and
    "denied" name a group without doing so)."""
    return stance in AFFIRMATIVE_STANCES


def attributed_groups(claims: Iterable[Named]) -> tuple[str, ...]:
    """The distinct groups of the affirmative claims, in byte order (as the database keeps
    them, COLLATE "C"; group ids are ASCII slugs, so code point order is byte order).

    >>> from types import SimpleNamespace as C
    >>> attributed_groups([C(group="b", stance="claimed"), C(group="a", stance="denied"),
    ...                    C(group="c", stance="assessed"), C(group="b", stance="accused")])
    ('b', 'c')
    """
    return tuple(sorted({c.group for c in claims if c.stance in AFFIRMATIVE_STANCES}))
