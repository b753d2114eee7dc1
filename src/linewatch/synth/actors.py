"""Actors drawn as shaded 3D boxes, far to near, with their exact image footprint.

Each actor's *envelope* is the 3D box of its size (length along the heading, width, height)
standing on its foot point. It is drawn as a few smaller boxes inside the envelope (legs,
torso and head for a person; body, wheels and cabin for a vehicle), so every pixel an actor
paints lies inside the projection of its envelope: the truth box is the bounding box of the
envelope's 8 projected corners, clipped to the image, and the visibility is the fraction of
the envelope's projected hull not hidden by nearer actors nor cut by the image border.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from linewatch.records import ObjectClass
from linewatch.synth.camera import NEAR, PinholeCamera
from linewatch.synth.draw import ONE, SHIFT, SUN, Image, axes, to_fixed
from linewatch.synth.scene import BGR, Actor, ActorState

F64 = npt.NDArray[np.float64]

SKIN: BGR = (96, 130, 176)
GLASS: BGR = (62, 56, 48)
TYRE: BGR = (32, 32, 34)
#: a part: (along-heading from, to), (across from, to), (z from, to) as fractions of the
#: envelope's length, width and height (0..1), and which colour it takes
_Part = tuple[tuple[float, float], tuple[float, float], tuple[float, float], str]
#: corner indices of the faces that can face an elevated camera: front, back, right, left, top
_FACES = ([1, 2, 6, 5], [3, 0, 4, 7], [2, 3, 7, 6], [0, 1, 5, 4], [4, 5, 6, 7])
_PERSON: tuple[_Part, ...] = (
    ((0.15, 0.85), (0.06, 0.94), (0.0, 0.47), "legs"),
    ((0.0, 1.0), (0.0, 1.0), (0.47, 0.86), "body"),
    ((0.22, 0.78), (0.28, 0.72), (0.86, 1.0), "skin"),
)
_LYING: tuple[_Part, ...] = (
    ((0.0, 0.45), (0.1, 0.9), (0.0, 0.7), "legs"),
    ((0.45, 0.84), (0.0, 1.0), (0.0, 1.0), "body"),
    ((0.84, 1.0), (0.28, 0.72), (0.0, 0.65), "skin"),
)
_VEHICLE: tuple[_Part, ...] = (
    ((0.08, 0.24), (0.0, 0.14), (0.0, 0.4), "tyre"),
    ((0.08, 0.24), (0.86, 1.0), (0.0, 0.4), "tyre"),
    ((0.74, 0.9), (0.0, 0.14), (0.0, 0.4), "tyre"),
    ((0.74, 0.9), (0.86, 1.0), (0.0, 0.4), "tyre"),
    ((0.0, 1.0), (0.0, 1.0), (0.18, 0.6), "body"),
    ((0.12, 0.66), (0.05, 0.95), (0.6, 1.0), "cabin"),
)


@dataclass(frozen=True, slots=True)
class ActorView:
    """How one actor appears in one frame."""

    box: tuple[float, float, float, float] | None  # xyxy clipped to the image; None: outside
    visibility: float  # fraction of the envelope's projected hull that is visible
    unclipped: tuple[float, float, float, float] | None  # xyxy before clipping

    @property
    def visible(self) -> bool:
        return self.box is not None and self.visibility > 0.0


HIDDEN = ActorView(None, 0.0, None)


def envelope(state: ActorState) -> F64:
    """The 8 corners (bottom ring, top ring) of an actor's 3D box."""
    fwd, right = axes(state.heading)
    length, width, height = state.size
    c = np.array([state.x, state.y, 0.0])
    signs = np.array([(-1, -1), (1, -1), (1, 1), (-1, 1)], dtype=np.float64)
    ring = c + (length / 2) * signs[:, :1] * fwd + (width / 2) * signs[:, 1:] * right
    return np.vstack([ring, ring + np.array([0.0, 0.0, height])])


