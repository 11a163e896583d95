"""The data set as one package: `geomap export --all` then `geomap import PACKAGE` into an empty
database gives the same records id for id; a damaged package is refused naming what is wrong,
leaving the database as it was; a package merges into a database like `geomap load`."""
from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import fresh_database, snapshot
from sqlalchemy import text
from test_acled import row, write

from geomap import dataset, maps
from geomap.cli import main
from geomap.db import features
from geomap.db.engine import make_engine
from geomap.errors import InvalidInput
from geomap.importer import import_file
from geomap.ingest import load
from geomap.io import synth_files
from geomap.io.export import query
from geomap.io.export import write as write_features
from geomap.io.load import SEED_FILES
from geomap.model.dataversion import DataVersion, canonical

BOOKKEEPING = ("version", "created_at", "updated_at")


@pytest.fixture
def target(cluster):
    """A second, empty database to import into."""
    with fresh_database(cluster) as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


def records(engine) -> dict[str, list[tuple]]:
    """Every record: the rows of every table but history, without bookkeeping (version,
    timestamps) and the claims' surrogate key (claims are identified by incident and position)."""
    out = {}
    with engine.connect() as conn:
        for name in ("groups", "sites", "control_zones", "incidents", "attributions"):
            result = conn.execute(text(f'SELECT * FROM "{name}" ORDER BY ' +
                                       ("incident_id, position" if name == "attributions" else "id")))
            keep = [i for i, c in enumerate(result.keys())
                    if c not in BOOKKEEPING and not (name == "attributions" and c == "id")]
            out[name] = [tuple(r[i] for i in keep) for r in result]
    return out


def manifest(path: Path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("datapackage.json"))


def test_seed_data_round_trips_id_for_id_with_the_version_maps_print(seeded, target, tmp_path):
    path = tmp_path / "seed.zip"
    exported = dataset.export_all(seeded, path)
    assert exported.records == {"groups": 5, "sites": 7, "control_zones": 7, "incidents": 20, "relations": 24}

    result = dataset.import_package(target, path)

    assert records(target) == records(seeded)
    assert result.counts["incidents"] == (20, 0, 0) and result.counts["relations"] == (24, 0, 0)
    version = manifest(path)["geomap"]["data_version"]
    assert dataset.data_version(seeded) == dataset.data_version(target) == version == exported.data_version
    # A map drawn from the imported data prints what the same map of the source prints.
    scene = maps.selection_scene(seeded, maps.Selection())
    assert maps.selection_scene(target, maps.Selection()).data_version == scene.data_version


def test_the_content_hash_is_of_the_records_in_id_order_not_of_the_zip(seeded, tmp_path):
    """An independent computation: SHA-256 over "resource<TAB>record<LF>" lines, records as
    canonical JSON, resources in the package's order, records by id."""
    path = tmp_path / "a.zip"
    dataset.export_all(seeded, path)
    sha = hashlib.sha256()
    with zipfile.ZipFile(path) as archive:
        for name, member in (("groups", "groups.json"), ("sites", "sites.geojsonseq"),
                             ("control_zones", "control_zones.geojsonseq"), ("incidents", "incidents.geojsonseq"),
                             ("relations", "relations.geojsonseq")):
            data = archive.read(member).decode()
            items = json.loads(data)["groups"] if name == "groups" else \
                [json.loads(t) for t in data.split("\x1e") if t.strip()]
            assert [i["id"] for i in items] == sorted(i["id"] for i in items)
            for item in items:
                line = json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                sha.update(f"{name}\t{line}\n".encode())
    assert manifest(path)["geomap"]["content_hash"] == f"sha256:{sha.hexdigest()}"
    dataset.export_all(seeded, tmp_path / "b.zip")  # made again: same content hash
    assert manifest(tmp_path / "b.zip")["geomap"]["content_hash"] == f"sha256:{sha.hexdigest()}"


def test_history_restores_every_table_identically(seeded, target, tmp_path):
    with seeded.begin() as conn:  # a second version of a record, so that versions differ from 1
        conn.execute(text("UPDATE sites SET version = 3, updated_at = now() + interval '1 day' WHERE id = 'k1-air-base'"))
    path = tmp_path / "h.zip"
    dataset.export_all(seeded, path, history=True)

    result = dataset.import_package(target, path, history=True)

    before, after = snapshot(seeded), snapshot(target)
    strip = lambda rows: sorted(r[1:] for r in rows)  # noqa: E731 (the claims by incident and position)
    assert strip(after.pop("attributions")) == strip(before.pop("attributions"))
    after.pop("api_tokens"), before.pop("api_tokens")
    assert after == before  # history id for id, and every record's version and timestamps
    assert result.history == len(before["history"]) > 0


