"""The report: plain-sentence findings, report.json, a self-contained page that a real
browser renders with every image loaded and every clip playable."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from browser import IMAGES_JS, PLAY_VIDEOS_JS, browser, serve  # noqa: F401  (fixture)
from test_evidence import Run, make_run

from linewatch.report import build_report
from linewatch.report.findings import caption, key_findings, sentence
from linewatch.store import StoredEvent


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Path]:
    run = make_run(tmp_path_factory.mktemp("report"))
    return run, build_report(run.run_dir)


def _stored(**kw: Any) -> StoredEvent:
    base: dict[str, Any] = dict(
        id="x",
        run_id="r",
        kind="crossing",
        camera="cam1",
        track_ids=(3,),
        t_start=12.7,
        t_end=12.7,
        wall_start=None,
        wall_end=None,
        subject="MDL",
        direction="north->south",
        location=None,
        attributes={},
        provenance=None,
    )
    base.update(kw)
    return StoredEvent(**base)


def test_crossing_sentence_uses_site_time_zone_and_speed() -> None:
    e = _stored(
        wall_start="2024-05-01T13:31:07.400000+00:00",
        attributes={"class": "vehicle", "speed_kmh": 61.2},
    )
    assert sentence(e, timezone="Europe/Berlin") == (
        "A vehicle (track 3) crossed MDL north->south at 15:31:07.4 (12.7 s into cam1), 61 km/h."
    )
    assert caption(e) == "vehicle #3 crosses MDL north->south, 61 km/h"


def test_sentences_of_other_kinds() -> None:
    classes = {("cam1", 3): "person", ("cam1", 4): "person", ("cam1", 5): "person"}
    pursuit = _stored(
        kind="pursuit",
        track_ids=(3, 4, 5),
        t_end=20.7,
        subject=None,
        direction=None,
        attributes={
            "leader": 3,
            "leader_class": "person",
            "followers": [{"track_id": 4, "median_gap_seconds": 2.04}],
        },
    )
    assert sentence(pursuit, classes) == (
        "A person (track 3) was followed by tracks 4 and 5 for 8.0 s from 12.7 s into cam1, "
        "about 2.0 s behind."
    )
    down = _stored(
        kind="person_down",
        subject=None,
        direction=None,
        attributes={"duration_down_seconds": 42.0, "assisted": False},
    )
    assert "stayed down 42.0 s; nobody came within the assistance radius" in sentence(down)
    helped = _stored(
        kind="person_down",
        attributes={
            "duration_down_seconds": 42.0,
            "assisted": True,
            "time_to_assistance_seconds": 12.3,
            "helper": {"camera": "cam1", "track_id": 9, "distance_m": 1.2},
        },
    )
    assert "assistance (track 9) came after 12.3 s" in sentence(helped)
    twice = _stored(
        kind="person_down",
        attributes={
            "duration_down_seconds": 42.0,
            "assisted": False,
            "also_seen_by": [{"camera": "cam2", "track_id": 4}],
        },
    )
    assert sentence(twice).endswith("radius (also seen by cam2 track 4).")
    exit_ = _stored(
        kind="zone_exit",
        t_start=10.0,
        t_end=25.0,
        direction=None,
        wall_end="2024-05-01T13:31:25.000000+00:00",
        attributes={"dwell_seconds": 15.0, "class": "person"},
    )
    assert sentence(exit_, timezone="Europe/Berlin") == (
        "A person (track 3) left zone MDL at 15:31:25.0 (25.0 s into cam1) after 15.0 s inside."
    )
    speeding = _stored(
        kind="speeding",
        t_end=15.7,
        attributes={"max_kmh": 71.4, "limit_kmh": 50, "class": "vehicle"},
    )
    assert sentence(speeding).startswith(
        "A vehicle (track 3) was speeding, up to 71 km/h (limit 50 km/h), for 3.0 s from"
    )
    odd = _stored(kind="odd_thing", subject="gate", direction=None, t_end=14.7)
    assert sentence(odd) == (
        "Odd thing on cam1, track 3, about gate, at 12.7 s into cam1, lasting 2.0 s."
    )
    assert key_findings([])[0].startswith("No findings")
    summary = key_findings([pursuit, down, odd], classes)[0]
    assert summary == "3 findings on camera cam1: 1 odd_thing event, 1 person down, 1 pursuit."


def test_report_files_and_json(built: tuple[Run, Path]) -> None:
    run, index = built
    assert index == run.run_dir / "report" / "index.html"
    content = json.loads((run.run_dir / "report" / "report.json").read_text())
    assert [e["id"] for e in content["events"]] == [e.id for e in run.events]
    assert content["software"]["version"] == "0.1.0"
    assert content["site"]["name"] == "Test bridge"
    assert content["config"]["lines"][0]["id"] == "mdl"
    figs = content["figures"]
    assert set(figs["image_maps"]) == {"cam1"}  # cam2 is calibrated: on the site map
    for rel in [
        figs["timeline"],
        figs["site_map"],
        figs["speed_profiles"],
        *figs["image_maps"].values(),
    ]:
        assert (run.run_dir / rel).is_file()
    for e in content["events"]:
        assert (run.run_dir / e["evidence"]["still"]).is_file()
        assert (run.run_dir / e["evidence"]["clip"]).is_file()
    crossing = content["events"][0]
    assert crossing["sentence"] in content["findings"]
    assert "15:31:02.5" in crossing["sentence"] and "61 km/h" in crossing["sentence"]


def test_page_is_self_contained(built: tuple[Run, Path]) -> None:
    _, index = built
    html = index.read_text()
    refs = re.findall(r'(?:src|href|poster)="([^"]+)"', html)
    assert refs and not [r for r in refs if re.match(r"[a-z]+:", r)]  # nothing absolute
    for r in refs:
        if not r.startswith("#"):
            assert (index.parent / r).resolve().is_file(), r
    assert "<link" not in html and "<script" not in html


def test_report_renders_in_chromium(built: tuple[Run, Path], browser: Any) -> None:  # noqa: F811
    run, _ = built
    page = browser.new_page()
    try:
        with serve(run.run_dir) as base:
            page.goto(f"{base}/report/index.html", wait_until="load")
            text = page.inner_text("#findings")
            assert "A vehicle (track 1) crossed mdl west->east at 15:31:02.5" in text
            cards = page.query_selector_all("article.card")
            assert [c.get_attribute("data-event-id") for c in cards] == [e.id for e in run.events]
            images = page.evaluate(IMAGES_JS)
            assert len(images) == 3 + 4  # a still per event; timeline, 2 maps, speeds
            assert all(i["loaded"] for i in images), images
            videos = page.evaluate(PLAY_VIDEOS_JS)
            assert len(videos) == len(run.events)
            for v in videos:
                assert v["ready"] >= 2 and v["played"] and v["error"] is None, v
    finally:
        page.close()


def test_rebuild_keeps_evidence_and_is_identical(built: tuple[Run, Path]) -> None:
    run, index = built
    before = index.read_bytes()
    stills = {p: p.stat().st_mtime_ns for p in (run.run_dir / "evidence").iterdir()}
    build_report(run.run_dir)
    assert index.read_bytes() == before
    assert {p: p.stat().st_mtime_ns for p in (run.run_dir / "evidence").iterdir()} == stills


def test_report_without_events(tmp_path: Path) -> None:
    run = make_run(tmp_path, n_frames=12)
    from linewatch.store import EventStore

    store = EventStore.for_run(run.run_dir)
    store.replace_run("run", [])
    store.close()
    html = build_report(run.run_dir).read_text()
    assert "No findings" in html and 'class="card"' not in html


def test_key_findings_in_order_of_when_it_happened_and_most_serious_first() -> None:
    exit_ = _stored(
        id="a",
        kind="zone_exit",
        t_start=1.0,
        t_end=50.0,
        subject="bridge",
        attributes={"dwell_seconds": 49.0},
    )
    crossing = _stored(id="b", t_start=10.0, t_end=10.0)
    speeds = [_stored(id=f"s{i}", kind="track_speed", t_start=i, t_end=i + 1.0) for i in range(5)]
    found = key_findings([exit_, *speeds, crossing], limit=2)
    assert "crossed MDL" in found[1] and "left zone bridge" in found[2]
    assert found[3] == "... and 5 more (see the event cards below)."
