"""The chunks of COPY lines that `geomap import` writes, from the features of a file: read,
validated and formatted by one reader thread (`ReaderThread`, any format) or, for a large
GeoJSON text sequence, by worker processes (`ReaderProcesses`). Both yield `Chunk`s in the
file's order through `chunks()`, report problems to a sink as they are found, and hold only a
few chunks at a time, whatever the file's size.

The reader thread is a thread and a bounded `queue.Queue`, the standard library's own pattern
for a producer ahead of its consumer (an executor would hold every result not yet taken, with
no bound); the reader processes and why they are not a `ProcessPoolExecutor`: `io/parallel.py`.
"""
from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from geomap.errors import Problem
from geomap.io import parallel
from geomap.io.readers import Item

CHUNK_ROWS = 25_000  # features staged and upserted at a time
PROGRESS_EVERY = 1_000
Progress = Callable[[int], None]


class Sink(Protocol):
    """Where the problems of invalid features go (the import's problem log)."""

    def add(self, problems: Iterable[Problem]) -> None: ...


class Lines(Protocol):
    """What turns a feature read into its COPY lines, one text per table (None when it has
    problems), given its place in the file; `prefix` begins every place. The writing side
    provides it (`geomap.db.lines.FeatureLines`); reader processes get it pickled."""

    prefix: str

    def __call__(self, item: Item, ordinal: int) -> tuple[tuple[str, ...] | None, list[Problem]]: ...


@dataclass
class Chunk:
    """A batch of valid features formatted as COPY lines, with how far the reading has come."""

    lines: tuple[list[str], ...]  # the COPY lines of each table, in the order of the COPY statements
    rows: int  # the valid features in the chunk
    read: int  # features read so far
    position: int  # bytes of the file read so far


class _Clock:
    """How long the readers have run, and how long the writing side waited for their chunks
    (both logged with -v)."""

    def __init__(self):
        self.started = time.perf_counter()
        self.waited = 0.0

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def _timed(self, chunks: Iterator[Chunk]) -> Iterator[Chunk]:
        while True:
            clock = time.perf_counter()
            chunk = next(chunks, None)
            self.waited += time.perf_counter() - clock
            if chunk is None:
                return
            yield chunk


class ReaderThread(_Clock):
    """Reads, validates and formats features in a thread, handing over chunks of COPY lines
    through a short queue (so memory holds at most a few chunks)."""

    def __init__(self, items: Iterator[Item], lines: Lines, sink: Sink, stream: IO[bytes],
                 progress: Progress | None):
        super().__init__()
        self.items, self.lines, self.sink, self.stream, self.progress = items, lines, sink, stream, progress
        self.prefix = lines.prefix
        self.queue: queue.Queue = queue.Queue(maxsize=2)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="geomap-import-reader", daemon=True)
        self.thread.start()

    def chunks(self) -> Iterator[Chunk]:
        return self._timed(self._taken())

    def _taken(self) -> Iterator[Chunk]:
        while True:
            kind, value = self.queue.get()
            if kind == "error":
                raise value
            yield value
            if kind == "last":
                return

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)

    def _put(self, kind: str, value) -> None:
        while not self.stopped.is_set():
            try:
                self.queue.put((kind, value), timeout=0.2)
                return
            except queue.Full:
                continue

    def _run(self) -> None:
        try:
            count, valid, tables = 0, 0, None
            for count, item in enumerate(self.items, start=1):
                if self.stopped.is_set():
                    return
                texts, problems = self.lines(item, count)
                self.sink.add(problems)
                if texts is not None:
                    tables = tables or tuple([] for _ in texts)
                    for table, text in zip(tables, texts, strict=False):  # sites, zones: no claims table
                        if text:  # (a feature without claims has no claim lines)
                            table.append(text)
                    valid += 1
                if count % PROGRESS_EVERY == 0 and self.progress:
                    self.progress(self.stream.tell())
                if valid >= CHUNK_ROWS:
                    self._put("chunk", Chunk(tables, valid, count, self.stream.tell()))
                    valid, tables = 0, None
            if self.progress:
                self.progress(self.stream.tell())
            self._put("last", Chunk(tables or (), valid, count, self.stream.tell()))
        except BaseException as exc:  # handed to the main thread, which raises it
            self._put("error", exc)


class ReaderProcesses(_Clock):
    """The chunks of a large text sequence read by worker processes (`geomap.io.parallel`), a
    part of the file each, in the file's order; the problems of each part go to the sink as it
    is taken. (A first import only: it writes directly, so no place is staged.)"""

    def __init__(self, path: Path, collection: str, lines: Lines, sink: Sink, progress: Progress | None):
        super().__init__()
        self.sink, self.progress = sink, progress
        self.readers = parallel.Readers(path, collection, lines, parallel.workers())
        self.workers = len(self.readers.processes)

    def chunks(self) -> Iterator[Chunk]:
        return self._timed(self._taken())

    def _taken(self) -> Iterator[Chunk]:
        read = 0
        for done in self.readers.done():
            for problems in done.problems:
                self.sink.add(problems)
            read += done.read
            if self.progress:
                self.progress(done.end)
            yield Chunk(tuple([text] for text in done.texts), done.rows, read, done.end)

    def stop(self) -> None:
        self.readers.stop()


Chunks = ReaderThread | ReaderProcesses
