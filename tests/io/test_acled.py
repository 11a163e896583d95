"""ACLED CSV: every precision code, actors to groups (by name, alias and without ACLED's
qualifier, else created), claims by ACLED, sources, problems named by ACLED's columns."""
from __future__ import annotations

import csv
import io

import pytest
from conftest import snapshot
from io_helpers import contents, load_references
from sqlalchemy import text

from geomap.errors import InvalidInput
from geomap.importer import import_file
from geomap.io.acled import ACLED_URL, PALETTE

COLUMNS = ("event_id_cnty,event_date,year,time_precision,disorder_type,event_type,sub_event_type,actor1,"
           "assoc_actor_1,inter1,actor2,assoc_actor_2,inter2,interaction,civilian_targeting,iso,region,country,"
           "admin1,admin2,admin3,location,latitude,longitude,geo_precision,source,source_scale,notes,fatalities,"
           "tags,timestamp").split(",")


def row(**values) -> dict:
    base = {"event_id_cnty": "IRQ1", "event_date": "2019-12-27", "year": "2019", "time_precision": "1",
            "disorder_type": "Political violence", "event_type": "Explosions/Remote violence",
            "sub_event_type": "Shelling/artillery/missile attack", "actor1": "Alpha Front", "inter1": "2",
            "actor2": "Military Forces of Iraq (2018-)", "inter2": "1", "iso": "368", "region": "Middle East",
            "country": "Iraq", "admin1": "Kirkuk", "admin2": "Kirkuk", "location": "Kirkuk", "latitude": "35.468",
            "longitude": "44.392", "geo_precision": "1", "source": "Shafaq News; Rudaw", "notes": "Rockets hit.",
            "fatalities": "2", "tags": "", "timestamp": "1577836800"}
    return base | values


def write(path, rows: list[dict]):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue())
    return path


@pytest.fixture
def refs(engine, tmp_path):
    load_references(engine, tmp_path)
    return engine


@pytest.mark.parametrize("code, dates", [("1", ("2019-12-27", "2019-12-27")), ("2", ("2019-12-24", "2019-12-30")),
                                         ("3", ("2019-12-01", "2019-12-31"))])
def test_time_precision_becomes_a_date_interval(refs, tmp_path, code, dates):
    import_file(refs, write(tmp_path / "export.csv", [row(time_precision=code)]), duplicates=None)
    stored = contents(refs, "incidents")["acled-irq1"]
    assert (stored["date_start"].isoformat(), stored["date_end"].isoformat()) == dates


@pytest.mark.parametrize("code, metres", [("1", 2000.0), ("2", 10000.0), ("3", 50000.0)])
def test_geo_precision_becomes_a_radius(refs, tmp_path, code, metres):
    import_file(refs, write(tmp_path / "export.csv", [row(geo_precision=code)]), duplicates=None)
    assert contents(refs, "incidents")["acled-irq1"]["precision_m"] == metres


def test_a_row_maps_onto_the_data_model(refs, tmp_path):
    path = write(tmp_path / "export.csv", [row(assoc_actor_1="AF; Tribesmen (Iraq)", admin3="Markaz",
                                               tags="crowd size=no report", event_date="27 December 2019")])
    result = import_file(refs, path, duplicates=None)
    incident = contents(refs, "incidents")["acled-irq1"]
    assert incident["title"] == "Shelling/artillery/missile attack: Kirkuk"
    assert (incident["description"], incident["location_name"], incident["fatalities_best"]) == ("Rockets hit.", "Kirkuk", 2)
    assert incident["status"] == "reported" and incident["tags"] == ["acled", "crowd size=no report"]
    assert incident["sources"] == [
        {"title": f"{p}, as coded by ACLED (event IRQ1)", "publisher": p, "url": ACLED_URL, "date": None,
         "primary": False, "copy_of": None}
        for p in ("Shafaq News", "Rudaw")]
    assert "Actor 2: Military Forces of Iraq (2018-)." in incident["notes"] and "Admin3: Markaz." in incident["notes"]
    claims = [(c["group_id"], c["claimant"], c["stance"], c["notes"]) for c in incident["attributions"]]
    assert claims == [("alpha", "ACLED", "assessed", "ACLED actor1: Alpha Front"),
                      ("tribesmen-iraq", "ACLED", "assessed", "ACLED assoc_actor_1: Tribesmen (Iraq)")]
    assert result.groups_created == ["tribesmen-iraq"]  # "AF" is Alpha Front's alias: no new group


