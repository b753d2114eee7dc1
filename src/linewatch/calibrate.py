"""Camera calibration: fit, check and draw the image -> site homography of a camera.

- :func:`reprojection_report`: how well a homography fits its point pairs, per point and
  overall, in site metres (``to_site(image)`` vs ``site``) and in image pixels
  (``to_image(site)`` vs ``image``).
- :func:`fit_from_mot_world`: a homography fitted from ground-truth tracks that carry ground
  positions (MOT15 ``worldX``/``worldY``, e.g. PETS09-S2L1), checked on held-out rows.
- :func:`draw_calibration`: the site grid (1 m and 5 m lines, labelled), the calibration
  points, the lines with their side names and the zones over a frame of the camera, for a
  check by eye (``linewatch calibrate``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from linewatch.annotate import CameraOverlay, draw_overlay
from linewatch.config import CameraConfig, ConfigError, SiteConfig
from linewatch.eval.mot import read_mot_rows
from linewatch.geometry import F64, Homography, as_points
from linewatch.records import Frame

Image = npt.NDArray[np.uint8]

GRID_MINOR: tuple[int, int, int] = (200, 200, 200)
GRID_MAJOR: tuple[int, int, int] = (255, 255, 255)
POINT_COLOUR: tuple[int, int, int] = (0, 0, 255)
REPROJ_COLOUR: tuple[int, int, int] = (0, 255, 0)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


# --------------------------------------------------------------------------- reports
@dataclass(frozen=True, slots=True)
class PointError:
    """One calibration pair and how far the homography misses it."""

    index: int
    image: tuple[float, float]
    site: tuple[float, float]
    error_m: float  # |to_site(image) - site|
    error_px: float  # |to_image(site) - image|


@dataclass(frozen=True, slots=True)
class ErrorStats:
    """Summary of a set of distances (count, RMS, median, 95th percentile, max)."""

    n: int
    rms: float
    median: float
    p95: float
    max: float

    @classmethod
    def of(cls, values: npt.ArrayLike) -> ErrorStats:
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        if v.size == 0:
            nan = float("nan")
            return cls(0, nan, nan, nan, nan)
        return cls(
            int(v.size),
            float(np.sqrt(np.mean(v**2))),
            float(np.median(v)),
            float(np.percentile(v, 95)),
            float(v.max()),
        )


@dataclass(frozen=True, slots=True)
class ReprojectionReport:
    """Reprojection errors of a homography on its own point pairs."""

    points: tuple[PointError, ...]
    metres: ErrorStats
    pixels: ErrorStats

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def reprojection_report(
    h: Homography, image_pts: npt.ArrayLike, site_pts: npt.ArrayLike
) -> ReprojectionReport:
    """Per-pair errors in metres and pixels, with RMS / median / max of each."""
    img = as_points(image_pts, "image points")
    site = as_points(site_pts, "site points")
    err_m = h.reprojection_error(img, site)
    back = np.asarray(h.to_image(site), dtype=np.float64).reshape(-1, 2)
    err_px = np.linalg.norm(back - img, axis=1)
    points = tuple(
        PointError(
            i,
            (float(a[0]), float(a[1])),
            (float(b[0]), float(b[1])),
            float(em),
            float(ep),
        )
        for i, (a, b, em, ep) in enumerate(zip(img, site, err_m, err_px, strict=True))
    )
    return ReprojectionReport(points, ErrorStats.of(err_m), ErrorStats.of(err_px))


def format_report(report: ReprojectionReport) -> str:
    """The reprojection table as plain text: one row per pair, then RMS / median / max."""
    rows = [
        f"{'#':>3} {'image x':>9} {'image y':>9} {'site x':>9} {'site y':>9} "
        f"{'err m':>8} {'err px':>8}"
    ]
    for p in report.points:
        rows.append(
            f"{p.index:>3} {p.image[0]:>9.2f} {p.image[1]:>9.2f} {p.site[0]:>9.3f} "
            f"{p.site[1]:>9.3f} {p.error_m:>8.3f} {p.error_px:>8.2f}"
        )
    m, px = report.metres, report.pixels
    rows.append(
        f"RMS {m.rms:.3f} m / {px.rms:.2f} px; median {m.median:.3f} m / "
        f"{px.median:.2f} px; max {m.max:.3f} m / {px.max:.2f} px"
    )
    return "\n".join(rows)


def calibrate_camera(camera: CameraConfig) -> tuple[Homography, ReprojectionReport]:
    """The camera's homography from its config and its reprojection report."""
    cal = camera.calibration
    if cal is None:
        raise ConfigError(f"camera {camera.id!r} has no calibration (image/site point pairs)")
    try:
        h = Homography.fit(cal.image, cal.site)
    except ValueError as e:
        raise ConfigError(f"camera {camera.id!r}: {e}") from None
    return h, reprojection_report(h, cal.image, cal.site)


