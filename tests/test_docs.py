"""The docs cover what the code offers: every setting the code reads, every command and each of
its options, every HTTP route and every data-model field. Each list is taken from the code
(the settings `geomap.config` and the package read, the click commands, Flask's url_map, the
record models), never written out here."""
from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping

import click
import pytest
from conftest import ROOT

from geomap import create_app
from geomap.cli import main
from geomap.config import Settings
from geomap.model.records import PROPERTIES, Attribution, GroupRecord, ReportedEvents, Source

README = (ROOT / "README.md").read_text()
DOCS = {path.name: path.read_text() for path in sorted((ROOT / "docs").glob("*.md"))}
DATA_MODEL = DOCS["data-model.md"]


class Reads(Mapping):
    """An empty environment that remembers which names were looked up."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def __getitem__(self, name: str):
        self.names.add(name)
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def settings() -> set[str]:
    """The names Settings.load looks up, and every environment variable the package reads."""
    reads = Reads()
    Settings.load(reads)
    for path in (ROOT / "geomap").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            name = _environment_name(node)
            if name:
                reads.names.add(name)
    return reads.names


def _environment_name(node: ast.AST) -> str | None:
    """"X" in os.environ.get("X"), os.environ["X"] or os.getenv("X")."""
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
        func = node.func
        if (isinstance(func, ast.Attribute) and func.attr == "get" and _is_os_environ(func.value)) or \
                (isinstance(func, ast.Attribute) and func.attr == "getenv"):
            return node.args[0].value
    if isinstance(node, ast.Subscript) and _is_os_environ(node.value) and isinstance(node.slice, ast.Constant):
        return node.slice.value
    return None


def _is_os_environ(node: ast.AST) -> bool:
    """`os.environ`, not a WSGI environ such as `request.environ` (whose keys are not settings)."""
    return isinstance(node, ast.Attribute) and node.attr == "environ" and isinstance(node.value, ast.Name) \
        and node.value.id == "os"


def test_the_settings_are_found():
    assert {"DATABASE_URL", "GEOMAP_HOME", "GEOMAP_MAX_CONTENT_LENGTH", "GEOMAP_PG_BINDIR"} <= settings()


@pytest.mark.parametrize("setting", sorted(settings()))
def test_every_setting_is_in_the_readme(setting):
    assert re.search(rf"\b{setting}\b", README)


def commands(group: click.Group, prefix: str = "geomap"):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from commands(command, f"{prefix} {name}")
        else:
            yield f"{prefix} {name}", command


@pytest.mark.parametrize("command", sorted(name for name, _ in commands(main)))
def test_every_command_is_in_the_readme(command):
    assert f"`{command}" in README


OPTIONS = sorted((name, option.opts[0], tuple(option.opts)) for name, command in commands(main)
                 for option in command.params if isinstance(option, click.Option) and not option.hidden)


@pytest.mark.parametrize("command, option, flags", OPTIONS, ids=[f"{c} {o}" for c, o, _ in OPTIONS])
def test_every_option_is_in_the_page_of_its_command(command, option, flags):
    """A page (the README or a docs page) that shows the command names the option."""
    pages = [text for text in (README, *DOCS.values()) if f"`{command}" in text or f"\n{command} " in text]
    assert any(re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", page) for page in pages for flag in flags)


def routes() -> list[str]:
    app = create_app({"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})  # never connects
    return sorted({rule.rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"})


def _documented(rule: str) -> re.Pattern:
    """A Flask rule as the docs write it: each variable as {name}, any(a, b) as a or b."""
    pattern = ""
    for literal, variable in re.findall(r"([^<]*)(?:<([^>]*)>)?", rule):
        pattern += re.escape(literal)
        choice = re.match(r"any\(([^)]*)\)", variable)
        if choice:
            pattern += "(" + "|".join(re.escape(v.strip()) for v in choice.group(1).split(",")) + ")"
        elif variable:
            pattern += r"\{\w+\}"
    return re.compile(pattern + r"(?![\w/{])")


def test_a_route_is_found_only_as_the_docs_write_it():
    assert _documented("/maps/incidents/<incident_id>.<any(png, svg):fmt>").search("`/maps/incidents/{id}.svg`")
    assert not _documented("/collections/<cid>/nowhere").search("GET /collections/{id}/items")
    assert not _documented("/maps/assets/<name>").search("/maps/assets/x/y")


@pytest.mark.parametrize("rule", routes())
def test_every_route_is_in_the_readme_or_the_docs(rule):
    assert any(_documented(rule).search(text) for text in (README, *DOCS.values())), rule


@pytest.mark.parametrize("model", [*PROPERTIES.values(), Attribution, GroupRecord, ReportedEvents, Source], ids=lambda m: m.__name__)
def test_every_field_is_in_the_data_model_doc(model):
    missing = [f for f in model.model_fields if f"`{f}`" not in DATA_MODEL]
    assert missing == []


def test_ci_runs_the_readme_test_command():
    assert "make test" in README and "make test" in (ROOT / ".ci" / "run").read_text()
