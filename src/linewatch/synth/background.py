"""The static background of a scene, rendered once per scenario.

Painted in perspective at twice the output size and reduced with area averaging (cheap
anti-aliasing): sky, textured grass, the river with its banks, the road with its lane
markings, the bridge deck with railings, the painted demarcation line with marker posts and
shaded box buildings with their shadows. Far things are drawn first. A per-pixel texture
(noise sampled in site coordinates, so it shrinks with distance) and distance haze finish it.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from linewatch.synth.camera import PinholeCamera
from linewatch.synth.draw import (
    SUN,
    Image,
    box_corners,
    fill_box,
    fill_face,
    fill_ground,
    shade,
)
from linewatch.synth.scene import BGR, Building, Layout

SS = 2  # supersampling factor
FAR = 400.0  # metres: how far the painted ground reaches
WATER_Z = -1.6
HAZE_LENGTH = 260.0  # metres: haze fraction is 1 - exp(-distance / HAZE_LENGTH)
SKY_TOP: BGR = (196, 160, 128)
SKY_HORIZON: BGR = (222, 214, 204)
HAZE: BGR = (200, 198, 192)
WATER: BGR = (92, 86, 58)
STONE: BGR = (128, 134, 136)
CONCRETE: BGR = (150, 154, 152)
WHITE: BGR = (222, 226, 226)
YELLOW: BGR = (40, 176, 214)
LINE_PAINT: BGR = (210, 222, 226)


def render_background(cam: PinholeCamera, layout: Layout, seed: int = 0) -> Image:
    """The static scene as seen by ``cam`` (H x W x 3, BGR uint8)."""
    w, h = cam.size
    big = PinholeCamera(
        cam.x, cam.y, cam.height, cam.yaw, cam.pitch, cam.focal * SS, w * SS, cam.height_px * SS
    )
    rng = np.random.default_rng([seed, 7])
    img = np.zeros((h * SS, w * SS, 3), np.uint8)
    amp = np.zeros((h * SS, w * SS), np.uint8)  # texture amplitude per pixel (x 1/255)
    shadow = np.full((h * SS, w * SS), 255, np.uint8)  # 255 = lit
    _sky(img, big)
    _ground(img, amp, big, layout)
    _shadows(shadow, big, layout)
    ground_xy = _ground_coords(big)
    tex = _texture(rng, ground_xy)
    out = img.astype(np.float32)
    out *= (1.0 + tex * (amp.astype(np.float32) / 255.0))[..., None]
    out *= (0.55 + 0.45 * shadow.astype(np.float32) / 255.0)[..., None]
    _haze(out, big, ground_xy)
    img = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    _objects(img, big, layout)
    small = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(small)


def _sky(img: Image, cam: PinholeCamera) -> None:
    hv = cam.horizon_v
    rows = np.arange(img.shape[0], dtype=np.float64)
    s = np.clip((hv - rows) / max(1.0, 0.6 * img.shape[0]), 0.0, 1.0)[:, None]
    grad = (1 - s) * np.array(SKY_HORIZON) + s * np.array(SKY_TOP)
    img[:] = grad[:, None, :].astype(np.uint8)


def _ground(img: Image, amp: npt.NDArray[np.uint8], cam: PinholeCamera, lay: Layout) -> None:
    def ground(xy: list[tuple[float, float]], color: BGR, a: float, z: float = 0.0) -> None:
        fill_ground(img, cam, xy, color, z=z)
        fill_ground(amp, cam, xy, a * 255, z=z)

    big = FAR
    # far to near is not needed for ground layers at one height: later layers paint on top
    ground([(-big, -big), (big, -big), (big, big), (-big, big)], lay.grass, 0.16)
    # river channel below the ground, then the far (south) bank wall, then the near ground
    ground(
        [(-big, lay.river_y1), (big, lay.river_y1), (big, lay.river_y0), (-big, lay.river_y0)],
        WATER,
        0.05,
        z=WATER_Z,
    )
    wall = [
        (-big, lay.river_y1, WATER_Z),
        (big, lay.river_y1, WATER_Z),
        (big, lay.river_y1, 0.0),
        (-big, lay.river_y1, 0.0),
    ]
    fill_face(img, cam, wall, shade(STONE, np.array([0.0, 1.0, 0.0])))
    fill_face(amp, cam, wall, (30, 30, 30))
    ground([(-big, lay.river_y0), (big, lay.river_y0), (big, big), (-big, big)], lay.grass, 0.16)
    _bridge_sides(img, cam, lay)
    ground(
        _rect(
            lay.road_x - lay.bridge_half_width,
            lay.bridge_y1,
            lay.road_x + lay.bridge_half_width,
            lay.bridge_y0,
        ),
        CONCRETE,
        0.05,
    )
    rw = lay.road_half_width
    ground(_rect(lay.road_x - rw, -big, lay.road_x + rw, big), lay.road, 0.07)
    for side in (-1.0, 1.0):  # white edge lines
        x = lay.road_x + side * (rw - 0.25)
        ground(_rect(x - 0.07, -big, x + 0.07, big), WHITE, 0.04)
    for y in np.arange(-120.0, 120.0, 6.0):  # yellow dashed centre line, 3 m dashes
        ground(_rect(lay.road_x - 0.08, y, lay.road_x + 0.08, y + 3.0), YELLOW, 0.04)
    half = lay.line_half_length
    ground(_rect(-half, lay.line_y - 0.25, half, lay.line_y + 0.25), LINE_PAINT, 0.03)


def _bridge_sides(img: Image, cam: PinholeCamera, lay: Layout) -> None:
    """The deck's side faces above the water, where the camera can see them."""
    for side in (-1.0, 1.0):
        x = lay.road_x + side * lay.bridge_half_width
        normal = np.array([side, 0.0, 0.0])
        if normal @ (cam.center - np.array([x, 0.0, 0.0])) <= 0:
            continue
        face = [
            (x, lay.river_y0, -0.9),
            (x, lay.river_y1, -0.9),
            (x, lay.river_y1, 0.0),
            (x, lay.river_y0, 0.0),
        ]
        fill_face(img, cam, face, shade(CONCRETE, normal))
        for y in np.linspace(lay.river_y0, lay.river_y1, 3)[1:-1]:  # piers
            pier = [
                (x, y - 0.6, WATER_Z),
                (x, y + 0.6, WATER_Z),
                (x, y + 0.6, -0.9),
                (x, y - 0.6, -0.9),
            ]
            fill_face(img, cam, pier, shade(STONE, normal))


