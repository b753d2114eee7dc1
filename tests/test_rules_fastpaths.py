"""The rules' fast paths give exactly what the straightforward code gives.

Re-running the rules must stay cheap (a small fraction of the analysis), so the per-point
code avoids validation, numpy on tiny arrays and work whose answer is known (a step far
from a line cannot cross it, a follower far from a leader's path cannot follow it, an
upright box is not lying, the same velocity fitted twice). These tests check each shortcut
against the plain computation, and then the whole engine on a recorded track log of a busy
synthetic scene: the same events, attribute for attribute, with the shortcuts on and off.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import linewatch.rules.crossing as crossing_mod
import linewatch.rules.kinematics as kin
import linewatch.rules.person_down as pd_mod
import linewatch.rules.pursuit as pursuit_mod
from linewatch.config import SiteConfig, parse_config
from linewatch.geometry import (
    Homography,
    Polygon,
    Polyline,
    crossings_of_segment,
    points_in_polygon,
    signed_distance,
)
from linewatch.pipeline import reason
from linewatch.records import ObjectClass, TrackPoint
from linewatch.rules.kinematics import FitMemo, RecentPath, theil_sen_xy
from linewatch.tracklog import TrackLogWriter, replay

FPS = 10.0
# a perspective ground plane: the image's bottom edge near, its row 200 far away
IMG = [(0.0, 480.0), (640.0, 480.0), (500.0, 200.0), (140.0, 200.0)]
SITE = [(-12.0, -10.0), (22.0, -10.0), (22.0, 30.0), (-12.0, 30.0)]
H = Homography.fit(IMG, SITE)
NS = {"left": "north", "right": "south"}
WE = {"left": "west", "right": "east"}

coord = st.floats(-100, 100, allow_nan=False, allow_infinity=False)
point = st.tuples(coord, coord)


# --------------------------------------------------------------------------- references
def median_fit(t: list[float], x: list[float], y: list[float]) -> tuple[float, float] | None:
    """Theil-Sen as first written: all pairs (at most 20 points, evenly subsampled), the
    median slope by ``np.median``."""
    ts, xy = np.asarray(t, dtype=np.float64), np.column_stack([x, y]).astype(np.float64)
    n = ts.shape[0]
    if n < 2:
        return None
    if n > kin.MAX_PAIRS_POINTS:
        idx = np.linspace(0, n - 1, kin.MAX_PAIRS_POINTS).round().astype(int)
        ts, xy, n = ts[idx], xy[idx], kin.MAX_PAIRS_POINTS
    i, j = np.triu_indices(n, k=1)
    dt = ts[j] - ts[i]
    ok = dt > 1e-6
    if not np.any(ok):
        return None
    v = np.median((xy[j][ok] - xy[i][ok]) / dt[ok, None], axis=0)
    return float(v[0]), float(v[1])


def naive_window(
    self: RecentPath, since: float, until: float = math.inf
) -> tuple[list[float], list[float], list[float]]:
    """A linear scan over every point held (the path's own columns)."""
    held = list(zip(self._t, self._x, self._y, strict=True))[self._lo :]
    rows = [r for r in held if since <= r[0] <= until]
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]


def straightforward(mp: pytest.MonkeyPatch) -> None:
    """Every shortcut off: generic geometry (validated on each call), no early exits,
    numpy Theil-Sen with np.median, no memo, the array posture for every box."""
    mp.setattr(crossing_mod, "_may_meet", lambda *a: True)
    mp.setattr(
        Polyline,
        "signed_distance_xy",
        lambda self, x, y: float(signed_distance((x, y), self.points)),
    )
    mp.setattr(
        Polyline,
        "crossings_xy",
        lambda self, ax, ay, bx, by: crossings_of_segment((ax, ay), (bx, by), self.points),
    )
    mp.setattr(Polygon, "contains_xy", lambda self, x, y: points_in_polygon((x, y), self.points))
    mp.setattr(
        Polygon,
        "boundary_crossings_xy",
        lambda self, ax, ay, bx, by: crossings_of_segment(
            (ax, ay), (bx, by), np.vstack([self.points, self.points[:1]])
        ),
    )
    mp.setattr(kin, "theil_sen_xy", median_fit)
    mp.setattr(FitMemo, "fit", lambda self, t, x, y: median_fit(t, x, y))
    mp.setattr(RecentPath, "window", naive_window)
    mp.setattr(pursuit_mod, "_near", lambda box, x, y, limit: True)
    mp.setattr(pd_mod, "box_lying", lambda box, m: None)


