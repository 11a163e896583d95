"""The docs cover what the code offers: every command, setting and data-model field."""
from __future__ import annotations

import click
import pytest

from conftest import ROOT
from geomap.cli import main
from geomap.model.records import PROPERTIES, Attribution, GroupRecord, Source

README = (ROOT / "README.md").read_text()
DATA_MODEL = (ROOT / "docs" / "data-model.md").read_text()


def commands(group: click.Group, prefix: str = "geomap"):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from commands(command, f"{prefix} {name}")
        else:
            yield f"{prefix} {name}"


@pytest.mark.parametrize("command", sorted(commands(main)))
def test_every_command_is_in_the_readme(command):
    assert f"`{command}" in README


@pytest.mark.parametrize("setting", ["GEOMAP_HOME", "DATABASE_URL", "GEOMAP_PG_BINDIR", "GEOMAP_MAX_CONTENT_LENGTH"])
def test_every_setting_is_in_the_readme(setting):
    assert f"`{setting}`" in README


@pytest.mark.parametrize("model", [*PROPERTIES.values(), Attribution, GroupRecord, Source], ids=lambda m: m.__name__)
def test_every_field_is_in_the_data_model_doc(model):
    missing = [f for f in model.model_fields if f"`{f}`" not in DATA_MODEL]
    assert missing == []


def test_ci_runs_the_readme_test_command():
    assert "make test" in README and "make test" in (ROOT / ".ci" / "run").read_text()
