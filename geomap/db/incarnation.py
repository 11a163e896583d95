"""Which incarnation of a feature a stored row is, for ETags.

A feature's `version` starts at 1 each time its id is created, so after a delete and a create
of the same id, version 1 would name two different features, and an ETag made of the version
alone would match again. The row's `created_at` (set once, when the row is inserted; an update
keeps it) tells the incarnations apart: as whole microseconds since 1970, it is the second half
of every ETag (`geomap.api.etags`).
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, ColumnElement, Table, cast, func


def of(table: Table) -> ColumnElement:
    """The incarnation of a stored row: its `created_at` in whole microseconds since 1970."""
    return cast(func.extract("epoch", table.c.created_at) * 1_000_000, BigInteger)


def now() -> ColumnElement:
    """The incarnation that a row inserted by this transaction gets (created_at defaults to now())."""
    return cast(func.extract("epoch", func.now()) * 1_000_000, BigInteger)




@dataclass(frozen=True)
class Version:
    """One version of one incarnation of a feature: what its ETag names."""

    version: int
    incarnation: int  # tells a re-created id's version 1 from the deleted feature's
