"""The events a scenario must produce, derived analytically from the actors' exact paths.

- Crossings: where a path segment meets a line segment, the time interpolated exactly.
- Incursions: a crossing followed by the reverse crossing of the same line within
  ``max_seconds``; the depth is the largest distance from the line in between.
- Speeds: each vehicle's mean speed over the ``window`` seconds before it crossed a line.
- Pursuits: B follows A while B moves at least ``min_speed_kmh`` and is within
  ``max_path_distance`` of where A was, moving at least as fast, ``min_gap_seconds`` to
  ``max_gap_seconds`` earlier, for at least ``min_duration_seconds``; chains group under
  the first leader. By default only what the camera sees counts (see ``expected_pursuits``).
- Persons down: a person whose posture becomes ``lying``; assistance is the first time
  another person is within the radius (solved exactly on the piecewise-linear paths).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from linewatch.config import LineConfig, PursuitRule
from linewatch.records import ObjectClass
from linewatch.synth.actors import envelope
from linewatch.synth.camera import NEAR
from linewatch.synth.scene import Actor, Scenario
from linewatch.synth.truth import (
    CrossingTruth,
    ExpectedEvents,
    IncursionTruth,
    PersonDownTruth,
    PursuitTruth,
    SpeedTruth,
)


def _side_names(line: LineConfig) -> tuple[str, str]:
    return line.sides.left, line.sides.right


def expected_crossings(scenario: Scenario, line: LineConfig | str) -> list[CrossingTruth]:
    """Every crossing of ``line`` (site coordinates) by every actor, in time order."""
    ln = scenario.line(line) if isinstance(line, str) else line
    if ln.camera is not None:
        raise ValueError(f"line {ln.id!r} is in image coordinates; truth needs site lines")
    out: list[CrossingTruth] = []
    for actor in scenario.actors:
        out.extend(_actor_crossings(actor, ln))
    out.sort(key=lambda c: (c.t, c.actor))
    return out


def _actor_crossings(actor: Actor, ln: LineConfig) -> list[CrossingTruth]:
    left, right = _side_names(ln)
    pts = ln.points
    out: list[CrossingTruth] = []
    wps = actor.waypoints
    for p, q in itertools.pairwise(wps):
        if q.t <= p.t:
            continue
        for a, b in itertools.pairwise(pts):
            ex, ey = b[0] - a[0], b[1] - a[1]
            d0 = ex * (p.y - a[1]) - ey * (p.x - a[0])
            d1 = ex * (q.y - a[1]) - ey * (q.x - a[0])
            if (d0 >= 0) == (d1 >= 0):
                continue
            s = d0 / (d0 - d1)
            x, y = p.x + s * (q.x - p.x), p.y + s * (q.y - p.y)
            u = ((x - a[0]) * ex + (y - a[1]) * ey) / (ex * ex + ey * ey)
            if not 0.0 <= u <= 1.0:
                continue
            src, dst = (left, right) if d0 >= 0 else (right, left)
            speed = math.hypot(q.x - p.x, q.y - p.y) / (q.t - p.t) * 3.6
            out.append(
                CrossingTruth(actor.id, ln.id, f"{src}->{dst}", p.t + s * (q.t - p.t), x, y, speed)
            )
    return out


def distance_to_line(ln: LineConfig, x: float, y: float) -> float:
    """Distance (m) from a point to the line's segments."""
    best = math.inf
    for a, b in zip(ln.points, ln.points[1:], strict=False):
        ex, ey = b[0] - a[0], b[1] - a[1]
        u = max(0.0, min(1.0, ((x - a[0]) * ex + (y - a[1]) * ey) / (ex * ex + ey * ey)))
        best = min(best, math.hypot(x - a[0] - u * ex, y - a[1] - u * ey))
    return best


