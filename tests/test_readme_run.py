"""The README's first command, end to end, on a fresh copy of the repository: it installs into
a new virtual environment, starts and migrates a new embedded PostGIS, loads the seed data and
serves the app, which answers /health with the seed counts."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT, make_home

from geomap.db.cluster import Cluster, free_port

README_RUN = re.compile(r"^\s*(make run)\s*$", re.M)


def fresh_copy(target: Path) -> Path:
    """The repository as a fresh clone would have it: tracked and new files, nothing ignored."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    return target


def seed_counts() -> dict[str, int]:
    data = ROOT / "data"
    counts = {c: len(json.loads((data / f"{c}.geojson").read_text())["features"])
              for c in ("incidents", "sites", "control_zones")}
    counts["groups"] = len(json.loads((data / "groups.json").read_text())["groups"])
    return counts


def wait_for_health(port: int, process: subprocess.Popen, seconds: float) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, f"make run exited with {process.returncode}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
                return json.load(response)
        except OSError:
            time.sleep(1)
    raise AssertionError(f"/health did not answer within {seconds} s")


@pytest.mark.slow
def test_readme_run_command_serves_the_seed_data(tmp_path):
    assert README_RUN.search((ROOT / "README.md").read_text()), "the README's first command is `make run`"
    clone = fresh_copy(tmp_path / "clone")
    home = make_home("geomap-readme-")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "VIRTUAL_ENV")}
    env.update(GEOMAP_HOME=str(home), PIP_DISABLE_PIP_VERSION_CHECK="1")
    log = open(tmp_path / "make-run.log", "w")
    process = subprocess.Popen(["make", "run", f"PORT={port}"], cwd=clone, env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        body = wait_for_health(port, process, seconds=600)
        assert body["status"] == "ok"
        assert body["counts"] == seed_counts()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
        Cluster(home).stop()
        shutil.rmtree(home, ignore_errors=True)
        log.close()
