"""A pinhole camera above the site ground plane (numpy only).

Site frame: metres, X east, Y north, Z up; the ground is Z = 0. The camera has no roll:
``yaw`` is its compass viewing direction in degrees (0 north, 90 east, 180 south) and
``pitch`` its downward tilt in degrees. Pixel coordinates follow OpenCV's drawing
convention: x to the right, y down, pixel ``(i, j)`` centred at ``(i, j)``; the principal
point is the image centre ``(W / 2, H / 2)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

#: points closer than this in front of the camera (metres along the optical axis) are clipped
NEAR = 0.1


@dataclass(frozen=True)
class PinholeCamera:
    """Position ``(x, y, height)`` in site metres, yaw/pitch in degrees, focal in pixels."""

    x: float
    y: float
    height: float
    yaw: float  # compass degrees: 0 north, 90 east, 180 south
    pitch: float  # degrees of downward tilt (positive looks down)
    focal: float  # focal length in pixels
    width: int = 640
    height_px: int = 360

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the image in pixels."""
        return self.width, self.height_px

    @cached_property
    def center(self) -> F64:
        return np.array([self.x, self.y, self.height], dtype=np.float64)

    @cached_property
    def rotation(self) -> F64:
        """World -> camera rotation; rows are the camera's right, down and forward axes."""
        yaw, pitch = math.radians(self.yaw), math.radians(self.pitch)
        fwd = np.array(
            [math.sin(yaw) * math.cos(pitch), math.cos(yaw) * math.cos(pitch), -math.sin(pitch)]
        )
        right = np.array([math.cos(yaw), -math.sin(yaw), 0.0])
        down = np.cross(fwd, right)
        return np.stack([right, down, fwd])

    @cached_property
    def intrinsics(self) -> F64:
        return np.array(
            [
                [self.focal, 0.0, self.width / 2.0],
                [0.0, self.focal, self.height_px / 2.0],
                [0.0, 0.0, 1.0],
            ]
        )

    def to_camera(self, points3d: npt.ArrayLike) -> F64:
        """Site points (N, 3) -> camera coordinates (N, 3): x right, y down, z forward."""
        p = np.asarray(points3d, dtype=np.float64).reshape(-1, 3)
        return (p - self.center) @ self.rotation.T

    def to_image(self, points3d: npt.ArrayLike) -> F64:
        """Site points (N, 3) -> pixels (N, 2); points behind the camera give NaN."""
        c = self.to_camera(points3d)
        return self._project_camera(c)

    def _project_camera(self, c: F64) -> F64:
        z = c[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            u = self.focal * c[:, 0] / z + self.width / 2.0
            v = self.focal * c[:, 1] / z + self.height_px / 2.0
        out = np.stack([u, v], axis=1)
        out[z <= 1e-6] = np.nan
        return out

    def depth(self, points3d: npt.ArrayLike) -> F64:
        """Distance along the optical axis (metres) of site points (N, 3)."""
        return self.to_camera(points3d)[:, 2]

    @cached_property
    def ground_homography(self) -> F64:
        """3x3 homography: site ground (X, Y, 1) -> image (u, v, 1), normalised H[2, 2] = 1."""
        r = self.rotation
        t = -r @ self.center
        h = self.intrinsics @ np.column_stack([r[:, 0], r[:, 1], t])
        return h / h[2, 2]

    def ground_to_image(self, xy: npt.ArrayLike) -> F64:
        """Ground points (N, 2) in site metres -> pixels (N, 2) (via the homography)."""
        p = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        return _apply(self.ground_homography, p)

    def image_to_ground(self, uv: npt.ArrayLike) -> F64:
        """Pixels (N, 2) -> ground points (N, 2); pixels at or above the horizon give NaN."""
        p = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
        out = _apply(np.asarray(np.linalg.inv(self.ground_homography), dtype=np.float64), p)
        # without roll the horizon is a row: a pixel's ray reaches the ground iff it is below
        out[p[:, 1] <= self.horizon_v + 1e-9] = np.nan
        return out

    @property
    def horizon_v(self) -> float:
        """Image row of the horizon (no roll, so it is horizontal); may be outside the image."""
        return self.height_px / 2.0 - self.focal * math.tan(math.radians(self.pitch))

    def clip_polygon(self, points3d: npt.ArrayLike, near: float = NEAR) -> F64 | None:
        """Project a planar 3D polygon, clipped to the plane ``depth = near``; None when
        it lies wholly behind that plane."""
        c = self.to_camera(points3d)
        clipped = _clip_near(c, near)
        if clipped is None:
            return None
        return self._project_camera(clipped)

    def calibration_pairs(
        self, margin: float = 0.08, rows: tuple[float, float] = (0.35, 0.93)
    ) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        """Six visible ground points as (image px, site m) pairs, what a surveyor would give.

        The points are picked in the lower part of the image (``rows`` as fractions of the
        height, kept below the horizon), their site positions rounded to the centimetre as
        a tape measure would, and their pixels recomputed from the rounded positions so
        each pair is exact.
        """
        w, h = self.width, self.height_px
        top = max(rows[0] * h, self.horizon_v + 0.12 * h)
        bottom = rows[1] * h
        if top >= bottom:
            raise ValueError("calibration_pairs: too little ground visible in the image")
        xs = (margin * w, 0.5 * w, (1 - margin) * w)
        uv = np.array([(x, y) for y in (top, bottom) for x in xs])
        site = np.round(self.image_to_ground(uv), 2)
        if not np.all(np.isfinite(site)):
            raise ValueError("calibration_pairs: a calibration point is not on the ground")
        px = np.round(self.ground_to_image(site), 3)
        return (
            [(float(a), float(b)) for a, b in px],
            [(float(a), float(b)) for a, b in site],
        )


def _apply(h: F64, p: F64) -> F64:
    """Apply a homography to points (N, 2), elementwise (fast for many points)."""
    x, y = p[:, 0], p[:, 1]
    w = h[2, 0] * x + h[2, 1] * y + h[2, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = (h[0, 0] * x + h[0, 1] * y + h[0, 2]) / w
        v = (h[1, 0] * x + h[1, 1] * y + h[1, 2]) / w
    return np.stack([u, v], axis=1)


def _clip_near(poly: F64, near: float) -> F64 | None:
    """Sutherland-Hodgman clip of a camera-space polygon against z >= near."""
    inside = poly[:, 2] >= near
    if inside.all():
        return poly
    if not inside.any():
        return None
    out: list[F64] = []
    n = len(poly)
    for i in range(n):
        a, b = poly[i], poly[(i + 1) % n]
        ina, inb = a[2] >= near, b[2] >= near
        if ina:
            out.append(a)
        if ina != inb:
            s = (near - a[2]) / (b[2] - a[2])
            out.append(a + s * (b - a))
    return np.array(out) if len(out) >= 3 else None
