"""Imports run one way (DESIGN.md, "Layout"; decision 11):

    api / cli  ->  maps / layers, analysis, io  ->  db  ->  model  ->  errors

Every module under geomap/ sits in one tier, found by the longest prefix in TIERS:

- entry: `api/` (Flask blueprints), `cli/`, and the wiring around them: `geomap/__init__.py`
  (create_app), `__main__.py`, `server.py` and `render.py` (gunicorn), and where files meet the database:
  `ingest.py` (`geomap load`), `importer.py` (`geomap import`), `dataset.py` (data packages);
- middle: `maps/` (and `maps.py`, until it is split), `layers/`, `analysis/`, `io/`, with
  `inquiry.py` (where db meets analysis: the questions asked of the data, which api, cli and maps
  call) and `synth.py` (seeded synthetic data, which io writes to files);
- db: `db/`, the only SQL;
- model: `model/`, with `vocabulary.py` (the model's enumerations) and `config.py` (settings,
  which db.engine reads);
- errors: `errors.py`.

The rules, each read from every import statement (module level or inside a function) by `ast`:

1. a module imports only modules of its own tier or a lower one;
2. `analysis` and `io` never import `db`;
3. `cli` never imports `api` (nor `api` the cli);
4. only the entry tier's web side (`api/`, `geomap/__init__.py`) imports Flask, Werkzeug or Jinja;
5. SQL stays in `db/`: outside it, SQLAlchemy is imported only for the `Connection` and `Engine`
   types and its exceptions, and psycopg and GeoAlchemy2 not at all.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "geomap"
ENTRY, MIDDLE, DB, MODEL, ERRORS = 4, 3, 2, 1, 0
TIERS = {
    "geomap": ENTRY, "geomap.__main__": ENTRY, "geomap.server": ENTRY, "geomap.render": ENTRY, "geomap.cli": ENTRY,
    "geomap.api": ENTRY,
    # where files meet the database, as the CLI does
    "geomap.ingest": ENTRY, "geomap.importer": ENTRY, "geomap.dataset": ENTRY,
    "geomap.maps": MIDDLE, "geomap.layers": MIDDLE, "geomap.analysis": MIDDLE, "geomap.io": MIDDLE,
    "geomap.inquiry": MIDDLE, "geomap.synth": MIDDLE,
    "geomap.db": DB,
    "geomap.model": MODEL, "geomap.vocabulary": MODEL, "geomap.config": MODEL,
    "geomap.errors": ERRORS,
}
WEB = ("flask", "werkzeug", "jinja2")
WEB_MODULES = ("geomap", "geomap.api")  # the package module itself (create_app) and the blueprints
SQL = ("sqlalchemy", "psycopg", "geoalchemy2")
# Names, not SQL: what callers of db/ pass around (connections, engines) and catch (exceptions).
SQL_TYPES = {"sqlalchemy.Connection", "sqlalchemy.Engine", "sqlalchemy.engine.Connection", "sqlalchemy.engine.Engine"}
SQL_EXCEPTIONS = "sqlalchemy.exc"


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = modules()


def imported(module: str, path: Path) -> set[str]:
    """Every module or name `module` imports: `from a import b` gives a.b (a module, or a name
    in a), so that `from geomap import inquiry` is geomap.inquiry and `from sqlalchemy import
    select` is sqlalchemy.select."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{anchor}.{base}".rstrip(".")
            names |= {f"{base}.{alias.name}" for alias in node.names}
    return names


def target(name: str) -> str:
    """The geomap module a name lives in (the longest prefix that is one), or the name."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in MODULES:
            return ".".join(parts[:end])
    return name


def place(module: str) -> str:
    """The TIERS prefix that places a module (its longest)."""
    parts = module.split(".")
    for end in range(len(parts), 1, -1):  # `geomap` itself places only the package module
        if ".".join(parts[:end]) in TIERS:
            return ".".join(parts[:end])
    if module == "geomap":
        return module
    raise AssertionError(f"{module} sits in no tier: add it to TIERS here and to DESIGN.md's layout")


def under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _broken_rules(module: str, name: str) -> list[str]:
    """The rules `module` breaks by importing `name` (a resolved geomap module, or a name in
    another package), each as the key it is reported under."""
    top = name.split(".")[0]
    broken = []
    if top == "geomap":
        ours, theirs = place(module), place(name)
        if TIERS[theirs] > TIERS[ours] or (
                under(module, "geomap.cli") and under(name, "geomap.api")) or (
                under(module, "geomap.api") and under(name, "geomap.cli")) or (
                any(under(module, p) for p in ("geomap.analysis", "geomap.io")) and under(name, "geomap.db")):
            broken.append(theirs if theirs != "geomap" else name)
    elif top in WEB and not any(module == p or under(module, "geomap.api") for p in WEB_MODULES):
        broken.append(top)
    elif top in SQL and not under(module, "geomap.db") and name not in SQL_TYPES and not under(name, SQL_EXCEPTIONS):
        broken.append(top)
    return broken


def violations() -> dict[tuple[str, str], list[str]]:
    """(module, what it imports against the rules) -> the import statements' names."""
    found: dict[tuple[str, str], list[str]] = {}
    for module, path in MODULES.items():
        for name in sorted(imported(module, path)):
            resolved = target(name) if name.startswith("geomap") else name
            for key in _broken_rules(module, resolved):
                found.setdefault((module, key), []).append(name)
    return found


def test_every_module_sits_in_a_tier():
    for module in MODULES:
        place(module)


def test_no_import_runs_against_the_direction():
    found = violations()
    assert not found, "imports against DESIGN.md's direction:\n" + "\n".join(
        f"  {module} imports {', '.join(names)}" for (module, _), names in sorted(found.items()))


@pytest.mark.parametrize(("module", "name", "broken"), [
    ("geomap.db.candidates", "geomap.analysis.report", True),  # db above analysis
    ("geomap.io.acled", "geomap.db.store", True),  # io never imports db
    ("geomap.analysis.report", "geomap.db.candidates", True),
    ("geomap.maps", "geomap.db.candidates", False),  # maps: scenes from the database
    ("geomap.model.query", "geomap.errors", False),
    ("geomap.model.query", "geomap.io.params", True),
    ("geomap.cli", "geomap.api.maps", True),
    ("geomap.cli", "geomap.inquiry", False),
    ("geomap.layers.base", "flask", True),
    ("geomap.api.ogc", "flask", False),
    ("geomap", "flask", False),
    ("geomap.inquiry", "sqlalchemy.Connection", False),
    ("geomap.inquiry", "sqlalchemy.select", True),
    ("geomap.api.health", "sqlalchemy.exc.OperationalError", False),
    ("geomap.api.ogc", "sqlalchemy.func", True),
    ("geomap.db.features", "sqlalchemy.func", False),
])
def test_the_rules_catch_what_they_should(module, name, broken):
    """The checker itself, on arrows that are and are not against the order."""
    resolved = target(name) if name.startswith("geomap") else name
    assert bool(_broken_rules(module, resolved)) is broken


def test_imports_are_read_from_every_kind_of_statement(tmp_path):
    source = tmp_path / "sample.py"
    source.write_text("import flask\nfrom sqlalchemy import func\n"
                      "def f():\n    from geomap.db import features\n    from . import catalogue\n")
    assert imported("geomap.api.sample", source) == {
        "flask", "sqlalchemy.func", "geomap.db.features", "geomap.api.catalogue"}
