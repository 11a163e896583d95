"""Every benchmark of geomap in one run: builds (or reuses) the benchmark databases, runs each
benchmark in turn, and prints every ratio beside its target.

    .venv/bin/python bench/run.py                      # everything, full sizes
    .venv/bin/python bench/run.py --quick              # a smoke run: tiny sizes, short timings
    .venv/bin/python bench/run.py --only import,api    # a subset
    .venv/bin/python bench/run.py --incidents 100000   # another size for the 1,000,000 ones
    .venv/bin/python bench/run.py --list               # the benchmarks and their commands

Wrap it in `flock /tmp/geomap-bench.lock` on a shared machine, like each script. The benchmarks
run one after the other, never side by side, each as its own process (`bench/<script>.py` with
its own arguments), so a crash in one still lets the others run. Each one's output goes to the
terminal and to `bench/data/run-<time>/<name>.log`; the ratios are read from the lines each
script prints with its target, and the summary table and a JSON copy
(`bench/data/run-<time>/summary.json`) list them all with PASS or MISS (or "none at this size"
for a target set at one size only: the report's, at 1,000,000 incidents). The exit status is 0
only when every benchmark ran and met every target.
"""
from __future__ import annotations

import argparse
import json
import operator
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
DATA = BENCH / "data"
COMPARE = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}


@dataclass(frozen=True)
class Metric:
    """A figure a benchmark prints with its target: `pattern` finds the value (group 1) on a
    line; `op` and `target` say what passes."""

    name: str
    pattern: str
    op: str
    target: float
    only_at: int | None = None  # the target holds at this size only (issue 16: the report's, at 1,000,000)


@dataclass(frozen=True)
class Benchmark:
    name: str
    script: str
    measures: str
    metrics: tuple[Metric, ...]
    full: tuple[str, ...] = ()  # arguments of a full run (besides --incidents)
    quick: tuple[str, ...] = ()  # arguments of a smoke run
    incidents: int | None = 1_000_000  # None: the script takes no --incidents
    quick_incidents: int = 5_000
    needs: tuple[str, ...] = ()  # programs it runs (PROGRAMS), checked before any benchmark starts


@dataclass
class Outcome:
    benchmark: str
    command: list[str]
    seconds: float = 0.0
    status: int = 0
    figures: list[dict] = field(default_factory=list)


NUMBER = r"([0-9][0-9,]*(?:\.[0-9]+)?)"
# The programs outside .venv the benchmarks run, and the Debian package of each; all of them are
# installed by `scripts/install-system-deps.sh bench` (which `make bench` runs).
PROGRAMS = {"wrk": "wrk", "chromium": "chromium", "ogr2ogr": "gdal-bin"}
REPORT_SIZE = 1_000_000  # nearby.REPORT_AT: issue 16 sets the report's targets at this size only
BENCHMARKS = (
    Benchmark("synth", "synth.py", "builds the synthetic benchmark database bench_<N>_<seed>", ()),
    Benchmark("nearby", "nearby.py", "nearby query against bare PostGIS; context report against one nearby", (
        Metric("nearby / bare SQL", rf"ratio X/Y = {NUMBER}", "<=", 1.3),
        Metric("context report / one nearby", rf"ratio to one nearby = {NUMBER}", "<=", 8, only_at=REPORT_SIZE),
        Metric("context report p99 (ms)", rf"report p99 = {NUMBER} ms", "<=", 1000, only_at=REPORT_SIZE),
        Metric("base rate of one group, max (s)", rf"max = {NUMBER} s \(target <= 0.3\)", "<=", 0.3),
    ), quick=("--queries", "10")),
    Benchmark("api", "api.py", "OGC API items under gunicorn: geomap against pygeoapi and a bare reference", (
        Metric("geomap / pygeoapi (req/s)", rf"geomap/pygeoapi\s+=\s+{NUMBER}", ">=", 4),
        Metric("geomap / bare (req/s)", rf"geomap/bare\s+=\s+{NUMBER}", ">=", 0.8),
    ), quick=("--duration", "2", "--warmup", "1", "--rounds", "1", "--paths", "5"), needs=("wrk",)),
    Benchmark("maps", "maps_bench.py", "selection map in a browser: geomap against Folium maps (naive, FastMarkerCluster)", (
        Metric("naive map / geomap (time to interactive)", rf"ratio {NUMBER}x with the server counting", ">=", 10),
        Metric("FastMarkerCluster / geomap (interactive)", rf"against FastMarkerCluster {NUMBER}x cold", ">=", 3),
        Metric("geomap HTML (MB)", rf"HTML: ours {NUMBER} MB", "<", 5),  # maps_bench.LIMIT_MB
    ), incidents=100_000, quick=("--runs", "1"), needs=("chromium",)),
    Benchmark("story", "story.py", "the K-1 story page in a browser: time to interactive and size", (
        Metric("story page interactive (ms)", rf"story interactive: median {NUMBER} ms", "<=", 1000),
        Metric("story HTML (MB)", rf"story HTML: {NUMBER} MB", "<", 2),  # story.LIMIT_MB
    ), incidents=None, quick=("--runs", "2"), needs=("chromium",)),
    Benchmark("paging", "paging.py", "items: the page at 99 % by its cursor and numberMatched's cost, at 1,000,000", (
        Metric("deep page (cursor) / first page", rf"RATIO deep page \(cursor\) / first page: {NUMBER}", "<=", 1.5),
        Metric("bbox+datetime page with / without numberMatched",
               rf"RATIO numberMatched page / page without it: {NUMBER}", "<=", 1.3),
    ), quick=("--repeat", "3", "--paths", "5")),
    Benchmark("import", "import_bench.py", "geomap import against ogr2ogr (COPY) of the same GeoJSON sequence", (
        Metric("geomap import / ogr2ogr", rf"ratio {NUMBER} \(target", "<=", 1.5),
        Metric("geomap import peak RSS (MB)", rf"geomap peak {NUMBER} MB", "<", 1024),
    ), quick=("--repeat", "1"), needs=("ogr2ogr",)),
)
NAMES = tuple(b.name for b in BENCHMARKS)


