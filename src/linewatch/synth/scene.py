"""What a synthetic scene is made of: actors with piecewise-linear paths, the static layout,
lines and zones, and the scenario that binds them to a camera, a duration and a frame rate.

Actor kinematics are exact: position is linear between waypoints, heading (compass degrees,
0 north, 90 east) and speed are those of the current path segment, and posture changes at
given times. Everything the ground truth reports is derived from these definitions.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import numpy as np

from linewatch.config import LineConfig, ZoneConfig
from linewatch.records import ObjectClass
from linewatch.synth.camera import PinholeCamera

Posture = Literal["upright", "lying"]
BGR = tuple[int, int, int]

#: default 3D sizes (length along the heading, width, height) in metres
DEFAULT_SIZE: dict[ObjectClass, tuple[float, float, float]] = {
    ObjectClass.PERSON: (0.4, 0.5, 1.75),
    ObjectClass.VEHICLE: (4.5, 1.8, 1.5),
    ObjectClass.BICYCLE: (1.8, 0.6, 1.7),
    ObjectClass.OBJECT: (1.0, 1.0, 1.0),
}
LYING_SIZE: tuple[float, float, float] = (1.8, 0.5, 0.35)
#: wall-clock time of frame 0 by default (the motivating incident's date)
INCIDENT_START = datetime.fromisoformat("2017-11-13T15:11:00+09:00")


@dataclass(frozen=True, slots=True)
class Waypoint:
    """The actor's foot point (site metres) at time ``t`` (seconds from the video start)."""

    t: float
    x: float
    y: float


@dataclass(frozen=True, slots=True)
class PostureChange:
    """From ``t`` on the actor has ``posture``; ``heading`` (compass degrees) orients the
    lying body (default: the heading of motion at that time)."""

    t: float
    posture: Posture
    heading: float | None = None


@dataclass(frozen=True, slots=True)
class ActorState:
    """An actor's exact state at one time."""

    x: float
    y: float
    heading: float  # compass degrees, 0 north, 90 east
    speed: float  # metres per second
    posture: Posture
    size: tuple[float, float, float]  # length (along heading), width, height


@dataclass(frozen=True)
class Actor:
    """A person or vehicle moving along waypoints; present from the first to the last one."""

    id: str
    cls: ObjectClass
    waypoints: tuple[Waypoint, ...]
    color: BGR = (60, 60, 160)
    size: tuple[float, float, float] | None = None  # upright size; default by class
    postures: tuple[PostureChange, ...] = ()
    heading: float | None = None  # heading while it has never moved (default: 180)
    lying_size: tuple[float, float, float] = LYING_SIZE

    def __post_init__(self) -> None:
        if not self.waypoints:
            raise ValueError(f"actor {self.id!r}: needs at least one waypoint")
        ts = [w.t for w in self.waypoints]
        if any(b < a for a, b in itertools.pairwise(ts)):
            raise ValueError(f"actor {self.id!r}: waypoint times must not decrease")
        pts = [p.t for p in self.postures]
        if any(b < a for a, b in itertools.pairwise(pts)):
            raise ValueError(f"actor {self.id!r}: posture change times must not decrease")

    @property
    def t_start(self) -> float:
        return self.waypoints[0].t

    @property
    def t_end(self) -> float:
        return self.waypoints[-1].t

    def present(self, t: float) -> bool:
        return self.t_start - 1e-9 <= t <= self.t_end + 1e-9

    @property
    def upright_size(self) -> tuple[float, float, float]:
        return self.size if self.size is not None else DEFAULT_SIZE[self.cls]

    def position(self, t: float) -> tuple[float, float]:
        """Foot point at ``t`` (clamped to the path's ends)."""
        wps = self.waypoints
        if t <= wps[0].t:
            return wps[0].x, wps[0].y
        for a, b in itertools.pairwise(wps):
            if t <= b.t:
                if b.t <= a.t:
                    return b.x, b.y
                s = (t - a.t) / (b.t - a.t)
                return a.x + s * (b.x - a.x), a.y + s * (b.y - a.y)
        return wps[-1].x, wps[-1].y

    def _segment(self, t: float) -> tuple[Waypoint, Waypoint] | None:
        """The path segment in effect at ``t`` (the one starting at or before t)."""
        wps = self.waypoints
        for a, b in itertools.pairwise(wps):
            if a.t <= t < b.t:
                return a, b
        return None

    def velocity(self, t: float) -> tuple[float, float]:
        """Velocity (m/s, east and north) of the segment in effect at ``t``."""
        seg = self._segment(t)
        if seg is None:
            return 0.0, 0.0
        a, b = seg
        dt = b.t - a.t
        return (b.x - a.x) / dt, (b.y - a.y) / dt

    def motion_heading(self, t: float) -> float:
        """Heading of the last segment with motion that started at or before ``t``."""
        heading = 180.0 if self.heading is None else self.heading
        for a, b in zip(self.waypoints, self.waypoints[1:], strict=False):
            if a.t > t:
                break
            if math.hypot(b.x - a.x, b.y - a.y) > 1e-9 and b.t > a.t:
                heading = compass(b.x - a.x, b.y - a.y)
        return heading

    def posture_at(self, t: float) -> tuple[Posture, float | None, float]:
        """(posture, heading override, time of the change) in effect at ``t``."""
        posture: Posture = "upright"
        override: float | None = None
        since = self.t_start
        for p in self.postures:
            if p.t <= t:
                posture, override, since = p.posture, p.heading, p.t
        return posture, override, since

    def state(self, t: float) -> ActorState:
        x, y = self.position(t)
        vx, vy = self.velocity(t)
        posture, override, since = self.posture_at(t)
        if posture == "lying":
            heading = override if override is not None else self.motion_heading(since)
            size = self.lying_size
        else:
            heading = self.motion_heading(t)
            size = self.upright_size
        return ActorState(x, y, heading % 360.0, math.hypot(vx, vy), posture, size)


