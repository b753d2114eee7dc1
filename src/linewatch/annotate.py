"""Drawing on frames: boxes, ids, trails, lines with their side names, zones and captions.

Shared by the evidence stills, the evidence clips and the annotated video. Three parts:

- :class:`CameraOverlay`: the site's lines and zones as they appear in one camera's image
  (image lines as drawn; site lines and zones projected through the camera's homography).
- :class:`TrackIndex`: one camera's tracks from the track log, queried by stream time: the
  box of every track at ``t`` (linearly interpolated between observations, so footage
  analysed at a lower rate than it was recorded still gets a box on every frame) and its
  recent trail of foot points.
- :func:`annotate`: draws all of it (and a caption) on a copy of a BGR image.

Drawing only: no decoding, no encoding, no files.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import cast

import cv2
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from linewatch.config import CameraConfig, SiteConfig
from linewatch.geometry import Homography
from linewatch.records import ObjectClass

F64 = npt.NDArray[np.float64]
Image = npt.NDArray[np.uint8]
BGR = tuple[int, int, int]

#: a qualitative palette (BGR), picked per track id
PALETTE: tuple[BGR, ...] = (
    (75, 25, 230),
    (75, 180, 60),
    (200, 130, 0),
    (48, 130, 245),
    (180, 30, 145),
    (240, 240, 70),
    (230, 50, 240),
    (60, 245, 210),
    (212, 190, 250),
    (128, 128, 0),
)
LINE_COLOUR: BGR = (0, 215, 255)
ZONE_COLOUR: BGR = (255, 160, 0)
DIM_COLOUR: BGR = (170, 170, 170)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def track_colour(track_id: int) -> BGR:
    """A stable colour for a track id."""
    return PALETTE[int(track_id) % len(PALETTE)]


def camera_homography(camera: CameraConfig) -> Homography | None:
    """The camera's image -> site homography, or None when it is not calibrated."""
    cal = camera.calibration
    return None if cal is None else Homography.fit(cal.image, cal.site)


# --------------------------------------------------------------------------- overlay
@dataclass(frozen=True, slots=True)
class OverlayLine:
    """A line in image pixels, with where to write each side's name."""

    id: str
    points: F64  # (M, 2) image pixels
    labels: tuple[tuple[str, tuple[float, float]], ...]  # (side name, image position)


@dataclass(frozen=True, slots=True)
class OverlayZone:
    id: str
    points: F64  # (M, 2) image pixels


@dataclass(frozen=True, slots=True)
class CameraOverlay:
    """The lines and zones one camera sees, in its image pixels."""

    camera: str
    lines: tuple[OverlayLine, ...] = ()
    zones: tuple[OverlayZone, ...] = ()

    @classmethod
    def build(cls, cfg: SiteConfig, camera: str, homography: Homography | None) -> CameraOverlay:
        lines: list[OverlayLine] = []
        for ln in cfg.lines:
            pts = _to_image(ln.camera, ln.points, camera, homography)
            if pts is None:
                continue
            # a point left of the first segment as the line's author walks it: on the image
            # (Y down) left of (dx, dy) is (dy, -dx); on the site map (Y up) it is (-dy, dx)
            src = np.asarray(ln.points, dtype=np.float64)
            d = src[1] - src[0]
            n = np.array([d[1], -d[0]]) if ln.camera is not None else np.array([-d[1], d[0]])
            n = n / max(float(np.linalg.norm(n)), 1e-12)
            mid = (src[0] + src[1]) / 2
            step = 0.08 * float(np.linalg.norm(d))
            probes = np.stack([mid + n * step, mid - n * step])
            img = _to_image(ln.camera, probes, camera, homography)
            labels: tuple[tuple[str, tuple[float, float]], ...] = ()
            if img is not None and np.all(np.isfinite(img)):
                labels = (
                    (ln.sides.left, (float(img[0, 0]), float(img[0, 1]))),
                    (ln.sides.right, (float(img[1, 0]), float(img[1, 1]))),
                )
            lines.append(OverlayLine(ln.id, pts, labels))
        zones = [
            OverlayZone(z.id, pts)
            for z in cfg.zones
            if (pts := _to_image(z.camera, z.points, camera, homography)) is not None
        ]
        return cls(camera, tuple(lines), tuple(zones))


def _to_image(
    owner: str | None, points: npt.ArrayLike, camera: str, h: Homography | None
) -> F64 | None:
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if owner is not None:
        return pts if owner == camera else None
    if h is None:
        return None
    img = np.asarray(h.to_image(pts), dtype=np.float64).reshape(-1, 2)
    return img if np.all(np.isfinite(img)) else None


# --------------------------------------------------------------------------- tracks
@dataclass(frozen=True, slots=True)
class TrackBox:
    """One track as drawn at one time."""

    track_id: int
    box: tuple[float, float, float, float]
    cls: ObjectClass
    trail: F64  # (K, 2) image foot points, oldest first, ending at the current one


