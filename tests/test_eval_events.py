"""Event-level evaluation: matching rules, scores, timing errors, the CLI command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from linewatch.cli import app
from linewatch.eval.events import evaluate_events, format_metrics, load_events_json
from linewatch.records import Event
from linewatch.store import EventStore


def ev(
    t: float,
    kind: str = "crossing",
    subject: str | None = "gate",
    direction: str | None = "north->south",
    t_end: float | None = None,
) -> dict[str, Any]:
    d: dict[str, Any] = {"kind": kind, "subject": subject, "direction": direction, "t_start": t}
    if t_end is not None:
        d["t_end"] = t_end
    return d


def test_identical_lists_score_one_with_zero_timing_error() -> None:
    gt = [ev(1.0), ev(5.0, direction="south->north"), ev(9.0, subject="fence")]
    m = evaluate_events(gt, gt)
    c = m.per_kind["crossing"]
    assert (c.tp, c.fp, c.fn) == (3, 0, 0)
    assert c.precision == c.recall == c.f1 == 1.0
    assert c.timing == {"mean": 0.0, "median": 0.0, "max": 0.0}


def test_time_tolerance_and_signed_offsets() -> None:
    gt = [ev(10.0), ev(20.0)]
    pred = [ev(10.4), ev(21.5)]  # 0.4 s late (inside 1 s), 1.5 s late (outside)
    m = evaluate_events(gt, pred, tolerance_s=1.0)
    assert [(x.gt, x.pred) for x in m.matches] == [(0, 0)]
    assert m.matches[0].dt == pytest.approx(0.4)
    assert m.missed == [1] and m.false_alarms == [1]
    c = m.per_kind["crossing"]
    assert c.precision == pytest.approx(0.5) and c.recall == pytest.approx(0.5)
    assert c.timing["max"] == pytest.approx(0.4)
    wide = evaluate_events(gt, pred, tolerance_s=2.0).per_kind["crossing"]
    assert wide.f1 == 1.0 and wide.timing["max"] == pytest.approx(1.5)
    assert wide.timing["mean"] == pytest.approx(0.95)


def test_matching_is_one_to_one() -> None:
    m = evaluate_events([ev(3.0)], [ev(3.1), ev(2.8)])
    c = m.per_kind["crossing"]
    assert (c.tp, c.fp, c.fn) == (1, 1, 0)
    assert m.matches[0].pred == 0  # the closer one


def test_matching_maximises_matches_where_greedy_would_not() -> None:
    # greedy by |dt| pairs gt 1.0 with pred 0.6 (0.4) and leaves gt 0.0 / pred 1.7 apart;
    # the optimal assignment matches both (0.6 and 0.7)
    m = evaluate_events([ev(0.0), ev(1.0)], [ev(0.6), ev(1.7)], tolerance_s=1.0)
    assert sorted((x.gt, x.pred) for x in m.matches) == [(0, 0), (1, 1)]
    assert m.per_kind["crossing"].f1 == 1.0


def test_kind_subject_and_direction_must_agree() -> None:
    gt = [ev(1.0)]
    for pred in (
        ev(1.0, direction="south->north"),
        ev(1.0, subject="other"),
        ev(1.0, kind="incursion"),
    ):
        m = evaluate_events(gt, [pred], kinds=["crossing", "incursion"])
        assert m.overall.tp == 0, pred


def test_truth_without_direction_matches_any_direction() -> None:
    m = evaluate_events([ev(2.0, direction=None)], [ev(2.2, direction="west->east")])
    assert m.overall.tp == 1


def test_line_and_zone_keys_name_the_subject() -> None:
    gt = [
        {"kind": "crossing", "line": "gate", "direction": "a->b", "t_start": 1.0},
        {"kind": "zone_enter", "zone": "bridge", "t_start": 4.0},
    ]
    pred = [
        {"kind": "crossing", "subject": "gate", "direction": "a->b", "t_start": 1.2},
        {"kind": "zone_enter", "subject": "bridge", "direction": None, "t_start": 4.5},
    ]
    assert evaluate_events(gt, pred).overall.f1 == 1.0


def test_zone_exit_is_timed_at_its_end_and_dwell_error_is_reported() -> None:
    gt = [ev(10.0, "zone_exit", "bridge", None, t_end=30.0)]
    same_exit = [ev(12.0, "zone_exit", "bridge", None, t_end=30.5)]  # entered 2 s later
    m = evaluate_events(gt, same_exit)
    assert m.overall.tp == 1
    assert m.matches[0].dt == pytest.approx(0.5)
    assert m.matches[0].d_duration == pytest.approx(-1.5)
    dur = m.per_kind["zone_exit"].duration
    assert dur is not None and dur["max"] == pytest.approx(1.5)
    late_exit = [ev(10.0, "zone_exit", "bridge", None, t_end=33.0)]  # same entry, exit +3 s
    assert evaluate_events(gt, late_exit).overall.tp == 0


def test_empty_cases() -> None:
    none_found = evaluate_events([ev(1.0)], []).per_kind["crossing"]
    assert (none_found.precision, none_found.recall, none_found.f1) == (1.0, 0.0, 0.0)
    assert none_found.timing["mean"] is None
    nothing = evaluate_events([], [], kinds=["crossing"]).per_kind["crossing"]
    assert nothing.f1 == 1.0
    all_false = evaluate_events([], [ev(1.0)], kinds=["crossing"]).per_kind["crossing"]
    assert (all_false.fp, all_false.precision, all_false.f1) == (1, 0.0, 0.0)


def test_kinds_default_to_those_of_the_truth() -> None:
    pred = [ev(1.0), ev(2.0, "track_speed", None, None)]
    m = evaluate_events([ev(1.0)], pred)
    assert list(m.per_kind) == ["crossing"]
    assert m.overall.fp == 0
    m2 = evaluate_events([ev(1.0)], pred, kinds=["crossing", "track_speed"])
    assert m2.per_kind["track_speed"].fp == 1 and m2.overall.fp == 1


def test_bad_events_and_tolerance_are_rejected() -> None:
    with pytest.raises(ValueError, match="t_start"):
        evaluate_events([{"kind": "crossing"}], [])
    with pytest.raises(ValueError, match="tolerance"):
        evaluate_events([], [], tolerance_s=-1)


def test_format_and_dict_carry_the_scores() -> None:
    m = evaluate_events([ev(1.0), ev(5.0)], [ev(1.3)])
    d = m.to_dict()
    assert d["per_kind"]["crossing"]["recall"] == pytest.approx(0.5)
    assert d["missed"] == [1]
    json.dumps(d)  # JSON-serialisable
    text = format_metrics(m)
    assert "crossing" in text and "0.500" in text and "0.30" in text


times = st.lists(st.integers(min_value=0, max_value=400), min_size=1, max_size=30, unique=True).map(
    lambda xs: [x * 2.5 for x in xs]
)  # >= 2.5 s apart: no ambiguous pairs


@settings(max_examples=60, deadline=None)
@given(times, st.data())
def test_a_subset_has_precision_one_and_proportional_recall(
    ts: list[float], data: st.DataObject
) -> None:
    gt = [ev(t) for t in ts]
    keep = data.draw(st.lists(st.booleans(), min_size=len(ts), max_size=len(ts)))
    jitter = data.draw(st.floats(min_value=-0.9, max_value=0.9))
    pred = [ev(t + jitter) for t, k in zip(ts, keep, strict=True) if k]
    c = evaluate_events(gt, pred, tolerance_s=1.0).per_kind["crossing"]
    assert c.precision == 1.0
    assert c.recall == pytest.approx(sum(keep) / len(ts))
    if pred:
        assert c.timing["max"] == pytest.approx(abs(jitter))


# --------------------------------------------------------------------------- files and CLI
def test_load_events_json_accepts_a_list_or_an_events_object(tmp_path: Path) -> None:
    a = tmp_path / "a.json"
    a.write_text(json.dumps([ev(1.0)]))
    b = tmp_path / "b.json"
    b.write_text(json.dumps({"events": [ev(1.0)]}))
    assert load_events_json(a) == load_events_json(b) == [ev(1.0)]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"kind": "crossing"}]))
    with pytest.raises(ValueError, match=r"bad\.json"):
        load_events_json(bad)


def test_cli_eval_events_reads_the_run_store(tmp_path: Path) -> None:
    run = tmp_path / "run"
    found = [
        Event("crossing", "cam1", (1,), 10.2, 10.2, "gate", "north->south"),
        Event("crossing", "cam1", (2,), 30.0, 30.0, "gate", "south->north"),
    ]
    with EventStore.for_run(run) as store:
        store.add(found, "run")
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps([ev(10.0), ev(20.0, direction="south->north")]))
    res = CliRunner().invoke(app, ["eval", "events", "--gt", str(gt), str(run), "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["per_kind"]["crossing"]["tp"] == 1
    assert d["per_kind"]["crossing"]["fp"] == 1 and d["per_kind"]["crossing"]["fn"] == 1
    res = CliRunner().invoke(
        app, ["eval", "events", "--gt", str(gt), str(run), "--tolerance", "11"]
    )
    assert res.exit_code == 0 and "1.000" in res.stdout
    missing = CliRunner().invoke(
        app, ["eval", "events", "--gt", str(tmp_path / "x.json"), str(run)]
    )
    assert missing.exit_code == 2
    not_run = CliRunner().invoke(app, ["eval", "events", "--gt", str(gt), str(tmp_path)])
    assert not_run.exit_code == 2