# --------------------------------------------------------------------------- pieces
def test_theil_sen_plain_floats_equal_the_median_of_numpy() -> None:
    rng = random.Random(3)
    for trial in range(1500):
        n = rng.randint(0, 30)
        t = sorted(rng.uniform(0, 3) for _ in range(n))
        if n > 3 and trial % 5 == 0:
            t[2] = t[1] + 1e-8  # pairs closer than 1e-6 s are left out
        x = [rng.gauss(0, 1) * 10 ** rng.randint(-2, 2) for _ in range(n)]
        y = [rng.gauss(0, 5) for _ in range(n)]
        assert theil_sen_xy(t, x, y) == median_fit(t, x, y), (n, t)


def test_recent_path_windows_and_bounds() -> None:
    rng = random.Random(5)
    path = RecentPath(2.0)
    t = 0.0
    for _ in range(400):
        t += rng.choice([0.04, 0.1, 0.3, 1.5])
        path.add(t, rng.uniform(-9, 9), rng.uniform(-9, 9))
        if rng.random() < 0.1:
            path.add(t - 0.01, 0.0, 0.0)  # out of order: ignored
        since, until = t - rng.uniform(0, 3), t - rng.uniform(-0.5, 1.5)
        assert path.window(since, until) == naive_window(path, since, until)
        _, xy = path.arrays()
        assert len(path) == xy.shape[0]
        x0, y0, x1, y1 = path.bounds()  # type: ignore[misc]
        assert x0 <= xy[:, 0].min() and y0 <= xy[:, 1].min()  # around every point held
        assert x1 >= xy[:, 0].max() and y1 >= xy[:, 1].max()
    fresh = RecentPath(100.0)  # nothing expires: the box is exact
    for k in range(30):
        fresh.add(k * 0.1, math.sin(k), math.cos(k / 3))
        fresh.bounds()  # grown point by point from here on
    _, xy = fresh.arrays()
    assert fresh.bounds() == (xy[:, 0].min(), xy[:, 1].min(), xy[:, 0].max(), xy[:, 1].max())
    assert path.arrays()[0][0] >= t - 2.0


def test_fit_memo_answers_as_a_fresh_fit() -> None:
    rng = random.Random(7)
    memo = FitMemo()
    windows = [
        ([0.0, 0.1, 0.2, 0.3], [0.0, 1.0, 2.0, 3.5], [0.0, 0.0, 1.0, 1.0]),
        ([0.0, 0.1, 0.2, 0.3], [0.0, 1.0, 2.0, 3.0], [0.0, 0.0, 1.0, 1.0]),
        ([0.0, 0.1], [0.0, 0.0], [5.0, 6.0]),
    ]
    for _ in range(50):
        t, x, y = rng.choice(windows)
        assert memo.fit(list(t), list(x), list(y)) == median_fit(t, x, y)


@settings(max_examples=300, deadline=None)
@given(st.lists(point, min_size=2, max_size=5), point, point)
def test_prepared_polyline_equals_the_module_functions(poly: list, a: tuple, b: tuple) -> None:
    pl = np.array(poly)
    try:
        shape = Polyline(pl)
    except ValueError:  # no segment of non-zero length: the module functions refuse too
        with pytest.raises(ValueError):
            signed_distance(a, pl)
        return
    assert shape.signed_distance_xy(*a) == signed_distance(a, pl)
    assert shape.crossings_xy(*a, *b) == crossings_of_segment(a, b, pl)
    if len(poly) >= 3:
        ring = np.vstack([pl, pl[:1]])
        zone = Polygon(pl)
        assert zone.contains_xy(*a) is points_in_polygon(a, pl)
        assert zone.boundary_crossings_xy(*a, *b) == crossings_of_segment(a, b, ring)


