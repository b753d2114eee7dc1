"""A configured line as one camera's rules see it: a polyline in metres or pixels, with
named sides.

Side names are given as seen walking from the line's first point to its second: on the
image as displayed (Y down) for a line drawn in a camera's image, or on the site map with
Y up for a line in site coordinates.

- An image line of a *calibrated* camera is projected onto the site and the rules work in
  metres; its side names are carried over by projecting a probe point that lies on the
  named side in the image, so a homography that mirrors the image cannot swap them.
- A site line applies to every calibrated camera (and to no uncalibrated one).
- An image line of an *uncalibrated* camera stays in pixels (margins are then pixels).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from linewatch.config import LineConfig
from linewatch.geometry import (
    F64,
    Homography,
    Polyline,
    SegmentCrossing,
    as_polyline,
    signed_distance,
)
from linewatch.records import TrackPoint

Frame = Literal["site", "image"]


def anchor_in(
    frame: Frame, homography: Homography | None, point: TrackPoint
) -> tuple[float, float]:
    """A track point's anchor in a frame: its site point (projecting the foot point when the
    point carries none) or its image foot point."""
    if frame == "image":
        return point.foot
    if point.site is not None:
        return point.site
    if homography is None:
        raise ValueError(f"camera {point.camera!r}: a site anchor needs a calibration")
    x, y = homography.to_site(point.foot)
    return float(x), float(y)


@dataclass(frozen=True, slots=True, eq=False)
class LineGeometry:
    """A line in the frame one camera's rules work in.

    ``positive_side`` names the side where :func:`geometry.signed_distance` is positive.
    The polyline is prepared once (``shape``) for the per-observation queries.
    """

    line_id: str
    camera: str
    frame: Frame
    points: F64
    positive_side: str
    negative_side: str
    homography: Homography | None = None
    shape: Polyline = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", Polyline(self.points))

    @classmethod
    def build(
        cls, line: LineConfig, camera: str, homography: Homography | None
    ) -> LineGeometry | None:
        """The line for ``camera``, or None when it does not apply to that camera."""
        if line.camera is None:
            if homography is None:
                return None  # a site line needs a calibrated camera
            # site map, Y up: raw +1 (cross product > 0) is the left of the walking direction
            return cls(
                line.id,
                camera,
                "site",
                as_polyline(line.points),
                line.sides.left,
                line.sides.right,
                homography,
            )
        if line.camera != camera:
            return None
        img = as_polyline(line.points)
        if homography is None:
            # image as displayed, Y down: raw +1 is the walker's right
            return cls(line.id, camera, "image", img, line.sides.right, line.sides.left)
        return cls._projected(line, camera, img, homography)

    @classmethod
    def _projected(
        cls, line: LineConfig, camera: str, img: F64, homography: Homography
    ) -> LineGeometry:
        if not np.all(homography.on_ground(img)):
            raise ValueError(
                f"line {line.id!r}: some of its points are above the horizon of camera "
                f"{camera!r}'s calibration; draw the line on the ground"
            )
        site = homography.to_site(img)
        # probe: a point just to the walker's left of the first non-degenerate segment, in
        # the image as displayed (Y down): left of direction (dx, dy) is (dy, -dx)
        seg = next(i for i in range(img.shape[0] - 1) if np.linalg.norm(img[i + 1] - img[i]) > 1e-9)
        d = img[seg + 1] - img[seg]
        length = float(np.linalg.norm(d))
        mid = (img[seg] + img[seg + 1]) / 2
        normal = np.array([d[1], -d[0]]) / length
        probe = mid + normal * min(1.0, 0.01 * length)
        sd = signed_distance(homography.to_site(probe), site)
        if not isinstance(sd, float) or sd == 0.0 or not np.isfinite(sd):
            raise ValueError(f"line {line.id!r}: cannot tell its sides apart on the site map")
        left_is_positive = sd > 0
        pos, neg = (
            (line.sides.left, line.sides.right)
            if left_is_positive
            else (line.sides.right, line.sides.left)
        )
        return cls(line.id, camera, "site", as_polyline(site), pos, neg, homography)

    @property
    def units(self) -> str:
        return "m" if self.frame == "site" else "px"

    def anchor(self, point: TrackPoint) -> tuple[float, float]:
        """The point this line reasons on: the site point (metres) or the image foot point."""
        return anchor_in(self.frame, self.homography, point)

    def signed_distance(self, pts: npt.ArrayLike) -> F64 | float:
        if isinstance(pts, tuple) and len(pts) == 2:
            return self.shape.signed_distance_xy(float(pts[0]), float(pts[1]))
        return signed_distance(pts, self.points)

    def signed_distance_xy(self, x: float, y: float) -> float:
        """Signed distance of one point in the line's frame (plain floats)."""
        return self.shape.signed_distance_xy(x, y)

    def side_name(self, sign: int | float) -> str:
        if sign == 0:
            raise ValueError("a point on the line has no side")
        return self.positive_side if sign > 0 else self.negative_side

    def crossings(self, p0: tuple[float, float], p1: tuple[float, float]) -> list[SegmentCrossing]:
        """Where the path ``p0 -> p1`` meets the line's segments, in path order."""
        return self.shape.crossings_xy(float(p0[0]), float(p0[1]), float(p1[0]), float(p1[1]))
