"""EventStore: upserts, filters, wall-time filters, run replacement, diff, JSON shape.

Every store test runs on SQLite and on a throwaway PostgreSQL cluster (skipped with the
reason when PostgreSQL or psycopg is not available here).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from conftest_pg import postgres_cluster, postgres_unavailable

from linewatch.records import Event, Provenance
from linewatch.store import Base, EventStore, StoredEvent, StoreError, diff

CAM1_START = datetime(2024, 5, 1, 10, 0, 0, tzinfo=timezone(timedelta(hours=2)))


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    reason = postgres_unavailable()
    if reason is not None:
        pytest.skip(reason)
    with postgres_cluster() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    if request.param == "sqlite":
        s = EventStore.for_run(tmp_path / "run")
    else:
        s = EventStore(request.getfixturevalue("pg_url"))
        Base.metadata.drop_all(s.engine)  # a clean database for each test
        Base.metadata.create_all(s.engine)
    yield s
    s.close()


def _prov(rule: str) -> Provenance:
    return Provenance(rule=rule, params={"margin": 0.5}, observations=[{"t": 1.25, "x": 3.0}])


def make_events() -> list[Event]:
    return [
        Event("crossing", "cam1", (3,), 1.5, 1.5, "mdl", "north->south", (4.0, -1.25),
              {"speed_kmh": np.float64(5.5), "frames": (10, 11)}, _prov("crossing")),
        Event("incursion", "cam1", (3,), 1.5, 9.0, "mdl", "north->south", (4.0, -1.25),
              {"depth_m": 2.5, "seconds": 7.5}, _prov("incursion")),
        Event("crossing", "cam2", (7,), 1.5, 1.5, "mdl", "south->north", (2.0, 0.5),
              {}, _prov("crossing")),
        Event("zone_enter", "cam1", (4,), 6.0, 6.0, "bridge", None, (1.0, 1.0),
              {}, _prov("zones")),
        Event("pursuit", "cam2", (7, 8), 12.0, 20.0, None, None, None,
              {"gap_s": np.float32(2.5)}, None),
        Event("person_down", "cam1", (9,), 30.25, 41.0, None, None, (0.0, 0.0),
              {"time_to_assistance_s": None}, _prov("person_down")),
    ]  # fmt: skip


def ids(events: list[StoredEvent]) -> list[str]:
    return [e.id for e in events]


def expected(events: list[Event], **conds: object) -> list[str]:
    """Oracle: filter and order the input events in Python."""
    out = [
        e
        for e in events
        if all(conds.get(k) is None or getattr(e, k) == v for k, v in conds.items())
    ]
    return [e.id for e in sorted(out, key=lambda e: (e.t_start, e.camera, e.id))]


def test_add_twice_never_duplicates(store: EventStore) -> None:
    events = make_events()
    assert store.add(events, "run1") == len(events)
    first = store.query()
    store.add(events, "run1")
    store.add(events[:2], "run1")
    again = store.query()
    assert store.count() == len(events)
    assert ids(again) == ids(first)
    assert set(ids(again)) == {e.id for e in events}


def test_same_id_is_replaced(store: EventStore) -> None:
    events = make_events()
    store.add(events, "run1")
    e = events[1]
    changed = Event(e.kind, e.camera, e.track_ids, e.t_start, 11.0, e.subject, e.direction,
                    e.location, {"depth_m": 3.0}, e.provenance)  # fmt: skip
    assert changed.id == e.id
    store.add([changed], "run2")
    got = [s for s in store.query() if s.id == e.id]
    assert len(got) == 1
    assert got[0].t_end == 11.0
    assert got[0].attributes == {"depth_m": 3.0}
    assert got[0].run_id == "run2"
    assert store.count() == len(events)


def test_order_and_every_filter(store: EventStore) -> None:
    events = make_events()
    store.add(events, "run1")
    assert ids(store.query()) == expected(events)
    for kind in ("crossing", "incursion", "pursuit", "nothing"):
        assert ids(store.query(kind=kind)) == expected(events, kind=kind)
    for cam in ("cam1", "cam2"):
        assert ids(store.query(camera=cam)) == expected(events, camera=cam)
    for subject in ("mdl", "bridge"):
        assert ids(store.query(subject=subject)) == expected(events, subject=subject)
    assert ids(store.query(kind="crossing", camera="cam2")) == expected(
        events, kind="crossing", camera="cam2"
    )
    for since, until in ((1.5, None), (1.6, None), (None, 6.0), (2.0, 12.0), ("6", "30.25")):
        lo = -1e9 if since is None else float(since)
        hi = 1e9 if until is None else float(until)
        want = [e for e in events if lo <= e.t_start <= hi]
        assert ids(store.query(since=since, until=until)) == expected(want)
    assert store.query(run_id="other") == []
    assert len(store.query(run_id="run1")) == len(events)


def test_wall_times_and_iso_filters(store: EventStore) -> None:
    events = make_events()
    store.add(events, "run1", {"cam1": CAM1_START, "cam2": None})
    by_id = {s.id: s for s in store.query()}
    for e in events:
        s = by_id[e.id]
        if e.camera == "cam2":
            assert s.wall_start is None and s.wall_end is None
        else:
            utc = (CAM1_START + timedelta(seconds=e.t_start)).astimezone(UTC)
            assert s.wall_start is not None
            assert datetime.fromisoformat(s.wall_start) == utc
            assert s.wall_start.endswith("+00:00")
    # 10:00:06+02:00 == 08:00:06Z: cam1 events starting at t >= 6 s; never cam2 (no wall time)
    want = expected([e for e in events if e.camera == "cam1" and e.t_start >= 6.0])
    for since in (
        "2024-05-01T10:00:06+02:00",
        "2024-05-01T08:00:06Z",
        "2024-05-01T08:00:06",  # naive: taken as UTC against UTC wall times
        CAM1_START + timedelta(seconds=6),
    ):
        assert ids(store.query(since=since)) == want, since
    until = "2024-05-01T08:00:06.000001+00:00"
    assert ids(store.query(until=until)) == expected(
        [e for e in events if e.camera == "cam1" and e.t_start <= 6.0]
    )
    assert store.query(since="2024-05-02T00:00:00Z") == []
    with pytest.raises(ValueError, match="ISO"):
        store.query(since="yesterday")


def test_naive_start_time_gives_naive_wall_times(store: EventStore) -> None:
    events = make_events()
    start = datetime(2024, 5, 1, 10, 0, 0)
    store.add(events, "run1", {"cam1": start, "cam2": start})
    s = store.query(kind="pursuit")[0]
    assert s.wall_start == (start + timedelta(seconds=12)).isoformat(timespec="microseconds")
    assert ids(store.query(since="2024-05-01T10:00:12")) == expected(
        [e for e in events if e.t_start >= 12.0]
    )


def test_replace_run_keeps_other_runs(store: EventStore) -> None:
    events = make_events()
    store.add(events[:3], "runA")
    store.add(events[3:], "runB")
    new = [events[0], events[3]]  # events[3] moves from runB to runA (same id)
    assert store.replace_run("runA", new) == 2
    assert ids(store.query(run_id="runA")) == expected(new)
    assert ids(store.query(run_id="runB")) == expected(events[4:])
    assert store.count() == 2 + len(events[4:])


def test_replace_run_is_one_transaction(store: EventStore, monkeypatch: pytest.MonkeyPatch) -> None:
    events = make_events()
    store.add(events, "runA")
    before = ids(store.query())

    def broken(*args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "_upsert", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        store.replace_run("runA", events[:1])
    assert ids(store.query()) == before  # the delete was rolled back


def test_diff_added_removed_changed(store: EventStore) -> None:
    events = make_events()
    store.add(events, "run1")
    stored = store.query()
    assert diff(stored, events).empty  # a stored event equals the event it came from
    e = events[1]
    moved = Event(e.kind, e.camera, e.track_ids, e.t_start, e.t_end + 1.0, e.subject,
                  e.direction, e.location, e.attributes, e.provenance)  # fmt: skip
    extra = Event("crossing", "cam1", (99,), 50.0, 50.0, "mdl", "south->north")
    new = [*events[2:], moved, extra]  # events[0] removed
    d = diff(stored, new)
    assert [x.id for x in d.added] == [extra.id]
    assert [x.id for x in d.removed] == [events[0].id]
    assert [(a.id, b.id) for a, b in d.changed] == [(e.id, e.id)]
    assert d.changed[0][1].t_end == e.t_end + 1.0
    assert not d.empty


def test_to_dict_json_shape(store: EventStore) -> None:
    events = make_events()
    store.add(events, "run1", {"cam1": CAM1_START})
    base = ["id", "kind", "camera", "track_ids", "t_start", "t_end", "wall_start", "wall_end",
            "subject"]  # fmt: skip
    tail = ["direction", "location", "attributes", "provenance"]
    for s in store.query():
        d = json.loads(json.dumps(s.to_dict()))
        extra = {"crossing": ["line"], "incursion": ["line"], "zone_enter": ["zone"]}
        assert list(d) == base + extra.get(s.kind, []) + tail
        if s.kind in extra:
            assert d[extra[s.kind][0]] == s.subject
        src = next(e for e in events if e.id == s.id)
        assert d["track_ids"] == list(src.track_ids)
        assert d["location"] == (None if src.location is None else list(src.location))
        assert d["attributes"] == json.loads(json.dumps(src.to_dict()["attributes"], default=float))
        assert d["provenance"] == (None if src.provenance is None else src.provenance.to_dict())
        assert s.to_event().id == s.id


def test_runs_table(store: EventStore) -> None:
    store.add(make_events()[:1], "run1")
    store.register_run("run2", created="2024-05-01T12:00:00+00:00", version="0.1.0",
                       config="cameras: []\n")  # fmt: skip
    store.register_run("run1", version="0.1.0")
    runs = {r.run_id: r for r in store.runs()}
    assert set(runs) == {"run1", "run2"}
    assert runs["run1"].created is None and runs["run1"].version == "0.1.0"
    assert runs["run2"].config == "cameras: []\n"


def test_unusable_urls_raise_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        EventStore("nosuchdb://somewhere/db")
    with pytest.raises(StoreError):
        EventStore(f"sqlite:///{tmp_path}/missing/dir/events.db")


def test_for_run_creates_events_db(tmp_path: Path) -> None:
    with EventStore.for_run(tmp_path / "r") as s:
        s.add(make_events(), "r")
    assert (tmp_path / "r" / "events.db").is_file()
    with EventStore.for_run(tmp_path / "r") as s:  # reopened: the same findings
        assert s.count() == len(make_events())
