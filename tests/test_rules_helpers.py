"""Builders of synthetic track points and configs for the rule tests (imported by the
test_rules_* and test_crossing modules), and checks of the builders themselves."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from linewatch.config import SiteConfig, parse_config
from linewatch.geometry import Homography
from linewatch.records import Event, ObjectClass, TrackPoint
from linewatch.rules.engine import RuleEngine

# image (x px, y px, y down) -> site (x m, y m, Y up): 10 px per metre, image row 500 at y=0
IMAGE_TO_SITE = np.array([[0.1, 0.0, 0.0], [0.0, -0.1, 50.0], [0.0, 0.0, 1.0]])
# the same but mirrored left-right on the site (x -> -x): the map is the image mirrored
MIRROR_TO_SITE = np.array([[-0.1, 0.0, 0.0], [0.0, -0.1, 50.0], [0.0, 0.0, 1.0]])
# no flip of Y: the map (Y up) shows the image upside down, i.e. mirrored
IDENTITY = np.eye(3)


def homography(matrix: np.ndarray) -> Homography:
    return Homography(matrix, reference_image_pt=(320.0, 400.0))


def calibration(matrix: np.ndarray) -> dict[str, list[list[float]]]:
    img = np.array([[0, 300], [640, 300], [640, 480], [0, 480]], dtype=float)
    site = homography(matrix).to_site(img)
    return {"image": img.tolist(), "site": site.tolist()}


def config(**data: Any) -> SiteConfig:
    data.setdefault("cameras", [{"id": "cam1", "source": "x.mp4"}])
    return parse_config(data)


def box_at(foot: Sequence[float], w: float = 20.0, h: float = 50.0) -> tuple[float, ...]:
    x, y = float(foot[0]), float(foot[1])
    return (x - w / 2, y - h, x + w / 2, y)


def site_track(
    path: Iterable[Sequence[float]],
    times: Iterable[float],
    track_id: int = 1,
    camera: str = "cam1",
    cls: ObjectClass = ObjectClass.PERSON,
    h: Homography | None = None,
) -> list[TrackPoint]:
    """Points whose site position follows ``path`` (image boxes derived through ``h``)."""
    hh = h if h is not None else homography(IMAGE_TO_SITE)
    out = []
    for i, (p, t) in enumerate(zip(path, times, strict=True)):
        foot = hh.to_image((float(p[0]), float(p[1])))
        out.append(
            TrackPoint(
                camera=camera,
                track_id=track_id,
                t=float(t),
                frame=i,
                box=box_at(foot),  # type: ignore[arg-type]
                cls=cls,
                score=0.9,
                site=(float(p[0]), float(p[1])),
            )
        )
    return out


def image_track(
    feet: Iterable[Sequence[float]],
    times: Iterable[float],
    track_id: int = 1,
    camera: str = "cam1",
    cls: ObjectClass = ObjectClass.PERSON,
    h: Homography | None = None,
) -> list[TrackPoint]:
    """Points whose image foot point follows ``feet`` (site through ``h`` when given)."""
    out = []
    for i, (f, t) in enumerate(zip(feet, times, strict=True)):
        site = None
        if h is not None:
            s = h.to_site((float(f[0]), float(f[1])))
            site = (float(s[0]), float(s[1]))
        out.append(
            TrackPoint(
                camera=camera,
                track_id=track_id,
                t=float(t),
                frame=i,
                box=box_at(f),  # type: ignore[arg-type]
                cls=cls,
                score=0.9,
                site=site,
            )
        )
    return out


def linear(p0: Sequence[float], p1: Sequence[float], n: int) -> list[tuple[float, float]]:
    return [
        (float(p0[0] + (p1[0] - p0[0]) * k / (n - 1)), float(p0[1] + (p1[1] - p0[1]) * k / (n - 1)))
        for k in range(n)
    ]


def times(n: int, fps: float = 10.0, t0: float = 0.0) -> list[float]:
    return [t0 + k / fps for k in range(n)]


def engine_for(cfg: SiteConfig) -> RuleEngine:
    hs: dict[str, Homography | None] = {}
    for cam in cfg.cameras:
        cal = cam.calibration
        hs[cam.id] = None if cal is None else Homography.fit(cal.image, cal.site)
    return RuleEngine(cfg, hs)


def run_frames(
    engine: RuleEngine, camera: str, tracks: list[list[TrackPoint]], kind: str | None = "crossing"
) -> list[Event]:
    """Feed the tracks frame by frame (grouped by t); each track ends after its last point.
    Returns the events of ``kind`` (all with None)."""
    by_t: dict[float, list[TrackPoint]] = {}
    last: dict[int, float] = {}
    for tr in tracks:
        for p in tr:
            by_t.setdefault(p.t, []).append(p)
        last[tr[-1].track_id] = tr[-1].t
    events: list[Event] = []
    for t in sorted(by_t):
        ended = [tid for tid, lt in last.items() if lt == t]
        events += engine.step(camera, t, by_t[t], ended)
    return [e for e in events if kind is None or e.kind == kind]


# --------------------------------------------------------------------------- self-checks
def test_builders_are_consistent() -> None:
    pts = site_track(linear((0, 5), (0, -5), 3), times(3))
    h = homography(IMAGE_TO_SITE)
    for p in pts:
        assert p.site is not None
        np.testing.assert_allclose(h.to_site(p.foot), p.site, atol=1e-9)
    assert [p.t for p in pts] == [0.0, 0.1, 0.2]


def test_mirror_matrices_flip_what_is_seen() -> None:
    """The image is seen with y down, the site map with Y up: a raw reflection (det < 0)
    keeps what is seen, a raw rotation (det > 0) mirrors it."""
    assert np.linalg.det(IMAGE_TO_SITE[:2, :2]) < 0  # seen the same: not mirrored
    assert np.linalg.det(MIRROR_TO_SITE[:2, :2]) > 0  # mirrored
    assert np.linalg.det(IDENTITY[:2, :2]) > 0  # mirrored (upside down)