@settings(max_examples=400, deadline=None)
@given(st.lists(point, min_size=2, max_size=5), point, point)
def test_a_step_that_may_not_meet_the_line_does_not(poly: list, a: tuple, b: tuple) -> None:
    pl = np.array(poly)
    try:
        shape = Polyline(pl)
    except ValueError:
        return
    ls = crossing_mod._LineState(prev_anchor=a, prev_distance=abs(shape.signed_distance_xy(*a)))
    if not crossing_mod._may_meet(ls, b[0], b[1], abs(shape.signed_distance_xy(*b))):
        assert crossings_of_segment(a, b, pl) == []


def test_may_meet_skips_most_steps_away_from_the_line() -> None:
    shape = Polyline([(0.0, 0.0), (10.0, 0.0)])
    ls = crossing_mod._LineState(prev_anchor=(5.0, 3.0), prev_distance=3.0)
    assert not crossing_mod._may_meet(ls, 5.1, 2.9, abs(shape.signed_distance_xy(5.1, 2.9)))
    assert crossing_mod._may_meet(ls, 5.0, -0.1, abs(shape.signed_distance_xy(5.0, -0.1)))


def test_box_lying_is_sure_only_where_posture_agrees() -> None:
    rng = random.Random(11)
    m = tuple(H.matrix.ravel().tolist())
    sure = 0
    for _ in range(4000):
        fx, fy = rng.uniform(0, 640), rng.uniform(150, 480)
        w, h = rng.uniform(1, 120), rng.uniform(1, 120)
        if rng.random() < 0.2:  # near the ties: width == height, height == 1.2 m
            h = w * rng.uniform(0.98, 1.02)
        elif rng.random() < 0.2:
            h = pd_mod.MAX_LYING_HEIGHT / H.scale_at((fx, fy)) * rng.uniform(0.999, 1.001)
        box = (fx - w / 2, fy - h, fx + w / 2, fy)
        p = TrackPoint("cam1", 1, 0.0, 0, box, ObjectClass.PERSON, 1.0)
        fast = pd_mod.box_lying(box, m)  # type: ignore[arg-type]
        if fast is not None:
            sure += 1
            assert fast is pd_mod.posture(p, H).lying, box
    assert sure > 3000


def test_a_follower_not_near_the_leader_s_path_does_not_follow_it() -> None:
    rng = random.Random(13)
    rule = pursuit_mod.PursuitRule({"cam1": H}, 6.0, 2.0, 3.0, 1.0)
    near = 0
    for trial in range(300):
        leader = pursuit_mod._Track(RecentPath(8.0))
        x, y, heading = rng.uniform(-5, 5), rng.uniform(-5, 5), rng.uniform(0, 6.3)
        straight = trial % 2 == 0  # a straight path has a flat box: the tight case
        for k in range(60):
            if not straight:
                heading += rng.gauss(0, 0.2)
            x, y = x + 0.15 * math.cos(heading), y + 0.15 * math.sin(heading)
            leader.path.add(k / FPS, x, y)
        for _ in range(20):
            pos = (x + rng.uniform(-12, 12), y + rng.uniform(-12, 12))
            ok = pursuit_mod._near(leader.path.bounds(), pos[0], pos[1], rule._near_limit)
            near += ok
            if not ok:
                assert rule._follows(pos, 6.5, leader) is None
    assert 0 < near < 6000


# --------------------------------------------------------------------------- the engine
def site_config(**rules: Any) -> SiteConfig:
    return parse_config(
        {
            "cameras": [
                {"id": "cam1", "source": "a.mp4", "calibration": {"image": IMG, "site": SITE}},
                {"id": "cam2", "source": "b.mp4"},
            ],
            "lines": [
                {"id": "fence", "points": [[-5, 0], [8, 0], [14, 6]], "sides": NS},
                {"id": "canal", "points": [[2, -8], [2, 25]], "sides": WE},
                {"id": "gate", "camera": "cam2", "points": [[100, 300], [540, 300]], "sides": NS},
            ],
            "zones": [
                {"id": "yard", "points": [[4, 4], [12, 4], [12, 12], [4, 12]]},
                {"id": "door", "camera": "cam2", "points": [[200, 100], [400, 100], [400, 250]]},
            ],
            "rules": rules,
        }
    )


