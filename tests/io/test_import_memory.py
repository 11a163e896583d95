"""Streaming: importing a generated file of 200,000 incidents keeps resident memory flat. The
import runs in a subprocess, which samples its own resident set and its children's (the reader
processes of a first import) as it goes."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from builders import RSS_MB

from geomap.ingest import load
from geomap.io import synth_files

ROWS = 200_000
SCRIPT = """
import json, os, sys
from pathlib import Path
from geomap.db.engine import make_engine
from geomap.importer import import_file

""" + RSS_MB + """
path, url = Path(sys.argv[1]), sys.argv[2]
size, early, peak = path.stat().st_size, [0.0], [0.0]

def progress(position):
    peak[0] = max(peak[0], rss_mb())
    if position <= size // 4:
        early[0] = peak[0]

result = import_file(make_engine(url), path, duplicates=None, progress=progress)
print(json.dumps({"created": result.created, "readers": result.readers, "early": early[0],
                  "peak": max(peak[0], rss_mb())}))
"""


def test_memory_stays_flat_on_a_200k_row_import(engine, database_url, tmp_path):
    paths = synth_files.write_files(tmp_path, ROWS, seed=3)
    load(engine, paths[:3])
    size_mb = paths[3].stat().st_size / 2**20
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(paths[3]), database_url], capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    measured = json.loads(run.stdout.splitlines()[-1])
    assert measured["created"] == ROWS
    assert measured["readers"] == (2 if os.cpu_count() > 1 else 0), measured  # a first import: read in parts
    # Generous bounds: a few chunks of COPY text in flight, never the file (about 180 MB) or
    # its features (over 1 GB as Python objects); three processes with two reader processes.
    assert measured["peak"] < 640, measured
    assert measured["peak"] - measured["early"] < 120, measured
    assert size_mb > 150
