"""Drawing primitives in perspective: shaded 3D boxes and ground polygons.

Images may be drawn at a supersampling ``scale`` (pixel coordinates are multiplied by it);
polygons are filled with 4 bits of sub-pixel precision.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt

from linewatch.synth.camera import PinholeCamera

F64 = npt.NDArray[np.float64]
Image = npt.NDArray[np.uint8]
BGR = tuple[int, int, int]

SHIFT = 4  # sub-pixel bits for cv2.fillPoly
ONE = 1 << SHIFT

#: unit vector towards the sun: south-west, 30 degrees up (an autumn afternoon in Korea)
SUN: F64 = np.array(
    [
        math.sin(math.radians(225)) * math.cos(math.radians(30)),
        math.cos(math.radians(225)) * math.cos(math.radians(30)),
        math.sin(math.radians(30)),
    ]
)

# corner order: bottom ring (l, w) = (-,-), (+,-), (+,+), (-,+), then the top ring
_SIGNS = np.array([(-1, -1), (1, -1), (1, 1), (-1, 1)], dtype=np.float64)
#: faces as corner indices, each with the local normal: (forward, right, up) components
FACES: tuple[tuple[tuple[int, int, int, int], tuple[int, int, int]], ...] = (
    ((0, 1, 2, 3), (0, 0, -1)),  # bottom
    ((4, 5, 6, 7), (0, 0, 1)),  # top
    ((1, 2, 6, 5), (1, 0, 0)),  # front
    ((3, 0, 4, 7), (-1, 0, 0)),  # back
    ((2, 3, 7, 6), (0, 1, 0)),  # right
    ((0, 1, 5, 4), (0, -1, 0)),  # left
)


def axes(heading: float) -> tuple[F64, F64]:
    """Unit vectors (forward, right) on the ground for a compass heading in degrees."""
    h = math.radians(heading)
    return np.array([math.sin(h), math.cos(h), 0.0]), np.array([math.cos(h), -math.sin(h), 0.0])


def box_corners(
    x: float,
    y: float,
    heading: float,
    length: float,
    width: float,
    z0: float,
    z1: float,
    along: tuple[float, float] | None = None,
) -> F64:
    """The 8 corners (bottom ring, then top ring) of a box standing on ``(x, y)``.

    ``length`` runs along the heading and ``width`` across it; ``along`` optionally gives
    the box's extent along the heading as ``(from, to)`` offsets instead of +-length/2.
    """
    fwd, right = axes(heading)
    lo, hi = along if along is not None else (-length / 2, length / 2)
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    c = np.array([x, y, 0.0]) + mid * fwd
    ring = c + half * _SIGNS[:, :1] * fwd + (width / 2) * _SIGNS[:, 1:] * right
    bottom = ring + np.array([0.0, 0.0, z0])
    top = ring + np.array([0.0, 0.0, z1])
    return np.vstack([bottom, top])


def shade(color: BGR, normal: F64, ambient: float = 0.55) -> BGR:
    """Lambert shading of a face with the given world normal under the sun."""
    k = ambient + (1.0 - ambient) * max(0.0, float(normal @ SUN))
    if normal[2] > 0.5:  # tops also catch the sky light
        k = min(1.15, k + 0.12)
    return (
        min(255, round(color[0] * k)),
        min(255, round(color[1] * k)),
        min(255, round(color[2] * k)),
    )


def to_fixed(uv: F64, scale: float = 1.0) -> npt.NDArray[np.int32]:
    """Pixel coordinates -> cv2 fixed-point polygon points (``shift = SHIFT``)."""
    return np.round(uv * (scale * ONE)).astype(np.int32)


def visible_faces(cam: PinholeCamera, corners: F64) -> list[tuple[int, F64]]:
    """Indices and world normals of the faces of a box that face the camera."""
    centre = corners.mean(axis=0)
    bottom, top = corners[:4], corners[4:]
    fwd = (bottom[1] + bottom[2]) / 2 - (bottom[0] + bottom[3]) / 2
    right = (bottom[2] + bottom[3]) / 2 - (bottom[0] + bottom[1]) / 2
    up = top[0] - bottom[0]
    axes3 = [_unit(fwd), _unit(right), _unit(up)]
    out = []
    for i, (idx, local) in enumerate(FACES):
        n = local[0] * axes3[0] + local[1] * axes3[1] + local[2] * axes3[2]
        face_centre = corners[list(idx)].mean(axis=0)
        if float(n @ (cam.center - face_centre)) > 1e-9 and float(n @ (face_centre - centre)) > 0:
            out.append((i, n))
    return out


def _unit(v: F64) -> F64:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def fill_box(
    img: Image,
    cam: PinholeCamera,
    corners: F64,
    color: BGR,
    *,
    top: BGR | None = None,
    scale: float = 1.0,
    aa: bool = True,
) -> None:
    """Draw a box's camera-facing faces, shaded by the sun (``top``: colour of its top)."""
    line_type = cv2.LINE_AA if aa else cv2.LINE_8
    for i, normal in visible_faces(cam, corners):
        idx = list(FACES[i][0])
        uv = cam.clip_polygon(corners[idx])
        if uv is None:
            continue
        base = top if (i == 1 and top is not None) else color
        cv2.fillPoly(img, [to_fixed(uv, scale)], shade(base, normal), line_type, SHIFT)


def fill_ground(
    img: Image,
    cam: PinholeCamera,
    xy: npt.ArrayLike,
    color: BGR | float,
    *,
    z: float = 0.0,
    scale: float = 1.0,
    near: float = 1.0,
) -> None:
    """Fill a horizontal polygon (site metres, at height ``z``) in perspective."""
    p = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    pts3 = np.column_stack([p, np.full(len(p), z)])
    uv = cam.clip_polygon(pts3, near=near)
    if uv is None:
        return
    value = color if isinstance(color, tuple) else (float(color),) * 3
    cv2.fillPoly(img, [to_fixed(uv, scale)], value, cv2.LINE_AA, SHIFT)


def fill_face(
    img: Image, cam: PinholeCamera, pts3: npt.ArrayLike, color: BGR, *, scale: float = 1.0
) -> None:
    """Fill any planar 3D polygon (no shading, no back-face test)."""
    uv = cam.clip_polygon(np.asarray(pts3, dtype=np.float64), near=1.0)
    if uv is not None:
        cv2.fillPoly(img, [to_fixed(uv, scale)], color, cv2.LINE_AA, SHIFT)