def _parts(actor: Actor, state: ActorState) -> tuple[tuple[_Part, ...], dict[str, BGR]]:
    c = actor.color
    dark = (c[0] * 6 // 10, c[1] * 6 // 10, c[2] * 6 // 10)
    if actor.cls == ObjectClass.VEHICLE:
        return _VEHICLE, {"tyre": TYRE, "body": c, "cabin": GLASS, "roof": c}
    if actor.cls == ObjectClass.PERSON:
        table = _LYING if state.posture == "lying" else _PERSON
        return table, {"legs": dark, "body": c, "skin": SKIN}
    return ((((0.0, 1.0), (0.0, 1.0), (0.0, 1.0), "body"),), {"body": c})


class ActorPainter:
    """Draws the actors of one frame and measures where they are (one per camera)."""

    def __init__(self, cam: PinholeCamera) -> None:
        self.cam = cam
        w, h = cam.size
        self._labels = np.zeros((h, w), np.uint8)

    def paint(self, img: Image, actors: list[tuple[Actor, ActorState]]) -> dict[str, ActorView]:
        """Draw ``actors`` on ``img`` far to near; return each one's view (by actor id)."""
        cam = self.cam
        views: dict[str, ActorView] = {}
        order: list[tuple[float, Actor, ActorState, F64, F64]] = []
        for actor, state in actors:
            corners = envelope(state)
            if np.any(cam.depth(corners) <= NEAR):
                views[actor.id] = HIDDEN
                continue
            uv = cam.to_image(corners)
            dist = float(np.hypot(state.x - cam.x, state.y - cam.y))
            order.append((dist, actor, state, corners, uv))
        order.sort(key=lambda o: -o[0])
        labels = self._labels
        labels.fill(0)
        hulls: list[tuple[str, npt.NDArray[np.int32], F64]] = []  # id, hull, corners px
        for k, (_, actor, state, _corners, uv) in enumerate(order, start=1):
            hull = np.asarray(cv2.convexHull(to_fixed(uv).reshape(-1, 1, 2)), dtype=np.int32)
            self._shadow(img, uv[:4])
            self._draw(img, actor, state)
            cv2.fillPoly(labels, [hull], k, cv2.LINE_8, SHIFT)
            hulls.append((actor.id, hull, uv))
        w, h = cam.size
        for k, (actor_id, hull, uv) in enumerate(hulls, start=1):
            x0, y0 = float(uv[:, 0].min()), float(uv[:, 1].min())
            x1, y1 = float(uv[:, 0].max()), float(uv[:, 1].max())
            cx0, cy0, cx1, cy1 = max(0.0, x0), max(0.0, y0), min(float(w), x1), min(float(h), y1)
            if cx1 <= cx0 or cy1 <= cy0:
                views[actor_id] = ActorView(None, 0.0, (x0, y0, x1, y1))
                continue
            total = _pixel_count(hull)
            ix0, iy0 = int(np.floor(cx0)), int(np.floor(cy0))
            ix1, iy1 = int(np.ceil(cx1)) + 1, int(np.ceil(cy1)) + 1
            seen = int(np.count_nonzero(labels[iy0:iy1, ix0:ix1] == k))
            vis = min(1.0, seen / total) if total > 0 else 0.0
            views[actor_id] = ActorView((cx0, cy0, cx1, cy1), vis, (x0, y0, x1, y1))
        return views

    def _shadow(self, img: Image, foot_uv: F64) -> None:
        """Darken the ground under the actor (its footprint)."""
        pts = to_fixed(foot_uv)
        x, y, bw, bh = cv2.boundingRect((pts // ONE).reshape(-1, 1, 2))
        h, w = img.shape[:2]
        x0, y0, x1, y1 = max(0, x - 1), max(0, y - 1), min(w, x + bw + 2), min(h, y + bh + 2)
        if x1 <= x0 or y1 <= y0:
            return
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(mask, [pts - np.array([x0 * ONE, y0 * ONE], np.int32)], 1, cv2.LINE_8, SHIFT)
        roi = img[y0:y1, x0:x1]
        sel = mask.astype(bool)
        roi[sel] = (roi[sel].astype(np.uint16) * 5 // 8).astype(np.uint8)

    def _draw(self, img: Image, actor: Actor, state: ActorState) -> None:
        cam = self.cam
        table, colors = _parts(actor, state)
        fwd, right = axes(state.heading)
        up = np.array([0.0, 0.0, 1.0])
        length, width, height = state.size
        # part boxes in the envelope's frame: along in [-L/2, L/2], across [-W/2, W/2]
        lo = np.array([[p[0][0], p[1][0], p[2][0]] for p in table])
        hi = np.array([[p[0][1], p[1][1], p[2][1]] for p in table])
        ext = np.array([length, width, height])
        offset = np.array([length / 2, width / 2, 0.0])
        lo_m, hi_m = lo * ext - offset, hi * ext - offset
        centre_l = (lo_m + hi_m) / 2
        half = (hi_m - lo_m) / 2
        base = np.array([state.x, state.y, 0.0])
        centres = base + centre_l[:, :1] * fwd + centre_l[:, 1:2] * right + centre_l[:, 2:] * up
        signs = np.array(
            [
                (-1, -1, -1),
                (1, -1, -1),
                (1, 1, -1),
                (-1, 1, -1),
                (-1, -1, 1),
                (1, -1, 1),
                (1, 1, 1),
                (-1, 1, 1),
            ],
            dtype=np.float64,
        )
        local = signs[None, :, :] * half[:, None, :]  # (P, 8, 3)
        corners = (
            centres[:, None, :]
            + local[..., :1] * fwd
            + local[..., 1:2] * right
            + local[..., 2:] * up
        )
        uv = cam.to_image(corners.reshape(-1, 3)).reshape(len(table), 8, 2)
        pts = to_fixed(uv)
        d = cam.center - centres
        # faces in the order of _FACES: front, back, right, left, top
        vis = np.stack(
            [
                d @ fwd > half[:, 0],
                -(d @ fwd) > half[:, 0],
                d @ right > half[:, 1],
                -(d @ right) > half[:, 1],
                d @ up > half[:, 2],
            ],
            axis=1,
        ).tolist()
        normals = (fwd, -fwd, right, -right, up)
        shade = [0.55 + 0.45 * max(0.0, float(v @ SUN)) for v in normals]
        shade[4] = min(1.15, shade[4] + 0.12)
        cache: dict[tuple[str, int], BGR] = {}
        for i in np.argsort(-np.linalg.norm(d, axis=1)).tolist():
            name = table[i][3]
            for f, (idx, visible) in enumerate(zip(_FACES, vis[i], strict=True)):
                if not visible:
                    continue
                key = "roof" if (f == 4 and name == "cabin") else name
                color = cache.get((key, f))
                if color is None:
                    c, k = colors[key], shade[f]
                    color = _scaled(c, k)
                    cache[(key, f)] = color
                cv2.fillPoly(img, [pts[i, idx]], color, cv2.LINE_AA, SHIFT)


def _scaled(c: BGR, k: float) -> BGR:
    return min(255, int(c[0] * k)), min(255, int(c[1] * k)), min(255, int(c[2] * k))


def _pixel_count(hull: npt.NDArray[np.int32]) -> int:
    """Pixels cv2 fills for ``hull`` (fixed point) on an unbounded canvas."""
    p = hull.reshape(-1, 2)
    x0, y0 = p.min(axis=0) // ONE - 1
    x1, y1 = p.max(axis=0) // ONE + 2
    area = int((x1 - x0) * (y1 - y0))
    if area > 4_000_000:  # huge (very near): the polygon's area is close enough
        return round(abs(cv2.contourArea(p.astype(np.float32) / ONE)))
    canvas = np.zeros((int(y1 - y0), int(x1 - x0)), np.uint8)
    cv2.fillPoly(canvas, [p - np.array([x0 * ONE, y0 * ONE], np.int32)], 1, cv2.LINE_8, SHIFT)
    return int(np.count_nonzero(canvas))