def compass(dx: float, dy: float) -> float:
    """Compass heading in degrees (0 north, 90 east) of a displacement (east, north)."""
    return math.degrees(math.atan2(dx, dy)) % 360.0


@dataclass(frozen=True, slots=True)
class Building:
    """A box building: footprint corners ``(x0, y0)``-``(x1, y1)`` (site m) and height."""

    x0: float
    y0: float
    x1: float
    y1: float
    height: float
    color: BGR = (150, 165, 180)


@dataclass(frozen=True, slots=True)
class Layout:
    """The static site: a north-south road leading to a bridge over a river, the
    demarcation line across the road at the bridge's north end, grass, buildings.

    The road runs along ``x = road_x``; the bridge spans ``bridge_y1 <= y <= bridge_y0``
    (its north end at ``bridge_y0``) over a river from ``river_y1`` to ``river_y0``; the
    painted line runs along ``y = line_y`` from ``x = -line_half_length`` to
    ``+line_half_length``. Static things never hide actors (actors are drawn on top), so
    keep actor paths in front of buildings as seen from the camera.
    """

    road_x: float = 0.0
    road_half_width: float = 3.5
    bridge_y0: float = 0.0
    bridge_y1: float = -22.0
    bridge_half_width: float = 4.6
    river_y0: float = -3.0
    river_y1: float = -19.0
    line_y: float = 0.0
    line_half_length: float = 30.0
    buildings: tuple[Building, ...] = (
        Building(-26.0, -44.0, -12.0, -32.0, 7.0),
        Building(14.0, -40.0, 24.0, -30.0, 4.5, (140, 150, 150)),
    )
    grass: BGR = (70, 118, 92)
    road: BGR = (112, 112, 108)


@dataclass(frozen=True)
class Scenario:
    """A scene to render: camera, actors, duration (s), frame rate, lines and zones.

    Frame ``i`` is the scene at ``t = i / fps``; there are ``round(duration * fps)`` frames.
    ``seed`` drives the sensor noise and lighting drift (actors are fixed by their paths).
    """

    camera: PinholeCamera
    actors: tuple[Actor, ...]
    duration: float
    fps: float = 10.0
    lines: tuple[LineConfig, ...] = ()
    zones: tuple[ZoneConfig, ...] = ()
    name: str = "synth"
    seed: int = 0
    layout: Layout = field(default_factory=Layout)
    start_time: datetime = INCIDENT_START
    camera_id: str = "cam1"
    noise_sigma: float = 2.5  # gray levels
    drift: float = 0.04  # relative amplitude of the slow lighting drift
    drift_period: float = 40.0  # seconds

    def __post_init__(self) -> None:
        ids = [a.id for a in self.actors]
        if len(set(ids)) != len(ids):
            raise ValueError(f"scenario {self.name!r}: duplicate actor ids in {ids}")
        if self.duration <= 0 or self.fps <= 0:
            raise ValueError("scenario: duration and fps must be positive")

    @property
    def frame_count(self) -> int:
        return round(self.duration * self.fps)

    def time(self, index: int) -> float:
        return index / self.fps

    def actor(self, actor_id: str) -> Actor:
        for a in self.actors:
            if a.id == actor_id:
                return a
        raise KeyError(actor_id)

    def line(self, line_id: str) -> LineConfig:
        for ln in self.lines:
            if ln.id == line_id:
                return ln
        raise KeyError(line_id)

    def times(self) -> np.ndarray:
        return np.arange(self.frame_count) / self.fps
