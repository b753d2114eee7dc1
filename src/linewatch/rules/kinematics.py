"""Recent motion of one track on the site map: a time-bounded path and a robust velocity.

The velocity over a window is a Theil-Sen fit of x(t) and y(t) (the median of the pairwise
slopes), so a single wrong position in the window (a box that jumped for one frame) barely
moves it, unlike a least-squares fit or the last displacement.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

MAX_PAIRS_POINTS = 20  # Theil-Sen on at most this many points (evenly subsampled)
#: upper-triangle index pairs for each point count (constants, built once)
_PAIRS = tuple(np.triu_indices(n, k=1) for n in range(MAX_PAIRS_POINTS + 1))


def theil_sen_velocity(t: F64, xy: F64) -> tuple[float, float] | None:
    """Median pairwise slope of x(t) and y(t): (vx, vy) in units per second, or None."""
    n = t.shape[0]
    if n < 2:
        return None
    if n > MAX_PAIRS_POINTS:
        idx = np.linspace(0, n - 1, MAX_PAIRS_POINTS).round().astype(int)
        t, xy = t[idx], xy[idx]
        n = MAX_PAIRS_POINTS
    i, j = _PAIRS[n]
    dt = t[j] - t[i]
    ok = dt > 1e-6
    if not np.any(ok):
        return None
    slopes = (xy[j][ok] - xy[i][ok]) / dt[ok, None]
    v = np.median(slopes, axis=0)
    return float(v[0]), float(v[1])


class RecentPath:
    """The last ``span`` seconds of a track's positions (bounded, time-ordered)."""

    __slots__ = ("_pts", "span")

    def __init__(self, span: float) -> None:
        self.span = float(span)
        self._pts: deque[tuple[float, float, float]] = deque()

    def __len__(self) -> int:
        return len(self._pts)

    def add(self, t: float, x: float, y: float) -> None:
        if self._pts and t <= self._pts[-1][0]:
            return
        self._pts.append((t, x, y))
        while self._pts and self._pts[0][0] < t - self.span:
            self._pts.popleft()

    @property
    def last(self) -> tuple[float, float, float] | None:
        return self._pts[-1] if self._pts else None

    def arrays(self, since: float = -np.inf) -> tuple[F64, F64]:
        """(t, xy) of the points at or after ``since``."""
        rows = [p for p in self._pts if p[0] >= since]
        if not rows:
            return np.zeros(0), np.zeros((0, 2))
        a = np.asarray(rows, dtype=np.float64)
        return a[:, 0], a[:, 1:]

    def velocity(self, window: float, min_points: int = 3) -> tuple[float, float] | None:
        """Robust velocity over the last ``window`` seconds (None with too little data:
        fewer than ``min_points`` points or a time span under half the window)."""
        if not self._pts:
            return None
        t_end = self._pts[-1][0]
        t, xy = self.arrays(t_end - window)
        if t.shape[0] < min_points or t[-1] - t[0] < 0.5 * window:
            return None
        return theil_sen_velocity(t, xy)

    def speed(self, window: float, min_points: int = 3) -> float | None:
        """Robust speed (units per second) over the last ``window`` seconds, or None."""
        v = self.velocity(window, min_points)
        return None if v is None else float(np.hypot(*v))

    def speed_at(self, t: float, window: float, min_points: int = 3) -> float | None:
        """Robust speed over the ``window`` seconds centred on ``t`` (None if too little)."""
        ts, xy = self.arrays(t - window / 2)
        keep = ts <= t + window / 2
        ts, xy = ts[keep], xy[keep]
        if ts.shape[0] < min_points or ts[-1] - ts[0] < 0.5 * window:
            return None
        v = theil_sen_velocity(ts, xy)
        return None if v is None else float(np.hypot(*v))