class TrackIndex:
    """One camera's track points, queryable by stream time.

    ``max_gap``: two observations further apart than this are not interpolated (the track
    was lost in between). ``tolerance``: a track is drawn this long before its first and
    after its last observation (half a frame is enough to catch the frame it was seen on).
    """

    def __init__(self, table: pa.Table, max_gap: float = 1.0, tolerance: float = 0.02) -> None:
        cols = table.select(["track_id", "t", "x1", "y1", "x2", "y2", "cls"]).to_pydict()
        ids = np.asarray(cols["track_id"], dtype=np.int64)
        ts = np.asarray(cols["t"], dtype=np.float64)
        boxes = np.stack([np.asarray(cols[k], dtype=np.float64) for k in ("x1", "y1", "x2", "y2")])
        boxes = boxes.T.reshape(-1, 4)
        classes = np.asarray(cols["cls"], dtype=np.int64)
        self.max_gap = max_gap
        self.tolerance = tolerance
        self._t: dict[int, F64] = {}
        self._box: dict[int, F64] = {}
        self._cls: dict[int, ObjectClass] = {}
        order = np.lexsort((ts, ids))  # by track, then time: one sort, then slices
        ids, ts, boxes, classes = ids[order], ts[order], boxes[order], classes[order]
        cuts = np.flatnonzero(np.diff(ids)) + 1
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(ids)], strict=True):
            if hi <= lo:
                continue
            tid, t_sorted = int(ids[lo]), ts[lo:hi]
            keep = np.concatenate([[True], np.diff(t_sorted) > 0])  # one point per time
            self._t[tid] = t_sorted[keep]
            self._box[tid] = boxes[lo:hi][keep]
            self._cls[tid] = ObjectClass(int(np.argmax(np.bincount(classes[lo:hi]))))
        self._ids = np.array(sorted(self._t), dtype=np.int64)
        self._start = np.array([self._t[i][0] for i in self._ids.tolist()], dtype=np.float64)
        self._end = np.array([self._t[i][-1] for i in self._ids.tolist()], dtype=np.float64)

    @property
    def track_ids(self) -> list[int]:
        return [int(i) for i in self._ids]

    def cls(self, track_id: int) -> ObjectClass | None:
        """The track's most frequent class (None for an unknown track)."""
        return self._cls.get(int(track_id))

    def span(self, track_id: int) -> tuple[float, float] | None:
        t = self._t.get(int(track_id))
        return None if t is None else (float(t[0]), float(t[-1]))

    def box_at(self, track_id: int, t: float) -> tuple[float, float, float, float] | None:
        """The track's box at time ``t`` (interpolated), or None when it is not visible."""
        ts = self._t.get(int(track_id))
        if ts is None:
            return None
        boxes = self._box[int(track_id)]
        tol = self.tolerance
        if t < ts[0] - tol or t > ts[-1] + tol:
            return None
        i = int(np.searchsorted(ts, t))
        if i < len(ts) and abs(ts[i] - t) <= tol:
            return _box(boxes[i])
        if i > 0 and abs(t - ts[i - 1]) <= tol:
            return _box(boxes[i - 1])
        if 0 < i < len(ts) and ts[i] - ts[i - 1] <= self.max_gap:
            w = (t - ts[i - 1]) / (ts[i] - ts[i - 1])
            return _box(boxes[i - 1] * (1 - w) + boxes[i] * w)
        return None

    def trail(self, track_id: int, t: float, seconds: float) -> F64:
        """Foot points of the track over ``[t - seconds, t]``, oldest first."""
        ts = self._t.get(int(track_id))
        if ts is None or seconds <= 0:
            return np.zeros((0, 2))
        lo, hi = np.searchsorted(ts, [t - seconds, t + self.tolerance], side="left")
        b = self._box[int(track_id)][lo:hi]
        return np.stack([(b[:, 0] + b[:, 2]) / 2, b[:, 3]], axis=1)

    def at(self, t: float, trail_seconds: float = 3.0) -> list[TrackBox]:
        """Every track visible at ``t`` with its trail, ordered by track id."""
        live = (self._start <= t + self.tolerance) & (self._end >= t - self.tolerance)
        out: list[TrackBox] = []
        for tid in self._ids[live].tolist():
            box = self.box_at(tid, t)
            if box is None:
                continue
            foot = np.array([[(box[0] + box[2]) / 2, box[3]]])
            trail = self.trail(tid, t, trail_seconds)
            out.append(TrackBox(tid, box, self._cls[tid], np.concatenate([trail, foot])))
        return out


def _box(b: F64) -> tuple[float, float, float, float]:
    return (float(b[0]), float(b[1]), float(b[2]), float(b[3]))


# --------------------------------------------------------------------------- drawing
def _scale(image: Image) -> float:
    return max(0.5, min(image.shape[0], image.shape[1]) / 480.0)


def _ipts(points: F64) -> npt.NDArray[np.int32]:
    return np.round(points).astype(np.int32).reshape(-1, 1, 2)


