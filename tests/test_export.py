"""Event formatting (table, json, csv) and MOTChallenge export of the track log."""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from linewatch.export import CSV_COLUMNS, export_mot, format_events, human_time
from linewatch.records import Event, ObjectClass, Provenance, TrackPoint
from linewatch.store import EventStore, StoredEvent
from linewatch.tracklog import TrackLogWriter, read_tracklog

START = datetime(2024, 5, 1, 8, 0, 0, tzinfo=UTC)


@pytest.fixture
def stored(tmp_path: Path) -> list[StoredEvent]:
    prov = Provenance("crossing", {"margin": 0.5}, [{"t": 1.2}])
    events = [
        Event("crossing", "cam1", (3,), 1.25, 1.25, "mdl", "north->south", (4.0, -1.5),
              {"speed_kmh": 5.5, "note": "é, \"quoted\""}, prov),
        Event("zone_enter", "cam2", (5, 6), 7.5, 9.0, "bridge", None, None, {}, None),
        Event("person_down", "cam1", (9,), 65.0, 80.5, None, None, (0.0, 0.0),
              {"time_to_assistance_s": 12.5}, None),
    ]  # fmt: skip
    with EventStore.for_run(tmp_path) as s:
        s.add(events, "run1", {"cam1": START})
        return s.query()


def test_json_is_the_list_of_dicts(stored: list[StoredEvent]) -> None:
    data = json.loads(format_events(stored, "json"))
    assert data == [e.to_dict() for e in stored]
    assert data[0]["line"] == "mdl" and data[1]["zone"] == "bridge"


def test_csv_flat_columns(stored: list[StoredEvent]) -> None:
    rows = list(csv.DictReader(io.StringIO(format_events(stored, "csv"))))
    assert len(rows) == len(stored)
    for row, e in zip(rows, stored, strict=True):
        assert tuple(row) == CSV_COLUMNS
        assert row["id"] == e.id and row["kind"] == e.kind and row["camera"] == e.camera
        assert [int(i) for i in row["track_ids"].split(";")] == list(e.track_ids)
        assert float(row["t_start"]) == e.t_start and float(row["t_end"]) == e.t_end
        assert json.loads(row["attributes"]) == dict(e.attributes)
        assert row["wall_start"] == (e.wall_start or "")
        if e.location is None:
            assert row["location_x"] == row["location_y"] == ""
        else:
            assert (float(row["location_x"]), float(row["location_y"])) == e.location[:2]
        if e.provenance is None:
            assert row["rule"] == "" and row["provenance"] == ""
        else:
            assert row["rule"] == e.provenance["rule"]
            assert json.loads(row["provenance"]) == dict(e.provenance)


def test_table_shows_human_times(stored: list[StoredEvent]) -> None:
    text = format_events(stored, "table", width=200)
    for e in stored:
        assert e.id in text and e.kind in text
    # cam1 has a start time: wall clock; cam2 has none: seconds from its start
    assert (START + timedelta(seconds=1.25)).strftime("%Y-%m-%d %H:%M:%S") in text
    assert "7.50 s" in text
    assert "3 events" in text
    assert "0 events" in format_events([], "table")


def test_human_time() -> None:
    assert human_time(None, 12.345) == "12.35 s"
    assert human_time("2024-05-01T08:00:01.250000+00:00", 1.25) == "2024-05-01 08:00:01.2 UTC"
    assert human_time("2024-05-01T08:00:01.250000", 1.25) == "2024-05-01 08:00:01.2"
    off = datetime(2024, 5, 1, 10, 0, 1, tzinfo=timezone(timedelta(hours=2))).isoformat()
    assert human_time(off, 1.0).endswith("+0200")


def test_unknown_format_is_refused(stored: list[StoredEvent]) -> None:
    with pytest.raises(ValueError, match="allowed: table, json, csv"):
        format_events(stored, "xml")


def _points(camera: str, seed: int) -> list[TrackPoint]:
    rng = random.Random(seed)
    pts = []
    for frame in range(0, 30, 3):
        for tid in (2, 1):
            x, y = rng.uniform(0, 500), rng.uniform(0, 300)
            pts.append(
                TrackPoint(
                    camera,
                    tid,
                    frame / 25.0,
                    frame,
                    (x, y, x + rng.uniform(5, 50), y + rng.uniform(5, 90)),
                    ObjectClass.PERSON,
                    rng.random(),
                )
            )
    return pts


@pytest.mark.parametrize("offset", [1, 0])
def test_export_mot(tmp_path: Path, offset: int) -> None:
    cam1, cam2 = _points("cam1", 0), _points("cam2", 1)
    path = tmp_path / "tracks.parquet"
    with TrackLogWriter(path) as w:
        for a, b in zip(cam1[::2], cam2[::2], strict=True):
            i = cam1.index(a)
            w.step("cam1", a.t, cam1[i : i + 2], [])
            w.step("cam2", b.t, cam2[i : i + 2], [])
    out = tmp_path / "mot" / "cam1.txt"
    n = export_mot(read_tracklog(path), "cam1", out, frame_offset=offset)
    assert n == len(cam1)
    rows = np.loadtxt(out, delimiter=",", ndmin=2)
    assert rows.shape == (len(cam1), 10)
    assert (rows[:, 7:] == -1).all()
    want = sorted(cam1, key=lambda p: (p.frame, p.track_id))
    for row, p in zip(rows, want, strict=True):
        assert int(row[0]) == p.frame + offset and int(row[1]) == p.track_id
        x1, y1, x2, y2 = p.box
        assert row[2:6] == pytest.approx([x1, y1, x2 - x1, y2 - y1], abs=0.006)
        assert row[6] == pytest.approx(p.score, abs=1e-4)
    with pytest.raises(ValueError, match="cam9"):
        export_mot(read_tracklog(path), "cam9", tmp_path / "x.txt")
