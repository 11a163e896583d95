"""geomap's hand-written file formats against the well-kept libraries that could replace them.

    .venv/bin/pip install -c constraints.txt -e '.[bench]'  # the peers: pyogrio, fastkml, simplekml, ijson
    .venv/bin/python bench/io_libraries.py                      # 200,000 incidents, 3 runs each
    .venv/bin/python bench/io_libraries.py --incidents 20000 --repeat 1 --only kml
    .venv/bin/python bench/io_libraries.py --semantics          # the KML behaviours only

Each case runs as its own child process (`import_bench.timed`: wall time, and peak resident
memory of the process and its descendants) on the same synthetic incidents (`geomap synth`,
seed 1), made once into bench/data/iolibs-<N>-<seed>/. Every case prints how many features it
handled, and the counts must agree. The table gives the median of --repeat runs, their spread
(min..max) and the load average before and after.

| job | geomap | peers |
|---|---|---|
| KML write | `io.kml.write_kml` | simplekml, fastkml, GDAL LIBKML through pyogrio |
| KML read | `io.kml.KMLReader` (validated items) | fastkml, GDAL (LIBKML and KML) through pyogrio (raw arrays, no validation) |
| GeoPackage write | `io.gpkg.write_gpkg` | pyogrio (GDAL GPKG driver), in batches appended |
| FeatureCollection stream | `io.streams.feature_collection` | ijson (yajl2_c), msgspec decoding the whole file |
| JSON: decode and encode each feature | msgspec | the json module |
| text sequence, 2 reader processes | `io.parallel.Readers` | `concurrent.futures.ProcessPoolExecutor.map`, and with a window of parts |

`--semantics` feeds each KML reader the things geomap must handle (ExtendedData as Data and as
SimpleData, TimeSpan and TimeStamp, a Placemark in nested Folders, an entity bomb, malformed
XML) and prints what each made of them.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

DATA = ROOT / "bench" / "data"
BATCH = 5000
WHOLE_CAP = 20_000  # the libraries that build the whole document in memory run on this many at most
WHOLE = {"kml_write_simplekml", "kml_write_fastkml", "kml_read_fastkml"}  # (tens of KB a Placemark)
SLOW_CONSUMER_S = 0.4  # per part: a COPY slower than the readers, to show who holds the backlog


def data_dir(n: int, seed: int) -> Path:
    return DATA / f"iolibs-{n}-{seed}"


def prepare(n: int, seed: int) -> Path:
    """The synthetic incidents as a text sequence, a FeatureCollection and geomap's KML."""
    from geomap.io import synth_files
    from geomap.io.kml import write_kml

    directory = data_dir(n, seed)
    done = directory / "done"
    if done.exists():
        return directory
    synth_files.write_files(directory, n, seed)
    seq = directory / "incidents.geojsonseq"
    with open(directory / "incidents.geojson", "w") as out:
        out.write('{"type": "FeatureCollection", "collection": "incidents", "features": [\n')
        for k, line in enumerate(open(seq, "rb")):
            out.write(("," if k else "") + line[1:].decode())
        out.write("]}\n")
    with open(directory / "incidents.kml", "w", encoding="utf-8") as out:
        write_kml(features(seq), out, "incidents")
    done.touch()
    return directory


def features(seq: Path) -> Iterator[dict]:
    import msgspec

    decoder = msgspec.json.Decoder()
    with open(seq, "rb") as stream:
        for line in stream:
            yield decoder.decode(line[1:])


# -- the cases: each runs in a child process and prints "count=N" ------------------------------

def kml_write_geomap(d: Path, out: Path) -> int:
    from geomap.io.kml import write_kml

    with open(out, "w", encoding="utf-8") as stream:
        return write_kml(features(d / "incidents.geojsonseq"), stream, "incidents")


def _text(value) -> str:
    import json

    return json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else str(value)


def kml_write_simplekml(d: Path, out: Path) -> int:
    import simplekml

    doc = simplekml.Kml(name="incidents")
    count = 0
    for f in features(d / "incidents.geojsonseq"):
        p = f["properties"]
        pm = doc.newpoint(name=p["title"], coords=[tuple(f["geometry"]["coordinates"])])
        pm.timespan.begin, pm.timespan.end = p["date_start"], p["date_end"]
        pm.extendeddata.newdata("id", f["id"])
        for key, value in p.items():
            if value is not None:
                pm.extendeddata.newdata(key, _text(value))
        count += 1
    doc.save(str(out))  # simplekml builds the whole document before it writes
    return count


