"""The line-crossing rule: a track moves from one named side of a line to the other.

Decision, per track and line, over the track's history (its points arrive in time order):

- The anchor is the site point (metres) when the line works on the site map, else the image
  foot point (pixels); see :class:`linewatch.rules.lines.LineGeometry`.
- A point is *beyond the margin* on a side when its distance to the line is larger than
  ``margin``. Points within the margin band never change the confirmed side (hysteresis).
- A side is *confirmed* once ``min_hold`` observations beyond the margin on it have been seen
  without an observation beyond the margin on the other side in between. ``min_hold``
  counts observations (not seconds) so the rule behaves the same at 5 and 25 fps for a
  single-frame outlier: with the default 2, a lone jump beyond the margin (A, A, B, A, A) is
  not a crossing, whatever the frame rate. A track's first side needs the same hold: a
  track that appears on the line (a box straddling it at the frame edge) or in the band has
  no side until it is clearly on one.
- Only the line's segments count: while a side is confirmed, every step between two
  consecutive observations is intersected with the segments; an intersection leaving the
  confirmed side is remembered, one coming back to it cancels it. When the other side is
  confirmed, the remembered intersection is the crossing; if there is none the track went
  round the end of the line, which is not a crossing (the new side is still confirmed).
- The crossing time is interpolated at the intersection between the two observations that
  bracket it (so a 5 fps stream that jumps over the line still gets the right time); when
  the path crossed several times in the band, the last transit away from the old side is
  kept (the moment it left the line for good).

Each track's state is independent (two people crossing together are two crossings), and
is dropped when the track ends.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from linewatch.records import Event, ObjectClass, Provenance, TrackPoint
from linewatch.rules.lines import LineGeometry

RULE = "crossing"
HISTORY = 64  # crossings kept per live track (for the incursion rule and reports)


@dataclass(frozen=True, slots=True)
class Crossing:
    """One confirmed crossing of one line by one track."""

    line: LineGeometry
    track_id: int
    t: float  # interpolated crossing time
    point: tuple[float, float]  # where it crossed, in the line's frame
    segment: int
    sign_from: int  # raw side (+1/-1) it came from
    sign_to: int
    before: TrackPoint  # the observations bracketing the intersection
    after: TrackPoint
    anchor_before: tuple[float, float]
    anchor_after: tuple[float, float]
    confirmed_at: TrackPoint  # the observation that confirmed the new side
    #: deepest point beyond the line between the intersection and the confirmation
    peak_depth: float = 0.0
    peak_t: float = 0.0
    peak_point: tuple[float, float] = (0.0, 0.0)

    @property
    def side_from(self) -> str:
        return self.line.side_name(self.sign_from)

    @property
    def side_to(self) -> str:
        return self.line.side_name(self.sign_to)

    @property
    def direction(self) -> str:
        return f"{self.side_from}->{self.side_to}"


@dataclass(slots=True)
class _Hit:
    t: float
    point: tuple[float, float]
    segment: int
    before: TrackPoint
    after: TrackPoint
    anchor_before: tuple[float, float]
    anchor_after: tuple[float, float]
    peak_depth: float = 0.0
    peak_t: float = 0.0
    peak_point: tuple[float, float] = (0.0, 0.0)


@dataclass(slots=True)
class _LineState:
    confirmed: int = 0  # raw sign of the confirmed side, 0: none yet
    candidate: int = 0
    hold: int = 0
    pending: _Hit | None = None  # last intersection leaving the confirmed side
    prev: TrackPoint | None = None
    prev_anchor: tuple[float, float] = (0.0, 0.0)
    prev_distance: float = 0.0  # |signed distance| of prev_anchor


@dataclass(slots=True)
class _TrackState:
    lines: dict[str, _LineState] = field(default_factory=dict)
    history: deque[Crossing] = field(default_factory=lambda: deque(maxlen=HISTORY))
    last_t: float = -math.inf


def observation(p: TrackPoint, anchor: tuple[float, float]) -> dict[str, Any]:
    """An observation as provenance records it."""
    return {
        "t": p.t,
        "frame": p.frame,
        "anchor": [float(anchor[0]), float(anchor[1])],
        "box": [float(v) for v in p.box],
    }


class CrossingRule:
    """Line crossings of every camera's tracks (state keyed by camera and track id)."""

    name = RULE

    def __init__(
        self,
        lines: Mapping[str, Sequence[LineGeometry]],
        margin: float,
        min_hold: int = 2,
        classes: Sequence[str] | None = None,
    ) -> None:
        if min_hold < 1:
            raise ValueError("min_hold must be at least 1 observation")
        self._lines = {cam: list(ls) for cam, ls in lines.items()}
        self.margin = float(margin)
        self.min_hold = int(min_hold)
        self._classes = None if classes is None else frozenset(c.lower() for c in classes)
        self._allowed = (
            None if self._classes is None else {c for c in ObjectClass if c.label in self._classes}
        )
        self._tracks: dict[tuple[str, int], _TrackState] = {}

    # ------------------------------------------------------------------ public
    def lines_for(self, camera: str) -> list[LineGeometry]:
        return self._lines.get(camera, [])

    def observe(self, point: TrackPoint) -> list[Crossing]:
        """Feed one observation (per track in time order); returns confirmed crossings."""
        lines = self._lines.get(point.camera)
        if not lines:
            return []
        if self._allowed is not None and point.cls not in self._allowed:
            return []
        key = (point.camera, point.track_id)
        st = self._tracks.get(key)
        if st is None:
            st = self._tracks[key] = _TrackState()
        if point.t <= st.last_t:
            return []  # a repeated (back-filled twice) or out-of-order observation
        st.last_t = point.t
        out: list[Crossing] = []
        for line in lines:
            ls = st.lines.get(line.line_id)
            if ls is None:
                ls = st.lines[line.line_id] = _LineState()
            c = self._step(line, ls, point)
            if c is not None:
                st.history.append(c)
                out.append(c)
        return out

    def history(self, camera: str, track_id: int) -> tuple[Crossing, ...]:
        """The live track's crossings (the last 64), oldest first."""
        st = self._tracks.get((camera, track_id))
        return () if st is None else tuple(st.history)

    def confirmed_side(self, camera: str, track_id: int, line_id: str) -> int:
        """Raw sign of the track's confirmed side of a line (0: none yet)."""
        st = self._tracks.get((camera, track_id))
        ls = None if st is None else st.lines.get(line_id)
        return 0 if ls is None else ls.confirmed

    def end_track(self, camera: str, track_id: int) -> None:
        self._tracks.pop((camera, track_id), None)

    def state_size(self) -> int:
        return len(self._tracks)

    def event(self, c: Crossing) -> Event:
        line = c.line
        attrs: dict[str, Any] = {
            "segment": c.segment,
            "side_from": c.side_from,
            "side_to": c.side_to,
            "class": c.before.cls.label,
            "units": line.units,
        }
        dt = c.after.t - c.before.t
        if line.frame == "site" and dt > 0:
            dist = float(np.hypot(*np.subtract(c.anchor_after, c.anchor_before)))
            attrs["speed_kmh"] = round(dist / dt * 3.6, 2)
        params = {
            "margin": self.margin,
            "min_hold": self.min_hold,
            "units": line.units,
            "frame": line.frame,
            "line": [[float(x), float(y)] for x, y in line.points],
            "classes": None if self._classes is None else sorted(self._classes),
        }
        return Event(
            kind="crossing",
            camera=c.before.camera,
            track_ids=(c.track_id,),
            t_start=c.t,
            t_end=c.t,
            subject=line.line_id,
            direction=c.direction,
            location=c.point,
            attributes=attrs,
            provenance=Provenance(
                RULE,
                params,
                (
                    observation(c.before, c.anchor_before),
                    observation(c.after, c.anchor_after),
                ),
            ),
        )

    # ------------------------------------------------------------------ internals
    def _step(self, line: LineGeometry, ls: _LineState, p: TrackPoint) -> Crossing | None:
        anchor = p.site if p.site is not None and line.frame == "site" else line.anchor(p)
        x, y = float(anchor[0]), float(anchor[1])
        if not (math.isfinite(x) and math.isfinite(y)):
            return None
        d = line.shape.signed_distance_xy(x, y)
        if ls.prev is not None and ls.confirmed != 0 and _may_meet(ls, x, y, abs(d)):
            for hit in line.crossings(ls.prev_anchor, anchor):
                leaving = hit.direction == -ls.confirmed
                if leaving:
                    t = ls.prev.t + hit.fraction * (p.t - ls.prev.t)
                    ls.pending = _Hit(t, hit.point, hit.segment, ls.prev, p, ls.prev_anchor, anchor)
                else:
                    ls.pending = None
        ls.prev, ls.prev_anchor, ls.prev_distance = p, anchor, abs(d)
        if ls.pending is not None and -ls.confirmed * d > ls.pending.peak_depth:
            ls.pending.peak_depth, ls.pending.peak_t = -ls.confirmed * d, p.t
            ls.pending.peak_point = anchor
        if abs(d) <= self.margin or d == 0.0:
            return None  # in the band: nothing changes
        sign = 1 if d > 0 else -1
        if sign == ls.confirmed:
            ls.candidate, ls.hold = 0, 0
            return None
        if sign != ls.candidate:
            ls.candidate, ls.hold = sign, 0
        ls.hold += 1
        if ls.hold < self.min_hold:
            return None
        previous, pend = ls.confirmed, ls.pending
        ls.confirmed, ls.candidate, ls.hold, ls.pending = sign, 0, 0, None
        if previous == 0 or pend is None:
            return None  # first side of the track, or it went round the end of the line
        return Crossing(
            line=line,
            track_id=p.track_id,
            t=pend.t,
            point=pend.point,
            segment=pend.segment,
            sign_from=previous,
            sign_to=sign,
            before=pend.before,
            after=pend.after,
            anchor_before=pend.anchor_before,
            anchor_after=pend.anchor_after,
            confirmed_at=p,
            peak_depth=pend.peak_depth,
            peak_t=pend.peak_t,
            peak_point=pend.peak_point,
        )


def _may_meet(ls: _LineState, x: float, y: float, dist: float) -> bool:
    """False when the step from the previous anchor to ``(x, y)`` cannot meet the line.

    The distance to the line changes at most as fast as one moves along the step, so a
    step shorter than the sum of its ends' distances to the line stays clear of it (a small
    relative slack covers rounding and the intersection test's tolerance).
    """
    px, py = ls.prev_anchor
    step = math.hypot(x - float(px), y - float(py))
    ends = ls.prev_distance + dist
    return ends <= step + 1e-6 * (1.0 + step + ends)
