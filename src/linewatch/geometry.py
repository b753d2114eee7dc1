"""Plane geometry for linewatch: the camera homography, polylines and polygons.

Conventions:

- Points are ``(N, 2)`` float arrays; functions that take points also accept a single
  ``(x, y)`` pair and then return a scalar (or a ``(2,)`` array).
- The *raw side* of a point with respect to a directed segment ``a -> b`` is the sign of the
  cross product ``(b - a) x (p - a)``: ``+1`` is to the left **when Y points up** (the site
  map), which is to the *right* on an image as displayed (Y down). Naming sides is the job of
  :class:`linewatch.rules.lines.LineGeometry`; this module only deals in signs.
- A homography maps image pixels to site metres (``to_site``) and back (``to_image``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

_EPS = 1e-12


def as_points(pts: npt.ArrayLike, what: str = "points") -> F64:
    """``pts`` as a float64 ``(N, 2)`` array (a single ``(x, y)`` becomes ``(1, 2)``)."""
    a = np.asarray(pts, dtype=np.float64)
    if a.ndim == 1 and a.shape[0] == 2:
        a = a.reshape(1, 2)
    if a.ndim != 2 or a.shape[1] != 2:
        raise ValueError(f"{what} must be (N, 2) or a single (x, y); got shape {a.shape}")
    return a


def _is_single(pts: npt.ArrayLike) -> bool:
    return np.ndim(pts) == 1


# --------------------------------------------------------------------------- polylines
def as_polyline(polyline: npt.ArrayLike) -> F64:
    """``(M, 2)`` vertices of a polyline with at least one non-degenerate segment."""
    p = as_points(polyline, "polyline")
    if p.shape[0] < 2:
        raise ValueError("a polyline needs at least 2 points")
    d = np.diff(p, axis=0)
    # the same test as the distance code's (squared length > _EPS): segments shorter than
    # that are skipped there, and a polyline of only such segments has no distance at all
    if not np.any(np.einsum("ij,ij->i", d, d) > _EPS):
        raise ValueError("a polyline needs at least one segment of non-zero length")
    return p


def _cross(ax: F64, ay: F64, bx: F64, by: F64) -> F64:
    return np.asarray(ax * by - ay * bx)


def signed_distance(pts: npt.ArrayLike, polyline: npt.ArrayLike) -> F64 | float:
    """Distance of each point to the polyline's nearest segment, signed by raw side.

    Positive on the left of the walking direction with Y up (see the module docstring).
    At a vertex the side follows the polyline's turn, so the sign is consistent around
    corners; beyond the ends it is the side of the end segment's extension.
    """
    single = _is_single(pts)
    p = as_points(pts)
    poly = as_polyline(polyline)
    if single:
        return _signed_distance_one(float(p[0, 0]), float(p[0, 1]), _segments(poly.tolist()))
    a, b = poly[:-1], poly[1:]
    d = b - a  # (M, 2)
    len2 = np.einsum("ij,ij->i", d, d)
    valid = len2 > _EPS
    rel = p[:, None, :] - a[None, :, :]  # (N, M, 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(valid, np.einsum("nmk,mk->nm", rel, d) / len2, 0.0)
    u = np.clip(u, 0.0, 1.0)
    near = a[None] + u[..., None] * d[None]
    dist = np.linalg.norm(p[:, None, :] - near, axis=2)
    dist = np.where(valid[None, :], dist, np.inf)
    cross = _cross(d[None, :, 0], d[None, :, 1], rel[..., 0], rel[..., 1])  # (N, M)
    k = np.argmin(dist, axis=1)
    n = np.arange(p.shape[0])
    sign = np.sign(cross[n, k])
    m = d.shape[0]
    # at an interior vertex the sign depends on both adjacent segments and the turn
    for idx in range(p.shape[0]):
        kk, uu = int(k[idx]), float(u[idx, k[idx]])
        vert = kk if (uu <= 0.0 and kk > 0) else (kk + 1 if (uu >= 1.0 and kk < m - 1) else -1)
        if vert < 0:
            continue
        prev = _previous_valid(valid, vert - 1)
        nxt = _next_valid(valid, vert)
        if prev < 0 or nxt < 0:
            continue
        turn = float(_cross(d[prev, 0], d[prev, 1], d[nxt, 0], d[nxt, 1]))
        sign[idx] = _vertex_sign(
            float(cross[idx, prev]), float(cross[idx, nxt]), turn, float(dist[idx, kk])
        )
    out = sign * dist[n, k]
    return float(out[0]) if single else np.asarray(out)


def _vertex_sign(c1: float, c2: float, turn: float, dist: float) -> float:
    """Side of a point whose nearest polyline point is an interior vertex."""
    if c1 == 0 or c2 == 0:
        return 0.0 if dist <= _EPS else _sign(c1 + c2)
    if turn > 0:  # left turn: the left side is the inside of the corner
        return 1.0 if (c1 > 0 and c2 > 0) else -1.0
    return 1.0 if (c1 > 0 or c2 > 0) else -1.0


_Seg = tuple[int, float, float, float, float, float]  # index, ax, ay, dx, dy, len2


def _segments(poly: list[list[float]]) -> tuple[_Seg, ...]:
    """The non-degenerate segments of a polyline, as plain floats."""
    segs = []
    for i in range(len(poly) - 1):
        ax, ay = poly[i]
        dx, dy = poly[i + 1][0] - ax, poly[i + 1][1] - ay
        len2 = dx * dx + dy * dy
        if len2 > _EPS:
            segs.append((i, ax, ay, dx, dy, len2))
    return tuple(segs)


def _sign(v: float) -> float:
    return 1.0 if v > 0 else (-1.0 if v < 0 else 0.0)


def _signed_distance_one(x: float, y: float, segs: tuple[_Seg, ...]) -> float:
    """:func:`signed_distance` of one point, in plain floats (no array overhead).

    ``np.hypot`` (libm's, one call per segment) rather than ``math.hypot``, which differs
    from it in the last bit at times: the rules' results stay bit-identical to earlier runs.
    """
    if len(segs) == 1:  # a straight line: no vertex to look after
        _, ax, ay, dx, dy, len2 = segs[0]
        u = ((x - ax) * dx + (y - ay) * dy) / len2
        u = 0.0 if u < 0.0 else (1.0 if u > 1.0 else u)
        return _sign(dx * (y - ay) - dy * (x - ax)) * float(
            np.hypot(ax + u * dx - x, ay + u * dy - y)
        )
    best, bj, bu = math.inf, 0, 0.0
    for j, (_, ax, ay, dx, dy, len2) in enumerate(segs):
        u = min(max(((x - ax) * dx + (y - ay) * dy) / len2, 0.0), 1.0)
        dist = float(np.hypot(ax + u * dx - x, ay + u * dy - y))
        if dist < best:
            best, bj, bu = dist, j, u
    sign = _sign(_cross_at(segs[bj], x, y))
    if bu <= 0.0 and bj > 0:
        prev, nxt = bj - 1, bj
    elif bu >= 1.0 and bj < len(segs) - 1:
        prev, nxt = bj, bj + 1
    else:
        return sign * best
    turn = segs[prev][3] * segs[nxt][4] - segs[prev][4] * segs[nxt][3]
    c1, c2 = _cross_at(segs[prev], x, y), _cross_at(segs[nxt], x, y)
    return _vertex_sign(c1, c2, turn, best) * best


def _cross_at(seg: _Seg, x: float, y: float) -> float:
    _, ax, ay, dx, dy, _ = seg
    return dx * (y - ay) - dy * (x - ax)


def _previous_valid(valid: npt.NDArray[np.bool_], i: int) -> int:
    while i >= 0 and not valid[i]:
        i -= 1
    return i


def _next_valid(valid: npt.NDArray[np.bool_], i: int) -> int:
    while i < valid.shape[0] and not valid[i]:
        i += 1
    return i if i < valid.shape[0] else -1


def side_of(pts: npt.ArrayLike, polyline: npt.ArrayLike) -> npt.NDArray[np.int8] | int:
    """Raw side of each point: +1 left (Y up), -1 right, 0 on the polyline."""
    sd = signed_distance(pts, polyline)
    if isinstance(sd, float):
        return int(np.sign(sd))
    return np.sign(sd).astype(np.int8)


def segment_intersection(
    p0: npt.ArrayLike, p1: npt.ArrayLike, q0: npt.ArrayLike, q1: npt.ArrayLike
) -> tuple[float, float] | None:
    """Parameters ``(s, u)`` with ``p0 + s (p1 - p0) == q0 + u (q1 - q0)``, both in [0, 1].

    None when the segments do not meet or are parallel (collinear overlaps are not
    crossings). Endpoints count (closed intervals).
    """
    a0, a1 = np.asarray(p0, dtype=np.float64), np.asarray(p1, dtype=np.float64)
    b0, b1 = np.asarray(q0, dtype=np.float64), np.asarray(q1, dtype=np.float64)
    return _intersect(
        float(a0[0]), float(a0[1]), float(a1[0]), float(a1[1]),
        float(b0[0]), float(b0[1]), float(b1[0]), float(b1[1]),
    )  # fmt: skip


def _intersect(
    ax: float, ay: float, bx: float, by: float, cx: float, cy: float, dx: float, dy: float
) -> tuple[float, float] | None:
    """:func:`segment_intersection` of a -> b and c -> d, in plain floats."""
    rx, ry, sx, sy = bx - ax, by - ay, dx - cx, dy - cy
    denom = rx * sy - ry * sx
    scale = float(np.hypot(rx, ry) * np.hypot(sx, sy))
    if scale <= _EPS or abs(denom) <= 1e-12 * scale:
        return None
    wx, wy = cx - ax, cy - ay
    s = (wx * sy - wy * sx) / denom
    u = (wx * ry - wy * rx) / denom
    tol = 1e-12
    if -tol <= s <= 1 + tol and -tol <= u <= 1 + tol:
        return min(max(s, 0.0), 1.0), min(max(u, 0.0), 1.0)
    return None


class SegmentCrossing(NamedTuple):
    """Where a path segment ``p0 -> p1`` meets a polyline."""

    segment: int  # index of the polyline segment (vertex i -> i + 1)
    fraction: float  # along p0 -> p1, in [0, 1]
    point: tuple[float, float]
    direction: int  # raw side of p0 -> raw side of p1 w.r.t. that segment: +1 means - to +


def crossings_of_segment(
    p0: npt.ArrayLike, p1: npt.ArrayLike, polyline: npt.ArrayLike
) -> list[SegmentCrossing]:
    """Every intersection of ``p0 -> p1`` with the polyline's segments, by fraction."""
    poly = as_polyline(polyline).tolist()
    ax, ay = (float(v) for v in np.asarray(p0, dtype=np.float64))
    bx, by = (float(v) for v in np.asarray(p1, dtype=np.float64))
    return _crossings(ax, ay, bx, by, poly)


def _crossings(
    ax: float, ay: float, bx: float, by: float, poly: list[list[float]]
) -> list[SegmentCrossing]:
    """:func:`crossings_of_segment` in plain floats (``poly``: validated vertices)."""
    out: list[SegmentCrossing] = []
    for i in range(len(poly) - 1):
        (qx, qy), (rx, ry) = poly[i], poly[i + 1]
        hit = _intersect(ax, ay, bx, by, qx, qy, rx, ry)
        if hit is None:
            continue
        s = hit[0]
        dx, dy = rx - qx, ry - qy
        c0 = dx * (ay - qy) - dy * (ax - qx)
        c1 = dx * (by - qy) - dy * (bx - qx)
        direction = 1 if c1 > c0 else -1
        out.append(SegmentCrossing(i, s, (ax + s * (bx - ax), ay + s * (by - ay)), direction))
    if len(out) < 2:
        return out
    # a path through a shared vertex meets both segments: keep one
    out.sort(key=lambda c: (c.fraction, c.segment))
    dedup: list[SegmentCrossing] = []
    for c in out:
        if (
            dedup
            and abs(c.fraction - dedup[-1].fraction) < 1e-9
            and c.direction == dedup[-1].direction
        ):
            continue
        dedup.append(c)
    return dedup


class Polyline:
    """A validated polyline with its segments prepared once, for per-point queries.

    The rules ask the same line about every observation: validating and converting the
    vertices on every call cost more than the arithmetic. Results equal the module
    functions' (:func:`signed_distance`, :func:`crossings_of_segment`) exactly.

    >>> pl = Polyline([(0, 0), (10, 0)])
    >>> pl.signed_distance_xy(5.0, 2.0), pl.signed_distance_xy(5.0, -3.0)
    (2.0, -3.0)
    >>> [c.point for c in pl.crossings_xy(5.0, -1.0, 5.0, 1.0)]
    [(5.0, 0.0)]
    """

    __slots__ = ("_segs", "_vertices", "points")

    def __init__(self, polyline: npt.ArrayLike) -> None:
        self.points: F64 = as_polyline(polyline)
        self._vertices: list[list[float]] = self.points.tolist()
        self._segs = _segments(self._vertices)

    def signed_distance_xy(self, x: float, y: float) -> float:
        """Signed distance of one point (see :func:`signed_distance`)."""
        return _signed_distance_one(x, y, self._segs)

    def crossings_xy(self, ax: float, ay: float, bx: float, by: float) -> list[SegmentCrossing]:
        """Intersections of the path ``(ax, ay) -> (bx, by)`` (see :func:`crossings_of_segment`)."""
        return _crossings(ax, ay, bx, by, self._vertices)


def crossing_of_segment(
    p0: npt.ArrayLike, p1: npt.ArrayLike, polyline: npt.ArrayLike
) -> SegmentCrossing | None:
    """The first intersection of ``p0 -> p1`` with the polyline (segment index, fraction
    along ``p0 -> p1``, point), or None."""
    hits = crossings_of_segment(p0, p1, polyline)
    return hits[0] if hits else None


# re-exported here: every caller imports the homography and polygons from linewatch.geometry
from linewatch.homography import Homography  # noqa: E402
from linewatch.polygon import (  # noqa: E402
    Polygon,
    as_polygon,
    points_in_polygon,
    polygon_area,
    signed_polygon_area,
)

__all__ = [
    "F64",
    "Homography",
    "Polygon",
    "Polyline",
    "SegmentCrossing",
    "as_points",
    "as_polygon",
    "as_polyline",
    "crossing_of_segment",
    "crossings_of_segment",
    "points_in_polygon",
    "polygon_area",
    "segment_intersection",
    "side_of",
    "signed_distance",
    "signed_polygon_area",
]