def _shadows(mask: npt.NDArray[np.uint8], cam: PinholeCamera, lay: Layout) -> None:
    """Ground shadows of the buildings (the box cast along the sun onto z = 0)."""
    for b in lay.buildings:
        corners = _building_corners(b)
        cast = corners[:, :2] - (corners[:, 2:3] / SUN[2]) * SUN[:2]
        hull = cv2.convexHull(cast.astype(np.float32)).reshape(-1, 2).astype(np.float64)
        fill_ground(mask, cam, hull, 0.0)


def _building_corners(b: Building) -> npt.NDArray[np.float64]:
    cx, cy = (b.x0 + b.x1) / 2, (b.y0 + b.y1) / 2
    return box_corners(cx, cy, 0.0, abs(b.y1 - b.y0), abs(b.x1 - b.x0), 0.0, b.height)


def _objects(img: Image, cam: PinholeCamera, lay: Layout) -> None:
    """3D things, far to near: buildings, railings, line marker posts."""
    items: list[tuple[float, npt.NDArray[np.float64], BGR, BGR | None]] = []
    for b in lay.buildings:
        c = _building_corners(b)
        items.append((_dist(cam, c), c, b.color, (96, 100, 104)))
        items.extend(_windows(cam, b))
    for side in (-1.0, 1.0):
        x = lay.road_x + side * (lay.bridge_half_width - 0.1)
        for y in np.arange(lay.bridge_y0, lay.bridge_y1 - 0.01, -2.5):
            c = box_corners(x, y, 0.0, 0.12, 0.12, 0.0, 1.0)
            items.append((_dist(cam, c), c, (176, 182, 184), None))
        mid = (lay.bridge_y0 + lay.bridge_y1) / 2
        length = lay.bridge_y0 - lay.bridge_y1
        for z0, z1 in ((0.9, 1.05), (0.45, 0.55)):
            c = box_corners(x, mid, 0.0, length, 0.08, z0, z1)
            items.append((_dist(cam, c), c, (186, 192, 194), None))
    for x in np.arange(-lay.line_half_length + 4, lay.line_half_length, 8.0):
        if abs(x - lay.road_x) < lay.bridge_half_width + 1.0:
            continue
        post = box_corners(x, lay.line_y, 90.0, 0.1, 0.1, 0.0, 1.1)
        sign = box_corners(x, lay.line_y, 90.0, 0.6, 0.06, 1.1, 1.5)
        items.append((_dist(cam, post), post, (60, 70, 80), None))
        items.append((_dist(cam, sign) - 0.01, sign, YELLOW, None))
    items.sort(key=lambda it: -it[0])
    for dist, corners, color, top in items:
        k = 1.0 - np.exp(-dist / HAZE_LENGTH)
        fill_box(img, cam, corners, _mix(color, k), top=None if top is None else _mix(top, k))