# --------------------------------------------------------------------------- MOT world fit
@dataclass(frozen=True, slots=True)
class MotWorldReport:
    """A homography fitted from MOT ground truth with world positions, and its check.

    ``fit``: the fitting pairs' own reprojection errors; ``holdout_m``: ground position error
    (metres) of the rows not used for the fit (foot point projected vs worldX/worldY).
    """

    fit: ReprojectionReport
    holdout_m: ErrorStats
    fit_ids: tuple[int, ...]
    holdout_ids: tuple[int, ...]


def mot_foot_world(rows: npt.ArrayLike) -> tuple[F64, F64]:
    """Foot points (bottom centre of each box, pixels) and ground positions (worldX, worldY)
    of MOT15 rows ``frame,id,left,top,width,height,conf,worldX,worldY,worldZ``."""
    r = np.asarray(rows, dtype=np.float64)
    if r.ndim != 2 or r.shape[1] < 9:
        raise ValueError(f"MOT rows with world positions need >= 9 columns, got {r.shape}")
    foot = np.stack([r[:, 2] + r[:, 4] / 2.0, r[:, 3] + r[:, 5]], axis=1)
    return foot, r[:, 7:9].copy()


def spread_indices(points: npt.ArrayLike, n: int) -> list[int]:
    """``n`` indices of points spread out (farthest-point sampling from the point nearest
    the centroid's opposite corner; deterministic)."""
    p = as_points(points)
    if n >= len(p):
        return list(range(len(p)))
    first = int(np.argmax(np.linalg.norm(p - p.mean(axis=0), axis=1)))
    chosen = [first]
    dist = np.linalg.norm(p - p[first], axis=1)
    while len(chosen) < n:
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(p - p[nxt], axis=1))
    return chosen


def fit_from_mot_world(
    gt_path: str | Path,
    *,
    holdout_every: int = 2,
    max_pairs: int | None = None,
) -> tuple[Homography, MotWorldReport]:
    """Fit a homography from MOT15 ground truth (box foot points -> worldX/worldY).

    Track ids are split: ids with ``id % holdout_every != 0`` are held out and measure the
    ground position error; the others fit the homography (all their rows, least squares),
    or only ``max_pairs`` of their rows spread over the image when given (what a user would
    pick by hand). Rows of every ``conf`` are used (they are all people on the ground).
    """
    rows = read_mot_rows(gt_path)
    foot, world = mot_foot_world(rows)
    ids = rows[:, 1].astype(np.int64)
    if holdout_every < 2:
        raise ValueError("holdout_every must be >= 2 (some tracks must be held out)")
    fit_mask = ids % holdout_every == 0
    if not fit_mask.any() or fit_mask.all():
        raise ValueError(f"{gt_path}: cannot split its track ids into fit and held-out sets")
    fit_img, fit_site = foot[fit_mask], world[fit_mask]
    if max_pairs is not None:
        if max_pairs < 4:
            raise ValueError("a homography needs at least 4 pairs")
        pick = spread_indices(fit_img, max_pairs)
        fit_img, fit_site = fit_img[pick], fit_site[pick]
    h = Homography.fit(fit_img, fit_site)
    report = MotWorldReport(
        fit=reprojection_report(h, fit_img, fit_site),
        holdout_m=ErrorStats.of(h.reprojection_error(foot[~fit_mask], world[~fit_mask])),
        fit_ids=tuple(int(i) for i in np.unique(ids[fit_mask])),
        holdout_ids=tuple(int(i) for i in np.unique(ids[~fit_mask])),
    )
    return h, report