def _label(
    image: Image, text: str, org: tuple[int, int], colour: BGR, scale: float, thick: int = 1
) -> None:
    """Text with a dark backing box; ``org`` is the bottom-left corner."""
    (w, h), base = cv2.getTextSize(text, _FONT, scale, thick)
    x = int(np.clip(org[0], 0, max(0, image.shape[1] - w - 2)))
    y = int(np.clip(org[1], h + 2, image.shape[0] - base - 1))
    cv2.rectangle(image, (x - 1, y - h - 2), (x + w + 1, y + base), (0, 0, 0), -1)
    cv2.putText(image, text, (x, y), _FONT, scale, colour, thick, cv2.LINE_AA)


def draw_overlay(image: Image, overlay: CameraOverlay) -> None:
    """Zones (translucent fill) and lines (with side names), in place."""
    s = _scale(image)
    if overlay.zones:
        fill = image.copy()
        for z in overlay.zones:
            cv2.fillPoly(fill, [_ipts(z.points)], ZONE_COLOUR)
        cv2.addWeighted(fill, 0.18, image, 0.82, 0, dst=image)
        for z in overlay.zones:
            cv2.polylines(image, [_ipts(z.points)], True, ZONE_COLOUR, max(1, round(2 * s)))
            x, y = z.points.min(axis=0)
            _label(image, z.id, (int(x) + 3, int(y) + int(18 * s)), ZONE_COLOUR, 0.5 * s)
    for ln in overlay.lines:
        cv2.polylines(
            image, [_ipts(ln.points)], False, LINE_COLOUR, max(2, round(3 * s)), cv2.LINE_AA
        )
        x, y = ln.points[0]
        _label(image, ln.id, (int(x) + 4, int(y) - 6), LINE_COLOUR, 0.55 * s, 1)
        for name, (lx, ly) in ln.labels:
            _label(image, name, (int(lx), int(ly)), LINE_COLOUR, 0.45 * s)


def draw_track(image: Image, track: TrackBox, highlight: bool = True) -> None:
    """A track's trail, box and ``#id class`` label, in place (dimmed when not highlighted)."""
    s = _scale(image)
    colour = track_colour(track.track_id) if highlight else DIM_COLOUR
    thick = max(1, round((3 if highlight else 1) * s))
    if len(track.trail) >= 2:
        cv2.polylines(image, [_ipts(track.trail)], False, colour, thick, cv2.LINE_AA)
    x1, y1, x2, y2 = (round(v) for v in track.box)
    cv2.rectangle(image, (x1, y1), (x2, y2), colour, thick)
    _label(image, f"#{track.track_id} {track.cls.label}", (x1, y1 - 4), colour, 0.5 * s)


def draw_caption(image: Image, lines: Sequence[str]) -> None:
    """Caption lines in a dark band at the top of the image, in place."""
    if not lines:
        return
    s = _scale(image)
    scale = 0.6 * s
    (_, h), base = cv2.getTextSize("Ag", _FONT, scale, 1)
    band = (h + base + 6) * len(lines) + 6
    image[:band] = (image[:band].astype(np.float32) * 0.35).astype(np.uint8)
    for i, text in enumerate(lines):
        y = 6 + (h + base + 6) * i + h
        cv2.putText(image, text, (8, y), _FONT, scale, (255, 255, 255), 1, cv2.LINE_AA)


def annotate(
    image: Image,
    overlay: CameraOverlay | None,
    tracks: Sequence[TrackBox],
    highlight: Collection[int] | None = None,
    caption: Sequence[str] = (),
) -> Image:
    """A copy of ``image`` with the overlay, the tracks and the caption drawn on it.

    ``highlight``: track ids drawn in colour (the others dimmed); None highlights all.
    """
    out = np.ascontiguousarray(image).copy()
    if overlay is not None:
        draw_overlay(out, overlay)
    ordered = sorted(tracks, key=lambda tb: highlight is None or tb.track_id in highlight)
    for tb in ordered:  # highlighted tracks drawn last, on top
        draw_track(out, tb, highlight is None or tb.track_id in highlight)
    draw_caption(out, caption)
    return out


def fit_width(image: Image, max_width: int) -> Image:
    """Scaled down (aspect kept) when wider than ``max_width``."""
    h, w = image.shape[:2]
    if w <= max_width:
        return image
    size = (max_width, max(2, round(h * max_width / w)))
    return cast(Image, cv2.resize(image, size, interpolation=cv2.INTER_AREA))


def letterbox(image: Image, size: tuple[int, int]) -> Image:
    """``image`` fitted into ``size`` (width, height), aspect kept, black borders."""
    w, h = size
    if (image.shape[1], image.shape[0]) == (w, h):
        return image
    s = min(w / image.shape[1], h / image.shape[0])
    nw, nh = max(1, round(image.shape[1] * s)), max(1, round(image.shape[0] * s))
    small = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    canvas = np.zeros((h, w, 3), dtype=np.uint8)
    y, x = (h - nh) // 2, (w - nw) // 2
    canvas[y : y + nh, x : x + nw] = small
    return canvas