def kml_write_fastkml(d: Path, out: Path) -> int:
    from datetime import date

    from fastkml import containers, data, kml, times
    from fastkml import features as kf
    from pygeoif.geometry import Point

    placemarks = []
    for f in features(d / "incidents.geojsonseq"):
        p = f["properties"]
        span = times.TimeSpan(begin=times.KmlDateTime(date.fromisoformat(p["date_start"])),
                              end=times.KmlDateTime(date.fromisoformat(p["date_end"])))
        extended = data.ExtendedData(elements=[data.Data(name="id", value=f["id"])] + [
            data.Data(name=k, value=_text(v)) for k, v in p.items() if v is not None])
        placemarks.append(kf.Placemark(id=f["id"], name=p["title"], times=span, extended_data=extended,
                                       geometry=Point(*f["geometry"]["coordinates"])))
    kml.KML(features=[containers.Document(name="incidents", features=placemarks)]).write(out, prettyprint=False)
    return len(placemarks)


def _ogr_columns(batch: list[dict], rename: dict[str, str]) -> tuple:
    """A batch of features as pyogrio's raw arrays: WKB geometries, one object array per field."""
    import numpy as np
    import shapely

    names = ["id"] + [k for k in batch[0]["properties"]]
    wkb = shapely.to_wkb(shapely.points([f["geometry"]["coordinates"] for f in batch]))
    columns = [np.array([f["id"] for f in batch], dtype=object)]
    for name in names[1:]:
        values = [f["properties"].get(name) for f in batch]
        if any(isinstance(v, (list, dict)) for v in values) or name in ("injured", "target_site"):
            values = [None if v is None else _text(v) for v in values]
        columns.append(np.array(values, dtype=object) if any(v is None or isinstance(v, str) for v in values)
                       else np.array(values))
    return wkb, columns, [rename.get(n, n) for n in names]


def _batches(seq: Path, size: int) -> Iterator[list[dict]]:
    batch = []
    for f in features(seq):
        batch.append(f)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def kml_write_pyogrio(d: Path, out: Path) -> int:
    """GDAL's LIBKML driver: fields named Name/Description/begin/end become the Placemark's
    name, description and TimeSpan; the rest SimpleData. One write: LIBKML appends by reading
    the document back."""
    import pyogrio.raw

    every = [f for batch in _batches(d / "incidents.geojsonseq", BATCH) for f in batch]
    wkb, columns, names = _ogr_columns(every, {"title": "Name", "description": "Description",
                                               "date_start": "begin", "date_end": "end"})
    pyogrio.raw.write(out, wkb, columns, names, layer="incidents", driver="LIBKML", geometry_type="Point",
                      crs="EPSG:4326")
    return len(every)


def kml_read_geomap(d: Path, out: Path) -> int:
    from geomap.io.kml import KMLReader

    path = d / "incidents.kml"
    with open(path, "rb") as stream:
        return sum(1 for item in KMLReader(stream, path, "incidents").items() if item.record is not None)


def kml_read_fastkml(d: Path, out: Path) -> int:
    from fastkml import kml

    document = kml.KML.parse(d / "incidents.kml", strict=True)
    return sum(1 for p in document.features[0].features if p.extended_data is not None)


def kml_read_ogr_libkml(d: Path, out: Path) -> int:
    return _with_driver("LIBKML", d)


def kml_read_ogr_kml(d: Path, out: Path) -> int:
    return _with_driver("KML", d)


def _with_driver(driver: str, d: Path) -> int:
    """Only the one driver registered, so GDAL cannot pick the other for a .kml."""
    os.environ["GDAL_SKIP"] = "KML" if driver == "LIBKML" else "LIBKML"  # read when pyogrio is imported
    import pyogrio.raw

    _, _, geometry, _ = pyogrio.raw.read(d / "incidents.kml", layer="incidents")
    return len(geometry)


def gpkg_write_geomap(d: Path, out: Path) -> int:
    from geomap.io.gpkg import write_gpkg

    return write_gpkg(features(d / "incidents.geojsonseq"), out, "incidents")


