"""Readers for `geomap import`: each turns a file into a stream of validated items.

An `Item` is one feature of the file: its place (`where`: file and line, feature or row number,
and id), and either a validated `Record` or the problems that stopped it. Every format ends in
the same validation as `geomap load` (`geojson.read_feature`), so a field breaks the same rule
with the same message whatever the file's format.

A reader is made by `open_reader(path, fmt, collection)`; its `collection` is known once the
first item has been read (a FeatureCollection may name it in a member before its features).
"""
from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import msgspec

from geomap.errors import InvalidInput, Problem
from geomap.io.geojson import Record, read_feature
from geomap.io.json_features import read_point_feature
from geomap.io.streams import JSONTextError, Members, feature_collection, text_sequence

FORMATS = ("geojson", "geojsonseq", "acled-csv", "kml")
IMPORTABLE = ("sites", "control_zones", "incidents")
EXTENSIONS = {
    ".geojson": "geojson", ".json": "geojson",
    ".geojsonseq": "geojsonseq", ".geojsons": "geojsonseq", ".geojsonl": "geojsonseq",
    ".geojsonld": "geojsonseq", ".ndjson": "geojsonseq", ".jsonl": "geojsonseq",
    ".csv": "acled-csv", ".kml": "kml",
}


@dataclass(frozen=True)
class Item:
    """One feature read from a file: a validated record, or the problems that stopped it."""

    where: str
    record: Record | None
    problems: tuple[Problem, ...] = ()


def detect_format(path: Path) -> str:
    """The format named by the file's extension; raise InvalidInput saying how to name it."""
    fmt = EXTENSIONS.get(Path(path).suffix.lower())
    if fmt is None:
        raise InvalidInput(f"{path}: cannot tell the format from the extension {Path(path).suffix!r}; "
                           f"pass --format (one of {', '.join(FORMATS)})")
    return fmt


def collection_from_name(path: Path) -> str | None:
    """`incidents.geojsonseq`, `control_zones-2020.kml` -> the collection the name starts with."""
    stem = Path(path).name.lower()
    return next((c for c in sorted(IMPORTABLE, key=len, reverse=True) if stem.startswith(c)), None)


def check_collection(path: Path, collection: str | None) -> str:
    """The collection a file is to be imported into; InvalidInput if it is unknown or cannot be imported."""
    if collection is None:
        raise InvalidInput(f"{path}: cannot tell which collection this file holds; pass --collection "
                           f"(one of {', '.join(IMPORTABLE)}) or name the file after it")
    if collection not in IMPORTABLE:
        raise InvalidInput(f"{path}: cannot import into {collection!r}; import into one of {', '.join(IMPORTABLE)} "
                           "(groups come from `geomap load groups.json` or are created from ACLED actors)")
    return collection


class Reader:
    """Base: `items()` yields Items; `collection` is set before the first one is yielded."""

    def __init__(self, stream: IO[bytes], path: Path, collection: str | None, **_):
        self.stream = stream
        self.path = Path(path)
        self.collection = collection

    def items(self) -> Iterator[Item]:
        raise NotImplementedError

    def validate(self, feature: Any, where: str) -> Item:
        problems: list[Problem] = []
        record = read_feature(feature, self.collection, where, problems)
        if record is None:
            return Item(problems[0].where if problems else where, None, tuple(problems))
        return Item(record.where, record)


class FeatureCollectionReader(Reader):
    """A GeoJSON FeatureCollection; the collection comes from --collection, its top-level
    `"collection"` member (when it comes before `features`) or the file name."""

    def items(self) -> Iterator[Item]:
        members = Members()
        text = codecs.getreader("utf-8")(self.stream)
        try:
            for index, _, feature in feature_collection(text, members):
                if index == 0:
                    self._resolve(members)
                yield self.validate(feature, f"{self.path}: features[{index}]")
        except JSONTextError as exc:
            raise InvalidInput(f"{self.path}: {exc}; nothing was imported") from None
        except UnicodeDecodeError:
            raise InvalidInput(f"{self.path}: not UTF-8 text (RFC 7946 requires UTF-8); nothing was imported") from None
        if not members.features_seen or members.values.get("type") != "FeatureCollection":
            raise InvalidInput(f'{self.path}: type: must be a FeatureCollection with a "features" array')
        self._resolve(members)

    def _resolve(self, members: Members) -> None:
        named = members.values.get("collection")
        if self.collection is None:
            self.collection = named if isinstance(named, str) else collection_from_name(self.path)
        check_collection(self.path, self.collection)
        if isinstance(named, str) and named != self.collection and members.features_seen:
            raise InvalidInput(f'{self.path}: the file says "collection": {named!r} but is imported into '
                               f"{self.collection!r}; drop --collection or fix the member")


class SequenceReader(Reader):
    """A GeoJSON text sequence (RFC 8142) or newline-delimited GeoJSON: one Feature per text.
    A text that is not JSON is one bad feature; the others are still read."""

    def items(self) -> Iterator[Item]:
        self.collection = check_collection(self.path, self.collection or collection_from_name(self.path))
        yield from self.texts_items(text_sequence(self.stream))

    def texts_items(self, texts: Iterator[tuple[int, bytes]]) -> Iterator[Item]:
        """The items of (line, JSON text) pairs (`streams.text_sequence`, or a part of it)."""
        try:
            for line, text in texts:
                yield self.item(line, text)
        except JSONTextError as exc:
            raise InvalidInput(f"{self.path}: {exc}; nothing was imported") from None

    def item(self, line: int, text: bytes) -> Item:
        where = f"{self.path}: line {line}"
        record = read_point_feature(text, self.collection, where)
        if record is not None:
            return Item(record.where, record)
        try:
            feature = msgspec.json.decode(text)
        except msgspec.MsgspecError as exc:
            return Item(where, None, (Problem(where, "feature", f"not valid JSON: {exc}"),))
        return self.validate(feature, where)


def _kml(stream, path, collection, **_):
    from geomap.io.kml import KMLReader

    return KMLReader(stream, path, collection)


def _acled(stream, path, collection, groups=None, **_):
    from geomap.io.acled import ACLEDReader

    return ACLEDReader(stream, path, collection, groups)


READERS: dict[str, Callable[..., Reader]] = {
    "geojson": FeatureCollectionReader,
    "geojsonseq": SequenceReader,
    "kml": _kml,
    "acled-csv": _acled,
}


def open_reader(stream: IO[bytes], path: Path, fmt: str, collection: str | None = None, **context) -> Reader:
    """A reader of `fmt` over a binary stream; `context` carries what a format needs (ACLED: `groups`)."""
    if fmt not in READERS:
        raise InvalidInput(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    return READERS[fmt](stream, Path(path), collection, **context)
