"""Speed: robust per-track speed on the site map, speed-limit episodes, per-track summary.

At every observation the speed is the Theil-Sen velocity of the track's site positions over
the last ``window_seconds`` (see :mod:`linewatch.rules.kinematics`), timed at the middle of
the window. Estimates above the class's plausible maximum are measurement errors (a track
that jumped to another object, a box cut by the frame edge): they are counted and dropped.

Events: ``speeding`` (one per episode above the class's limit: start, end, maximum; an
episode ends when the speed falls 5 % below the limit, or with the track) and, when
``summaries`` is on, ``track_speed`` (per track at its end: max, mean, number of estimates
and rejections). Needs metres: on uncalibrated cameras the rule gives no events and says so
in :attr:`SpeedRule.notes`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from linewatch.geometry import Homography
from linewatch.records import Event, ObjectClass, Provenance, TrackPoint
from linewatch.rules.crossing import observation
from linewatch.rules.kinematics import FitMemo, RecentPath
from linewatch.rules.lines import anchor_in

RULE = "speed"
END_RATIO = 0.95  # an episode ends below this fraction of the limit (hysteresis)
MIN_POINTS = 3


@dataclass(slots=True)
class _Episode:
    limit: float
    t_start: float
    start: TrackPoint
    max_kmh: float
    t_max: float
    at_max: TrackPoint
    t_end: float
    end: TrackPoint


@dataclass(slots=True)
class _SpeedState:
    path: RecentPath
    n: int = 0
    total: float = 0.0
    max_kmh: float = -1.0
    t_max: float = 0.0
    at_max: TrackPoint | None = None
    t_first: float = 0.0
    t_last: float = 0.0
    rejected: int = 0
    episode: _Episode | None = None
    last: TrackPoint | None = None
    current: float | None = None  # the latest plausible estimate (km/h)


class SpeedRule:
    """Speeds of every calibrated camera's tracks."""

    name = RULE

    def __init__(
        self,
        homographies: Mapping[str, Homography | None],
        window_seconds: float,
        limits_kmh: Mapping[str, float],
        max_plausible_kmh: Mapping[str, float],
        summaries: bool = True,
        memo: FitMemo | None = None,
    ) -> None:
        self._h = dict(homographies)
        self._memo = FitMemo() if memo is None else memo
        self.window = float(window_seconds)
        self.limits = {k.lower(): float(v) for k, v in limits_kmh.items()}
        self.plausible = {k.lower(): float(v) for k, v in max_plausible_kmh.items()}
        # per class, looked up on every observation (ObjectClass.label builds a string)
        self._max = {c: self.plausible.get(c.label, math.inf) for c in ObjectClass}
        self._limit_of = {c: self.limits.get(c.label) for c in ObjectClass}
        self.summaries = summaries
        self.notes = [
            f"speed: camera {cam!r} is not calibrated; no speed events for it"
            for cam, h in self._h.items()
            if h is None
        ]
        self._tracks: dict[tuple[str, int], _SpeedState] = {}

    def observe(self, p: TrackPoint) -> list[Event]:
        h = self._h.get(p.camera)
        if h is None:
            return []
        key = (p.camera, p.track_id)
        st = self._tracks.get(key)
        if st is None:
            st = self._tracks[key] = _SpeedState(RecentPath(self.window))
        if st.last is not None and p.t <= st.last.t:
            return []
        x, y = p.site if p.site is not None else anchor_in("site", h, p)
        if not (math.isfinite(x) and math.isfinite(y)):
            return []
        st.path.add(p.t, x, y)
        st.last = p
        est = self._estimate(st.path)
        if est is None:
            return []
        kmh, t_mid = est
        if kmh > self._max[p.cls]:
            st.rejected += 1
            return []
        st.current = kmh
        if st.n == 0:
            st.t_first = t_mid
        st.n += 1
        st.total += kmh
        st.t_last = t_mid
        if kmh > st.max_kmh:
            st.max_kmh, st.t_max, st.at_max = kmh, t_mid, p
        return self._limit(st, p, kmh, t_mid)

    def end_track(self, camera: str, track_id: int, footage_end: bool = False) -> list[Event]:
        st = self._tracks.pop((camera, track_id), None)
        if st is None:
            return []
        events: list[Event] = []
        if st.episode is not None:
            events.append(self._speeding(st.episode))
        if self.summaries and st.n > 0 and st.at_max is not None:
            events.append(self._summary(st))
        return events

    def state_size(self) -> int:
        return len(self._tracks)

    def current_kmh(self, camera: str, track_id: int) -> float | None:
        """The track's latest plausible speed over the smoothing window (None: unknown)."""
        st = self._tracks.get((camera, track_id))
        return None if st is None else st.current

    # ------------------------------------------------------------------ internals
    def _estimate(self, path: RecentPath) -> tuple[float, float] | None:
        last = path.last
        if last is None:
            return None
        t, xs, ys = path.window(last[0] - self.window)
        if len(t) < MIN_POINTS or t[-1] - t[0] < 0.5 * self.window:
            return None
        v = self._memo.fit(t, xs, ys)
        if v is None:
            return None
        return float(np.hypot(*v)) * 3.6, float((t[0] + t[-1]) / 2)

    def _limit(self, st: _SpeedState, p: TrackPoint, kmh: float, t: float) -> list[Event]:
        limit = self._limit_of[p.cls]
        ep = st.episode
        if ep is not None:
            if kmh < ep.limit * END_RATIO:
                st.episode = None
                ep.t_end, ep.end = t, p
                return [self._speeding(ep)]
            ep.t_end, ep.end = t, p
            if kmh > ep.max_kmh:
                ep.max_kmh, ep.t_max, ep.at_max = kmh, t, p
            return []
        if limit is not None and kmh > limit:
            st.episode = _Episode(limit, t, p, kmh, t, p, t, p)
        return []

    def _params(self, label: str) -> dict[str, Any]:
        return {
            "window_seconds": self.window,
            "limit_kmh": self.limits.get(label),
            "max_plausible_kmh": self.plausible.get(label),
        }

    def _speeding(self, ep: _Episode) -> Event:
        p = ep.at_max
        h = self._h[p.camera]
        return Event(
            kind="speeding",
            camera=p.camera,
            track_ids=(p.track_id,),
            t_start=ep.t_start,
            t_end=ep.t_end,
            location=anchor_in("site", h, p),
            attributes={
                "max_kmh": round(ep.max_kmh, 2),
                "limit_kmh": ep.limit,
                "t_max": ep.t_max,
                "duration_seconds": round(ep.t_end - ep.t_start, 3),
                "class": p.cls.label,
            },
            provenance=Provenance(
                RULE,
                self._params(p.cls.label),
                tuple(
                    observation(q, anchor_in("site", h, q)) for q in (ep.start, ep.at_max, ep.end)
                ),
            ),
        )

    def _summary(self, st: _SpeedState) -> Event:
        p = st.at_max
        assert p is not None
        h = self._h[p.camera]
        return Event(
            kind="track_speed",
            camera=p.camera,
            track_ids=(p.track_id,),
            t_start=st.t_first,
            t_end=st.t_last,
            location=anchor_in("site", h, p),
            attributes={
                "max_kmh": round(st.max_kmh, 2),
                "mean_kmh": round(st.total / st.n, 2),
                "t_max": st.t_max,
                "estimates": st.n,
                "rejected": st.rejected,
                "class": p.cls.label,
            },
            provenance=Provenance(
                RULE, self._params(p.cls.label), (observation(p, anchor_in("site", h, p)),)
            ),
        )