def test_synthetic_data_with_groups_created_from_acled_actors_round_trips(engine, target, tmp_path):
    paths = synth_files.write_files(tmp_path / "synth", 3000, seed=5)
    load(engine, paths[:3])
    import_file(engine, paths[3], duplicates=None)
    acled = write(tmp_path / "acled.csv", [row(event_id_cnty=f"IRQ{i}", actor1=actor, longitude=f"44.{i}")
                                           for i, actor in enumerate(["Gamma Movement", "Delta Cells", "Gamma Movement"])])
    created = import_file(engine, acled, duplicates=None).groups_created
    assert {"gamma-movement", "delta-cells"} <= set(created)
    # The failure: an incidents export alone names groups the empty database lacks.
    incidents = tmp_path / "incidents.geojsonseq"
    with engine.connect() as conn:
        write_features(features.stream(conn, query("incidents")), "incidents", "geojsonseq", incidents)
    with pytest.raises(InvalidInput, match="unknown group"):
        import_file(target, incidents, duplicates=None)
    path = tmp_path / "all.zip"
    dataset.export_all(engine, path)

    dataset.import_package(target, path)

    assert records(target) == records(engine)
    assert len(records(target)["incidents"]) == 3003


def test_cli_exports_all_and_imports_a_package_recognised_by_content(seeded, target, tmp_path):
    runner = CliRunner()
    path = tmp_path / "data-set.bin"  # no telling extension: the content says it is a package
    out = runner.invoke(main, ["export", "--all", "-o", str(path)],
                        env={"DATABASE_URL": seeded.url.render_as_string(False)})
    assert out.exit_code == 0, out.output
    assert "20 incidents" in out.output and manifest(path)["geomap"]["data_version"] in out.output
    env = {"DATABASE_URL": target.url.render_as_string(False)}
    out = runner.invoke(main, ["import", str(path)], env=env)
    assert out.exit_code == 0, out.output
    assert "incidents: 20 created" in out.output
    out = runner.invoke(main, ["data-version"], env=env)
    assert out.output.strip() == manifest(path)["geomap"]["data_version"]
    out = runner.invoke(main, ["import", "--format", "package", str(path)], env=env)  # again: a merge
    assert "incidents: 0 created, 0 updated, 20 unchanged" in out.output
    out = runner.invoke(main, ["export", "--all", "--collection", "sites", "-o", str(path)], env=env)
    assert out.exit_code == 2 and "--all exports the whole data set" in out.output


def test_a_package_merges_into_a_database_that_holds_data_like_load(seeded, target, tmp_path):
    path = tmp_path / "seed.zip"
    dataset.export_all(seeded, path)
    load(target, [SEED_FILES[0]])
    with target.begin() as conn:
        conn.execute(text("UPDATE groups SET color = '#000000' WHERE id = 'islamic-state'"))
    extra = tmp_path / "groups.json"
    extra.write_text(json.dumps({"collection": "groups", "groups": [
        {"id": "only-here", "name": "Only Here", "kind": "militia", "color": "#123456"}]}))
    load(target, [extra])

    result = dataset.import_package(target, path)

    assert result.counts["groups"] == (0, 1, 4) and result.counts["incidents"] == (20, 0, 0)
    got = records(target)
    assert [g for g in got["groups"] if g[0] != "only-here"] == records(seeded)["groups"]
    assert any(g[0] == "only-here" for g in got["groups"])  # records the package lacks are kept
    with target.connect() as conn:
        assert conn.execute(text("SELECT version FROM groups WHERE id = 'islamic-state'")).scalar() == 2


# -- damaged packages: refused, naming what is wrong, the database unchanged ------------------------