# --------------------------------------------------------------------------- drawing
def read_frame(cfg: SiteConfig, camera: str, index: int = 0) -> Frame:
    """The camera's first decoded frame whose index is ``>= index``."""
    from linewatch.video import open_video

    if index < 0:
        raise ValueError(f"frame index must be >= 0, got {index}")
    with open_video(cfg.camera(camera), cfg.base_dir) as src:
        for frame in src:
            if frame.index >= index:
                return frame
        errors = f" ({'; '.join(src.errors)})" if src.errors else ""
    raise ValueError(f"camera {camera!r}: the footage ends before frame {index}{errors}")


def site_extent(
    h: Homography,
    size: tuple[int, int],
    around: npt.ArrayLike | None = None,
    samples: int = 48,
) -> tuple[float, float, float, float] | None:
    """Site bounding box ``(x0, y0, x1, y1)`` of the ground seen in an image of ``size``.

    Image points near the horizon project very far away; the box is the 2nd-98th
    percentile of the projections of a grid of on-ground image points, cut to the box of
    the ``around`` site points (the calibration points) grown by half its size + 5 m: the
    homography is only trusted near where it was measured.
    """
    w, hgt = size
    xs, ys = np.meshgrid(np.linspace(0, w, samples), np.linspace(0, hgt, samples))
    img = np.stack([xs.ravel(), ys.ravel()], axis=1)
    img = img[h.on_ground(img)]
    if len(img) < 4:
        return None
    site = np.asarray(h.to_site(img), dtype=np.float64)
    site = site[np.all(np.isfinite(site), axis=1)]
    if len(site) < 4:
        return None
    lo = np.percentile(site, 2, axis=0)
    hi = np.percentile(site, 98, axis=0)
    if around is not None:
        a = as_points(around, "site points")
        grow = 0.5 * (a.max(axis=0) - a.min(axis=0)) + 5.0
        lo = np.maximum(lo, a.min(axis=0) - grow)
        hi = np.minimum(hi, a.max(axis=0) + grow)
        if np.any(hi <= lo):
            return None
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


def _visible_runs(h: Homography, site: F64, size: tuple[int, int]) -> list[F64]:
    """Image polylines of a sampled site polyline: the runs of on-ground, in-frame points."""
    img = np.asarray(h.to_image(site), dtype=np.float64).reshape(-1, 2)
    w, hgt = size
    ok = (
        h.on_ground(img)
        & np.all(np.isfinite(img), axis=1)
        & (img[:, 0] >= -w)
        & (img[:, 0] <= 2 * w)
        & (img[:, 1] >= -hgt)
        & (img[:, 1] <= 2 * hgt)
    )
    runs: list[F64] = []
    start: int | None = None
    for i, good in enumerate([*ok.tolist(), False]):
        if good and start is None:
            start = i
        elif not good and start is not None:
            if i - start >= 2:
                runs.append(img[start:i])
            start = None
    return runs


def _inside(p: F64, size: tuple[int, int], pad: int = 4) -> bool:
    return bool(pad <= p[0] < size[0] - pad and pad <= p[1] < size[1] - pad)


