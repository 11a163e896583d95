"""Ids the server gives features posted without one (OGC API Features Part 4: the server
assigns the id and answers with its Location).

An id is a lowercase slug (`geomap.vocabulary.ID_PATTERN`): the feature's title or name folded
to ASCII, at most 48 characters of it, then 12 random hexadecimal digits (48 bits, so that two
features of the same title never collide in practice), e.g. `rocket-attack-on-k1-3f9a0c2e71b4`.
"""
from __future__ import annotations

import re
import secrets
import unicodedata
from typing import Any

SLUG_LENGTH = 48
_PREFIX = {"incidents": "incident", "sites": "site", "control_zones": "zone"}


def new_id(collection: str, properties: Any) -> str:
    """A new id for a feature of `collection` with these properties (a title or name helps
    people read it; anything else gives the collection's word).

    >>> import re; bool(re.fullmatch(r"rocket-attack-on-k-1-air-base-[0-9a-f]{12}",
    ...                              new_id("incidents", {"title": "Rocket attack on K-1 Air Base"})))
    True
    """
    words = properties.get("title") or properties.get("name") if isinstance(properties, dict) else None
    slug = _slug(words) if isinstance(words, str) else ""
    return f"{slug or _PREFIX.get(collection, 'feature')}-{secrets.token_hex(6)}"


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:SLUG_LENGTH].rstrip("-")
