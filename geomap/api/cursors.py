"""Keyset cursors: the `cursor` parameter that `next` links carry.

A cursor holds the position of the next page (how many features come before it) and the order
values of the last feature of the page before (`geomap.db.features.FeaturePage.last`), so the
next page starts right after that feature, found by the index the order walks, instead of
skipping `offset` rows. It is opaque to clients (URL-safe base64 of a JSON array) and checked
when it comes back: a cursor that does not fit the request's order is a 400 naming `cursor`.
"""
from __future__ import annotations

import base64
import binascii
from datetime import date

import msgspec

from geomap.errors import BadRequest

MAX_CURSOR_CHARS = 4096
REFUSED = "cursor: not a cursor of this request's order; follow the next link as given, or use offset"


def encode(position: int, last: tuple) -> str:
    """The cursor of the page at `position` that follows the feature whose order values are `last`."""
    items = [position, *(v.isoformat() if isinstance(v, date) else v for v in last)]
    return base64.urlsafe_b64encode(msgspec.json.encode(items)).decode().rstrip("=")


def decode(text: str, kinds: tuple[str, ...]) -> tuple[int, tuple]:
    """The position and order values of a cursor for an order of `kinds` (`geomap.model.query.order_kinds`)."""
    if len(text) > MAX_CURSOR_CHARS:
        raise BadRequest(REFUSED)
    try:
        items = msgspec.json.decode(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise BadRequest(REFUSED) from None
    if not isinstance(items, list) or len(items) != len(kinds) + 1:
        raise BadRequest(REFUSED)
    position, *values = items
    if type(position) is not int or not 0 <= position < 2**53:
        raise BadRequest(REFUSED)
    return position, tuple(_value(v, kind, last=i == len(kinds) - 1) for i, (v, kind) in enumerate(zip(values, kinds,
                                                                                                      strict=True)))


def _value(value, kind: str, last: bool):
    if value is None and not last:  # a sort key may be null; the id never is
        return None
    if kind == "string" and isinstance(value, str):
        return value
    if kind == "date" and isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise BadRequest(REFUSED) from None
    if kind == "integer" and type(value) is int and -2**63 <= value < 2**63:
        return value
    if kind == "number" and type(value) in (int, float):
        return float(value)
    raise BadRequest(REFUSED)