def _box(foot: tuple[float, float], w_m: float, h_m: float) -> tuple[float, float, float, float]:
    s = H.scale_at(foot)  # metres per pixel there
    w, h = w_m / s, h_m / s
    return (foot[0] - w / 2, foot[1] - h, foot[0] + w / 2, foot[1])


def _walk(waypoints: list[tuple[float, float]], speed: float, t0: float) -> list[tuple[float, ...]]:
    """(t, x, y) every frame along the waypoints at ``speed`` m/s."""
    out: list[tuple[float, ...]] = []
    t = t0
    for (x0, y0), (x1, y1) in itertools.pairwise(waypoints):
        n = max(1, round(math.hypot(x1 - x0, y1 - y0) / speed * FPS))
        out += [(t + k / FPS, x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n) for k in range(n)]
        t += n / FPS
    return out


def scene(seed: int) -> Iterator[tuple[str, float, list[TrackPoint], list[int]]]:
    """Busy synthetic steps, as the pipeline writes them (camera by camera): walkers, a
    runner followed by two others, a fast vehicle, someone loitering on the fence, a person
    who falls and is helped, tracks handed over late (back-filled), image-only tracks."""
    rng = random.Random(seed)
    tracks: dict[int, tuple[ObjectClass, list[tuple[float, ...]], str]] = {}
    for k in range(8):
        wps = [(rng.uniform(-8, 18), rng.uniform(-8, 20)) for _ in range(rng.randint(2, 4))]
        tracks[k + 1] = (ObjectClass.PERSON, _walk(wps, rng.uniform(1.0, 1.8), k * 3.0), "walk")
    run = [(-8.0, -6.0), (6.0, 2.0), (16.0, 18.0)]
    tracks[20] = (ObjectClass.PERSON, _walk(run, 3.5, 5.0), "walk")
    tracks[21] = (ObjectClass.PERSON, _walk(run, 3.4, 6.5), "walk")
    tracks[22] = (ObjectClass.PERSON, _walk([(-9.0, -6.5), *run[1:]], 3.3, 7.5), "walk")
    tracks[30] = (ObjectClass.VEHICLE, _walk([(-10.0, 15.0), (20.0, -5.0)], 9.0, 12.0), "walk")
    wiggle = [(3.0 + 0.02 * k, 0.7 * math.sin(k / 6.0) + rng.gauss(0, 0.08)) for k in range(200)]
    tracks[40] = (
        ObjectClass.PERSON,
        [(20.0 + k / FPS, *xy) for k, xy in enumerate(wiggle)],
        "walk",
    )
    fall = _walk([(-2.0, 14.0), (6.0, 8.0)], 1.3, 10.0)
    t_fall = fall[-1][0]
    fall += [(t_fall + k / FPS, 6.0 + rng.gauss(0, 0.02), 8.0) for k in range(1, 120)]
    tracks[50] = (ObjectClass.PERSON, fall, "fall")
    tracks[51] = (ObjectClass.PERSON, _walk([(16.0, 16.0), (6.8, 8.6)], 1.5, t_fall + 3), "walk")
    frames: dict[int, list[TrackPoint]] = {}
    last: dict[int, int] = {}
    for tid, (cls, path, how) in tracks.items():
        late = 3 if tid % 3 == 0 else 0  # the first points handed over with the 4th
        for t, x0, y0 in path:
            x, y = x0 + rng.gauss(0, 0.04), y0 + rng.gauss(0, 0.04)
            foot = tuple(float(v) for v in H.to_image((x, y)))
            down = how == "fall" and t > t_fall + 0.5 and t < t_fall + 9.0
            box = _box(foot, 1.8, 0.45) if down else _box(foot, 0.6, 1.7)  # type: ignore[arg-type]
            frame = round(t * FPS)
            p = TrackPoint("cam1", tid, round(t, 6), frame, box, cls, 0.9, (x, y))
            frames.setdefault(max(frame, round(path[0][0] * FPS) + late), []).append(p)
            last[tid] = max(last.get(tid, 0), frame)
    yield from _steps("cam1", frames, last)
    frames, last = {}, {}
    for tid, (x0, x1) in enumerate([(150.0, 500.0), (500.0, 150.0), (300.0, 320.0)], start=1):
        for k in range(120):
            fx = x0 + (x1 - x0) * k / 119
            fy = 80 + 300 * abs(math.sin(k / 40.0 + tid))
            p = TrackPoint(
                "cam2",
                tid,
                k / FPS + tid,
                k + round(tid * FPS),
                _box2(fx, fy),
                ObjectClass.PERSON,
                0.8,
            )
            frames.setdefault(p.frame, []).append(p)
            last[tid] = p.frame
    yield from _steps("cam2", frames, last)


