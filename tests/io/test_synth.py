"""Synthetic data: determined by the seed, valid under every rule, loadable in one command."""
from __future__ import annotations

import json

from click.testing import CliRunner
from io_helpers import contents

from geomap.cli import main
from geomap.io import synth_files


def test_the_seed_determines_the_files(tmp_path):
    first = synth_files.write_files(tmp_path / "a", 300, seed=7)
    again = synth_files.write_files(tmp_path / "b", 300, seed=7)
    other = synth_files.write_files(tmp_path / "c", 300, seed=8)
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in again]
    assert first[3].read_bytes() != other[3].read_bytes()
    features = [json.loads(line.lstrip("\x1e")) for line in first[3].read_text().split("\n") if line]
    assert len(features) == 300 and features[0]["id"] == "syn-0000000"
    days = [f["properties"]["date_start"] for f in features]
    assert days == sorted(days) and "2012" <= days[0] and days[-1] <= "2021-12-31"
    lons = [f["geometry"]["coordinates"][0] for f in features]
    assert 36 <= min(lons) and max(lons) <= 48
    assert {f["properties"]["precision_m"] for f in features} <= {2000.0, 10000.0, 50000.0}


def test_synth_load_writes_and_loads_a_valid_data_set(engine, database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    result = CliRunner().invoke(main, ["synth", "--incidents", "2000", "--seed", "2", "-o", str(tmp_path), "--load"])
    assert result.exit_code == 0, result.output
    assert "incidents: 2000 created" in result.output
    stored = contents(engine, "incidents")
    assert len(stored) == 2000 and any(i["attributions"] for i in stored.values())
    assert len(contents(engine, "control_zones")) == 90 and len(contents(engine, "sites")) == 12
