"""The write path's session staging tables (`geomap.db.staging.session_staging`): made on a
session's first write to a collection and kept, emptied after each use, so that writes in one
session or one transaction never see each other's staged rows, and made again when a rolled
back transaction took them away."""
from __future__ import annotations

import threading
import time

import pytest
from builders import incident
from sqlalchemy import event, text

from geomap.db import staging, write
from geomap.ingest import load
from geomap.io.geojson import validate_feature

GROUP = "islamic-state"


@pytest.fixture
def seeded(engine):
    load(engine)
    return engine


def record(iid: str, title: str | None = None, claims: int = 1):
    feature = incident(iid, 44.0, 35.0, "2020-01-01", claims=((GROUP, "accused"),) * claims)
    if title:
        feature["properties"]["title"] = title
    return validate_feature(feature, "incidents", "test")


def temp_tables(conn) -> dict[str, int]:
    """The session's temporary tables, by name, with their oids (read outside any transaction
    of the test's)."""
    tables = dict(conn.execute(text("SELECT relname, oid::int FROM pg_class "
                                    "WHERE relnamespace = pg_my_temp_schema() AND relkind = 'r'")).all())
    conn.rollback()
    return tables


def stored(conn, iid: str) -> tuple[int, list[tuple[str, int]], int]:
    """(version, history as (action, version), claims) of a stored incident."""
    version = conn.execute(text("SELECT version FROM incidents WHERE id = :id"), {"id": iid}).scalar()
    history = conn.execute(text("SELECT action, version FROM history WHERE feature_id = :id ORDER BY id"),
                           {"id": iid}).all()
    claims = conn.execute(text("SELECT count(*) FROM attributions WHERE incident_id = :id"), {"id": iid}).scalar()
    return version, [tuple(h) for h in history], claims


def test_the_seed_names_the_group(seeded):
    with seeded.connect() as conn:
        assert conn.execute(text("SELECT 1 FROM groups WHERE id = :id"), {"id": GROUP}).scalar() == 1


def test_writes_of_one_session_reuse_its_staging_tables(seeded):
    with seeded.connect() as conn:
        with conn.begin():
            write.create(conn, record("a"), "test")
        first = temp_tables(conn)
        with conn.begin():
            write.create(conn, record("b"), "test")
            write.replace(conn, record("a", "changed"), write.ANY, "test")
        assert temp_tables(conn) == first  # the same tables (same oids), none added
        names = staging._session_names("incidents")
        assert {names.rows, names.claims, names.plan} <= set(first)
        for name in first:  # emptied at commit
            assert conn.execute(text(f"SELECT count(*) FROM {name}")).scalar() == 0
        assert stored(conn, "a") == (2, [("create", 1), ("update", 2)], 1)
        assert stored(conn, "b") == (1, [("create", 1)], 1)


def test_writes_in_one_transaction_see_only_their_own_rows(seeded):
    with seeded.begin() as conn:
        write.create(conn, record("a", claims=2), "test")
        write.create(conn, record("b"), "test")
        write.replace(conn, record("b", "changed"), write.ANY, "test")
        # a staged row left over from an earlier write would be written again (a new version of a)
        assert stored(conn, "a") == (1, [("create", 1)], 2)
        assert stored(conn, "b") == (2, [("create", 1), ("update", 2)], 1)


def test_a_rolled_back_first_write_leaves_the_session_able_to_write(seeded):
    seeded.dispose()  # a new session: the load's made its tables
    with seeded.connect() as conn:
        assert temp_tables(conn) == {}
        transaction = conn.begin()
        write.create(conn, record("a"), "test")
        transaction.rollback()  # takes the tables it made with it
        assert temp_tables(conn) == {}
        with conn.begin():
            write.create(conn, record("b"), "test")
        assert stored(conn, "a") == (None, [], 0)
        assert stored(conn, "b") == (1, [("create", 1)], 1)


def test_the_names_follow_the_staged_columns(monkeypatch):
    """A session that outlives a schema change stages into new tables, not the old ones."""
    before = staging._session_names("incidents")
    columns = staging.table("incidents").c
    monkeypatch.setattr(staging, "table", lambda name: type("T", (), {"columns": [*columns][:-1]})())
    staging._session_names.cache_clear()
    try:
        after = staging._session_names("incidents")
    finally:
        staging._session_names.cache_clear()
    assert after.rows != before.rows and after.plan != before.plan and after.claims != before.claims


