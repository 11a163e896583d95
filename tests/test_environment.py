"""The Python environment is the one the suite was run with (constraints.txt), and the benchmark's
pygeoapi environment shares its server and ORM versions with it."""
from __future__ import annotations

import importlib.metadata

from conftest import ROOT


def _pins(path) -> dict[str, str]:
    lines = (line.strip() for line in path.read_text().splitlines())
    return {name.lower(): version for name, version in (line.split("==", 1) for line in lines
                                                          if line and not line.startswith("#"))}


def test_the_installed_packages_are_the_pinned_ones():
    installed = {d.metadata["Name"].lower(): d.version for d in importlib.metadata.distributions()}
    wrong = {name: (version, installed[name]) for name, version in _pins(ROOT / "constraints.txt").items()
             if name in installed and installed[name] != version}
    assert not wrong, f"installed without constraints.txt (pinned, installed): {wrong}"


def test_every_installed_package_is_pinned():
    pinned = _pins(ROOT / "constraints.txt")
    installed = {d.metadata["Name"].lower().replace("_", "-") for d in importlib.metadata.distributions()}
    assert {"flask", "sqlalchemy", "pytest"} <= installed
    unpinned = installed - {name.replace("_", "-") for name in pinned} - {"geomap", "pip", "setuptools", "wheel"}
    assert not unpinned, f"not in constraints.txt: {sorted(unpinned)}"


def test_pygeoapi_shares_the_server_and_orm_versions():
    pygeoapi, ours = _pins(ROOT / "bench" / "pygeoapi-requirements.txt"), _pins(ROOT / "constraints.txt")
    for name in ("gunicorn", "geoalchemy2", "sqlalchemy"):
        assert pygeoapi[name] == ours[name], name