def expected_incursions(
    scenario: Scenario, line: LineConfig | str, max_seconds: float = 60.0
) -> list[IncursionTruth]:
    """Crossed and came back across the same line within ``max_seconds``."""
    ln = scenario.line(line) if isinstance(line, str) else line
    out: list[IncursionTruth] = []
    for actor in scenario.actors:
        cs = sorted(_actor_crossings(actor, ln), key=lambda c: c.t)
        i = 0
        while i + 1 < len(cs):
            c1, c2 = cs[i], cs[i + 1]
            src, dst = c1.direction.split("->")
            if c2.direction == f"{dst}->{src}" and c2.t - c1.t <= max_seconds:
                ts = [w.t for w in actor.waypoints if c1.t < w.t < c2.t]
                ts.extend(np.linspace(c1.t, c2.t, 201).tolist())
                depth = max(distance_to_line(ln, *actor.position(t)) for t in ts)
                out.append(
                    IncursionTruth(
                        actor.id, ln.id, dst, c1.t, c2.t, depth, (c1.x, c1.y), (c2.x, c2.y)
                    )
                )
                i += 2
            else:
                i += 1
    out.sort(key=lambda e: (e.t_cross, e.actor))
    return out


def expected_speeds(
    scenario: Scenario, crossings: list[CrossingTruth], window: float = 1.0
) -> list[SpeedTruth]:
    """Mean speed of each vehicle over ``window`` seconds before each of its crossings."""
    out: list[SpeedTruth] = []
    for c in crossings:
        actor = scenario.actor(c.actor)
        if actor.cls != ObjectClass.VEHICLE:
            continue
        t0 = max(actor.t_start, c.t - window)
        if c.t - t0 <= 0:
            continue
        ts = sorted({t0, c.t, *(w.t for w in actor.waypoints if t0 < w.t < c.t)})
        pos = [actor.position(t) for t in ts]
        dist = sum(math.dist(a, b) for a, b in itertools.pairwise(pos))
        out.append(SpeedTruth(c.actor, c.line, c.t, c.t - t0, dist / (c.t - t0) * 3.6))
    return out


def expected_pursuits(
    scenario: Scenario,
    rule: PursuitRule | None = None,
    dt: float = 0.1,
    *,
    in_view: bool = True,
) -> list[PursuitTruth]:
    """Who follows whom (see the module doc), sampled every ``dt`` seconds.

    The leader must have been moving when it was where the follower is now (a vehicle that
    stops is still being pursued along its path). With ``in_view`` only what the camera can
    observe counts: both actors' 3D boxes wholly inside the image (at their own times), so
    ``t_start``/``t_end`` are what a perfect tracker could report.
    """
    rule = rule or PursuitRule.model_validate({})
    times = np.arange(0.0, scenario.duration + 1e-9, dt)
    movers = [a for a in scenario.actors if a.cls in (ObjectClass.PERSON, ObjectClass.VEHICLE)]
    pos: dict[str, np.ndarray] = {}
    ok: dict[str, np.ndarray] = {}
    for a in movers:
        pos[a.id] = np.array([a.position(t) for t in times])
        speed = np.array([math.hypot(*a.velocity(t)) for t in times])
        seen = np.array([a.present(t) and (not in_view or _in_view(scenario, a, t)) for t in times])
        ok[a.id] = seen & (speed * 3.6 >= rule.min_speed_kmh)
    lo, hi = max(1, round(rule.min_gap_seconds / dt)), round(rule.max_gap_seconds / dt)
    relations: list[tuple[str, str, float, float]] = []
    for lead in movers:
        for fol in movers:
            if lead.id == fol.id:
                continue
            follows = np.zeros(len(times), bool)
            for o in range(lo, min(hi, len(times) - 1) + 1):  # leader was here o samples ago
                d = np.linalg.norm(pos[lead.id][:-o] - pos[fol.id][o:], axis=1)
                follows[o:] |= (d <= rule.max_path_distance) & ok[lead.id][:-o]
            follows &= ok[fol.id]
            for s, e in _runs(follows):
                if times[e] - times[s] >= rule.min_duration_seconds:
                    relations.append((lead.id, fol.id, float(times[s]), float(times[e])))
    return _group(relations)


