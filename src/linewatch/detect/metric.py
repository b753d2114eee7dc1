"""Metric size and class of a detection box on a calibrated camera (no model needed).

Width: the box's bottom edge projected on the site (metres). Height: the box's pixel height
times that edge's metres per pixel (an upright object at the foot point sees the same scale
both ways). Classes from that size: PERSON when narrower than 1.2 m and taller than wide;
VEHICLE when wider than 1.6 m and taller than 0.8 m (a person lying on the ground, about
1.7 x 0.4 m, stays OBJECT); else OBJECT. Used by the motion detector.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from linewatch.records import ObjectClass

__all__ = ["ToSite", "classify", "metric_size"]

PERSON_MAX_WIDTH_M = 1.2
VEHICLE_MIN_WIDTH_M = 1.6
VEHICLE_MIN_HEIGHT_M = 0.8


class ToSite(Protocol):
    """What the detector needs from a homography (``linewatch.geometry.Homography``)."""

    def to_site(self, pts: npt.ArrayLike) -> npt.NDArray[np.float64]: ...


def metric_size(h: ToSite, xyxy: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """(N, 2) width and upright height in metres of boxes standing on the site plane.

    Width: the bottom edge's two corners projected on the site. Height: pixel height times
    that edge's metres per pixel. NaN where the projection is not usable (above the horizon).
    """
    b = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    if b.shape[0] == 0:
        return np.zeros((0, 2))
    left = h.to_site(np.stack([b[:, 0], b[:, 3]], axis=1))
    right = h.to_site(np.stack([b[:, 2], b[:, 3]], axis=1))
    width = np.linalg.norm(right - left, axis=1)
    px = np.maximum(b[:, 2] - b[:, 0], 1e-6)
    height = (b[:, 3] - b[:, 1]) * width / px
    out = np.stack([width, height], axis=1)
    on_ground = getattr(h, "on_ground", None)
    if on_ground is not None:
        feet = np.stack([(b[:, 0] + b[:, 2]) / 2, b[:, 3]], axis=1)
        out[~np.asarray(on_ground(feet), dtype=bool)] = np.nan
    out[~np.isfinite(out).all(axis=1)] = np.nan
    return out


def classify(size_m: npt.ArrayLike) -> npt.NDArray[np.int16]:
    """ObjectClass per (width, height) in metres (NaN rows: OBJECT); see the module doc."""
    s = np.asarray(size_m, dtype=np.float64).reshape(-1, 2)
    w, hgt = s[:, 0], s[:, 1]
    cls = np.full(s.shape[0], int(ObjectClass.OBJECT), dtype=np.int16)
    with np.errstate(invalid="ignore"):
        cls[(w < PERSON_MAX_WIDTH_M) & (hgt > w)] = int(ObjectClass.PERSON)
        cls[(w > VEHICLE_MIN_WIDTH_M) & (hgt > VEHICLE_MIN_HEIGHT_M)] = int(ObjectClass.VEHICLE)
    return cls
