"""The crossing rule and line side naming, on synthetic track points (no video)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_rules_helpers import (
    IDENTITY,
    IMAGE_TO_SITE,
    MIRROR_TO_SITE,
    homography,
    image_track,
    linear,
    site_track,
    times,
)

from linewatch.config import LineConfig, Sides
from linewatch.geometry import Homography
from linewatch.records import ObjectClass, TrackPoint
from linewatch.rules.crossing import Crossing, CrossingRule
from linewatch.rules.lines import LineGeometry

NS = Sides(left="north", right="south")
# a site line walking east: north (Y up) is on its left
SITE_LINE = LineConfig(id="fence", points=[(0.0, 0.0), (10.0, 0.0)], sides=NS)


def site_rule(
    line: LineConfig = SITE_LINE, margin: float = 0.5, min_hold: int = 2, **kw: object
) -> CrossingRule:
    g = LineGeometry.build(line, "cam1", homography(IMAGE_TO_SITE))
    assert g is not None
    return CrossingRule({"cam1": [g]}, margin=margin, min_hold=min_hold, **kw)  # type: ignore[arg-type]


def feed(rule: CrossingRule, points: list[TrackPoint]) -> list[Crossing]:
    out: list[Crossing] = []
    for p in points:
        out.extend(rule.observe(p))
    return out


def ys_track(ys: list[float], x: float = 5.0, track_id: int = 1, fps: float = 10.0) -> list:
    return site_track([(x, y) for y in ys], times(len(ys), fps), track_id=track_id)


# --------------------------------------------------------------------------- basics
def test_straight_crossing_direction_time_and_provenance() -> None:
    rule = site_rule()
    pts = site_track(linear((5, 4), (5, -4), 9), times(9))  # 1 m per 0.1 s, y=0 at t=0.4
    cs = feed(rule, pts)
    assert len(cs) == 1
    c = cs[0]
    assert c.direction == "north->south"
    assert c.t == pytest.approx(0.4, abs=1e-9)
    assert c.point == pytest.approx((5.0, 0.0))
    ev = rule.event(c)
    assert ev.kind == "crossing" and ev.subject == "fence" and ev.track_ids == (1,)
    assert ev.t_start == ev.t_end == pytest.approx(0.4)
    assert ev.attributes["side_from"] == "north" and ev.attributes["side_to"] == "south"
    assert ev.attributes["speed_kmh"] == pytest.approx(36.0, rel=1e-6)  # 10 m/s
    assert ev.provenance is not None and ev.provenance.rule == "crossing"
    assert ev.provenance.params["margin"] == 0.5
    before, after = ev.provenance.observations
    assert before["t"] <= ev.t_start <= after["t"]
    assert before["anchor"][1] >= 0 >= after["anchor"][1]
    # and back again: south->north
    back = feed(rule, site_track(linear((5, -4), (5, 4), 9), times(9, t0=2.0)))
    assert [c.direction for c in back] == ["south->north"]


def test_interpolated_time_with_missed_frames() -> None:
    """A 5 fps stream jumps over the line: the time is still where the path meets it."""
    rule = site_rule()
    # 3 m before the line at t=0, 1 m after it at t=0.2, and on: crossing at t=0.15
    pts = site_track([(5, 9), (5, 3), (5, -1), (5, -5), (5, -9)], times(5, fps=5.0))
    (c,) = feed(rule, pts)
    assert c.t == pytest.approx(0.2 + 0.2 * 3 / 4)
    assert c.before.t == pytest.approx(0.2) and c.after.t == pytest.approx(0.4)


@settings(max_examples=100, deadline=None)
@given(
    st.floats(0.5, 9.5),
    st.floats(-3, 3),
    st.floats(2, 20),
    st.floats(0.3, 30),
    st.sampled_from([2.0, 5.0, 12.5, 25.0]),
    st.floats(0, 1),
)
@example(x=5.0, dx=1.0, y0=10.0, speed=5.0, fps=12.5, phase=0.37)
@example(x=2.0, dx=-0.5, y0=3.0, speed=25.0, fps=5.0, phase=0.9)
def test_time_error_below_a_millisecond_on_straight_motion(
    x: float, dx: float, y0: float, speed: float, fps: float, phase: float
) -> None:
    """Straight-line constant-speed motion across the line: error < 1 ms."""
    rule = site_rule(margin=0.5)
    direction = np.array([dx, -y0 - 5.0])
    direction /= np.linalg.norm(direction)
    start = np.array([x, y0])
    n = int(np.ceil((2 * y0 + 10) / speed * fps)) + 4
    ts = [(k + phase) / fps for k in range(n)]
    path = [start + direction * speed * t for t in ts]
    t_true = y0 / (-direction[1] * speed)
    x_cross = x + direction[0] * speed * t_true
    cs = feed(rule, site_track(path, ts))
    ys = np.array([p[1] for p in path])
    held = np.count_nonzero(ys > 0.5) >= 2 and np.count_nonzero(ys < -0.5) >= 2
    if not (0.0 <= x_cross <= 10.0 and held):
        # past the end of the line, or too few observations on a side to confirm it
        assert cs == []
        return
    (c,) = cs
    assert abs(c.t - t_true) < 1e-3


# --------------------------------------------------------------------------- hysteresis
def test_flicker_inside_the_margin_is_not_a_crossing() -> None:
    rule = site_rule(margin=0.5)
    assert feed(rule, ys_track([2, 2, -0.3, 2, 2, 1, -0.4, 0.4, 2])) == []


def test_single_frame_jump_beyond_the_margin_is_not_a_crossing() -> None:
    ys = [2, 2, -3, 2, 2]  # A, A, B (an outlier far beyond the margin), A, A
    assert feed(site_rule(min_hold=2), ys_track(ys)) == []
    # the hold is what rejects it: with min_hold=1 the same points give two crossings
    assert len(feed(site_rule(min_hold=1), ys_track(ys))) == 2


def test_hold_needs_consecutive_evidence_and_ignores_the_band() -> None:
    # B, band, B: the band points neither count nor reset the hold -> one crossing
    (c,) = feed(site_rule(min_hold=2), ys_track([2, 2, -2, -0.2, -2, -2]))
    assert c.t == pytest.approx(0.1 + 0.1 * 2 / 4)
    # B, A, B: the return to A resets the hold, the final B alone is not enough
    assert feed(site_rule(min_hold=2), ys_track([2, 2, -2, 2, -2])) == []


def test_margin_band_excursion_is_not_a_crossing() -> None:
    rule = site_rule(margin=1.0)
    # into the band on the other side and back out to where it came from
    assert feed(rule, ys_track([3, 2, 0.5, -0.5, -0.9, -0.5, 0.8, 2, 3])) == []
    # the same wander but then on, beyond the margin: one crossing
    cs = feed(site_rule(margin=1.0), ys_track([3, 2, 0.5, -0.5, -0.9, -1.5, -2, -3]))
    assert [c.direction for c in cs] == ["north->south"]


def test_jitter_on_the_line_gives_one_crossing_at_the_last_transit() -> None:
    ys = [3, 2, 0.2, -0.2, 0.2, -0.2, 0.2, -0.2, -2, -3]
    (c,) = feed(site_rule(margin=0.5), ys_track(ys))
    assert c.t == pytest.approx(0.65)  # the last step across (0.6 -> 0.7) is the one kept


def test_track_that_appears_on_the_line_has_no_side_until_clear() -> None:
    """A box straddling the line at the frame edge: first points on/in the band."""
    rule = site_rule(margin=0.5)
    assert feed(rule, ys_track([0.0, 0.1, -0.3, -1, -2, -3])) == []
    assert rule.confirmed_side("cam1", 1, "fence") == -1  # now south, confirmed
    # and when it then goes north it is a crossing
    more = site_track([(5, -1), (5, 1), (5, 2), (5, 3)], times(4, t0=1.0))
    assert [c.direction for c in feed(rule, more)] == ["south->north"]


def test_first_side_needs_the_hold_too() -> None:
    rule = site_rule(min_hold=2)
    # one observation north, then south for good: the north side was never confirmed
    assert feed(rule, ys_track([2, -2, -3, -4])) == []


# --------------------------------------------------------------------------- segments
def test_walking_round_the_end_is_not_a_crossing() -> None:
    rule = site_rule()
    path = [(5, 2), (8, 2), (11, 1), (12, 0), (11, -1), (8, -2), (5, -2)]
    assert feed(rule, site_track(path, times(len(path)))) == []
    assert rule.confirmed_side("cam1", 1, "fence") == -1
    # coming back north through the segment is a crossing
    back = site_track(linear((5, -2), (5, 2), 5), times(5, t0=1.0))
    assert [c.direction for c in feed(rule, back)] == ["south->north"]


def test_missed_frames_round_the_end_is_not_a_crossing() -> None:
    """At a low frame rate the straight step between observations decides."""
    rule = site_rule()
    path = [(9, 2), (9.5, 2), (11, 0.5), (9.5, -2), (9, -2)]  # the step goes round (10, 0)
    assert feed(rule, site_track(path, times(len(path), fps=2.0))) == []


def test_multi_segment_polyline() -> None:
    # a zig-zag fence: east, then north-east, then east
    line = LineConfig(id="z", points=[(0, 0), (10, 0), (20, 10), (30, 10)], sides=NS)
    rule = site_rule(line=line)
    path = linear((17, 3), (13, 7), 9)  # crosses the middle segment (x - y = 10) at (15, 5)
    (c,) = feed(rule, site_track(path, times(9)))
    assert c.segment == 1
    assert c.point == pytest.approx((15.0, 5.0))
    assert c.t == pytest.approx(0.4)
    assert c.direction == "south->north"  # (17, 3) is below-right of the middle segment
    # across the last segment, north to south
    rule2 = site_rule(line=line)
    (c2,) = feed(rule2, site_track(linear((25, 13), (25, 7), 7), times(7)))
    assert (c2.segment, c2.direction) == (2, "north->south")


# --------------------------------------------------------------------------- tracks
def test_two_objects_crossing_together_are_independent() -> None:
    rule = site_rule()
    a = site_track(linear((4, 3), (4, -3), 7), times(7), track_id=1)
    b = site_track(linear((4.5, -3), (4.5, 3), 7), times(7), track_id=2)
    out: list[Crossing] = []
    for pa, pb in zip(a, b, strict=True):
        out += rule.observe(pa) + rule.observe(pb)
    got = sorted((c.track_id, c.direction) for c in out)
    assert got == [(1, "north->south"), (2, "south->north")]


def test_state_dropped_when_a_track_ends() -> None:
    rule = site_rule()
    feed(rule, ys_track([3, 2, -2, -3]))
    assert rule.state_size() == 1 and len(rule.history("cam1", 1)) == 1
    rule.end_track("cam1", 1)
    assert rule.state_size() == 0 and rule.history("cam1", 1) == ()
    # the same id again later starts afresh (no side carried over)
    assert feed(rule, ys_track([-3, -2, 2, 3])[2:]) == []


def test_repeated_observations_are_ignored() -> None:
    rule = site_rule()
    pts = ys_track([3, 2, -2, -3])
    cs = feed(rule, pts[:3] + pts[:3] + pts[3:])  # back-filled twice
    assert len(cs) == 1


def test_class_filter() -> None:
    g = LineGeometry.build(SITE_LINE, "cam1", homography(IMAGE_TO_SITE))
    assert g is not None
    rule = CrossingRule({"cam1": [g]}, margin=0.5, classes=["vehicle"])
    person = site_track(linear((5, 3), (5, -3), 7), times(7), track_id=1)
    car = site_track(linear((5, 3), (5, -3), 7), times(7), 2, cls=ObjectClass.VEHICLE)
    assert [c.track_id for c in feed(rule, person + car)] == [2]


# --------------------------------------------------------------------------- side naming
IMAGE_LINE = LineConfig(id="img", camera="cam1", points=[(100, 300), (500, 300)], sides=NS)
# walking right on screen: north (as named) is up on screen, smaller y


@pytest.mark.parametrize("matrix", [None, IMAGE_TO_SITE, MIRROR_TO_SITE, IDENTITY])
def test_image_line_side_names_survive_any_homography(matrix: np.ndarray | None) -> None:
    h: Homography | None = None if matrix is None else homography(matrix)
    g = LineGeometry.build(IMAGE_LINE, "cam1", h)
    assert g is not None
    assert g.frame == ("image" if h is None else "site")
    rule = CrossingRule({"cam1": [g]}, margin=0.5 if h is not None else 5.0)
    down = image_track(linear((300, 200), (300, 400), 11), times(11), h=h)  # up -> down
    up = image_track(linear((320, 400), (320, 200), 11), times(11), track_id=2, h=h)
    got = sorted((c.track_id, c.direction) for c in feed(rule, down + up))
    assert got == [(1, "north->south"), (2, "south->north")]
    (c1,) = [c for c in feed(CrossingRule({"cam1": [g]}, margin=0.5), down)]
    assert c1.t == pytest.approx(0.5)


def test_site_line_applies_to_calibrated_cameras_only() -> None:
    assert LineGeometry.build(SITE_LINE, "cam1", None) is None
    g = LineGeometry.build(SITE_LINE, "cam2", homography(IMAGE_TO_SITE))
    assert g is not None and g.frame == "site" and g.units == "m"
    assert LineGeometry.build(IMAGE_LINE, "cam2", None) is None  # another camera's line


def test_site_line_naming_is_y_up() -> None:
    g = LineGeometry.build(SITE_LINE, "cam1", homography(IMAGE_TO_SITE))
    assert g is not None
    assert g.side_name(np.sign(g.signed_distance((5.0, 3.0)))) == "north"
    assert g.side_name(np.sign(g.signed_distance((5.0, -3.0)))) == "south"


def test_image_line_above_the_horizon_is_rejected() -> None:
    h = Homography(np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0.01, 1.0]]), (0.0, 10.0))
    bad = LineConfig(id="sky", camera="cam1", points=[(0, -200), (50, -200)])
    with pytest.raises(ValueError, match="horizon"):
        LineGeometry.build(bad, "cam1", h)


# --------------------------------------------------------------------------- real tracks
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def _derived_crossings(x: np.ndarray, t: np.ndarray, x0: float, band: float) -> list:
    """Independent derivation from a track's x(t): runs of >= 2 points beyond the band on
    one side; each change of run side is a crossing, timed where x passes x0 last."""
    side = np.where(x > x0 + band, 1, np.where(x < x0 - band, -1, 0))
    runs: list[tuple[int, int]] = []  # (side, index of its first point)
    k = 0
    while k < len(side):
        if side[k] == 0:
            k += 1
            continue
        j = k
        while j + 1 < len(side) and side[j + 1] in (0, side[k]):
            j += 1
        beyond = [i for i in range(k, j + 1) if side[i] == side[k]]
        if len(beyond) >= 2 and (not runs or runs[-1][0] != side[k]):
            runs.append((int(side[k]), k))
        k = j + 1
    out = []
    for (s0, _), (s1, i1) in itertools.pairwise(runs):
        i = i1
        while (x[i - 1] - x0) * s1 > 0:  # back to the last step across x0
            i -= 1
        f = (x0 - x[i - 1]) / (x[i] - x[i - 1])
        out.append((s0, s1, t[i - 1] + f * (t[i] - t[i - 1])))
    return out


@pytest.mark.shared
def test_pets_ground_truth_tracks_cross_like_derived() -> None:
    gt = SHARED / "data" / "pets09-s2l1" / "gt.txt"
    if not gt.is_file():
        pytest.skip(f"real data not available: {gt} is absent")
    rows = np.loadtxt(gt, delimiter=",")
    rows = rows[rows[:, 6] == 1]
    x0 = -7.0
    line = LineConfig(
        id="x", points=[(x0, -30.0), (x0, 30.0)], sides=Sides(left="west", right="east")
    )
    g = LineGeometry.build(line, "cam1", homography(IMAGE_TO_SITE))
    assert g is not None
    rule = CrossingRule({"cam1": [g]}, margin=0.5, min_hold=2)
    got, want = [], []
    for tid in np.unique(rows[:, 1]):
        tr = rows[rows[:, 1] == tid]
        tr = tr[np.argsort(tr[:, 0])]
        t = (tr[:, 0] - 1) / 7.0
        pts = [
            TrackPoint(
                "cam1",
                int(tid),
                float(ti),
                int(r[0]) - 1,
                (float(r[2]), float(r[3]), float(r[2] + r[4]), float(r[3] + r[5])),
                ObjectClass.PERSON,
                1.0,
                (float(r[7]), float(r[8])),
            )
            for ti, r in zip(t, tr, strict=True)
        ]
        got += [(int(tid), c.direction, c.t) for c in feed(rule, pts)]
        names = {1: "east", -1: "west"}
        want += [
            (int(tid), f"{names[a]}->{names[b]}", tc)
            for a, b, tc in _derived_crossings(tr[:, 7], t, x0, 0.5)
        ]
    assert len(want) >= 5  # the line is where people walk
    assert [(a, b) for a, b, _ in got] == [(a, b) for a, b, _ in want]
    assert max(abs(g_[2] - w[2]) for g_, w in zip(got, want, strict=True)) < 1e-6