def test_a_few_records_staged_by_insert_are_stored_as_copy_stores_them(seeded, monkeypatch):
    """The values bound for a few records (`rows.values` of their COPY lines) against COPY itself."""
    awkward = "tab\there, line\nbreak, back\\slash \\N, quote \" ' , {brace}, ünï, emoji 🚀"

    def tricky(iid: str):
        feature = incident(iid, 44.123456789, 35.5, "2020-01-01", claims=((GROUP, "accused"), (GROUP, "claimed")),
                           source_url="https://example.org/same")
        feature["properties"].update(title=awkward, description=None, tags=[awkward, "x,y", "NULL"],
                                     fatalities_best=3)
        feature["properties"]["attributions"][1]["notes"] = awkward
        return validate_feature(feature, "incidents", "test")

    with seeded.begin() as conn:
        write.create(conn, tricky("by-insert"), "test")
        monkeypatch.setattr(write, "VALUES_LINES", 0)
        write.create(conn, tricky("by-copy"), "test")
        stored_rows = [conn.execute(text(
            "SELECT to_jsonb(i) - 'id' - 'created_at' - 'updated_at', (SELECT jsonb_agg(to_jsonb(a) - 'incident_id' - 'id' "
            "ORDER BY a.position) FROM attributions a WHERE a.incident_id = i.id) FROM incidents i WHERE i.id = :id"),
            {"id": iid}).one() for iid in ("by-insert", "by-copy")]
    assert stored_rows[0] == stored_rows[1]
    assert stored_rows[0][0]["title"] == awkward and stored_rows[0][1][1]["notes"] == awkward


def test_a_write_costs_the_same_statements_and_linear_time_whatever_its_claims(seeded):
    """Issue 14 item 6: a POST and a title change of a feature with 500 / 1,000 / 2,000 / 5,000
    claims took 1.6 / 4.2 / 9.2 / 19.1 s (a statement per claim, and worse). The statements sent
    do not depend on the number of claims, and 8 times the claims cost well under 20 times the time
    (linear: at most 8; the old path's growth: far more)."""
    sent: list[str] = []
    event.listen(seeded, "before_cursor_execute", lambda conn, cursor, statement, *rest: sent.append(statement))

    def cost(iid: str, claims: int) -> tuple[int, float]:
        first, changed = record(iid, claims=claims), record(iid, "changed", claims=claims)
        sent.clear()
        start = time.perf_counter()
        with seeded.begin() as conn:
            write.create(conn, first, "test")
        with seeded.begin() as conn:
            write.replace(conn, changed, write.ANY, "test")
        return len(sent), time.perf_counter() - start

    cost("warm-1", 1), cost("warm-2", 1)  # the session's staging tables are made on its first write
    small = [cost(f"small-{k}", 500) for k in range(3)]
    large = [cost(f"large-{k}", 4000) for k in range(3)]
    assert len({n for n, _ in small + large}) == 1, (small, large)
    with seeded.connect() as conn:
        assert stored(conn, "large-0") == (2, [("create", 1), ("update", 2)], 4000)
    assert min(t for _, t in large) < 20 * min(t for _, t in small), (small, large)


@pytest.mark.parametrize("count", [1, 2])
def test_a_write_whose_connection_is_lost_is_an_outage_not_refused_input(seeded, count):
    """The database going away in the middle of a write (here: the write's backend terminated,
    as a restart does, while it waits for a lock) is reported as a lost connection, which the
    API answers 503, never as the database refusing the features (422)."""
    from sqlalchemy.exc import OperationalError

    records = [record(f"lost-{count}-{n}") for n in range(count)]
    failed: list[BaseException] = []
    with seeded.connect() as blocker, seeded.connect() as conn:
        blocker.execute(text("LOCK TABLE incidents IN SHARE MODE"))  # the write's INSERT waits on it
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()

        def attempt():
            try:
                write.write(conn, "incidents", records, "test")
            except BaseException as exc:  # noqa: BLE001 - the test asserts on its type below
                failed.append(exc)

        writer = threading.Thread(target=attempt)
        writer.start()
        with seeded.connect() as admin:
            waiting = "SELECT count(*) FROM pg_stat_activity WHERE pid = :pid AND wait_event_type = 'Lock'"
            deadline = time.monotonic() + 20
            while not admin.execute(text(waiting), {"pid": pid}).scalar():
                assert time.monotonic() < deadline, "the write never waited for the lock"
                time.sleep(0.05)
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        writer.join(20)
        blocker.rollback()
    assert len(failed) == 1 and isinstance(failed[0], OperationalError), failed
    with seeded.connect() as check:
        ids = [r.id for r in records]
        assert check.execute(text("SELECT count(*) FROM incidents WHERE id = ANY(:ids)"), {"ids": ids}).scalar() == 0