def rewrite(path: Path, change) -> Path:
    """A copy of the package with `change(members)` applied to its {name: bytes}."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    change(members)
    out = path.with_name("damaged.zip")
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out


def rehash(members: dict[str, bytes]) -> None:
    """Make the manifest agree with the members again (a consistent package, for validation)."""
    meta = json.loads(members["datapackage.json"])
    version = DataVersion()
    for resource in meta["resources"]:
        data = members[resource["path"]]
        resource["hash"], resource["bytes"] = f"sha256:{hashlib.sha256(data).hexdigest()}", len(data)
        texts = [json.dumps(g) for g in json.loads(data)["groups"]] if resource["name"] == "groups" else \
            [t for t in data.decode().split("\x1e") if t.strip()]
        for t in texts:
            version.add(resource["name"], canonical(json.loads(t)))
    meta["geomap"]["content_hash"] = f"sha256:{version.hexdigest}"
    members["datapackage.json"] = json.dumps(meta).encode()


def bad_content_hash(m):
    meta = json.loads(m["datapackage.json"])
    meta["geomap"]["content_hash"] = "sha256:" + "0" * 64
    m["datapackage.json"] = json.dumps(meta).encode()


def changed_record(m):
    m["incidents.geojsonseq"] = m["incidents.geojsonseq"].replace(b'"fatalities_best":', b'"fatalities_best":1', 1)


def missing_file(m):
    del m["incidents.geojsonseq"]


def unlisted(m):
    meta = json.loads(m["datapackage.json"])
    meta["resources"] = [r for r in meta["resources"] if r["name"] != "sites"]
    m["datapackage.json"] = json.dumps(meta).encode()


def invalid_feature(m):
    m["incidents.geojsonseq"] = m["incidents.geojsonseq"].replace(b'"precision_m":', b'"precision_m":-', 1)
    rehash(m)


def unknown_resource(m):
    meta = json.loads(m["datapackage.json"])
    meta["resources"].append({"name": "annotations", "path": "annotations.jsonl", "hash": "sha256:", "bytes": 0})
    m["annotations.jsonl"] = b""
    m["datapackage.json"] = json.dumps(meta).encode()


def relation_to_itself(m):
    m["relations.geojsonseq"] = m["relations.geojsonseq"].replace(
        b'"object":"incidents/nabtaz-herders-execution-2019"', b'"object":"incidents/k1-rocket-attack-2019-12-27"', 1)
    rehash(m)


def relation_to_unknown_feature(m):
    m["relations.geojsonseq"] = m["relations.geojsonseq"].replace(
        b'"object":"incidents/nabtaz-herders-execution-2019"', b'"object":"incidents/nowhere"', 1)
    rehash(m)


def links_in_a_cycle(m):
    """The 8 January strikes now precede the attack of 27 December, which led to them."""
    m["relations.geojsonseq"] = m["relations.geojsonseq"].replace(
        b'"object":"incidents/ps752-shootdown-2020-01-08"', b'"object":"incidents/k1-rocket-attack-2019-12-27"', 1)
    rehash(m)


@pytest.mark.parametrize("change, message", [
    (bad_content_hash, r"the records' content hash is sha256:[0-9a-f]{64}, but the manifest says sha256:0{64}"),
    (changed_record, r"resource incidents \(incidents.geojsonseq\) has sha256:.* but the manifest says"),
    (missing_file, r"resource file\(s\) incidents.geojsonseq named in the manifest are missing from the zip"),
    (unlisted, r"the manifest lists no sites resource"),
    (invalid_feature, r"damaged.zip/incidents.geojsonseq: 1 problem\(s\) in 1 feature\(s\); nothing was imported"),
    (unknown_resource, r"holds a resource 'annotations' that this geomap does not know"),
    (relation_to_itself, r"relations.geojsonseq: 1 problem\(s\) in the relations; nothing was imported"),
    (relation_to_unknown_feature, r"1 reference\(s\) to unknown features; nothing was loaded"),
    (links_in_a_cycle, r"the links between events would form a cycle; nothing was written"),
])
def test_a_damaged_package_is_refused_and_the_database_is_unchanged(seeded, target, tmp_path, change, message):
    path = tmp_path / "seed.zip"
    dataset.export_all(seeded, path)
    load(target, [SEED_FILES[0]])  # something to keep, and groups the package would update
    with target.begin() as conn:
        conn.execute(text("UPDATE groups SET color = '#000000'"))
    before = snapshot(target)

    with pytest.raises(InvalidInput, match=message) as refused:
        dataset.import_package(target, rewrite(path, change))

    assert snapshot(target) == before
    if change is invalid_feature:  # the problem names the record (in the package) and the field
        problem = refused.value.problems[0]
        assert problem.where.startswith("damaged.zip/incidents.geojsonseq: line 1 (id ")
        assert problem.field == "properties.precision_m"
    if change is links_in_a_cycle:
        assert "ain-al-asad-missile-strike-precedes-ps752" in refused.value.problems[0].reason
    if change is relation_to_itself:
        assert refused.value.problems[0].field == "properties.object"
        assert "cannot be related to itself" in refused.value.problems[0].reason


def test_a_package_made_before_relations_imports_without_them(seeded, target, tmp_path):
    path = tmp_path / "seed.zip"
    dataset.export_all(seeded, path)

    def without_relations(m):
        meta = json.loads(m["datapackage.json"])
        meta["resources"] = [r for r in meta["resources"] if r["name"] != "relations"]
        del m["relations.geojsonseq"]
        m["datapackage.json"] = json.dumps(meta).encode()
        rehash(m)

    result = dataset.import_package(target, rewrite(path, without_relations))
    assert "relations" not in result.counts and result.counts["incidents"] == (20, 0, 0)
    with target.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM relations")).scalar_one() == 0


def test_history_needs_an_empty_database_and_a_package_with_history(seeded, target, tmp_path):
    plain, full = tmp_path / "plain.zip", tmp_path / "full.zip"
    dataset.export_all(seeded, plain)
    dataset.export_all(seeded, full, history=True)
    with pytest.raises(InvalidInput, match="holds no history"):
        dataset.import_package(target, plain, history=True)
    load(target, [SEED_FILES[0]])
    before = snapshot(target)
    with pytest.raises(InvalidInput, match="into an empty database only"):
        dataset.import_package(target, full, history=True)
    assert snapshot(target) == before
