"""Temporary incursions: a track crossed a line and came back within ``max_seconds``.

Built on the crossing rule's confirmed crossings (so the same hysteresis and segment rules
apply). A crossing opens an excursion from its origin side; the next crossing of the same
line back to that side closes it: when the excursion took at most ``max_seconds`` it is an
incursion, with the excursion time, the deepest point beyond the line, where it crossed and
where it came back. A return crossing closes an excursion and does not open one.

When the track (or the footage) ends while still across and ``report_open`` is on, an
excursion no older than ``max_seconds`` is reported as an *open* incursion
(``returned: false``); otherwise it was a plain crossing. State is one open excursion
per track and line, dropped with the track.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from linewatch.records import Event, Provenance, TrackPoint
from linewatch.rules.crossing import Crossing, observation

RULE = "incursion"


@dataclass(slots=True)
class _Excursion:
    start: Crossing
    depth: float
    t_deepest: float
    deepest: tuple[float, float]
    last: TrackPoint


def _pt(p: tuple[float, float]) -> list[float]:
    return [round(float(p[0]), 4), round(float(p[1]), 4)]


class IncursionRule:
    """Temporary incursions of every camera's tracks across every line."""

    name = RULE

    def __init__(
        self,
        max_seconds: float,
        crossing_params: dict[str, Any] | None = None,
        report_open: bool = False,
    ):
        self.max_seconds = float(max_seconds)
        self.report_open = report_open
        self._crossing_params = dict(crossing_params or {})
        self._open: dict[tuple[str, int], dict[str, _Excursion]] = {}

    def observe(self, p: TrackPoint, crossings: list[Crossing]) -> list[Event]:
        """One observation of a track and the crossings the crossing rule confirmed on it."""
        key = (p.camera, p.track_id)
        opened = self._open.get(key)
        if opened:
            for ex in opened.values():
                line = ex.start.line
                anchor = line.anchor(p)
                depth = -ex.start.sign_from * float(line.signed_distance(anchor))
                if depth > ex.depth:
                    ex.depth, ex.t_deepest, ex.deepest = depth, p.t, anchor
                ex.last = p
        events: list[Event] = []
        for c in crossings:
            lines = self._open.setdefault(key, {})
            cur = lines.get(c.line.line_id)
            if cur is not None and c.sign_to == cur.start.sign_from:
                del lines[c.line.line_id]
                if c.t - cur.start.t <= self.max_seconds:
                    events.append(self._event(cur, c, "return"))
            else:
                lines[c.line.line_id] = _Excursion(
                    c, c.peak_depth, c.peak_t, c.peak_point, c.confirmed_at
                )
            if not lines:
                del self._open[key]
        return events

    def end_track(self, camera: str, track_id: int, footage_end: bool = False) -> list[Event]:
        """The track ended: report excursions still open (not returned), drop its state."""
        opened = self._open.pop((camera, track_id), {})
        reason = "footage_end" if footage_end else "track_end"
        if not self.report_open:
            return []
        return [
            self._event(ex, None, reason)
            for ex in opened.values()
            if ex.last.t - ex.start.t <= self.max_seconds
        ]

    def state_size(self) -> int:
        return len(self._open)

    def _event(self, ex: _Excursion, back: Crossing | None, ended_by: str) -> Event:
        c = ex.start
        t_end = back.t if back is not None else ex.last.t
        attrs: dict[str, Any] = {
            "returned": back is not None,
            "ended_by": ended_by,
            "side_from": c.side_from,
            "side_into": c.side_to,
            "excursion_seconds": round(t_end - c.t, 3),
            "max_depth": round(ex.depth, 3),
            "t_deepest": ex.t_deepest,
            "deepest_at": _pt(ex.deepest),
            "crossed_at": _pt(c.point),
            "returned_at": None if back is None else _pt(back.point),
            "units": c.line.units,
            "class": c.before.cls.label,
        }
        obs = [
            observation(c.before, c.anchor_before),
            observation(c.after, c.anchor_after),
        ]
        if back is not None:
            obs += [
                observation(back.before, back.anchor_before),
                observation(back.after, back.anchor_after),
            ]
        else:
            obs.append(observation(ex.last, c.line.anchor(ex.last)))
        return Event(
            kind="incursion",
            camera=c.before.camera,
            track_ids=(c.track_id,),
            t_start=c.t,
            t_end=t_end,
            subject=c.line.line_id,
            direction=c.direction,
            location=c.point,
            attributes=attrs,
            provenance=Provenance(
                RULE, {"max_seconds": self.max_seconds, **self._crossing_params}, tuple(obs)
            ),
        )