def gpkg_write_pyogrio(d: Path, out: Path) -> int:
    """The same table through GDAL's GPKG driver: the first batch creates it (with its R-tree),
    the others append, so no more than a batch is held."""
    import pyogrio.raw

    out.unlink(missing_ok=True)
    count = 0
    for k, batch in enumerate(_batches(d / "incidents.geojsonseq", BATCH)):
        wkb, columns, names = _ogr_columns(batch, {})
        pyogrio.raw.write(out, wkb, columns, names, layer="incidents", driver="GPKG", geometry_type="Point",
                          crs="EPSG:4326", append=k > 0)
        count += len(batch)
    return count


def stream_geomap(d: Path, out: Path) -> int:
    from geomap.io.streams import Members, feature_collection

    with open(d / "incidents.geojson", encoding="utf-8") as stream:
        return sum(1 for _ in feature_collection(stream, Members()))


def stream_ijson(d: Path, out: Path) -> int:
    import ijson

    assert ijson.backend == "yajl2_c", ijson.backend
    with open(d / "incidents.geojson", "rb") as stream:
        return sum(1 for _ in ijson.items(stream, "features.item", use_float=True))


def stream_msgspec_whole(d: Path, out: Path) -> int:
    import msgspec

    return len(msgspec.json.decode((d / "incidents.geojson").read_bytes())["features"])


def _known() -> dict[str, set[str]]:
    from geomap.synth import GROUPS, SITES

    return {"groups": {g[0] for g in GROUPS}, "sites": {s[0] for s in SITES}}


def _consume(done, slow: bool) -> int:
    rows = 0
    for part in done:
        rows += part.rows
        if slow:
            time.sleep(SLOW_CONSUMER_S)
    return rows


def readers_geomap(d: Path, out: Path, slow: bool = False) -> int:
    from geomap.db.lines import FeatureLines
    from geomap.io import parallel

    path = d / "incidents.geojsonseq"
    readers = parallel.Readers(path, "incidents", FeatureLines(path, "incidents", "bench", True, _known()), 2)
    try:
        return _consume(readers.done(), slow)
    finally:
        readers.stop()


_state: dict = {}


def _pool_init(path: str, separated: bool) -> None:
    from geomap.db.lines import FeatureLines
    from geomap.io.readers import SequenceReader

    _state.update(reader=SequenceReader(None, Path(path), "incidents"), separated=separated,
                  lines=FeatureLines(Path(path), "incidents", "bench", True, _known()), stream=open(path, "rb"))


def _pool_read(part):
    from geomap.io import parallel

    return parallel._read(part, _state["stream"], _state["reader"], _state["lines"], _state["separated"])


def _pool(d: Path, slow: bool, window: int | None) -> int:
    """The library's way: ProcessPoolExecutor.map submits every part at once (results wait in
    the parent however slow the consumer); with `window`, at most that many parts are out."""
    import multiprocessing
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor

    from geomap.io import parallel
    from geomap.io.streams import is_separated

    path = d / "incidents.geojsonseq"
    separated = bool(is_separated(path.open("rb").read(1 << 16)))
    parts = parallel.parts(path, separated, parallel.PART_BYTES)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"), initializer=_pool_init,
                             initargs=(str(path), separated)) as pool:
        if window is None:
            return _consume(pool.map(_pool_read, parts), slow)
        pending: deque = deque()

        def done():
            for part in parts:
                pending.append(pool.submit(_pool_read, part))
                if len(pending) >= window:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()

        return _consume(done(), slow)


def readers_pool_map(d: Path, out: Path, slow: bool = False) -> int:
    return _pool(d, slow, None)


def readers_pool_window(d: Path, out: Path, slow: bool = False) -> int:
    return _pool(d, slow, 4)  # two parts per worker, as parallel.QUEUED


def readers_geomap_slow(d: Path, out: Path) -> int:
    return readers_geomap(d, out, slow=True)


def readers_pool_map_slow(d: Path, out: Path) -> int:
    return readers_pool_map(d, out, slow=True)


def readers_pool_window_slow(d: Path, out: Path) -> int:
    return readers_pool_window(d, out, slow=True)


def _round_trip(decode, encode, d: Path) -> int:
    count = 0
    with open(d / "incidents.geojsonseq", "rb") as stream:
        for line in stream:
            encode(decode(line[1:]))
            count += 1
    return count


def json_stdlib(d: Path, out: Path) -> int:
    import json

    return _round_trip(json.loads, lambda v: json.dumps(v, ensure_ascii=False).encode(), d)


