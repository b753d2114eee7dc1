"""Person down: a person lying still for a while, and the time until someone came to help.

Posture, per observation of a person on a calibrated camera:

- with pose keypoints (COCO order: shoulders 5, 6; hips 11, 12; score >= 0.3), the torso
  (hips' middle to shoulders' middle) is lying when it is more horizontal than vertical;
- else from the box in site terms: its width in metres (the bottom edge's two corners
  projected onto the site) against its height in metres (pixel height times the local
  scale at the foot point, as for an upright object): lying when wider than tall and at
  most ``MAX_LYING_HEIGHT`` (1.2 m) tall: a wide and tall box is people merged together.

Still: the robust speed over the last second (see :mod:`linewatch.rules.kinematics`) below
``still_speed_kmh``. A person lying and still for ``min_seconds`` is *down* from the first
such observation (``t_down``, taken back to when it reached the resting place, since a
speed over a window lags: within 0.25 m of it, or 1.5 pixels' worth of ground where a pixel
spans more, as far from the camera a box edge that settles by a pixel moves the point
0.3 m or more). Where he lies (``location``, from which assistance is measured) is his
foot point there (his box's bottom edge, the body's near side), like every helper's: the
middle of his box measured against helpers' box bottoms made assistance on the demo up
to 2 s early (a helper's box bottom is also its near side). Not lying or not still for
more than ``grace_seconds`` ends the episode (got up).

Assistance: the first time another person's site point (any track of any calibrated camera:
positions share the site map) comes within ``assistance_radius`` of where the person went
down, at or after ``t_down``. "Comes" means that track was seen outside the radius before:
a second camera's track of the down person itself (at the same place from its start) is not
assistance; the cost is that a helper first seen already inside the radius is missed.

When the down person's track ends (some detectors stop seeing a lying person) the finding
keeps what was seen and still waits up to ``max_wait_seconds`` for assistance; at the end
of the footage unassisted findings are reported with ``assisted: false``. One event per
episode, when it closes (got up, assisted after the track ended, waited out, footage end).
Two calibrated cameras that both see the person down give one finding: an episode that
starts within ``SAME_PLACE`` (1 m) of another camera's open episode is a *view* of it; the
first episode's event lists the confirmed views in ``also_seen_by`` and the views report
nothing (unless the first was dropped unconfirmed, then a view reports on its own).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from linewatch.geometry import Homography
from linewatch.records import Event, ObjectClass, Provenance, TrackPoint
from linewatch.rules.crossing import observation
from linewatch.rules.kinematics import FitMemo, RecentPath
from linewatch.rules.lines import anchor_in

RULE = "person_down"
STILL_WINDOW = 1.0
REST_RADIUS = 0.25  # metres: positions this close to the resting place count as at rest...
REST_PIXELS = 1.5  # ... or this many pixels' worth of ground where the camera sees coarser
SAME_PLACE = 1.0  # metres: two cameras' persons down this close are one person
KP_SCORE = 0.3
MAX_LYING_HEIGHT = 1.2  # metres: a box taller than this (as if upright) is not one person lying
SHOULDERS, HIPS = (5, 6), (11, 12)


@dataclass(frozen=True, slots=True)
class Posture:
    lying: bool
    method: str  # "keypoints" or "box"
    width_m: float | None = None
    height_m: float | None = None


UPRIGHT, LYING = Posture(False, "box"), Posture(True, "box")  # sizes left out


def posture(p: TrackPoint, h: Homography) -> Posture:
    """Whether the person of this observation is lying (keypoints when usable, else box)."""
    kp = p.keypoints
    if kp is not None and len(kp) > max(HIPS):
        sh = [kp[i] for i in SHOULDERS if kp[i][2] >= KP_SCORE]
        hp = [kp[i] for i in HIPS if kp[i][2] >= KP_SCORE]
        if sh and hp:
            dx = np.mean([k[0] for k in sh]) - np.mean([k[0] for k in hp])
            dy = np.mean([k[1] for k in sh]) - np.mean([k[1] for k in hp])
            return Posture(bool(abs(dx) > abs(dy)), "keypoints")
    x1, y1, x2, y2 = p.box
    corners = h.to_site(np.array([[x1, y2], [x2, y2]]))
    width = float(np.linalg.norm(corners[1] - corners[0]))
    height = float((y2 - y1) * h.scale_at(p.foot))
    # lying: wider than tall, and low (a person lying is well under a standing person's
    # height; a wide *and* tall box is a group of people merged into one detection)
    return Posture(width > height and height <= MAX_LYING_HEIGHT, "box", width, height)


_Matrix = tuple[float, float, float, float, float, float, float, float, float]
SLACK = 1e-6  # relative: far above the rounding of :func:`box_lying`'s arithmetic


def box_lying(box: tuple[float, float, float, float], m: _Matrix) -> bool | None:
    """:func:`posture`'s box test where its answer is certain, else None.

    The same width and height in plain floats (the homography ``m``, row-major), decided
    only with a relative margin and only away from the horizon (where the projection's
    rounding grows); None otherwise, and the caller asks :func:`posture`. So the rule skips
    the array arithmetic for nearly every observation.
    """
    x1, y1, x2, y2 = box
    a, b, c, d, e, f, g, h, i = m
    xm = (x1 + x2) / 2.0
    ws = (x1 * g + y2 * h + i, x2 * g + y2 * h + i, xm * g + y2 * h + i)
    for w, x in zip(ws, (x1, x2, xm), strict=True):
        if not abs(w) > SLACK * (abs(x * g) + abs(y2 * h) + abs(i)):
            return None
    u0, v0 = (x1 * a + y2 * b + c) / ws[0], (x1 * d + y2 * e + f) / ws[0]
    u1, v1 = (x2 * a + y2 * b + c) / ws[1], (x2 * d + y2 * e + f) / ws[1]
    width = math.hypot(u1 - u0, v1 - v0)
    w = ws[2]
    j0 = (a * w - (a * xm + b * y2 + c) * g) / (w * w)
    j1 = (d * w - (d * xm + e * y2 + f) * g) / (w * w)
    height = (y2 - y1) * math.hypot(j0, j1)
    if width < height * (1 - SLACK) or height > MAX_LYING_HEIGHT * (1 + SLACK):
        return False
    if width > height * (1 + SLACK) and height < MAX_LYING_HEIGHT * (1 - SLACK):
        return True
    return None


@dataclass(slots=True, eq=False)  # identity: episodes refer to each other
class _Down:
    camera: str
    track_id: int
    t_down: float
    location: tuple[float, float]
    first: TrackPoint
    last: TrackPoint
    posture: Posture
    confirmed: bool = False
    track_ended: bool = False
    outside: set[tuple[str, int]] = field(default_factory=set)  # helpers seen outside
    helper: TrackPoint | None = None
    helper_distance: float = 0.0
    view_of: _Down | None = None  # the first episode (other camera) of the same person
    views: list[_Down] = field(default_factory=list)  # other cameras' episodes of him


@dataclass(slots=True)
class _Person:
    path: RecentPath
    last: TrackPoint | None = None
    down: _Down | None = None
    last_good: float = 0.0


class PersonDownRule:
    """Persons down on calibrated cameras, and time to assistance across cameras."""

    name = RULE

    def __init__(
        self,
        homographies: Mapping[str, Homography | None],
        min_seconds: float,
        assistance_radius: float,
        still_speed_kmh: float,
        grace_seconds: float = 1.0,
        max_wait_seconds: float = 3600.0,
        memo: FitMemo | None = None,
    ) -> None:
        self._h = dict(homographies)
        self._memo = FitMemo() if memo is None else memo
        self.min_seconds = float(min_seconds)
        self.radius = float(assistance_radius)
        self.still = float(still_speed_kmh) / 3.6
        self.grace = float(grace_seconds)
        self.max_wait = float(max_wait_seconds)
        self.notes = [
            f"person_down: camera {cam!r} is not calibrated; no person-down events for it"
            for cam, h in self._h.items()
            if h is None
        ]
        self._m: dict[str, _Matrix] = {
            cam: tuple(h.matrix.ravel().tolist())  # type: ignore[misc]
            for cam, h in self._h.items()
            if h is not None
        }
        self._persons: dict[tuple[str, int], _Person] = {}
        self._downs: list[_Down] = []  # open episodes (candidates, confirmed, track ended)

    def observe(self, p: TrackPoint) -> list[Event]:
        h = self._h.get(p.camera)
        if h is None or p.cls != ObjectClass.PERSON:
            return []
        key = (p.camera, p.track_id)
        st = self._persons.get(key)
        if st is None:
            st = self._persons[key] = _Person(RecentPath(2 * STILL_WINDOW))
        if st.last is not None and p.t <= st.last.t:
            return []
        pos = p.site if p.site is not None else anchor_in("site", h, p)
        if not (math.isfinite(pos[0]) and math.isfinite(pos[1])):
            return []
        st.last = p
        st.path.add(p.t, pos[0], pos[1])
        events = self._assist(p, pos)
        events += self._posture(st, p, pos, h)
        events += self._expire(p.t)
        return events

    def end_track(self, camera: str, track_id: int, footage_end: bool = False) -> list[Event]:
        key = (camera, track_id)
        st = self._persons.pop(key, None)
        for d in self._downs:
            d.outside.discard(key)
        events: list[Event] = []
        if st is not None and st.down is not None:
            d = st.down
            if not d.confirmed or d.helper is not None:
                events += self._close(d, "footage_end" if footage_end else "track_end")
            else:
                d.track_ended = True  # keep waiting for assistance
        return events

    def finish(self) -> list[Event]:
        events: list[Event] = []
        for d in list(self._downs):
            events += self._close(d, "footage_end")
        return events

    def state_size(self) -> int:
        return len(self._persons) + len(self._downs)

    # ------------------------------------------------------------------ internals
    def _assist(self, p: TrackPoint, pos: tuple[float, float]) -> list[Event]:
        key = (p.camera, p.track_id)
        events: list[Event] = []
        for d in list(self._downs):
            if d.helper is not None or (d.camera, d.track_id) == key or p.t < d.t_down:
                continue
            dist = float(np.hypot(pos[0] - d.location[0], pos[1] - d.location[1]))
            if dist > self.radius:
                d.outside.add(key)
            elif key in d.outside:
                d.helper, d.helper_distance = p, dist
                d.outside.clear()
                if d.track_ended:
                    events += self._close(d, "track_end")
        return events

    def _posture(
        self, st: _Person, p: TrackPoint, pos: tuple[float, float], h: Homography
    ) -> list[Event]:
        lying = None if p.keypoints is not None else box_lying(p.box, self._m[p.camera])
        # posture() itself (arrays) only when the plain-float test is unsure, or when an
        # episode starts and keeps its sizes; the two agree wherever the test is sure
        post = (LYING if lying else UPRIGHT) if lying is not None else posture(p, h)
        d = st.down
        if not post.lying and d is None:
            return []
        speed = st.path.speed(STILL_WINDOW, memo=self._memo) if post.lying else None
        if post.lying and speed is None and d is None:
            return []  # too early in the track to say whether it is still
        if post.lying and speed is not None and speed < self.still:
            if d is None:
                rest = max(REST_RADIUS, REST_PIXELS * h.resolution_at(p.foot))
                t_down = self._came_to_rest(st.path, pos, p.t, rest)
                post = posture(p, h) if lying is not None else post
                d = st.down = _Down(p.camera, p.track_id, t_down, pos, p, p, post)
                d.view_of = self._seen_already(d)
                if d.view_of is not None:
                    d.view_of.views.append(d)
                self._downs.append(d)
            st.last_good = p.t
            d.last = p
            if not d.confirmed and p.t - d.t_down >= self.min_seconds:
                d.confirmed = True
            return []
        if d is None or p.t - st.last_good <= self.grace:
            return []
        st.down = None
        return self._close(d, "got_up")

    @staticmethod
    def _came_to_rest(
        path: RecentPath, pos: tuple[float, float], t: float, radius: float
    ) -> float:
        """When the person reached this resting place: the speed over a window lags, so go
        back to the first of the last second's positions from which all stayed within
        ``radius`` of it."""
        ts, xy = path.arrays(t - STILL_WINDOW)
        near = np.hypot(xy[:, 0] - pos[0], xy[:, 1] - pos[1]) <= radius
        k = len(near)
        while k > 0 and near[k - 1]:
            k -= 1
        return float(ts[k]) if k < len(near) else t

    def _expire(self, t: float) -> list[Event]:
        events: list[Event] = []
        for d in list(self._downs):
            if d.track_ended and t - d.last.t > self.max_wait:
                events += self._close(d, "max_wait")
        return events

    def _seen_already(self, d: _Down) -> _Down | None:
        """An open episode of another camera at the same place: the same person seen twice
        (his view there reports nothing of its own)."""
        for other in self._downs:
            if (
                other.camera != d.camera
                and other.view_of is None
                and math.hypot(other.location[0] - d.location[0], other.location[1] - d.location[1])
                <= SAME_PLACE
            ):
                return other
        return None

    def _close(self, d: _Down, ended_by: str) -> list[Event]:
        """End an episode: its event if confirmed and no other camera's episode reports it.

        A view (another camera's episode of the same person) reports nothing while its
        first episode is open, nor once that one was reported; it is reported on its own
        only when the first was dropped unconfirmed (never reported)."""
        self._downs.remove(d)
        for v in d.views:
            v.view_of = d if d.confirmed else None
        first = d.view_of
        if first is not None and (first in self._downs or first.confirmed):
            return []
        return [self._event(d, ended_by)] if d.confirmed else []

    def _event(self, d: _Down, ended_by: str) -> Event:
        h = self._h[d.camera]
        attrs: dict[str, Any] = {
            "t_down": d.t_down,
            "duration_down_seconds": round(d.last.t - d.t_down, 3),
            "last_seen_down": d.last.t,
            "ended_by": ended_by,
            "got_up": ended_by == "got_up",
            "posture": d.posture.method,
            "assisted": d.helper is not None,
        }
        seen = [{"camera": v.camera, "track_id": v.track_id} for v in d.views if v.confirmed]
        if seen:
            attrs["also_seen_by"] = seen
        if d.posture.width_m is not None and d.posture.height_m is not None:
            attrs["box_width_m"] = round(d.posture.width_m, 3)
            attrs["box_height_m"] = round(d.posture.height_m, 3)
        obs = [
            observation(d.first, anchor_in("site", h, d.first)),
            observation(d.last, anchor_in("site", h, d.last)),
        ]
        if d.helper is not None:
            hh = self._h[d.helper.camera]
            attrs["t_assistance"] = d.helper.t
            attrs["time_to_assistance_seconds"] = round(d.helper.t - d.t_down, 3)
            attrs["helper"] = {
                "camera": d.helper.camera,
                "track_id": d.helper.track_id,
                "distance_m": round(d.helper_distance, 3),
            }
            obs.append(
                {
                    "camera": d.helper.camera,
                    **observation(d.helper, anchor_in("site", hh, d.helper)),
                }
            )
        return Event(
            kind="person_down",
            camera=d.camera,
            track_ids=(d.track_id,),
            t_start=d.t_down,
            t_end=d.last.t,
            location=d.location,
            attributes=attrs,
            provenance=Provenance(
                RULE,
                {
                    "min_seconds": self.min_seconds,
                    "assistance_radius": self.radius,
                    "still_speed_kmh": self.still * 3.6,
                    "grace_seconds": self.grace,
                    "max_wait_seconds": self.max_wait,
                    "still_window_seconds": STILL_WINDOW,
                },
                tuple(obs),
            ),
        )
