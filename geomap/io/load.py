"""The files of `geomap load` (default: the seed files), read and validated together: every
problem of every file is found before any is refused. `geomap.ingest.load` writes them."""
from __future__ import annotations

from pathlib import Path

from geomap.errors import InvalidInput, Problem
from geomap.io.geojson import Record, read_file

SEED_DIR = Path(__file__).resolve().parents[2] / "data"
SEED_FILES = tuple(SEED_DIR / name for name in
                   ("groups.json", "sites.geojson", "control_zones.geojson", "incidents.geojson",
                    "relations.geojson"))


def read_all(paths: list[Path]) -> list[Record]:
    """Read every file, collecting the problems of all of them before refusing."""
    records: list[Record] = []
    problems: list[Problem] = []
    failed: list[str] = []
    for path in paths:
        try:
            records += read_file(Path(path))
        except InvalidInput as exc:
            failed.append(exc.detail)
            problems += exc.problems
    problems += _duplicates_across_files(records)
    if failed or problems:
        raise InvalidInput("; ".join(failed) or "duplicate ids across files; nothing was loaded", problems)
    return records


def _duplicates_across_files(records: list[Record]) -> list[Problem]:
    first: dict[tuple[str, str], Record] = {}
    problems = []
    for record in records:
        key = (record.collection, record.id)
        if key in first and first[key].where.split(":")[0] != record.where.split(":")[0]:
            problems.append(Problem(record.where, "id", f"duplicate id, already used at {first[key].where}"))
        first.setdefault(key, record)
    return problems
