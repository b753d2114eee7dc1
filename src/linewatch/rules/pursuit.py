"""Pursuit: a track (the leader) followed along a similar path by one or more others.

Follower ``f`` follows leader ``l`` at time ``t`` when ``f``'s site position is within
``max_path_distance`` of where ``l`` was at some earlier time ``t - gap`` (the leader's path
between observations is interpolated; the gap is taken where the path comes closest) with
``min_gap_seconds <= gap <= max_gap_seconds``, and both are moving (``f`` now and ``l`` at
``t - gap``, at least ``min_speed_kmh``). Walking side by side gives a gap near 0 and is not
following. A pair that follows for at least ``min_duration_seconds`` (gaps in the condition
up to 1 s are bridged) is a pursuit; all the followers of one leader whose following
overlaps (or is less than ``max_gap_seconds`` apart) form one event with
``track_ids = (leader, *followers)``. Any classes (a vehicle followed by people on foot).

A chain is one pursuit: when C follows B who follows A, B's group (led by B) folds into
A's, so one event is led by A with followers B and C, even when C is too far behind to
follow A himself. Each follower's ``follows`` names whom he follows most closely, and his
gap and distance are to that one. A group waits to be reported while one of its followers
still leads an open group of his own.

Tracks are compared within one camera (two cameras may see the same person: a track would
follow its own double). Needs metres: uncalibrated cameras give no events (see ``notes``).
Known limit: people walking in single file one behind the other look like a pursuit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from linewatch.geometry import Homography
from linewatch.records import Event, Provenance, TrackPoint
from linewatch.rules.crossing import observation
from linewatch.rules.kinematics import FitMemo, RecentPath
from linewatch.rules.lines import anchor_in

RULE = "pursuit"
BRIDGE_SECONDS = 1.0  # a pair's condition may fail this long without ending the following
SPEED_WINDOW = 1.0
MAX_SAMPLES = 2000  # per pair; decimated beyond (keeps medians meaningful, state bounded)


def _near(box: tuple[float, float, float, float] | None, x: float, y: float, limit: float) -> bool:
    """False when ``(x, y)`` is farther than ``limit`` from the box around a leader's whole
    recent path, so from any point of it: :meth:`PursuitRule._follows` would say no. A
    cheap test that spares most pairs of tracks far apart."""
    if box is None:
        return False
    dx = box[0] - x if x < box[0] else (x - box[2] if x > box[2] else 0.0)
    dy = box[1] - y if y < box[1] else (y - box[3] if y > box[3] else 0.0)
    return dx <= limit and dy <= limit and dx * dx + dy * dy <= limit * limit


@dataclass(slots=True)
class _Track:
    path: RecentPath
    last: TrackPoint | None = None


@dataclass(slots=True)
class _Follow:
    follower: int
    leader: int  # whom he follows (a chain folds its links into its head's group)
    t_start: float
    t_ok: float
    first: TrackPoint
    last: TrackPoint
    gaps: list[float] = field(default_factory=list)
    dists: list[float] = field(default_factory=list)
    f_speeds: list[float] = field(default_factory=list)
    l_speeds: list[float] = field(default_factory=list)

    def add(self, gap: float, dist: float, fs: float, ls: float) -> None:
        for arr, v in (
            (self.gaps, gap),
            (self.dists, dist),
            (self.f_speeds, fs),
            (self.l_speeds, ls),
        ):
            arr.append(v)
            if len(arr) > MAX_SAMPLES:
                del arr[::2]


@dataclass(slots=True)
class _Group:
    leader_obs: TrackPoint
    records: list[_Follow] = field(default_factory=list)

    @property
    def t_end(self) -> float:
        return max(r.t_ok for r in self.records)


class PursuitRule:
    """Pursuits among each calibrated camera's tracks."""

    name = RULE

    def __init__(
        self,
        homographies: Mapping[str, Homography | None],
        max_gap_seconds: float,
        max_path_distance: float,
        min_duration_seconds: float,
        min_speed_kmh: float,
        min_gap_seconds: float = 0.5,
        memo: FitMemo | None = None,
    ) -> None:
        self._h = dict(homographies)
        self._memo = FitMemo() if memo is None else memo
        self.max_gap = float(max_gap_seconds)
        self.min_gap = float(min_gap_seconds)
        self.max_dist = float(max_path_distance)
        self.min_duration = float(min_duration_seconds)
        self.min_speed = float(min_speed_kmh) / 3.6
        self._near_limit = self.max_dist * (1 + 1e-9) + 1e-9  # slack for rounding in _follows
        self.notes = [
            f"pursuit: camera {cam!r} is not calibrated; no pursuit events for it"
            for cam, h in self._h.items()
            if h is None
        ]
        self._tracks: dict[str, dict[int, _Track]] = {}
        self._pairs: dict[tuple[str, int, int], _Follow] = {}  # (camera, leader, follower)
        self._groups: dict[tuple[str, int], _Group] = {}  # (camera, leader)
        #: groups over but not reported: a follower still leads a group of his own
        self._waiting: dict[tuple[str, int], _Group] = {}

    def observe(self, p: TrackPoint) -> list[Event]:
        h = self._h.get(p.camera)
        if h is None:
            return []
        tracks = self._tracks.setdefault(p.camera, {})
        me = tracks.get(p.track_id)
        if me is None:
            me = tracks[p.track_id] = _Track(RecentPath(self.max_gap + 2 * SPEED_WINDOW))
        if me.last is not None and p.t <= me.last.t:
            return []
        pos = p.site if p.site is not None else anchor_in("site", h, p)
        if not (math.isfinite(pos[0]) and math.isfinite(pos[1])):
            return []
        me.path.add(p.t, pos[0], pos[1])
        me.last = p
        fid, x, y = p.track_id, pos[0], pos[1]
        moving: bool | None = None  # the follower's speed: asked once a leader's path is near
        f_speed = 0.0
        for lid, leader in tracks.items():
            if lid == fid:
                continue
            hit = None
            if moving is not False and _near(leader.path.bounds(), x, y, self._near_limit):
                if moving is None:
                    speed = me.path.speed(SPEED_WINDOW, memo=self._memo)
                    moving = speed is not None and speed >= self.min_speed
                    f_speed = speed or 0.0
                if moving:
                    hit = self._follows(pos, p.t, leader)
            if hit is not None:
                key = (p.camera, lid, fid)
                pair = self._pairs.get(key)
                gap, dist, l_speed = hit
                if pair is None:
                    pair = self._pairs[key] = _Follow(fid, lid, p.t, p.t, p, p)
                    if (p.camera, lid) not in self._groups and leader.last is not None:
                        self._groups[(p.camera, lid)] = _Group(leader.last)
                pair.t_ok, pair.last = p.t, p
                pair.add(gap, dist, f_speed, l_speed)
            elif self._pairs:
                key = (p.camera, lid, fid)
                pair = self._pairs.get(key)
                if pair is not None and p.t - pair.t_ok > BRIDGE_SECONDS:
                    self._close(key)
        return self._flush_idle(p.camera, p.t)

    def end_track(self, camera: str, track_id: int, footage_end: bool = False) -> list[Event]:
        for key in [k for k in self._pairs if k[0] == camera and track_id in (k[1], k[2])]:
            self._close(key)
        tracks = self._tracks.get(camera)
        if tracks is not None:
            tracks.pop(track_id, None)
            if not tracks:
                del self._tracks[camera]
        events: list[Event] = []
        group = self._groups.get((camera, track_id))
        if group is not None:
            del self._groups[(camera, track_id)]
            if group.records:
                events += self._done(camera, track_id, group)
        return events

    def finish(self) -> list[Event]:
        events: list[Event] = []
        for key in list(self._pairs):
            self._close(key)
        for (camera, leader), group in list(self._groups.items()):
            del self._groups[(camera, leader)]
            if group.records:
                events += self._done(camera, leader, group)
        for (camera, leader), group in list(self._waiting.items()):  # not left: safety
            del self._waiting[(camera, leader)]
            events.append(self._event(camera, leader, group))
        return events

    def state_size(self) -> int:
        return (
            sum(len(t) for t in self._tracks.values())
            + len(self._pairs)
            + len(self._groups)
            + len(self._waiting)
        )

    # ------------------------------------------------------------------ internals
    def _follows(
        self, pos: tuple[float, float], t: float, leader: _Track
    ) -> tuple[float, float, float] | None:
        """(gap, distance, leader speed) when ``pos`` at ``t`` is on the leader's recent path."""
        tl, xl, yl = leader.path.window(t - self.max_gap - SPEED_WINDOW, t)
        if not tl:
            return None
        ts, xy = np.asarray(tl, dtype=np.float64), np.column_stack([xl, yl])
        q = np.asarray(pos, dtype=np.float64)
        if ts.shape[0] == 1:
            dist, t_l = float(np.linalg.norm(xy[0] - q)), float(ts[0])
        else:
            a, d = xy[:-1], np.diff(xy, axis=0)
            len2 = np.einsum("ij,ij->i", d, d)
            with np.errstate(divide="ignore", invalid="ignore"):
                u = np.where(len2 > 0, np.einsum("ij,ij->i", q - a, d) / len2, 0.0)
            u = np.clip(u, 0.0, 1.0)
            dists = np.linalg.norm(a + u[:, None] * d - q, axis=1)
            k = int(np.argmin(dists))
            dist = float(dists[k])
            t_l = float(ts[k] + u[k] * (ts[k + 1] - ts[k]))
        gap = t - t_l
        if dist > self.max_dist or not (self.min_gap <= gap <= self.max_gap):
            return None
        l_speed = leader.path.speed_at(t_l, SPEED_WINDOW)
        if l_speed is None or l_speed < self.min_speed:
            return None
        return gap, dist, l_speed

    def _close(self, key: tuple[str, int, int]) -> None:
        pair = self._pairs.pop(key)
        if pair.t_ok - pair.t_start < self.min_duration:
            return
        group = self._groups.get((key[0], key[1]))
        if group is not None:
            group.records.append(pair)

    def _flush_idle(self, camera: str, t: float) -> list[Event]:
        """Groups whose leader has no active follower and nothing for ``max_gap`` seconds."""
        events: list[Event] = []
        if not self._groups:
            return events
        active = {(k[0], k[1]) for k in self._pairs}
        for key in [k for k in self._groups if k[0] == camera and k not in active]:
            group = self._groups[key]
            if not group.records:
                del self._groups[key]
            elif t - group.t_end > self.max_gap:
                del self._groups[key]
                events += self._done(camera, key[1], group)
        return events

    # ------------------------------------------------------------------ chains
    def _follows_in(self, camera: str, follower: int) -> tuple[str, int] | None:
        """The open or waiting group (its key) that has ``follower`` following its leader."""
        for key, group in (*self._groups.items(), *self._waiting.items()):
            if key[0] != camera or key[1] == follower:
                continue
            if any(r.follower == follower for r in group.records) or (
                (camera, key[1], follower) in self._pairs
            ):
                return key
        return None

    def _leads_open(self, camera: str, group: _Group) -> bool:
        """Whether a follower of ``group`` leads a group of his own that is not done."""
        followers = {r.follower for r in group.records}
        return any(
            (camera, f) in self._groups or (camera, f) in self._waiting for f in followers
        )

    def _done(self, camera: str, leader: int, group: _Group) -> list[Event]:
        """A group is over: fold it into the group its leader follows in (a chain A -> B ->
        C is one pursuit led by A), wait while its own followers still lead groups, or
        report it."""
        parent = self._follows_in(camera, leader)
        if parent is not None:
            target = self._groups.get(parent) or self._waiting[parent]
            target.records += [r for r in group.records if r.follower != parent[1]]
            if parent in self._waiting and not self._leads_open(camera, target):
                del self._waiting[parent]
                return self._done(camera, parent[1], target)
            return []
        if self._leads_open(camera, group):
            self._waiting[(camera, leader)] = group
            return []
        return [self._event(camera, leader, group)]

    def _event(self, camera: str, leader: int, group: _Group) -> Event:
        h = self._h[camera]
        by_follower: dict[int, list[_Follow]] = {}
        for r in group.records:
            by_follower.setdefault(r.follower, []).append(r)
        followers: list[dict[str, Any]] = []
        obs: list[dict[str, Any]] = [
            observation(group.leader_obs, anchor_in("site", h, group.leader_obs))
        ]
        l_speeds: list[float] = []  # the head leader's, seen by those who follow him directly
        all_l_speeds: list[float] = []
        for fid, recs in sorted(by_follower.items(), key=lambda kv: min(r.t_start for r in kv[1])):
            # whom he follows: the one he follows most closely (in a chain, the one ahead);
            # his gap and distance are to that one
            ahead: dict[int, list[float]] = {}
            for r in recs:
                ahead.setdefault(r.leader, []).extend(r.gaps)
            follows = min(ahead, key=lambda k: float(np.median(ahead[k])))
            gaps = ahead[follows]
            dists = [d for r in recs if r.leader == follows for d in r.dists]
            fs = [s for r in recs for s in r.f_speeds]
            l_speeds += [s for r in recs if r.leader == leader for s in r.l_speeds]
            all_l_speeds += [s for r in recs for s in r.l_speeds]
            t0, t1 = min(r.t_start for r in recs), max(r.t_ok for r in recs)
            first = min(recs, key=lambda r: r.t_start).first
            last = max(recs, key=lambda r: r.t_ok).last
            followers.append(
                {
                    "track_id": fid,
                    "follows": follows,
                    "class": first.cls.label,
                    "t_start": t0,
                    "t_end": t1,
                    "duration_seconds": round(t1 - t0, 3),
                    "median_gap_seconds": round(float(np.median(gaps)), 3),
                    "median_distance_m": round(float(np.median(dists)), 3),
                    "mean_speed_kmh": round(float(np.mean(fs)) * 3.6, 2),
                }
            )
            obs += [observation(q, anchor_in("site", h, q)) for q in (first, last)]
        t_start = min(f["t_start"] for f in followers)
        t_end = max(f["t_end"] for f in followers)
        return Event(
            kind="pursuit",
            camera=camera,
            track_ids=(leader, *(int(f["track_id"]) for f in followers)),
            t_start=t_start,
            t_end=t_end,
            location=anchor_in("site", h, group.leader_obs),
            attributes={
                "leader": leader,
                "leader_class": group.leader_obs.cls.label,
                "leader_mean_speed_kmh": round(float(np.mean(l_speeds or all_l_speeds)) * 3.6, 2),
                "followers": followers,
            },
            provenance=Provenance(
                RULE,
                {
                    "max_gap_seconds": self.max_gap,
                    "min_gap_seconds": self.min_gap,
                    "max_path_distance": self.max_dist,
                    "min_duration_seconds": self.min_duration,
                    "min_speed_kmh": self.min_speed * 3.6,
                    "bridge_seconds": BRIDGE_SECONDS,
                },
                tuple(obs),
            ),
        )
