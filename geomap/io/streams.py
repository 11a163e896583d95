"""Stream JSON texts out of files of any size, one feature at a time, in bounded memory.

- `feature_collection(stream)` walks a GeoJSON FeatureCollection (RFC 7946) member by member and
  yields each element of its `features` array as soon as it is complete; the other top-level
  members are parsed whole (they are small) and collected in `Members`.
- `text_sequence(stream)` splits a GeoJSON text sequence (RFC 8142: each text starts with the
  record separator RS, 0x1E), or newline-delimited GeoJSON when the file has no RS at all.

Both read text in chunks; no more than one feature (plus a chunk) is held at a time.

Why not a library (bench/io_libraries.py, a FeatureCollection of 200,000 synthetic incidents,
2 shared cores, 2026-12-06, medians of 3 runs; bench/README.md): this module took 8.8 s in 25 MB
peak RSS; ijson 3.6 (yajl2_c) 5.1 s in 24 MB, but its errors give no line, which the import's
errors name (tests/io/test_streams.py); msgspec 0.23 decodes only whole documents (6.1 s,
900 MB). 3.7 s per 200,000 features is small beside validating them, so this module keeps the json module's
C scanner (`raw_decode`, which decodes one value from a position and reports the line of an
error): the one exception to msgspec as geomap's JSON library, which has no such call. A GeoJSON
text sequence is lines split on RS; each text is decoded by msgspec (`readers.SequenceReader`).
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

RS = "\x1e"
CHUNK = 1 << 16
# A single feature larger than this is refused rather than buffered without end (a syntax
# error near the start of a huge file would otherwise pull the whole rest of it into memory).
MAX_TEXT = 256 << 20
WHITESPACE = " \t\n\r"
_decoder = json.JSONDecoder()


class JSONTextError(ValueError):
    """The file is not the JSON it should be; `line` is where the parser stopped (1-based)."""

    def __init__(self, reason: str, line: int):
        super().__init__(f"{reason} (line {line})")
        self.reason = reason
        self.line = line


@dataclass
class Members:
    """The top-level members other than `features`, as far as the parser has read."""

    values: dict[str, Any] = field(default_factory=dict)
    features_seen: bool = False


class _Scanner:
    """A window on a text stream: JSON values are decoded with the C scanner (raw_decode)."""

    def __init__(self, stream: IO[str]):
        self.stream = stream
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.line = 1  # line number of buf[0]

    def fill(self, size: int = CHUNK) -> None:
        data = self.stream.read(size)
        if not data:
            self.eof = True
            return
        self.line += self.buf.count("\n", 0, self.pos)
        self.buf = self.buf[self.pos:] + data
        self.pos = 0

    def line_at(self, pos: int) -> int:
        return self.line + self.buf.count("\n", 0, pos)

    def peek(self) -> str | None:
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in WHITESPACE:
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if self.eof:
                return None
            self.fill()

    def expect(self, chars: str, what: str) -> str:
        char = self.peek()
        if char is None or char not in chars:
            found = "end of file" if char is None else repr(char)
            raise JSONTextError(f"not valid JSON: expected {what}, found {found}", self.line_at(self.pos))
        self.pos += 1
        return char

    def value(self) -> tuple[Any, int]:
        """The next JSON value and the line it starts on."""
        self.peek()
        size = CHUNK
        while True:
            try:
                obj, end = _decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if self.eof or len(self.buf) - self.pos > MAX_TEXT:
                    raise JSONTextError(f"not valid JSON: {exc.msg}", self.line_at(exc.pos)) from None
            else:
                if end < len(self.buf) or self.eof:  # a number at the very end may go on
                    line = self.line_at(self.pos)
                    self.pos = end
                    return obj, line
            self.fill(size)
            size = min(size * 2, MAX_TEXT)


def feature_collection(stream: IO[str], members: Members) -> Iterator[tuple[int, int, Any]]:
    """Yield (index, line, feature) for each element of the top-level `features` array.

    Raises JSONTextError when the text is not JSON or not an object; `members` receives the
    other top-level members as they are read (a member after `features` arrives late).
    """
    scanner = _Scanner(stream)
    scanner.expect("{", "the '{' that opens a FeatureCollection")
    if scanner.peek() == "}":
        scanner.pos += 1
        return
    while True:
        key, _ = scanner.value()
        scanner.expect(":", "':' after a member name")
        if key == "features" and scanner.peek() == "[":
            members.features_seen = True
            yield from _array(scanner)
        else:
            members.values[key], _ = scanner.value()
        if scanner.expect(",}", "',' or '}' after a member") == "}":
            break
    if scanner.peek() is not None:
        raise JSONTextError("not valid JSON: extra data after the FeatureCollection", scanner.line_at(scanner.pos))


def _array(scanner: _Scanner) -> Iterator[tuple[int, int, Any]]:
    scanner.expect("[", "'['")
    if scanner.peek() == "]":
        scanner.pos += 1
        return
    index = 0
    while True:
        obj, line = scanner.value()
        yield index, line, obj
        index += 1
        if scanner.expect(",]", "',' or ']' between features") == "]":
            return


def text_sequence(stream: IO[bytes], separated: bool | None = None, first_line: int = 1
                  ) -> Iterator[tuple[int, bytes]]:
    """Yield (line, text) for each JSON text of a GeoJSON text sequence (RFC 8142).

    With RS separators a text may span lines; without any RS (newline-delimited GeoJSON), each
    non-blank line is one text. Texts are returned undecoded, so that one bad text is one
    problem and the rest are still read. Which of the two the file is, the first non-blank line
    tells, unless `separated` says; `first_line` numbers the stream's first line (for a part
    of a file, `cut` where a text begins).
    """
    pending: list[bytes] = []
    start = size = 0
    for number, raw in enumerate(stream, start=first_line):
        if separated is None and raw.strip():
            separated = raw.startswith(b"\x1e")
        if not separated:
            if raw.strip():
                yield number, raw
            continue
        if raw.startswith(b"\x1e"):
            if pending and any(p.strip() for p in pending):
                yield start, b"".join(pending)
            pending, start, size = [raw[1:]], number, len(raw)
        else:
            pending.append(raw)
            size += len(raw)
            if size > MAX_TEXT:
                raise JSONTextError("a text longer than 256 MiB: is the record separator missing?", start)
    if pending and any(p.strip() for p in pending):
        yield start, b"".join(pending)


def is_separated(head: bytes) -> bool | None:
    """Whether a text sequence that begins with `head` uses RS separators (None: no text yet)."""
    for raw in head.splitlines():
        if raw.strip():
            return raw.startswith(b"\x1e")
    return None


def cut(data: bytes, separated: bool) -> int:
    """Where a part of a text sequence may end so that the next part starts with a whole text:
    after the last newline that a record separator follows (or after the last newline, when
    each line is a text); 0 when `data` has no such place."""
    return data.rfind(b"\n\x1e") + 1 if separated else data.rfind(b"\n") + 1