def _box2(fx: float, fy: float) -> tuple[float, float, float, float]:
    return (fx - 8, fy - 40, fx + 8, fy)


def _steps(
    camera: str, frames: dict[int, list[TrackPoint]], last: dict[int, int]
) -> Iterator[tuple[str, float, list[TrackPoint], list[int]]]:
    for f in range(max(last.values()) + 2):
        ended = sorted(tid for tid, lf in last.items() if lf == f - 1)
        yield camera, f / FPS, sorted(frames.get(f, []), key=lambda p: (p.t, p.track_id)), ended


RULES: dict[str, Any] = {
    "crossing": {"margin": 0.3},
    "incursion": {"max_seconds": 30.0, "report_open": True},
    "zones": {"loiter_seconds": 8.0},
    "speed": {"limits_kmh": {"person": 7.0, "vehicle": 20.0}},
    "pursuit": {"min_speed_kmh": 6.0, "max_path_distance": 2.0, "min_duration_seconds": 2.0},
    "person_down": {"min_seconds": 3.0, "assistance_radius": 2.0},
}


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fast") / "tracks.parquet"
    with TrackLogWriter(path) as w:
        for camera, t, points, ended in scene(seed=1):
            w.step(camera, t, points, ended)
    return path


def test_engine_events_equal_the_straightforward_code(
    log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for rules in (RULES, {}):  # the busy settings, and the defaults
        cfg = site_config(**rules)
        fast = [e.to_dict() for e in reason(cfg, log)]
        with monkeypatch.context() as mp:
            straightforward(mp)
            plain = [e.to_dict() for e in reason(cfg, log)]
        assert fast == plain
    kinds = {e["kind"] for e in fast} | {e["kind"] for e in _busy(log)}
    # the comparison covers every kind of finding
    assert kinds >= {
        "crossing",
        "incursion",
        "zone_enter",
        "zone_exit",
        "loitering",
        "speeding",
        "track_speed",
        "pursuit",
        "person_down",
    }, kinds


def _busy(log: Path) -> list[dict[str, Any]]:
    return [e.to_dict() for e in reason(site_config(**RULES), log)]


def test_moving_a_line_changes_only_that_line_s_events(log: Path) -> None:
    """What an investigator does with ``linewatch rules``: events of other lines stay."""
    cfg = site_config(**RULES)
    moved = cfg.model_copy(update={"lines": [replace_line(cfg.lines[0], dy=1.0), *cfg.lines[1:]]})
    before, after = reason(cfg, log), reason(moved, log)
    keep = {"canal", "gate"}
    assert [e.id for e in before if e.subject in keep] == [e.id for e in after if e.subject in keep]
    assert {e.id for e in before if e.subject == "fence"} != {
        e.id for e in after if e.subject == "fence"
    }


def replace_line(line: Any, dy: float) -> Any:
    return line.model_copy(update={"points": [(x, y + dy) for x, y in line.points]})


def test_replay_builds_points_like_the_writer_got(log: Path) -> None:
    steps = list(scene(seed=1))
    got = list(replay(log, batch_size=97))
    assert [(s.camera, s.t, s.ended) for s in got] == [(c, t, e) for c, t, _, e in steps]
    assert [s.points for s in got] == [pts for _, _, pts, _ in steps]
