"""Per-track state of the tracker: observations, Kalman filter, class votes, recent path.

Every structure here is bounded (``_MAX_PENDING`` tentative observations, ``_HISTORY``
recent positions) and dropped by the tracker when the track ends.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from linewatch.records import Detections, ObjectClass
from linewatch.track.kalman import BoxKalman

#: most tentative observations kept for back-fill (bounded state)
_MAX_PENDING = 128
#: observations kept per track for the speed estimate (bounded state)
_HISTORY = 24


@dataclass(slots=True)
class Obs:
    t: float
    frame: int
    box: tuple[float, float, float, float]
    score: float
    keypoints: tuple[tuple[float, float, float], ...] | None = None


def observe(dets: Detections, di: int, t: float, frame: int) -> Obs:
    kps = None
    if dets.keypoints is not None:
        kps = tuple((float(x), float(y), float(c)) for x, y, c in dets.keypoints[di])
    return Obs(t, frame, box_tuple(dets.xyxy[di]), float(dets.score[di]), kps)


@dataclass(slots=True)
class TrackState:
    kf: BoxKalman
    last: Obs
    hits: int = 1
    track_id: int | None = None  # given at confirmation
    votes: dict[int, int] = field(default_factory=dict)
    best_score: float = 0.0
    still: bool = False  # stationary, from the recent observations (updated with them)
    pending: deque[Obs] = field(
        default_factory=lambda: deque(maxlen=_MAX_PENDING)
    )  # tentative points, for back-fill
    history: deque[tuple[float, float, float, float]] = field(
        default_factory=lambda: deque(maxlen=_HISTORY)
    )  # (t, cx, cy, h) of recent observations

    @property
    def confirmed(self) -> bool:
        return self.track_id is not None

    def cls(self) -> ObjectClass:
        # OBJECT means "unknown" (e.g. the motion detector on a shape it cannot size): it
        # never outvotes a real class, so a person lying still stays a person
        known = {k: v for k, v in self.votes.items() if k != int(ObjectClass.OBJECT)}
        best = max((known or self.votes).items(), key=lambda kv: (kv[1], -kv[0]))[0]
        try:
            return ObjectClass(best)
        except ValueError:
            return ObjectClass.OBJECT

    def speed(self, window: float) -> float | None:
        """Recent speed of the box centre in box heights per second (None: too short).

        The mean position of the older half of the last ``window`` seconds against that
        of the newer half: one bad box (a partial detection) barely moves it.
        """
        if len(self.history) < 3:
            return None
        obs = np.asarray(self.history)
        obs = obs[obs[:, 0] >= obs[-1, 0] - window]
        span = obs[-1, 0] - obs[0, 0]
        if len(obs) < 3 or span < window / 2:
            return None
        mid = obs[0, 0] + span / 2
        old, new = obs[obs[:, 0] <= mid], obs[obs[:, 0] > mid]
        t0, x0, y0, h0 = old.mean(axis=0)
        t1, x1, y1, h1 = new.mean(axis=0)
        h = max((h0 + h1) / 2, 1.0)
        return float(np.hypot(x1 - x0, y1 - y0) / h / max(t1 - t0, 1e-6))


def box_tuple(b: npt.NDArray[np.float32]) -> tuple[float, float, float, float]:
    return (float(b[0]), float(b[1]), float(b[2]), float(b[3]))