def json_msgspec(d: Path, out: Path) -> int:
    import msgspec

    return _round_trip(msgspec.json.Decoder().decode, msgspec.json.Encoder().encode, d)


GROUPS = {
    "kml": ["kml_write_geomap", "kml_write_simplekml", "kml_write_fastkml", "kml_write_pyogrio",
            "kml_read_geomap", "kml_read_fastkml", "kml_read_ogr_libkml", "kml_read_ogr_kml"],
    "gpkg": ["gpkg_write_geomap", "gpkg_write_pyogrio"],
    "streams": ["stream_geomap", "stream_ijson", "stream_msgspec_whole"],
    "parallel": ["readers_geomap", "readers_pool_map", "readers_pool_window",
                 "readers_geomap_slow", "readers_pool_map_slow", "readers_pool_window_slow"],
    "json": ["json_stdlib", "json_msgspec"],
}


# -- the KML behaviours geomap needs ------------------------------------------------------------

SAMPLE = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>incidents</name>
<Folder><name>Iraq</name><Folder><name>Kirkuk</name>
<Placemark id="attack-1"><name>Rocket attack</name>
  <TimeSpan><begin>2019-12-27</begin><end>2019-12-28</end></TimeSpan>
  <ExtendedData><Data name="precision_m"><value>8000</value></Data>{REQUIRED_DATA}</ExtendedData>
  <Point><coordinates>44.21,35.48</coordinates></Point></Placemark>
</Folder></Folder>
<Placemark><name>Second</name><TimeStamp><when>2019-12-29</when></TimeStamp>
  <ExtendedData><SchemaData schemaUrl="#s"><SimpleData name="id">attack-2</SimpleData>
  <SimpleData name="precision_m">500</SimpleData>{REQUIRED_SIMPLE}</SchemaData></ExtendedData>
  <Point><coordinates>44.0,35.0</coordinates></Point></Placemark>