def draw_grid(
    image: Image,
    h: Homography,
    minor: float = 1.0,
    major: float = 5.0,
    around: npt.ArrayLike | None = None,
    samples: int = 120,
) -> None:
    """The site grid projected into ``image`` (in place): thin lines every ``minor`` metres,
    thick labelled lines every ``major`` metres (labels ``x=5`` / ``y=-10``), over the
    ground the image sees (near the ``around`` site points when given)."""
    if minor <= 0 or major <= 0:
        raise ValueError("grid spacings must be positive")
    size = (int(image.shape[1]), int(image.shape[0]))
    ext = site_extent(h, size, around)
    if ext is None:
        return
    x0, y0, x1, y1 = ext
    scale = max(0.4, min(size) / 720.0)
    minor_layer = image.copy()
    majors: list[npt.NDArray[np.int32]] = []
    labels: list[tuple[str, F64]] = []
    for axis in (0, 1):
        lo, hi = (x0, x1) if axis == 0 else (y0, y1)
        olo, ohi = (y0, y1) if axis == 0 else (x0, x1)
        along = np.linspace(olo, ohi, samples)
        k0, k1 = math.ceil(lo / minor), math.floor(hi / minor)
        for k in range(k0, k1 + 1):
            v = k * minor
            is_major = abs(v / major - round(v / major)) < 1e-9
            site = np.empty((samples, 2))
            site[:, axis] = v
            site[:, 1 - axis] = along
            for run in _visible_runs(h, site, size):
                pts = np.round(run).astype(np.int32).reshape(-1, 1, 2)
                if is_major:
                    majors.append(pts)
                    inside = [p for p in run if _inside(p, size, 12)]
                    if inside:
                        name = "x" if axis == 0 else "y"
                        labels.append((f"{name}={v:g}", inside[len(inside) // 2]))
                else:
                    cv2.polylines(minor_layer, [pts], False, GRID_MINOR, 1, cv2.LINE_AA)
    cv2.addWeighted(minor_layer, 0.5, image, 0.5, 0, dst=image)  # minor lines half-transparent
    if majors:
        cv2.polylines(image, majors, False, GRID_MAJOR, 2, cv2.LINE_AA)
    for text, p in labels:
        _text(image, text, p, GRID_MAJOR, 0.45 * scale)


def _text(
    image: Image, text: str, at: F64 | tuple[float, float], colour: tuple[int, int, int], s: float
) -> None:
    (w, hh), base = cv2.getTextSize(text, _FONT, s, 1)
    x = int(np.clip(at[0] + 3, 0, max(0, image.shape[1] - w - 2)))
    y = int(np.clip(at[1] - 3, hh + 2, image.shape[0] - base - 1))
    cv2.rectangle(image, (x - 1, y - hh - 2), (x + w + 1, y + base), (0, 0, 0), -1)
    cv2.putText(image, text, (x, y), _FONT, s, colour, 1, cv2.LINE_AA)


def draw_points(image: Image, report: ReprojectionReport) -> None:
    """Calibration points (red circles, labelled with their index and error), in place."""
    s = max(0.4, min(image.shape[:2]) / 720.0)
    for pe in report.points:
        a = np.array(pe.image)
        cv2.circle(image, (round(a[0]), round(a[1])), max(4, round(6 * s)), POINT_COLOUR, 2)
        _text(image, f"{pe.index}: {pe.error_m:.2f} m", a, POINT_COLOUR, 0.45 * s)


def draw_reprojections(image: Image, h: Homography, report: ReprojectionReport) -> None:
    """Green crosses where each calibration site point lands in the image, in place."""
    if not report.points:
        return
    site = np.array([pe.site for pe in report.points], dtype=np.float64)
    for p in np.asarray(h.to_image(site), dtype=np.float64).reshape(-1, 2):
        if np.all(np.isfinite(p)):
            cv2.drawMarker(
                image, (round(p[0]), round(p[1])), REPROJ_COLOUR, cv2.MARKER_CROSS, 12, 2
            )


def draw_calibration(
    image: Image,
    cfg: SiteConfig,
    camera: str,
    minor: float = 1.0,
    major: float = 5.0,
) -> tuple[Image, ReprojectionReport | None]:
    """A copy of ``image`` with the site grid, the calibration points, the lines (with side
    names) and the zones the camera sees; and the calibration's reprojection report (None
    when the camera is not calibrated: then only its image lines and zones are drawn)."""
    cam = cfg.camera(camera)
    out = np.ascontiguousarray(image).copy()
    h: Homography | None = None
    report: ReprojectionReport | None = None
    if cam.calibration is not None:
        h, report = calibrate_camera(cam)
        draw_grid(out, h, minor, major, around=cam.calibration.site)
    draw_overlay(out, CameraOverlay.build(cfg, camera, h))
    if h is not None and report is not None:
        draw_reprojections(out, h, report)
        draw_points(out, report)
    return out, report