def _mix(color: BGR, k: float) -> BGR:
    """``color`` seen through haze (``k``: haze fraction)."""
    c = (1 - k) * np.array(color, dtype=np.float64) + k * np.array(HAZE, dtype=np.float64)
    return round(float(c[0])), round(float(c[1])), round(float(c[2]))


def _windows(
    cam: PinholeCamera, b: Building
) -> list[tuple[float, npt.NDArray[np.float64], BGR, BGR | None]]:
    """Dark window panes as thin boxes just outside the camera-facing walls."""
    out: list[tuple[float, npt.NDArray[np.float64], BGR, BGR | None]] = []
    glass: BGR = (70, 62, 52)
    floors = max(1, int(b.height // 3.2))
    walls = (
        ("y", b.y1 if cam.y > b.y1 else b.y0, b.x0, b.x1, 1.0 if cam.y > b.y1 else -1.0),
        ("x", b.x1 if cam.x > b.x1 else b.x0, b.y0, b.y1, 1.0 if cam.x > b.x1 else -1.0),
    )
    for axis, at, lo, hi, sign in walls:
        n = max(1, int(abs(hi - lo) // 3.0))
        for i in range(n):
            centre = lo + (i + 0.5) * (hi - lo) / n
            for f in range(floors):
                z0 = 1.0 + f * 3.2
                off = at + sign * 0.03
                if axis == "y":
                    c = box_corners(centre, off, 0.0, 0.04, 1.2, z0, z0 + 1.3)
                else:
                    c = box_corners(off, centre, 0.0, 1.2, 0.04, z0, z0 + 1.3)
                out.append((_dist(cam, c) - 0.5, c, glass, None))
    return out


def _dist(cam: PinholeCamera, corners: npt.NDArray[np.float64]) -> float:
    return float(np.linalg.norm(corners.mean(axis=0) - cam.center))


def _rect(x0: float, y0: float, x1: float, y1: float) -> list[tuple[float, float]]:
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def _ground_coords(cam: PinholeCamera) -> npt.NDArray[np.float32]:
    """Site (x, y) of the ground seen at every pixel (NaN above the horizon), (H, W, 2)."""
    h, w = cam.height_px, cam.width
    u, v = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    xy = cam.image_to_ground(np.column_stack([u.ravel(), v.ravel()]))
    xy[np.linalg.norm(xy - np.array([cam.x, cam.y]), axis=1) > FAR] = np.nan
    return xy.reshape(h, w, 2).astype(np.float32)


def _texture(
    rng: np.random.Generator, ground_xy: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """Zero-mean noise in site coordinates (5 cm and 1 m grains), sampled at every pixel."""
    size = 512
    fine = _tileable_blur(rng.standard_normal((size, size)).astype(np.float32), 0.8)
    coarse = _tileable_blur(rng.standard_normal((64, 64)).astype(np.float32), 1.5)
    fine /= fine.std() + 1e-6
    coarse /= coarse.std() + 1e-6
    ok = np.isfinite(ground_xy[..., 0])
    gx = np.where(ok, ground_xy[..., 0], 0.0).astype(np.float32)
    gy = np.where(ok, ground_xy[..., 1], 0.0).astype(np.float32)
    a = cv2.remap(fine, gx / 0.05, -gy / 0.05, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
    b = cv2.remap(coarse, gx / 1.0, -gy / 1.0, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
    # far away many grains fall in one pixel: their average is smoother
    return np.where(ok, 0.5 * a + 0.5 * b, 0.0).astype(np.float32)


def _tileable_blur(a: npt.NDArray[np.float32], sigma: float) -> npt.NDArray[np.float32]:
    pad = int(4 * sigma) + 1
    big = np.pad(a, pad, mode="wrap")
    return np.ascontiguousarray(cv2.GaussianBlur(big, (0, 0), sigma)[pad:-pad, pad:-pad])


def _haze(
    out: npt.NDArray[np.float32], cam: PinholeCamera, ground_xy: npt.NDArray[np.float32]
) -> None:
    d = np.linalg.norm(ground_xy - np.array([cam.x, cam.y], dtype=np.float32), axis=2)
    k = np.where(np.isfinite(d), 1.0 - np.exp(-np.nan_to_num(d, nan=0.0) / HAZE_LENGTH), 0.0)
    k = k.astype(np.float32)[..., None]
    out *= 1.0 - k
    out += k * np.array(HAZE, dtype=np.float32)
