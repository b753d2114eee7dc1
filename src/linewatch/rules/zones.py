"""Zones: enter, exit, dwell time and loitering, with time hysteresis.

A zone is a polygon in one camera's image or on the site map, like a line (see
:mod:`linewatch.rules.lines`): an image zone of a calibrated camera is projected onto the
site, a site zone applies to every calibrated camera, an image zone of an uncalibrated
camera stays in pixels.

Hysteresis: a track is confirmed inside once it has been inside for ``min_inside_seconds``
(the same time outside confirms an exit), so a one-frame flicker over the boundary is
neither an entry nor an exit. Times are interpolated where the path between two
observations meets the boundary (the last meeting, when it wanders). A track first seen
inside enters at its first observation (``entered_seen: false``); a track that ends inside
exits at its last observation (``exit_seen: false``).

Events: ``zone_enter`` (at the entry), ``loitering`` (as soon as the dwell passes
``loiter_seconds``: t_start is the entry, t_end the moment it passed), ``zone_exit``
(t_start entry, t_end exit, with the dwell time).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from linewatch.config import ZoneConfig
from linewatch.geometry import (
    F64,
    Homography,
    Polygon,
    as_polygon,
)
from linewatch.records import Event, Provenance, TrackPoint
from linewatch.rules.crossing import observation
from linewatch.rules.lines import Frame, anchor_in

RULE = "zones"


@dataclass(frozen=True, slots=True, eq=False)
class ZoneGeometry:
    """A zone in the frame one camera's rules work in."""

    zone_id: str
    camera: str
    frame: Frame
    points: F64
    homography: Homography | None = None
    shape: Polygon = field(init=False, repr=False)  # prepared once for per-point queries

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", Polygon(self.points))

    @classmethod
    def build(
        cls, zone: ZoneConfig, camera: str, homography: Homography | None
    ) -> ZoneGeometry | None:
        """The zone for ``camera``, or None when it does not apply to that camera."""
        if zone.camera is None:
            if homography is None:
                return None
            return cls(zone.id, camera, "site", as_polygon(zone.points), homography)
        if zone.camera != camera:
            return None
        img = as_polygon(zone.points)
        if homography is None:
            return cls(zone.id, camera, "image", img)
        if not np.all(homography.on_ground(img)):
            raise ValueError(
                f"zone {zone.id!r}: some of its points are above the horizon of camera "
                f"{camera!r}'s calibration; draw the zone on the ground"
            )
        return cls(zone.id, camera, "site", homography.to_site(img), homography)

    @property
    def units(self) -> str:
        return "m" if self.frame == "site" else "px"

    def anchor(self, p: TrackPoint) -> tuple[float, float]:
        return anchor_in(self.frame, self.homography, p)

    def contains(self, pt: tuple[float, float]) -> bool:
        return self.shape.contains_xy(float(pt[0]), float(pt[1]))

    def boundary_fraction(self, p0: tuple[float, float], p1: tuple[float, float]) -> float:
        """Fraction along ``p0 -> p1`` of its last meeting with the boundary (1 if none)."""
        hits = self.shape.boundary_crossings_xy(
            float(p0[0]), float(p0[1]), float(p1[0]), float(p1[1])
        )
        return hits[-1].fraction if hits else 1.0


@dataclass(slots=True)
class _ZoneState:
    inside: bool | None = None  # confirmed state, None: not known yet
    cand_since: float | None = None  # the other state began then (interpolated)
    cand_point: tuple[float, float] = (0.0, 0.0)
    cand_obs: TrackPoint | None = None
    t_enter: float = 0.0
    enter_point: tuple[float, float] = (0.0, 0.0)
    enter_obs: TrackPoint | None = None
    entered_seen: bool = True
    loiter_reported: bool = False
    prev: TrackPoint | None = None
    prev_anchor: tuple[float, float] = (0.0, 0.0)


