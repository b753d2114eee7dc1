"""Polygons (zones): area, point-in-polygon (vectorised, and plain-float for one point), and
``Polygon`` prepared once for fast queries. Re-exported by :mod:`linewatch.geometry`."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from linewatch.geometry import F64, SegmentCrossing, _crossings, _is_single, as_points


def as_polygon(polygon: npt.ArrayLike) -> F64:
    p = as_points(polygon, "polygon")
    if p.shape[0] < 3:
        raise ValueError("a polygon needs at least 3 vertices")
    return p


def signed_polygon_area(polygon: npt.ArrayLike) -> float:
    """Shoelace area: positive when the vertices run counter-clockwise with Y up."""
    p = as_polygon(polygon)
    x, y = p[:, 0], p[:, 1]
    return float(0.5 * (np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def polygon_area(polygon: npt.ArrayLike) -> float:
    """Area of a simple polygon (units squared)."""
    return abs(signed_polygon_area(polygon))


def points_in_polygon(pts: npt.ArrayLike, polygon: npt.ArrayLike) -> npt.NDArray[np.bool_] | bool:
    """Even-odd point-in-polygon test, vectorised over points (boundary: unspecified)."""
    single = _is_single(pts)
    p = as_points(pts)
    poly = as_polygon(polygon)
    if single:
        return _point_in_polygon_one(float(p[0, 0]), float(p[0, 1]), poly.tolist())
    x, y = p[:, 0:1], p[:, 1:2]  # (N, 1)
    x0, y0 = poly[:, 0][None, :], poly[:, 1][None, :]
    x1, y1 = np.roll(poly[:, 0], -1)[None, :], np.roll(poly[:, 1], -1)[None, :]
    straddle = (y0 > y) != (y1 > y)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        xi = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
    hits = straddle & (x < xi)
    inside = (np.count_nonzero(hits, axis=1) % 2) == 1
    return bool(inside[0]) if single else np.asarray(inside)


def _point_in_polygon_one(x: float, y: float, poly: list[list[float]]) -> bool:
    """:func:`points_in_polygon` of one point, in plain floats (same crossing test)."""
    inside = False
    n = len(poly)
    for i in range(n):
        (x0, y0), (x1, y1) = poly[i], poly[(i + 1) % n]
        if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
            inside = not inside
    return inside


class Polygon:
    """A validated polygon prepared once for per-point queries (see :class:`Polyline`).

    >>> sq = Polygon([(0, 0), (4, 0), (4, 4), (0, 4)])
    >>> sq.contains_xy(1.0, 1.0), sq.contains_xy(5.0, 1.0)
    (True, False)
    >>> [c.fraction for c in sq.boundary_crossings_xy(2.0, 2.0, 6.0, 2.0)]
    [0.5]
    """

    __slots__ = ("_ring", "_vertices", "points")

    def __init__(self, polygon: npt.ArrayLike) -> None:
        self.points: F64 = as_polygon(polygon)
        self._vertices: list[list[float]] = self.points.tolist()
        self._ring = [*self._vertices, self._vertices[0]]  # closed boundary

    def contains_xy(self, x: float, y: float) -> bool:
        """Even-odd test of one point (as :func:`points_in_polygon`)."""
        return _point_in_polygon_one(x, y, self._vertices)

    def boundary_crossings_xy(
        self, ax: float, ay: float, bx: float, by: float
    ) -> list[SegmentCrossing]:
        """Where the path ``(ax, ay) -> (bx, by)`` meets the boundary, in path order."""
        return _crossings(ax, ay, bx, by, self._ring)
