"""Recent motion of one track on the site map: a time-bounded path and a robust velocity.

The velocity over a window is a Theil-Sen fit of x(t) and y(t) (the median of the pairwise
slopes), so a single wrong position in the window (a box that jumped for one frame) barely
moves it, unlike a least-squares fit or the last displacement.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

MAX_PAIRS_POINTS = 20  # Theil-Sen on at most this many points (evenly subsampled)
SMALL = 14  # up to this many points plain floats beat numpy's per-call overhead
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
    # the median of each column (np.median's result, without its overhead)
    k = slopes.shape[0]
    h = k // 2
    if k % 2:
        s = np.partition(slopes, h, axis=0)
        return float(s[h, 0]), float(s[h, 1])
    s = np.partition(slopes, (h - 1, h), axis=0)
    return float((s[h - 1, 0] + s[h, 0]) / 2), float((s[h - 1, 1] + s[h, 1]) / 2)


def theil_sen_xy(t: list[float], x: list[float], y: list[float]) -> tuple[float, float] | None:
    """:func:`theil_sen_velocity` of points given as plain lists (same result, exactly).

    A short window (the usual second of a 5-15 fps stream) is fitted in plain floats,
    a long one with numpy.
    """
    n = len(t)
    if n < 2:
        return None
    if n > SMALL:
        return theil_sen_velocity(np.asarray(t, dtype=np.float64), np.column_stack([x, y]))
    sx: list[float] = []
    sy: list[float] = []
    for j in range(1, n):
        tj, xj, yj = t[j], x[j], y[j]
        for i in range(j):
            dt = tj - t[i]
            if dt > 1e-6:
                sx.append((xj - x[i]) / dt)
                sy.append((yj - y[i]) / dt)
    k = len(sx)
    if k == 0:
        return None
    sx.sort()
    sy.sort()
    h = k // 2
    if k % 2:
        return sx[h], sy[h]
    return (sx[h - 1] + sx[h]) / 2, (sy[h - 1] + sy[h]) / 2


class FitMemo:
    """The last Theil-Sen fit and the points it was made of: asking again for the same
    points (the speed and pursuit rules both want a track's velocity over its last second,
    one after the other, for the same observation) returns it without refitting.

    One entry, compared by value, so it is exact and holds no per-track state; rules that
    share one (the engine gives them the same) may ask about any points in any order.
    """

    __slots__ = ("_fit", "_points")

    def __init__(self) -> None:
        self._points: tuple[list[float], list[float], list[float]] | None = None
        self._fit: tuple[float, float] | None = None

    def fit(self, t: list[float], x: list[float], y: list[float]) -> tuple[float, float] | None:
        """:func:`theil_sen_xy` of the points (the lists must not be changed afterwards)."""
        key = (t, x, y)
        if self._points != key:
            self._points, self._fit = key, theil_sen_xy(t, x, y)
        return self._fit


class RecentPath:
    """The last ``span`` seconds of a track's positions (bounded, time-ordered).

    Held as three columns (times strictly increasing) past a start index, so a time
    window is two bisections and three slices.
    """

    __slots__ = ("_bounds", "_expired", "_lo", "_t", "_x", "_y", "span")

    def __init__(self, span: float) -> None:
        self.span = float(span)
        self._t: list[float] = []
        self._x: list[float] = []
        self._y: list[float] = []
        self._lo = 0  # the points before this index have expired
        self._bounds: tuple[float, float, float, float] | None = None
        self._expired = 0  # points expired since the box was computed

    def __len__(self) -> int:
        return len(self._t) - self._lo

    def add(self, t: float, x: float, y: float) -> None:
        ts = self._t
        if len(ts) > self._lo and t <= ts[-1]:
            return
        x, y = float(x), float(y)
        ts.append(float(t))
        self._x.append(x)
        self._y.append(y)
        b = self._bounds
        if b is not None:  # grow the box (points expiring below leave it a little loose)
            self._bounds = (min(b[0], x), min(b[1], y), max(b[2], x), max(b[3], y))
        lo = bisect_left(ts, t - self.span, self._lo)
        if lo != self._lo:
            self._expired += lo - self._lo
            self._lo = lo
            if 2 * self._expired > len(ts) - lo:  # loose by many points: recompute it
                self._bounds, self._expired = None, 0
        if lo > 64 and 2 * lo > len(ts):  # drop the expired points now and then
            del ts[:lo], self._x[:lo], self._y[:lo]
            self._lo = 0

    def bounds(self) -> tuple[float, float, float, float] | None:
        """(min x, min y, max x, max y) of a box around every point held (None when empty).

        Kept up to date as points come, so it may still cover a few points that expired
        since it was last computed exactly: a cheap, safe test of what is *not* near.
        """
        if self._bounds is None and len(self._t) > self._lo:
            xs, ys = self._x[self._lo :], self._y[self._lo :]
            self._bounds, self._expired = (min(xs), min(ys), max(xs), max(ys)), 0
        return self._bounds

    @property
    def last(self) -> tuple[float, float, float] | None:
        if len(self._t) == self._lo:
            return None
        return self._t[-1], self._x[-1], self._y[-1]

    def arrays(self, since: float = -np.inf) -> tuple[F64, F64]:
        """(t, xy) of the points at or after ``since``."""
        t, x, y = self.window(since)
        if not t:
            return np.zeros(0), np.zeros((0, 2))
        return np.asarray(t, dtype=np.float64), np.column_stack([x, y])

    def window(
        self, since: float, until: float = math.inf
    ) -> tuple[list[float], list[float], list[float]]:
        """(t, x, y) lists of the points with ``since <= t <= until``, oldest first."""
        i = bisect_left(self._t, since, self._lo)
        j = bisect_right(self._t, until, i)
        return self._t[i:j], self._x[i:j], self._y[i:j]

    def velocity(
        self, window: float, min_points: int = 3, memo: FitMemo | None = None
    ) -> tuple[float, float] | None:
        """Robust velocity over the last ``window`` seconds (None with too little data:
        fewer than ``min_points`` points or a time span under half the window)."""
        if len(self._t) == self._lo:
            return None
        t_end = self._t[-1]
        return _fit(*self.window(t_end - window), window, min_points, memo)

    def speed(
        self, window: float, min_points: int = 3, memo: FitMemo | None = None
    ) -> float | None:
        """Robust speed (units per second) over the last ``window`` seconds, or None."""
        v = self.velocity(window, min_points, memo)
        return None if v is None else float(np.hypot(*v))

    def speed_at(self, t: float, window: float, min_points: int = 3) -> float | None:
        """Robust speed over the ``window`` seconds centred on ``t`` (None if too little)."""
        v = _fit(*self.window(t - window / 2, t + window / 2), window, min_points)
        return None if v is None else float(np.hypot(*v))


def _fit(
    t: list[float],
    x: list[float],
    y: list[float],
    window: float,
    min_points: int,
    memo: FitMemo | None = None,
) -> tuple[float, float] | None:
    if len(t) < min_points or t[-1] - t[0] < 0.5 * window:
        return None
    return theil_sen_xy(t, x, y) if memo is None else memo.fit(t, x, y)
