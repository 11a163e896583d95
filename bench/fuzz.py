"""schemathesis over every operation of /api with many more examples than the suite's
(tests/api/test_schemathesis.py, 8 per operation): 0 server errors is the target.

    flock /tmp/geomap-bench.lock .venv/bin/python bench/fuzz.py [--examples 200]

Runs that test with GEOMAP_FUZZ_EXAMPLES set, and prints its outcome, time and load average.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=200, help="examples per operation")
    args = parser.parse_args()
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "tests/api/test_schemathesis.py"], cwd=ROOT,
                            env={**os.environ, "GEOMAP_FUZZ_EXAMPLES": str(args.examples)})
    print(f"schemathesis, {args.examples} examples per operation: {'0 server errors' if result.returncode == 0 else 'FAILED'}"
          f" in {time.monotonic() - start:.0f} s; load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()
