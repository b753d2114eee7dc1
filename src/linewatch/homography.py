"""The camera homography: image pixels <-> site metres, fitted from >= 4 point pairs.

Re-exported by :mod:`linewatch.geometry` (``from linewatch.geometry import Homography``).
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from linewatch.geometry import _EPS, F64, _is_single, as_points


def _normalise(pts: F64) -> tuple[F64, F64]:
    """Hartley normalisation: centroid at 0, mean distance sqrt(2). Returns (points, T)."""
    c = pts.mean(axis=0)
    d = float(np.mean(np.linalg.norm(pts - c, axis=1)))
    s = np.sqrt(2.0) / d if d > _EPS else 1.0
    t = np.array([[s, 0, -s * c[0]], [0, s, -s * c[1]], [0, 0, 1]], dtype=np.float64)
    return (pts - c) * s, t


def _collinear(pts: F64) -> bool:
    centred = pts - pts.mean(axis=0)
    sv = np.linalg.svd(centred, compute_uv=False)
    return bool(sv[0] < _EPS or sv[1] / sv[0] < 1e-6)


def _dlt_rank_ok(img: F64, site: F64) -> bool:
    """True when the point pairs determine a homography (DLT system of rank 8)."""
    a, _ = _normalise(img)
    b, _ = _normalise(site)
    rows = []
    for (x, y), (u, v) in zip(a, b, strict=True):
        rows.append([-x, -y, -1, 0, 0, 0, u * x, u * y, u])
        rows.append([0, 0, 0, -x, -y, -1, v * x, v * y, v])
    sv = np.linalg.svd(np.asarray(rows), compute_uv=False)
    return bool(sv[7] / sv[0] > 1e-6)


class Homography:
    """A plane-to-plane projective map from image pixels to site metres.

    >>> h = Homography.fit([(0, 0), (100, 0), (100, 100), (0, 100)],
    ...                    [(0, 0), (10, 0), (10, -10), (0, -10)])
    >>> [round(float(v), 6) for v in h.to_site((50, 50))]
    [5.0, -5.0]
    """

    __slots__ = ("_inv", "_m", "_w_sign")

    def __init__(self, matrix: npt.ArrayLike, reference_image_pt: npt.ArrayLike | None = None):
        m = np.asarray(matrix, dtype=np.float64)
        if m.shape != (3, 3) or not np.all(np.isfinite(m)):
            raise ValueError(f"a homography is a finite 3x3 matrix; got shape {m.shape}")
        if abs(np.linalg.det(m)) < _EPS * max(1.0, float(np.abs(m).max()) ** 3):
            raise ValueError("homography matrix is singular")
        if abs(m[2, 2]) > _EPS:
            m = m / m[2, 2]
        self._m = m
        self._inv: F64 = np.asarray(np.linalg.inv(m), dtype=np.float64)
        ref = np.zeros(2) if reference_image_pt is None else as_points(reference_image_pt)[0]
        w = float(m[2, 0] * ref[0] + m[2, 1] * ref[1] + m[2, 2])
        # the sign of w on the ground side of the horizon (where the calibration points are)
        self._w_sign = 1.0 if w >= 0 else -1.0

    @classmethod
    def fit(cls, image_pts: npt.ArrayLike, site_pts: npt.ArrayLike) -> Homography:
        """Least-squares homography (all points, no RANSAC) from >= 4 point pairs.

        Raises ValueError naming the problem: too few pairs, mismatched counts, non-finite
        values, collinear points, or no four pairs in general position.
        """
        img = as_points(image_pts, "image points")
        site = as_points(site_pts, "site points")
        if img.shape[0] != site.shape[0]:
            raise ValueError(
                f"calibration needs as many image points as site points "
                f"({img.shape[0]} image, {site.shape[0]} site)"
            )
        if img.shape[0] < 4:
            raise ValueError(f"calibration needs at least 4 point pairs, got {img.shape[0]}")
        if not (np.all(np.isfinite(img)) and np.all(np.isfinite(site))):
            raise ValueError("calibration points must be finite numbers")
        for name, pts in (("image", img), ("site", site)):
            if _collinear(pts):
                raise ValueError(
                    f"calibration {name} points are collinear (or coincide); "
                    f"use at least 4 points spread over the ground, no 3 on one line"
                )
        if not _dlt_rank_ok(img, site):
            raise ValueError(
                "calibration points are degenerate: no 4 pairs in general position "
                "(3 of every 4 points lie on one line); spread the points out"
            )
        m, _ = cv2.findHomography(img.astype(np.float32), site.astype(np.float32), 0)
        if m is None or not np.all(np.isfinite(m)):
            raise ValueError("calibration points do not determine a homography")
        return cls(m, img.mean(axis=0))

    @property
    def matrix(self) -> F64:
        """The 3x3 image -> site matrix (a copy)."""
        return self._m.copy()

    @staticmethod
    def _apply(m: F64, pts: npt.ArrayLike) -> F64:
        p = as_points(pts)
        w = p @ m[2, :2] + m[2, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            x = (p @ m[0, :2] + m[0, 2]) / w
            y = (p @ m[1, :2] + m[1, 2]) / w
        return np.stack([x, y], axis=1)

    def to_site(self, pts: npt.ArrayLike) -> F64:
        """Image pixels -> site metres; ``(N, 2)`` -> ``(N, 2)``, ``(2,)`` -> ``(2,)``."""
        out = self._apply(self._m, pts)
        return out[0] if _is_single(pts) else out

    def to_image(self, pts: npt.ArrayLike) -> F64:
        """Site metres -> image pixels; ``(N, 2)`` -> ``(N, 2)``, ``(2,)`` -> ``(2,)``."""
        out = self._apply(self._inv, pts)
        return out[0] if _is_single(pts) else out

    def on_ground(self, image_pts: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """True for image points below the horizon (same side as the calibration points).

        Points above the horizon (sky) have no meaningful site position.
        """
        p = as_points(image_pts)
        w = p @ self._m[2, :2] + self._m[2, 2]
        return np.asarray(w * self._w_sign > _EPS)

    def reprojection_error(self, image_pts: npt.ArrayLike, site_pts: npt.ArrayLike) -> F64:
        """Per pair, the distance (metres) between ``to_site(image)`` and ``site``: ``(N,)``."""
        site = as_points(site_pts, "site points")
        proj = self._apply(self._m, image_pts)
        if proj.shape != site.shape:
            raise ValueError(f"{proj.shape[0]} image points but {site.shape[0]} site points")
        return np.asarray(np.linalg.norm(proj - site, axis=1))

    def jacobian(self, image_pt: npt.ArrayLike) -> F64:
        """2x2 derivative of ``to_site`` at one image point (metres per pixel)."""
        x, y = as_points(image_pt)[0]
        m = self._m
        w = m[2, 0] * x + m[2, 1] * y + m[2, 2]
        u = m[0, 0] * x + m[0, 1] * y + m[0, 2]
        v = m[1, 0] * x + m[1, 1] * y + m[1, 2]
        return np.array(
            [
                [(m[0, 0] * w - u * m[2, 0]) / w**2, (m[0, 1] * w - u * m[2, 1]) / w**2],
                [(m[1, 0] * w - v * m[2, 0]) / w**2, (m[1, 1] * w - v * m[2, 1]) / w**2],
            ]
        )

    def resolution_at(self, image_pt: npt.ArrayLike) -> float:
        """Ground metres that one pixel spans at an image point, in its worst direction.

        The Jacobian's largest singular value: usually along the image's y axis, where the
        ground plane is foreshortened. Below this, positions on the site are noise.
        """
        return float(np.linalg.svd(self.jacobian(image_pt), compute_uv=False)[0])

    def scale_at(self, image_pt: npt.ArrayLike) -> float:
        """Local metres per pixel at an image point, along the image's x axis.

        An upright object standing at that point (a person) sees the same scale in both of
        its image dimensions, and horizontal image lines are not foreshortened by the
        ground plane's tilt, so this is the scale to turn a box's pixel height into metres.
        """
        return float(np.linalg.norm(self.jacobian(image_pt)[:, 0]))