def _in_view(scenario: Scenario, actor: Actor, t: float) -> bool:
    """The actor's 3D box projects wholly inside the image (occlusion not considered)."""
    cam = scenario.camera
    corners = envelope(actor.state(t))
    if np.any(cam.depth(corners) <= NEAR):
        return False
    uv = cam.to_image(corners)
    w, h = cam.size
    return bool(
        uv[:, 0].min() >= 0 and uv[:, 1].min() >= 0 and uv[:, 0].max() <= w and uv[:, 1].max() <= h
    )


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) indices of the runs of True."""
    out: list[tuple[int, int]] = []
    start = None
    for i, v in enumerate(mask.tolist()):
        if v and start is None:
            start = i
        elif not v and start is not None:
            out.append((start, i - 1))
            start = None
    if start is not None:
        out.append((start, len(mask) - 1))
    return out


def _group(relations: list[tuple[str, str, float, float]]) -> list[PursuitTruth]:
    leader_of = {f: lead for lead, f, _, _ in relations}

    def root(a: str) -> str:
        seen = {a}
        while a in leader_of and leader_of[a] not in seen:
            a = leader_of[a]
            seen.add(a)
        return a

    groups: dict[str, tuple[set[str], float, float]] = {}
    for lead, fol, t0, t1 in relations:
        r = root(lead)
        members, s, e = groups.get(r, (set(), math.inf, -math.inf))
        members.add(fol)
        groups[r] = (members, min(s, t0), max(e, t1))
    return [
        PursuitTruth(r, tuple(sorted(m - {r})), s, e)
        for r, (m, s, e) in sorted(groups.items(), key=lambda g: g[1][1])
        if m - {r}
    ]


def expected_persons_down(scenario: Scenario, radius: float = 2.0) -> list[PersonDownTruth]:
    """Each person who goes down, and when another person first comes within ``radius``."""
    out: list[PersonDownTruth] = []
    people = [a for a in scenario.actors if a.cls == ObjectClass.PERSON]
    for a in people:
        downs = [p for p in a.postures if p.posture == "lying"]
        if not downs:
            continue
        t_down = downs[0].t
        ups = [p.t for p in a.postures if p.t > t_down and p.posture == "upright"]
        t_end = min([a.t_end, *ups])
        best: tuple[float, str] | None = None
        for b in people:
            if b.id == a.id:
                continue
            t = first_within(a, b, radius, max(t_down, b.t_start), min(t_end, b.t_end))
            if t is not None and (best is None or t < best[0]):
                best = (t, b.id)
        x, y = a.position(t_down)
        out.append(
            PersonDownTruth(
                a.id,
                t_down,
                x,
                y,
                radius,
                None if best is None else best[0],
                None if best is None else best[1],
            )
        )
    out.sort(key=lambda p: p.t_down)
    return out


def first_within(a: Actor, b: Actor, r: float, t0: float, t1: float) -> float | None:
    """First time in [t0, t1] when the two foot points are within ``r`` (exact)."""
    if t1 < t0:
        return None
    cuts = sorted({t0, t1, *(w.t for w in (*a.waypoints, *b.waypoints) if t0 < w.t < t1)})
    for s, e in zip(cuts, cuts[1:] or [t1], strict=False):
        pa, pb = np.array(a.position(s)), np.array(b.position(s))
        d0 = pb - pa
        if float(d0 @ d0) <= r * r:
            return s
        if e <= s:
            continue
        qa, qb = np.array(a.position(e)), np.array(b.position(e))
        v = ((qb - qa) - d0) / (e - s)
        # |d0 + v tau|^2 = r^2
        qa2, qb2, qc2 = float(v @ v), 2 * float(d0 @ v), float(d0 @ d0) - r * r
        if qa2 <= 0:
            continue
        disc = qb2 * qb2 - 4 * qa2 * qc2
        if disc < 0:
            continue
        tau = (-qb2 - math.sqrt(disc)) / (2 * qa2)
        if 0 <= tau <= e - s:
            return s + tau
    return None


def expected_events(
    scenario: Scenario,
    *,
    incursion_seconds: float = 60.0,
    speed_window: float = 1.0,
    pursuit: PursuitRule | None = None,
    assistance_radius: float = 2.0,
) -> ExpectedEvents:
    """All expected events of a scenario, over all its site lines."""
    crossings: list[CrossingTruth] = []
    incursions: list[IncursionTruth] = []
    for ln in scenario.lines:
        if ln.camera is None:
            crossings.extend(expected_crossings(scenario, ln))
            incursions.extend(expected_incursions(scenario, ln, incursion_seconds))
    crossings.sort(key=lambda c: (c.t, c.actor))
    return ExpectedEvents(
        crossings=tuple(crossings),
        incursions=tuple(sorted(incursions, key=lambda i: i.t_cross)),
        speeds=tuple(expected_speeds(scenario, crossings, speed_window)),
        pursuits=tuple(expected_pursuits(scenario, pursuit)),
        persons_down=tuple(expected_persons_down(scenario, assistance_radius)),
    )
