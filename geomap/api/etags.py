"""ETags of features and the If-Match header (RFC 9110 sections 8.8.3 and 13.1.1).

An ETag names one version of one incarnation of a feature: `"<id>-v<version>.<incarnation>"`,
the incarnation in base 36 (`geomap.db.incarnation`), so that an id deleted and created again
never matches an ETag of the feature it was before. If-Match takes `*` (any current version) or
a list of ETags, any of which may match.
"""
from __future__ import annotations

import re

from geomap.db.incarnation import Version
from geomap.db.write import Expected
from geomap.errors import PreconditionFailed

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_LIST = re.compile(r'\s*(?:W/)?"[^"]*"\s*(?:,\s*(?:W/)?"[^"]*"\s*)*')
_TAG = re.compile(r'(?:W/)?"([^"]*)"')


def _base36(number: int) -> str:
    digits = ""
    while True:
        number, digit = divmod(number, 36)
        digits = _DIGITS[digit] + digits
        if not number:
            return digits


def etag(fid: str, version: Version) -> str:
    """The strong ETag of one version of one incarnation of a feature."""
    return f'"{fid}-v{version.version}.{_base36(version.incarnation)}"'


def expected(header: str, fid: str) -> Expected:
    """What If-Match asks of the stored feature `fid`: `*`, or the versions its ETags name
    (a weak `W/` prefix, which proxies add when they compress, is read as the same tag)."""
    if header.strip() == "*":
        return Expected(star=True)
    if not _LIST.fullmatch(header):
        raise PreconditionFailed(f"If-Match {header!r} is neither * nor a list of quoted ETags")
    tags = frozenset(v for v in (_version(tag, fid) for tag in _TAG.findall(header)) if v is not None)
    if not tags:
        raise PreconditionFailed(f"If-Match {header!r} is not an ETag of {fid!r}; GET the feature for its ETag")
    return Expected(tags)


def _version(tag: str, fid: str) -> Version | None:
    match = re.fullmatch(rf"{re.escape(fid)}-v(\d{{1,9}})\.([0-9a-z]{{1,13}})", tag)
    return None if match is None else Version(int(match.group(1)), int(match.group(2), 36))
