"""Streaming: `geomap export --all` and `geomap import PACKAGE` of 60,000 synthetic incidents keep
resident memory flat (the figures for 200,000 are in docs/io.md). Each runs in a subprocess that
samples its own resident set and its children's (the import's reader processes)."""
from __future__ import annotations

import json
import subprocess
import sys

from builders import RSS_MB

from geomap.importer import import_file
from geomap.ingest import load
from geomap.io import synth_files

ROWS = 60_000
SCRIPT = """
import json, os, sys, threading, time

""" + RSS_MB + """
def main():
    from geomap import dataset
    from geomap.db.engine import make_engine

    samples = []
    def sample():
        while True:
            samples.append(rss_mb())
            time.sleep(0.05)
    threading.Thread(target=sample, daemon=True).start()
    command, path, url = sys.argv[1:]
    engine = make_engine(url)
    if command == "export":
        dataset.export_all(engine, path)
    else:
        dataset.import_package(engine, path)
    samples.append(rss_mb())
    print(json.dumps({"early": max(samples[:max(len(samples) // 4, 1)]), "peak": max(samples)}))

if __name__ == "__main__":  # the import's reader processes import this module
    main()
"""


def measure(tmp_path, command: str, path, url: str) -> dict:
    script = tmp_path / "measure.py"
    script.write_text(SCRIPT)
    run = subprocess.run([sys.executable, str(script), command, str(path), url], capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.splitlines()[-1])


def test_memory_stays_flat_exporting_and_importing_a_package(engine, database_url, cluster, tmp_path):
    from conftest import fresh_database

    paths = synth_files.write_files(tmp_path, ROWS, seed=3)
    load(engine, paths[:3])
    import_file(engine, paths[3], duplicates=None)
    package = tmp_path / "all.zip"
    exported = measure(tmp_path, "export", package, database_url)
    with fresh_database(cluster) as url:
        imported = measure(tmp_path, "import", package, url)
    # Export: one batch of rows at a time (about 110 MB for 200,000 as for 60,000).
    assert exported["peak"] < 200 and exported["peak"] - exported["early"] < 40, exported
    # Import: `geomap import`'s bounds (three processes with two reader processes).
    assert imported["peak"] < 640 and imported["peak"] - imported["early"] < 120, imported