def test_actors_match_by_alias_and_without_the_qualifier_else_become_groups(refs, tmp_path):
    rows = [row(event_id_cnty="IRQ1", actor1="alpha (Iraq)"), row(event_id_cnty="IRQ2", actor1="AF"),
            row(event_id_cnty="IRQ3", actor1="Gamma Group (Syria)", inter1="3"),
            row(event_id_cnty="IRQ4", actor1="Gamma Group (Syria)")]
    result = import_file(refs, write(tmp_path / "export.csv", rows), duplicates=None)
    stored = contents(refs, "incidents")
    assert [stored[f"acled-irq{i}"]["attributions"][0]["group_id"] for i in (1, 2, 3, 4)] == \
           ["alpha", "alpha", "gamma-group-syria", "gamma-group-syria"]
    assert result.groups_created == ["gamma-group-syria"]
    with refs.connect() as conn:
        group = conn.execute(text("SELECT name, kind, color FROM groups WHERE id = 'gamma-group-syria'")).one()
        created = conn.execute(text("SELECT action, version FROM history WHERE feature_id = 'gamma-group-syria'")).one()
    assert group[:2] == ("Gamma Group (Syria)", "militia") and group[2] in PALETTE
    assert tuple(created) == ("create", 1)


def test_reimporting_an_export_changes_nothing_and_a_revised_event_updates(refs, tmp_path):
    path = write(tmp_path / "export.csv", [row(), row(event_id_cnty="IRQ2", actor1="New Actor")])
    import_file(refs, path, duplicates=None)
    before = snapshot(refs)
    assert import_file(refs, path, duplicates=None).unchanged == 2
    assert snapshot(refs) == before
    revised = import_file(refs, write(tmp_path / "export.csv", [row(fatalities="5")]), duplicates=None)
    assert (revised.updated, revised.groups_created) == (1, [])


@pytest.mark.parametrize("values, column, reason", [
    ({"event_date": "27/13/2019"}, "event_date", "must be a date"),
    ({"time_precision": "4"}, "time_precision", "must be 1, 2 or 3"),
    ({"geo_precision": ""}, "geo_precision", "must be 1, 2 or 3"),
    ({"latitude": "north"}, "latitude", "must be a number"),
    ({"latitude": "95"}, "latitude/longitude", "latitude 95.0 is outside"),
    ({"fatalities": "2.5"}, "fatalities", "must be an integer"),
    ({"event_type": "Skirmish"}, "event_type", "Input should be"),
    ({"sub_event_type": "Mob violence"}, "sub_event_type", "not a sub-event type"),
    ({"event_id_cnty": ""}, "event_id_cnty", "missing"),
])
def test_bad_rows_are_reported_by_line_and_acled_column_and_nothing_is_imported(refs, tmp_path, values, column, reason):
    path = write(tmp_path / "export.csv", [row(event_id_cnty="IRQ0"), row(**values)])
    before = snapshot(refs)
    with pytest.raises(InvalidInput) as caught:
        import_file(refs, path)
    problem = caught.value.problems[0]
    assert ": line 3" in problem.where and problem.field == column and reason in problem.reason, str(problem)
    assert snapshot(refs) == before


def test_a_file_without_acled_columns_is_refused(refs, tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("id,when\n1,2019-12-27\n")
    with pytest.raises(InvalidInput, match="not an ACLED export: missing column"):
        import_file(refs, path)
