"""The rule engine: routes each camera's track points to the rules that apply to it.

``step`` is called once per analysed frame of a camera (cameras interleaved in time order
when several are reasoned on together); points of a just-confirmed track may be
back-filled (older ``t`` than the step's) but are in time order per track. When a track
ends every rule drops its state for that track, so a 24 h stream keeps bounded state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from linewatch.config import SiteConfig
from linewatch.geometry import Homography
from linewatch.records import Event, TrackPoint
from linewatch.rules.crossing import CrossingRule
from linewatch.rules.incursion import IncursionRule
from linewatch.rules.kinematics import FitMemo
from linewatch.rules.lines import LineGeometry
from linewatch.rules.person_down import PersonDownRule
from linewatch.rules.pursuit import PursuitRule
from linewatch.rules.speed import SpeedRule
from linewatch.rules.zones import ZoneGeometry, ZoneRule


class RuleEngine:
    """All the rules of one site config, fed by :meth:`step`, closed by :meth:`finish`."""

    def __init__(self, config: SiteConfig, homographies: Mapping[str, Homography | None]) -> None:
        self._config = config
        self._h = {cam.id: homographies.get(cam.id) for cam in config.cameras}
        rules = config.rules
        lines: dict[str, list[LineGeometry]] = {}
        for cam in config.cameras:
            built = (LineGeometry.build(ln, cam.id, self._h[cam.id]) for ln in config.lines)
            lines[cam.id] = [g for g in built if g is not None]
        self.notes: list[str] = []
        for ln in config.lines:
            if not any(g.line_id == ln.id for gs in lines.values() for g in gs):
                self.notes.append(f"line {ln.id!r} applies to no camera (needs a calibrated one)")
        memo = FitMemo()  # speed, pursuit and person down fit the same last second
        self._emit_crossings = rules.crossing.enabled
        self.crossing: CrossingRule | None = None
        if rules.crossing.enabled or rules.incursion.enabled:
            self.crossing = CrossingRule(
                lines, rules.crossing.margin, rules.crossing.min_hold, rules.crossing.classes
            )
        self.incursion: IncursionRule | None = None
        if rules.incursion.enabled:
            self.incursion = IncursionRule(
                rules.incursion.max_seconds,
                crossing_params={
                    "margin": rules.crossing.margin,
                    "min_hold": rules.crossing.min_hold,
                },
                report_open=rules.incursion.report_open,
            )
        self.zones: ZoneRule | None = None
        if rules.zones.enabled and config.zones:
            zones: dict[str, list[ZoneGeometry]] = {}
            for cam in config.cameras:
                zbuilt = (ZoneGeometry.build(z, cam.id, self._h[cam.id]) for z in config.zones)
                zones[cam.id] = [g for g in zbuilt if g is not None]
            self.zones = ZoneRule(zones, rules.zones.loiter_seconds, rules.zones.min_inside_seconds)
        self.speed: SpeedRule | None = None
        if rules.speed.enabled:
            sp = rules.speed
            self.speed = SpeedRule(
                self._h,
                sp.window_seconds,
                sp.limits_kmh,
                sp.max_plausible_kmh,
                sp.summaries,
                memo=memo,
            )
            self.notes.extend(self.speed.notes)
        self.pursuit: PursuitRule | None = None
        if rules.pursuit.enabled:
            pu = rules.pursuit
            self.pursuit = PursuitRule(
                self._h,
                pu.max_gap_seconds,
                pu.max_path_distance,
                pu.min_duration_seconds,
                pu.min_speed_kmh,
                pu.min_gap_seconds,
                memo=memo,
            )
            self.notes.extend(self.pursuit.notes)
        self.person_down: PersonDownRule | None = None
        if rules.person_down.enabled:
            pd = rules.person_down
            self.person_down = PersonDownRule(
                self._h,
                pd.min_seconds,
                pd.assistance_radius,
                pd.still_speed_kmh,
                pd.grace_seconds,
                pd.max_wait_seconds,
                memo=memo,
            )
            self.notes.extend(self.person_down.notes)
        self._live: dict[str, set[int]] = {cam.id: set() for cam in config.cameras}
        self._last_t: dict[str, float] = {cam.id: 0.0 for cam in config.cameras}

    # ------------------------------------------------------------------ feeding
    def step(
        self, camera: str, t: float, points: list[TrackPoint], ended: list[int]
    ) -> list[Event]:
        """One analysed frame of ``camera``: its track points, then the tracks that ended."""
        if camera not in self._live:
            raise ValueError(
                f"camera {camera!r} is not in the config (cameras: {', '.join(self._live)})"
            )
        self._last_t[camera] = max(self._last_t[camera], t)
        live = self._live[camera]
        events: list[Event] = []
        for p in sorted(points, key=lambda q: q.t):  # stable: keeps each track's order
            if p.camera != camera:
                raise ValueError(f"a point of camera {p.camera!r} was given as {camera!r}'s")
            live.add(p.track_id)
            events.extend(self._observe(p))
        for tid in ended:
            events.extend(self._end(camera, tid))
            live.discard(tid)
        return events

    def finish(self) -> list[Event]:
        """End of footage: end every live track and close open findings."""
        events: list[Event] = []
        for camera, live in self._live.items():
            for tid in sorted(live):
                events.extend(self._end(camera, tid, footage_end=True))
            live.clear()
        if self.pursuit is not None:
            events.extend(self.pursuit.finish())
        if self.person_down is not None:
            events.extend(self.person_down.finish())
        return events

    def state_size(self) -> dict[str, int]:
        """Number of per-track entries each part holds (0 everywhere once tracks ended)."""
        sizes = {"live": sum(len(s) for s in self._live.values())}
        if self.crossing is not None:
            sizes["crossing"] = self.crossing.state_size()
        if self.incursion is not None:
            sizes["incursion"] = self.incursion.state_size()
        if self.zones is not None:
            sizes["zones"] = self.zones.state_size()
        if self.speed is not None:
            sizes["speed"] = self.speed.state_size()
        if self.pursuit is not None:
            sizes["pursuit"] = self.pursuit.state_size()
        if self.person_down is not None:
            sizes["person_down"] = self.person_down.state_size()
        return sizes

    # ------------------------------------------------------------------ internals
    def _observe(self, p: TrackPoint) -> list[Event]:
        events: list[Event] = []
        if self.speed is not None:  # first: crossings report the smoothed speed
            events.extend(self.speed.observe(p))
        if self.crossing is not None:
            crossings = self.crossing.observe(p)
            if self._emit_crossings:
                events.extend(self._with_speed(self.crossing.event(c)) for c in crossings)
            if self.incursion is not None:
                events.extend(self.incursion.observe(p, crossings))
        if self.zones is not None:
            events.extend(self.zones.observe(p))
        if self.pursuit is not None:
            events.extend(self.pursuit.observe(p))
        if self.person_down is not None:
            events.extend(self.person_down.observe(p))
        return events

    def _with_speed(self, ev: Event) -> Event:
        """A crossing with the speed rule's smoothed speed (over its window) as
        ``speed_kmh``; the plain displacement across the line stays as ``speed_across_kmh``."""
        kmh = None if self.speed is None else self.speed.current_kmh(ev.camera, ev.track_ids[0])
        if kmh is None:
            return ev
        attrs = dict(ev.attributes)
        if "speed_kmh" in attrs:
            attrs["speed_across_kmh"] = attrs["speed_kmh"]
        attrs["speed_kmh"] = round(kmh, 2)
        assert self.speed is not None
        attrs["speed_window_seconds"] = self.speed.window
        return replace(ev, attributes=attrs)

    def _end(self, camera: str, track_id: int, footage_end: bool = False) -> list[Event]:
        events: list[Event] = []
        if self.crossing is not None:
            self.crossing.end_track(camera, track_id)
        if self.incursion is not None:
            events.extend(self.incursion.end_track(camera, track_id, footage_end))
        if self.zones is not None:
            events.extend(self.zones.end_track(camera, track_id, footage_end))
        if self.speed is not None:
            events.extend(self.speed.end_track(camera, track_id, footage_end))
        if self.pursuit is not None:
            events.extend(self.pursuit.end_track(camera, track_id, footage_end))
        if self.person_down is not None:
            events.extend(self.person_down.end_track(camera, track_id, footage_end))
        return events