def command(benchmark: Benchmark, quick: bool, incidents: int | None, seed: int) -> list[str]:
    """The benchmark's command line for a full or a quick run. `incidents` replaces the size of
    the 1,000,000-incident benchmarks (the maps benchmark keeps its own, 100,000, unless quick)."""
    args = [sys.executable, str(BENCH / benchmark.script), "--seed", str(seed)]
    if benchmark.incidents is not None:
        size = benchmark.quick_incidents if quick else benchmark.incidents
        if incidents is not None and (quick or benchmark.incidents == 1_000_000):
            size = incidents
        args += ["--incidents", str(size)]
    return args + list(benchmark.quick if quick else benchmark.full)


NOT_AT_THIS_SIZE = "none at this size"


def figures(benchmark: Benchmark, output: str, incidents: int | None = None) -> list[dict]:
    """Each metric's value read from the output (the last line that shows it), with its verdict
    (none for a target set at another size than the run's `incidents`, when that is known). A
    line the script itself marks MISSED is a miss whatever its printed figure says: the script
    judged the figure before rounding it (nearby.py printed 1.300 for a ratio just above 1.3)."""
    found = []
    for metric in benchmark.metrics:
        matches = list(re.finditer(metric.pattern, output))
        value = float(matches[-1].group(1).replace(",", "")) if matches else None
        rest = output[matches[-1].end():].split("\n", 1)[0] if matches else ""
        ok = value is not None and COMPARE[metric.op](value, metric.target) and "MISSED" not in rest
        verdict = "PASS" if ok else ("MISS" if value is not None else "NO FIGURE")
        if value is not None and None not in (metric.only_at, incidents) and incidents != metric.only_at:
            verdict = NOT_AT_THIS_SIZE
        found.append({"metric": metric.name, "value": value, "target": f"{metric.op} {metric.target:g}",
                      "verdict": verdict})
    return found


def missing_programs(chosen: list[Benchmark]) -> list[str]:
    """The programs the chosen benchmarks run that are not on PATH, as "program (Debian package)"."""
    needed = dict.fromkeys(program for b in chosen for program in b.needs)
    return [f"{program} (Debian {PROGRAMS[program]})" for program in needed if shutil.which(program) is None]


def size(argv: list[str]) -> int | None:
    """The benchmark's size in its command line (`command`), if it takes one."""
    return int(argv[argv.index("--incidents") + 1]) if "--incidents" in argv else None


def run(benchmark: Benchmark, argv: list[str], log: Path) -> Outcome:
    """Run one benchmark, its output both shown and logged."""
    print(f"\n=== {benchmark.name}: {benchmark.measures}\n$ {' '.join(argv)}", flush=True)
    outcome, lines = Outcome(benchmark.name, argv), []
    clock = time.perf_counter()
    with open(log, "w", encoding="utf-8") as out, subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=BENCH.parent,
            env=dict(os.environ, PYTHONUNBUFFERED="1")) as child:
        for line in child.stdout:
            sys.stdout.write(line)
            out.write(line)
            lines.append(line)
    outcome.seconds, outcome.status = time.perf_counter() - clock, child.returncode
    outcome.figures = figures(benchmark, "".join(lines), size(argv))
    return outcome