</Document></kml>
"""
REQUIRED = {"event_type": "Battles", "status": "reported",
            "sources": '[{"title": "t", "publisher": "p", "url": "https://example.org/1", "date": null}]'}
SAMPLE = SAMPLE.replace("{REQUIRED_DATA}", "".join(
    f'<Data name="{k}"><value>{escape(v)}</value></Data>' for k, v in REQUIRED.items())).replace(
    "{REQUIRED_SIMPLE}", "".join(f'<SimpleData name="{k}">{escape(v)}</SimpleData>' for k, v in REQUIRED.items()))
BOMB = ('<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY a "' + "a" * 100 + '">'
        + "".join(f'<!ENTITY {c} "{("&" + p + ";") * 10}">' for p, c in zip("abcdefg", "bcdefgh", strict=True))
        + ']><kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>&h;</name>'
        "<Point><coordinates>44,35</coordinates></Point></Placemark></Document></kml>")
MALFORMED = SAMPLE.replace("</Folder></Folder>", "</Folder></Fold>")


def semantics(directory: Path) -> None:
    """What each reader makes of the sample, the bomb and the malformed file (each in a child
    process: a reader that expands the bomb should not take this one with it)."""
    for name, text in (("sample", SAMPLE), ("bomb", BOMB), ("malformed", MALFORMED)):
        path = directory / f"semantics-{name}.kml"
        path.write_text(text)
        for reader in ("geomap", "fastkml", "LIBKML", "KML"):
            code = f"import io_libraries as b; b.semantic_read({reader!r}, {str(path)!r})"
            result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                                    cwd=ROOT / "bench")
            said = result.stdout.strip() or (result.stderr.strip().splitlines() or [""])[-1]
            said = said or f"exit status {result.returncode}, nothing printed"
            print(f"{name:9} {reader:8} {said[:300]}")


def semantic_read(reader: str, path: str) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))  # a bomb that expands stops at 2 GiB
    if reader == "geomap":
        from geomap.errors import InvalidInput
        from geomap.io.kml import KMLReader
        try:
            items = list(KMLReader(open(path, "rb"), Path(path), "incidents").items())
        except InvalidInput as exc:
            print(f"refused: {exc}")
            return
        for item in items:
            if item.record is None:
                print(f"[{item.where}: {[p.field for p in item.problems]}]", end=" ")
                continue
            p = item.record.properties
            print(f"[{item.record.id}: {p.title}, {p.date_start}..{p.date_end}, {p.precision_m}]", end=" ")
        print()
    elif reader == "fastkml":
        from fastkml import kml
        document = kml.KML.parse(path, strict=True)
        print(f"({len(document.to_string())} characters)", end=" ")

        def walk(container, depth=0):
            for f in getattr(container, "features", []):
                if hasattr(f, "geometry") and f.geometry is not None:
                    span = f.times
                    elements = f.extended_data.elements if f.extended_data else []
                    data = [(d.name, d.value) for d in elements if hasattr(d, "value")] + [
                        (d.name, d.value) for e in elements for d in getattr(e, "data", [])]
                    print(f"[{f.id or None}: {f.name[:40] if f.name else None}, {span and getattr(span, 'begin', None)},"
                          f" depth {depth}, {data}]", end=" ")
                walk(f, depth + 1)
        walk(document)
        print()
    else:
        os.environ["GDAL_SKIP"] = "KML" if reader == "LIBKML" else "LIBKML"  # read when pyogrio is imported
        import pyogrio
        import pyogrio.raw
        try:
            layers = pyogrio.list_layers(path)
            for layer, _ in layers:
                meta, _, geometry, fields = pyogrio.raw.read(path, layer=layer)
                rows = [dict(zip(meta["fields"], (str(c[i])[:40] for c in fields), strict=True)) for i in range(len(geometry))]
                print(f"layer {layer!r}: {rows}", end=" ")
            print()
        except Exception as exc:  # noqa: BLE001 - what GDAL says is the result
            print(f"error: {exc}")


# -- running -----------------------------------------------------------------------------------

def run_case(name: str, n: int, seed: int) -> None:
    if name in WHOLE and n > WHOLE_CAP:
        n = WHOLE_CAP
        prepare(n, seed)
    d = data_dir(n, seed)
    out = DATA / f"iolibs-out-{name}{'.gpkg' if 'gpkg' in name else '.kml'}"
    count = globals()[name](d, out)
    print(f"count={count}")


def measure(name: str, n: int, seed: int, repeat: int) -> tuple[list, list, str]:
    from import_bench import timed

    seconds, peaks, count = [], [], "?"
    for _ in range(repeat):
        run = timed([sys.executable, str(Path(__file__)), "--case", name, "--incidents", str(n), "--seed", str(seed)],
                    dict(os.environ))
        seconds.append(run.seconds)
        peaks.append(run.peak_mb)
        count = run.output.strip().splitlines()[-1].removeprefix("count=")
    return seconds, peaks, count


def spread(values: list[float], digits: int) -> str:
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}..{max(values):.{digits}f})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default=",".join(GROUPS), help="comma-separated: " + ", ".join(GROUPS))
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--semantics", action="store_true", help="only the KML behaviours")
    args = parser.parse_args(argv)
    if args.case:
        run_case(args.case, args.incidents, args.seed)
        return 0
    DATA.mkdir(parents=True, exist_ok=True)
    if args.semantics:
        semantics(DATA)
        return 0
    clock = time.perf_counter()
    d = prepare(args.incidents, args.seed)
    if args.incidents > WHOLE_CAP and any(name in WHOLE for g in args.only.split(",") for name in GROUPS[g]):
        prepare(WHOLE_CAP, args.seed)
    print(f"data: {d} ({time.perf_counter() - clock:.0f} s)")
    import msgspec
    import pyogrio
    versions = {"msgspec": msgspec.__version__, "pyogrio": pyogrio.__version__,
                "GDAL (pyogrio wheel)": pyogrio.__gdal_version_string__}
    for module in ("fastkml", "simplekml", "ijson", "defusedxml"):
        versions[module] = _version(module)
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + f"; Python {sys.version.split()[0]}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'case':28} {'features':>9} {'seconds: median (min..max)':>28} {'peak RSS MB: median (min..max)':>32}")
    for group in args.only.split(","):
        for name in GROUPS[group]:
            seconds, peaks, count = measure(name, args.incidents, args.seed, args.repeat)
            print(f"{name:28} {count:>9} {spread(seconds, 2):>28} {spread(peaks, 0):>32}", flush=True)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


def _version(module: str) -> str:
    from importlib.metadata import version

    return version(module)


if __name__ == "__main__":
    sys.exit(main())
