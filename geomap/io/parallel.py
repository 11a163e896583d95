"""Read a large GeoJSON text sequence in reader processes, part by part, in the file's order.

A first import of a large text sequence (`geomap import`, written directly) is bound by
decoding, validating and formatting its features: work for Python, one core per process. Here
the main process cuts the file into parts of about PART_BYTES that end where a text ends
(`streams.cut`), counting their lines, and hands them in turn to READERS worker processes.
Each worker reads its parts from the file, turns each feature into its COPY lines (with the
`lines` it is given, pickled: `geomap.db.lines.FeatureLines`) and sends back, per part, one COPY
text per table and the problems it found. The main process takes the parts back in the file's
order, so that rows, problems and the report come in the same order as from one reader, and
memory holds a few parts per worker whatever the file's size.

Workers are spawned (a fresh interpreter: nothing of the importer's database connection or
threads is inherited) and ended when the import ends, fails or is stopped; if the importer is
killed, the kernel kills them too (`die_with_parent`), and the multiprocessing resource tracker
then ends as its pipe closes. (The Readers must be made by the thread that lives as long as
the import: the kernel watches the thread that started them.)

Why not `concurrent.futures.ProcessPoolExecutor` (bench/io_libraries.py, 200,000 synthetic
incidents in 22 parts, 2 workers, 2 shared cores at load 6-7, 2026-12-06, medians of 3): these
Readers took 13.5 s and 334 MB peak RSS (all processes); `ProcessPoolExecutor.map` 14.6 s and
260 MB, and with a consumer sleeping 0.4 s a part (standing in for COPY) 17.9 s / 333 MB here
against 13.0 s / 281 MB. The pool is as fast, but `map` takes every part at once and keeps every
result the consumer has not yet taken: with a COPY slower than the readers, a 1 GB file's COPY
texts would wait in memory, where QUEUED bounds them here. A submit loop holding at most four
parts out measured 21.7 s. Not switched yet: a windowed pool in place of the queues is the
candidate, to be measured with a consumer slower than the readers.
"""
from __future__ import annotations

import ctypes
import io
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from geomap.errors import InvalidInput, Problem
from geomap.io.streams import MAX_TEXT, cut, is_separated, text_sequence

PART_BYTES = 8 << 20
READERS = 2
QUEUED = 2  # parts waiting for each worker, and parts done waiting for the main process
POLL = 0.5  # seconds between checks that the workers are alive while waiting for them


@dataclass(frozen=True)
class Part:
    """A byte range of a text sequence that starts with a whole text, and the line it starts on."""

    index: int
    offset: int
    length: int
    first_line: int
    end: int  # offset of the part's end: the bytes read once it is done


@dataclass
class Done:
    """A part read: a COPY text per table, the valid rows, the features read, and the problems
    of each feature that has some."""

    texts: tuple[str, ...]
    rows: int
    read: int
    problems: list[list[Problem]]
    end: int


def parts(path: Path, separated: bool, part_bytes: int) -> Iterator[Part]:
    """The file as parts that each begin with a whole text, with their first line numbers."""
    with open(path, "rb") as stream:
        offset, line, index, carry = 0, 1, 0, b""
        while True:
            data = carry + stream.read(part_bytes)
            eof = len(data) == len(carry)
            end = len(data) if eof else cut(data, separated)
            if end == 0 and not eof:
                if len(data) > MAX_TEXT:
                    raise InvalidInput(f"{path}: a text longer than 256 MiB (line {line}): is the record separator "
                                       "missing?; nothing was imported")
                carry = data
                continue
            if end:
                yield Part(index, offset, end, line, offset + end)
                index += 1
            if eof:
                return
            line += data.count(b"\n", 0, end)
            offset += end
            carry = data[end:]


Lines = Callable  # (item, ordinal) -> (a COPY text per table or None, problems): `chunks.Lines`


def _work(path: str, collection: str, lines: Lines, separated: bool, tasks, results, parent: int) -> None:
    """A worker: read each part it is given until None, and send back what it found; it dies
    with its parent (`parent`: the importer's pid)."""
    die_with_parent(parent)
    from geomap.io.readers import SequenceReader

    reader = SequenceReader(None, Path(path), collection)
    with open(path, "rb") as stream:
        while (part := tasks.get()) is not None:
            try:
                results.put(_read(part, stream, reader, lines, separated))
            except BaseException as exc:  # noqa: BLE001 - handed to the main process, which raises it
                results.put(exc)
                return


PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int, sig: int = signal.SIGKILL) -> None:
    """Have the kernel kill this process when `parent` dies, however it dies (kill -9 included);
    with `sig` (signal.SIGTERM), ask it to end instead, so that it can clean up after itself.

    Without it, a killed `geomap import` left its readers running under PID 1, and with them
    the multiprocessing resource tracker, which ends only when every holder of its pipe has
    (issue 14: 6 of 10 trials). Linux's prctl(PR_SET_PDEATHSIG); elsewhere a thread that
    watches the parent's pid. A parent already gone before the call is caught by the pid check.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        armed = libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) == 0
    except (OSError, AttributeError):
        armed = False
    if os.getppid() != parent:
        os._exit(1)
    if not armed:
        threading.Thread(target=_watch, args=(parent, sig), daemon=True, name="geomap-parent-watch").start()


def _watch(parent: int, sig: int) -> None:
    while os.getppid() == parent:
        time.sleep(POLL)
    if sig == signal.SIGKILL:
        os._exit(1)
    os.kill(os.getpid(), sig)


def _read(part: Part, stream, reader, lines, separated: bool) -> Done:
    stream.seek(part.offset)
    texts = text_sequence(io.BytesIO(stream.read(part.length)), separated, part.first_line)
    tables: list[list[str]] | None = None
    rows = read = 0
    problems: list[list[Problem]] = []
    for read, item in enumerate(reader.texts_items(texts), start=1):  # noqa: B007 (read: counted, used after)
        found, wrong = lines(item, 0)  # written directly: claims are keyed by id, not by place
        if wrong:
            problems.append(wrong)
        if found is not None:
            tables = tables or [[] for _ in found]
            for table, text in zip(tables, found, strict=False):  # sites, zones: no claims table
                table.append(text)
            rows += 1
    return Done(tuple("".join(t) for t in tables or ()), rows, read, problems, part.end)


class Readers:
    """The worker processes of one import: `done()` yields each part's Done in the file's order."""

    def __init__(self, path: Path, collection: str, lines: Lines, workers: int = READERS,
                 part_bytes: int | None = None):
        with open(path, "rb") as stream:
            self.separated = bool(is_separated(stream.read(1 << 16)))
        context = multiprocessing.get_context("spawn")
        self.tasks = [context.Queue(QUEUED) for _ in range(workers)]
        self.results = [context.Queue(QUEUED) for _ in range(workers)]
        self.processes = [context.Process(target=_work, daemon=True, name=f"geomap-import-reader-{k}",
                                          args=(str(path), collection, lines, self.separated,
                                                self.tasks[k], self.results[k], os.getpid()))
                          for k in range(workers)]
        for process in self.processes:
            process.start()
        self.stopped = threading.Event()
        self.error: BaseException | None = None
        self.count: int | None = None  # how many parts, once the splitter has cut them all
        self.splitter = threading.Thread(target=self._split, args=(path, part_bytes or PART_BYTES), daemon=True,
                                         name="geomap-import-splitter")
        self.splitter.start()

    def _split(self, path: Path, part_bytes: int) -> None:
        count = 0
        try:
            for part in parts(path, self.separated, part_bytes):
                if not self._put(self.tasks[part.index % len(self.tasks)], part):
                    return
                count += 1
        except BaseException as exc:  # noqa: BLE001 - raised by done()
            self.error = exc
        finally:
            self.count = count
            for tasks in self.tasks:
                self._put(tasks, None)

    def _put(self, target, value) -> bool:
        while not self.stopped.is_set():
            try:
                target.put(value, timeout=POLL)
                return True
            except queue.Full:
                continue
        return False

    def done(self) -> Iterator[Done]:
        """Each part's result, in order."""
        index = 0
        while self.count is None or index < self.count:
            result = self._get(self.results[index % len(self.results)], index)
            if result is None:
                break
            yield result
            index += 1
        if self.error is not None:
            raise self.error

    def _get(self, results, index: int) -> Done | None:
        worker = self.processes[index % len(self.processes)]
        while True:
            try:
                result = results.get(timeout=POLL)
            except queue.Empty:
                if self.count is not None and index >= self.count:
                    return None  # the splitter ended (on the last part, or an error) before this one
                if not worker.is_alive() and results.empty():
                    raise RuntimeError(f"the reader process {worker.name} ended unexpectedly "
                                       f"(exit code {worker.exitcode})") from None
                continue
            if isinstance(result, BaseException):
                raise result
            return result

    def stop(self) -> None:
        self.stopped.set()
        for process in self.processes:
            if process.is_alive():
                process.terminate()
        for process in self.processes:
            process.join(timeout=5)
        self.splitter.join(timeout=5)


def workers() -> int:
    """Reader processes for this machine: one per core, at most READERS."""
    return max(1, min(READERS, os.cpu_count() or 1))