class ZoneRule:
    """Zone enter/exit/dwell/loitering of every camera's tracks."""

    name = RULE

    def __init__(
        self,
        zones: Mapping[str, Sequence[ZoneGeometry]],
        loiter_seconds: float,
        min_inside_seconds: float,
    ) -> None:
        self._zones = {cam: list(zs) for cam, zs in zones.items()}
        self.loiter_seconds = float(loiter_seconds)
        self.min_inside = float(min_inside_seconds)
        self._tracks: dict[tuple[str, int], dict[str, _ZoneState]] = {}

    def observe(self, p: TrackPoint) -> list[Event]:
        zones = self._zones.get(p.camera)
        if not zones:
            return []
        states = self._tracks.setdefault((p.camera, p.track_id), {})
        events: list[Event] = []
        for z in zones:
            st = states.get(z.zone_id)
            if st is None:
                st = states[z.zone_id] = _ZoneState()
            if st.prev is not None and p.t <= st.prev.t:
                continue
            events.extend(self._step(z, st, p))
        return events

    def end_track(self, camera: str, track_id: int, footage_end: bool = False) -> list[Event]:
        states = self._tracks.pop((camera, track_id), {})
        events: list[Event] = []
        for z in self._zones.get(camera, []):
            st = states.get(z.zone_id)
            if st is None or not st.inside or st.prev is None:
                continue
            if st.cand_since is not None:  # it had left, not yet for min_inside_seconds
                t_exit, seen, where, obs = st.cand_since, True, st.cand_point, st.cand_obs
            else:
                t_exit, seen, where, obs = st.prev.t, False, st.prev_anchor, st.prev
            assert obs is not None
            extra = {"ended_by": "footage_end" if footage_end else "track_end"}
            events.extend(self._loiter(z, st, t_exit, obs))
            events.append(self._exit(z, st, t_exit, seen, where, obs, extra))
        return events

    def state_size(self) -> int:
        return len(self._tracks)

    # ------------------------------------------------------------------ internals
    def _step(self, z: ZoneGeometry, st: _ZoneState, p: TrackPoint) -> list[Event]:
        a = p.site if p.site is not None and z.frame == "site" else z.anchor(p)
        if not (math.isfinite(a[0]) and math.isfinite(a[1])):
            return []
        inside = z.shape.contains_xy(float(a[0]), float(a[1]))
        prev, prev_anchor = st.prev, st.prev_anchor
        st.prev, st.prev_anchor = p, a
        events: list[Event] = []
        if st.inside is None and not inside:
            st.inside = False  # outside needs no confirmation: nothing is reported
        elif inside == st.inside:
            st.cand_since = None
        else:
            if st.cand_since is None:
                if prev is None or st.inside is None:
                    st.cand_since, st.cand_point = p.t, a
                else:
                    f = z.boundary_fraction(prev_anchor, a)
                    st.cand_since = prev.t + f * (p.t - prev.t)
                    st.cand_point = (
                        prev_anchor[0] + f * (a[0] - prev_anchor[0]),
                        prev_anchor[1] + f * (a[1] - prev_anchor[1]),
                    )
                st.cand_obs = p
            if p.t - st.cand_since >= self.min_inside:
                events.extend(self._confirm(z, st, p, inside))
        if st.inside and st.cand_since is None:
            events.extend(self._loiter(z, st, p.t, p))
        return events

    def _confirm(self, z: ZoneGeometry, st: _ZoneState, p: TrackPoint, inside: bool) -> list[Event]:
        t_c = st.cand_since
        assert t_c is not None and st.cand_obs is not None
        if inside:
            first_seen = st.inside is None
            st.inside, st.cand_since = True, None
            st.t_enter, st.enter_point, st.enter_obs = t_c, st.cand_point, st.cand_obs
            st.entered_seen, st.loiter_reported = not first_seen, False
            return [self._enter(z, st)]
        events = self._loiter(z, st, t_c, st.cand_obs)
        events.append(self._exit(z, st, t_c, True, st.cand_point, st.cand_obs, {}))
        st.inside, st.cand_since = False, None
        return events

    def _params(self, z: ZoneGeometry) -> dict[str, Any]:
        return {
            "min_inside_seconds": self.min_inside,
            "loiter_seconds": self.loiter_seconds,
            "units": z.units,
            "zone": [[float(x), float(y)] for x, y in z.points],
        }

    def _enter(self, z: ZoneGeometry, st: _ZoneState) -> Event:
        obs = st.enter_obs
        assert obs is not None
        return Event(
            kind="zone_enter",
            camera=obs.camera,
            track_ids=(obs.track_id,),
            t_start=st.t_enter,
            t_end=st.t_enter,
            subject=z.zone_id,
            location=st.enter_point,
            attributes={"entered_seen": st.entered_seen, "class": obs.cls.label},
            provenance=Provenance(RULE, self._params(z), (observation(obs, z.anchor(obs)),)),
        )

    def _loiter(self, z: ZoneGeometry, st: _ZoneState, t: float, p: TrackPoint) -> list[Event]:
        if st.loiter_reported or t - st.t_enter < self.loiter_seconds:
            return []
        st.loiter_reported = True
        assert st.enter_obs is not None
        return [
            Event(
                kind="loitering",
                camera=p.camera,
                track_ids=(p.track_id,),
                t_start=st.t_enter,
                t_end=t,
                subject=z.zone_id,
                location=z.anchor(p),
                attributes={
                    "dwell_seconds": round(t - st.t_enter, 3),
                    "limit_seconds": self.loiter_seconds,
                    "class": p.cls.label,
                },
                provenance=Provenance(
                    RULE,
                    self._params(z),
                    (
                        observation(st.enter_obs, z.anchor(st.enter_obs)),
                        observation(p, z.anchor(p)),
                    ),
                ),
            )
        ]

    def _exit(
        self,
        z: ZoneGeometry,
        st: _ZoneState,
        t_exit: float,
        seen: bool,
        where: tuple[float, float],
        obs: TrackPoint,
        extra: dict[str, Any],
    ) -> Event:
        assert st.enter_obs is not None
        return Event(
            kind="zone_exit",
            camera=obs.camera,
            track_ids=(obs.track_id,),
            t_start=st.t_enter,
            t_end=t_exit,
            subject=z.zone_id,
            location=where,
            attributes={
                "dwell_seconds": round(t_exit - st.t_enter, 3),
                "loitering": st.loiter_reported,
                "entered_seen": st.entered_seen,
                "exit_seen": seen,
                "class": obs.cls.label,
                **extra,
            },
            provenance=Provenance(
                RULE,
                self._params(z),
                (
                    observation(st.enter_obs, z.anchor(st.enter_obs)),
                    observation(obs, z.anchor(obs)),
                ),
            ),
        )