def summary(outcomes: list[Outcome], load: tuple[str, str]) -> list[str]:
    """The table of every figure, its target and verdict."""
    rows = [f"{'benchmark':<8} {'figure':<42} {'value':>10}  {'target':<9} verdict",
            "-" * 84]
    for outcome in outcomes:
        if not outcome.figures:
            rows.append(f"{outcome.benchmark:<8} {f'(no ratio; ran in {outcome.seconds:.0f} s)':<42} "
                        f"{'':>10}  {'':<9} {'ok' if outcome.status == 0 else 'FAILED'}")
        for figure in outcome.figures:
            value = "-" if figure["value"] is None else f"{figure['value']:g}"
            rows.append(f"{outcome.benchmark:<8} {figure['metric']:<42} {value:>10}  {figure['target']:<9} "
                        f"{figure['verdict']}")
        if outcome.status != 0 and outcome.figures:
            rows.append(f"{'':<8} (exit status {outcome.status}; see its log)")
    rows.append(f"load average before: {load[0]}; after: {load[1]}")
    return rows


def passed(outcomes: list[Outcome]) -> bool:
    return all(o.figures and all(f["verdict"] in ("PASS", NOT_AT_THIS_SIZE) for f in o.figures) if o.benchmark != "synth"
               else o.status == 0 for o in outcomes)


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def start_cluster(port: int | None):
    """The bench cluster (synth.BENCH_HOME), started here unless it runs already (then it is left
    running at the end: someone else may be using it; restarted first if it runs in another
    scheduling class than this run, `synth.start_like_us`). Its port is `--port`, else the one in
    its home's port file; a taken port is an error, not a silent move to another. With
    neither, a free port is chosen, said, and written to that file for the next run."""
    sys.path.insert(0, str(BENCH.parent))
    sys.path.insert(0, str(BENCH))
    import synth

    from geomap.db.cluster import Cluster, free_port

    home = synth.BENCH_HOME
    saved = home / "port"
    if port is None and saved.exists():
        port = int(saved.read_text())
    cluster = Cluster(home, port=port)
    status = cluster.status()
    if status.running:
        synth.start_like_us(cluster)
        print(f"bench cluster: already running on port {status.port}; left running at the end")
        return cluster, False
    if port is None:
        cluster.port = free_port()
        print(f"bench cluster: no --port and no {saved}; using port {cluster.port}, free now (written there)")
    cluster.start()
    print(f"bench cluster: started on port {cluster.status().port} ({home}); stopped at the end")
    return cluster, True


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 5,000 incidents (or --incidents), one short round of each")
    parser.add_argument("--only", default=",".join(NAMES), help=f"comma-separated subset of {','.join(NAMES)}")
    parser.add_argument("--incidents", type=int, help="size of the 1,000,000-incident benchmarks (all, if --quick)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--list", action="store_true", help="print the benchmarks and their commands, run nothing")
    parser.add_argument("--port", type=int, help="the bench cluster's port (default: the one in its home's port file, "
                        "else a free one, said and written there)")
    parser.add_argument("--keep-running", action="store_true", help="leave the bench cluster running at the end")
    args = parser.parse_args(argv)
    args.only = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(args.only) - set(NAMES))
    if unknown:
        parser.error(f"--only: unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    chosen = [b for b in BENCHMARKS if b.name in args.only]
    commands = {b.name: command(b, args.quick, args.incidents, args.seed) for b in chosen}
    if args.list:
        for b in chosen:
            print(f"{b.name:<7} {b.measures}\n        {' '.join(commands[b.name])}")
        return 0
    if missing := missing_programs(chosen):
        print(f"missing: {', '.join(missing)}. Install them with scripts/install-system-deps.sh bench "
              "(make bench does it), then run again; nothing was run.", file=sys.stderr)
        return 2
    directory = DATA / time.strftime("run-%Y%m%d-%H%M%S")
    directory.mkdir(parents=True, exist_ok=True)
    cluster, started = start_cluster(args.port)
    before = _load()
    try:
        outcomes = [run(b, commands[b.name], directory / f"{b.name}.log") for b in chosen]
    finally:
        after = _load()
        if started and not args.keep_running:
            cluster.stop()
            print(f"stopped the bench cluster ({cluster.home})")
    rows = summary(outcomes, (before, after))
    print("\n" + "\n".join(rows))
    (directory / "summary.json").write_text(json.dumps([asdict(o) for o in outcomes], indent=1))
    print(f"logs and summary.json in {directory}")
    return 0 if passed(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
