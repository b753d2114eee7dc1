"""Geometry: homography fitting and projection, polylines, polygons (with property tests)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from linewatch.geometry import (
    Homography,
    crossing_of_segment,
    crossings_of_segment,
    points_in_polygon,
    polygon_area,
    segment_intersection,
    side_of,
    signed_distance,
    signed_polygon_area,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

# a plausible ground-plane homography of an elevated camera (perspective, not affine)
IMG = np.array([[100, 400], [700, 420], [520, 150], [260, 140], [400, 300]], dtype=float)
H_TRUE = np.array([[0.05, 0.01, -8.0], [0.002, -0.09, 30.0], [0.0001, 0.002, 1.0]])


def project(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    p = np.c_[pts, np.ones(len(pts))] @ m.T
    return p[:, :2] / p[:, 2:]


def cam() -> Homography:
    return Homography.fit(IMG, project(H_TRUE, IMG))


coord = st.floats(-1000, 1000, allow_nan=False, allow_infinity=False)
point = st.tuples(coord, coord)


# --------------------------------------------------------------------------- homography
def test_fit_recovers_exact_homography() -> None:
    h = cam()
    site = project(H_TRUE, IMG)
    assert np.max(h.reprojection_error(IMG, site)) < 1e-6
    probe = np.array([[333.0, 222.0], [50.0, 500.0]])
    np.testing.assert_allclose(h.to_site(probe), project(H_TRUE, probe), atol=1e-6)
    np.testing.assert_allclose(h.matrix, H_TRUE / H_TRUE[2, 2], rtol=1e-6, atol=1e-9)


def test_single_point_in_single_point_out() -> None:
    h = cam()
    out = h.to_site((400.0, 300.0))
    assert out.shape == (2,)
    back = h.to_image(out)
    np.testing.assert_allclose(back, [400.0, 300.0], atol=1e-6)
    assert h.to_site(np.zeros((0, 2))).shape == (0, 2)


def test_least_squares_uses_all_points() -> None:
    rng = np.random.default_rng(0)
    img = rng.uniform([0, 100], [800, 500], size=(40, 2))
    site = project(H_TRUE, img)
    noisy = site + rng.normal(0, 0.05, site.shape)
    h = Homography.fit(img, noisy)
    err = h.reprojection_error(img, noisy)
    assert err.shape == (40,)
    # residuals of a least-squares fit are about the noise (no point thrown away as outlier)
    assert 0.01 < float(np.median(err)) < 0.15
    assert float(np.max(np.linalg.norm(h.to_site(img) - site, axis=1))) < 0.1


@pytest.mark.parametrize(
    ("image", "site", "message"),
    [
        ([(0, 0), (1, 0), (0, 1)], [(0, 0), (1, 0), (0, 1)], "at least 4"),
        ([(0, 0), (1, 0), (0, 1), (1, 1)], [(0, 0), (1, 0), (0, 1)], "as many"),
        ([(0, 0), (1, 1), (2, 2), (3, 3)], [(0, 0), (1, 0), (0, 1), (1, 1)], "image points are"),
        ([(0, 0), (1, 0), (0, 1), (1, 1)], [(0, 0), (1, 0), (2, 0), (5, 0)], "site points are"),
        ([(0, 0), (1, 0), (2, 0), (0, 4)], [(0, 0), (1, 0), (2, 0), (0, 1)], "general position"),
        ([(0, 0), (0, 0), (0, 0), (1, 5)], [(0, 0), (1, 0), (0, 1), (1, 1)], "coincide"),
        ([(0, 0), (1, 0), (0, np.nan), (1, 1)], [(0, 0), (1, 0), (0, 1), (1, 1)], "finite"),
    ],
)
def test_fit_rejects_degenerate_input(image: list, site: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Homography.fit(image, site)


def test_scale_at_matches_finite_difference_and_grows_with_distance() -> None:
    h = cam()
    x, y = 400.0, 300.0
    fd = np.linalg.norm(h.to_site((x + 0.5, y)) - h.to_site((x - 0.5, y)))
    assert h.scale_at((x, y)) == pytest.approx(fd, rel=1e-4)
    # farther from the camera (higher in the image) a pixel covers more ground
    near, far = h.scale_at((400, 420)), h.scale_at((400, 150))
    assert far > near


def test_on_ground_separates_the_horizon() -> None:
    h = cam()
    # horizon: w = 0.0001 x + 0.002 y + 1 = 0 -> far above the image for x in range; build
    # a point on the other side explicitly
    above = np.array([[0.0, -600.0]])
    assert h.on_ground(IMG).all()
    assert not h.on_ground(above).any()


@settings(max_examples=200, deadline=None)
@given(st.tuples(st.floats(0, 800), st.floats(100, 600)))
def test_round_trip_image_site_image(p: tuple[float, float]) -> None:
    h = cam()
    back = h.to_image(h.to_site(np.array([p])))
    np.testing.assert_allclose(back, [p], atol=1e-6)


@pytest.mark.shared
def test_pets_ground_plane_fits_foot_points() -> None:
    gt = SHARED / "data" / "pets09-s2l1" / "gt.txt"
    if not gt.is_file():
        pytest.skip(f"real data not available: {gt} is absent")
    rows = np.loadtxt(gt, delimiter=",")
    rows = rows[rows[:, 6] == 1]
    foot = np.c_[rows[:, 2] + rows[:, 4] / 2, rows[:, 3] + rows[:, 5]]
    world = rows[:, 7:9]
    h = Homography.fit(foot, world)
    err = h.reprojection_error(foot, world)
    # the annotated boxes' foot points sit on the annotated ground positions to ~0.2 m
    assert float(np.median(err)) < 0.3
    assert float(np.percentile(err, 95)) < 1.0


# --------------------------------------------------------------------------- polylines
def test_signed_distance_sign_convention() -> None:
    line = [(0.0, 0.0), (10.0, 0.0)]  # walking east
    d = signed_distance([(5, 2), (5, -3), (5, 0), (13, 4)], line)
    np.testing.assert_allclose(d, [2.0, -3.0, 0.0, 5.0])  # north (Y up) is left, positive
    assert side_of((5, 2), line) == 1
    assert isinstance(signed_distance((5, 2), line), float)


def test_signed_distance_around_corners_is_consistent() -> None:
    # an L: east then north (left turn). Inside the corner is the left side.
    line = [(0.0, 0.0), (10.0, 0.0), (10.0, 10.0)]
    assert side_of((9, 1), line) == 1
    assert side_of((11, -1), line) == -1  # outside the corner, nearest point is the vertex
    assert side_of((12, -3), line) == -1
    assert side_of((13, 0), line) == -1  # on the extension of the first segment
    assert side_of((10, -3), line) == -1  # on the extension of the second segment
    # right turn: east then south; outside the corner (beyond the vertex) is the left
    line2 = [(0.0, 0.0), (10.0, 0.0), (10.0, -10.0)]
    assert side_of((11, 1), line2) == 1
    assert side_of((9, -1), line2) == -1


@settings(max_examples=200, deadline=None)
@given(st.lists(point, min_size=3, max_size=6, unique=True), point)
def test_signed_distance_magnitude_is_distance_to_segments(poly: list, p: tuple) -> None:
    pl = np.array(poly)
    assume(np.all(np.linalg.norm(np.diff(pl, axis=0), axis=1) > 1e-3))
    best = np.inf
    for a, b in itertools.pairwise(pl):
        d = b - a
        u = np.clip(np.dot(np.array(p) - a, d) / np.dot(d, d), 0, 1)
        best = min(best, float(np.linalg.norm(np.array(p) - (a + u * d))))
    assert abs(signed_distance(p, pl)) == pytest.approx(best, rel=1e-9, abs=1e-9)


def test_segment_intersection_parameters() -> None:
    hit = segment_intersection((0, -1), (0, 3), (-2, 0), (2, 0))
    assert hit == pytest.approx((0.25, 0.5))
    assert segment_intersection((0, 1), (0, 3), (-2, 0), (2, 0)) is None  # does not reach
    assert segment_intersection((3, -1), (3, 1), (-2, 0), (2, 0)) is None  # beyond the end
    assert segment_intersection((-2, 0), (2, 0), (-1, 0), (1, 0)) is None  # collinear


@settings(max_examples=300, deadline=None)
@given(point, point, point, point)
def test_segment_intersects_iff_endpoints_straddle(a: tuple, b: tuple, c: tuple, d: tuple) -> None:
    """p0->p1 meets q0-q1 iff each segment's endpoints lie on opposite sides of the other's
    line (strictly; touching cases are left out)."""
    p0, p1, q0, q1 = map(np.array, (a, b, c, d))

    def cr(o: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
        return float((x - o)[0] * (y - o)[1] - (x - o)[1] * (y - o)[0])

    c1, c2 = cr(q0, q1, p0), cr(q0, q1, p1)
    c3, c4 = cr(p0, p1, q0), cr(p0, p1, q1)
    scale = (np.linalg.norm(p1 - p0) + 1) * (np.linalg.norm(q1 - q0) + 1)
    assume(min(abs(c1), abs(c2), abs(c3), abs(c4)) > 1e-6 * scale)
    straddle = (c1 > 0) != (c2 > 0) and (c3 > 0) != (c4 > 0)
    hit = segment_intersection(p0, p1, q0, q1)
    assert (hit is not None) == straddle
    if hit is not None:
        s, u = hit
        np.testing.assert_allclose(p0 + s * (p1 - p0), q0 + u * (q1 - q0), atol=1e-6 * scale)


def test_crossing_of_segment_multi_segment_polyline() -> None:
    line = [(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (20.0, 10.0)]
    c = crossing_of_segment((15.0, 5.0), (5.0, 5.0), line)  # crosses the middle segment
    assert c is not None
    assert c.segment == 1
    assert c.fraction == pytest.approx(0.5)
    assert c.point == pytest.approx((10.0, 5.0))
    assert c.direction == 1  # from the right (-) to the left (+) of a north-going segment
    # a path that crosses three segments gives all three, in path order, alternating
    hits = crossings_of_segment((5.0, -5.0), (15.0, 15.0), line)
    assert [h.segment for h in hits] == [0, 1, 2]
    assert hits[0].fraction < hits[1].fraction < hits[2].fraction
    assert [h.direction for h in hits] == [1, -1, 1]
    # grazing the outside of a corner: touches both segments, in opposite directions
    graze = crossings_of_segment((12.0, 1.0), (8.0, -1.0), line)
    assert sorted(h.direction for h in graze) == [-1, 1]
    # through a shared vertex: one crossing, not two
    assert len(crossings_of_segment((5.0, 5.0), (15.0, -5.0), line)) == 1
    assert crossing_of_segment((-5.0, -1.0), (-5.0, 1.0), line) is None  # round the end


@settings(max_examples=200, deadline=None)
@given(point, point)
def test_crossing_point_lies_on_path_and_line(p0: tuple, p1: tuple) -> None:
    line = np.array([(-500.0, -100.0), (0.0, 50.0), (400.0, -20.0)])
    c = crossing_of_segment(p0, p1, line)
    sides = side_of(np.array([p0, p1]), line)
    if c is None:
        return
    a, b = np.array(p0), np.array(p1)
    np.testing.assert_allclose(c.point, a + c.fraction * (b - a), atol=1e-6)
    assert abs(signed_distance(c.point, line)) < 1e-6 * (1 + np.abs(line).max())
    # same side at both ends: the path crossed an even number of times. This parity only
    # holds where the open polyline separates the plane: over its x-range (it is the graph
    # of a function of x there); beyond its ends a path can cross once and come round.
    inside = all(-500.0 < p[0] < 400.0 for p in (p0, p1))
    if inside and sides[0] * sides[1] > 0:
        assert len(crossings_of_segment(p0, p1, line)) % 2 == 0


# --------------------------------------------------------------------------- polygons
def test_polygon_area_and_orientation() -> None:
    sq = [(0, 0), (4, 0), (4, 3), (0, 3)]
    assert polygon_area(sq) == pytest.approx(12.0)
    assert signed_polygon_area(sq) > 0
    assert signed_polygon_area(sq[::-1]) < 0
    assert polygon_area([(0, 0), (4, 0), (4, 4), (2, 1), (0, 4)]) == pytest.approx(10.0)


def test_points_in_concave_polygon() -> None:
    u_shape = [(0, 0), (6, 0), (6, 6), (4, 6), (4, 2), (2, 2), (2, 6), (0, 6)]
    pts = np.array([(1, 1), (3, 4), (5, 5), (3, 1), (7, 1), (-1, 3)])
    np.testing.assert_array_equal(
        points_in_polygon(pts, u_shape), [True, False, True, True, False, False]
    )
    assert points_in_polygon((1, 1), u_shape) is True


@settings(max_examples=200, deadline=None)
@given(st.floats(-50, 50), st.floats(-50, 50), st.floats(0.5, 30), st.floats(0.5, 30), point)
def test_points_in_rectangle_property(x0: float, y0: float, w: float, h: float, p: tuple) -> None:
    rect = [(x0, y0), (x0 + w, y0), (x0 + w, y0 + h), (x0, y0 + h)]
    px, py = p
    assume(min(abs(px - x0), abs(px - x0 - w), abs(py - y0), abs(py - y0 - h)) > 1e-6)
    expected = x0 < px < x0 + w and y0 < py < y0 + h
    assert points_in_polygon(p, rect) is expected


@settings(max_examples=200, deadline=None)
@given(st.lists(point, min_size=2, max_size=6), st.lists(point, min_size=1, max_size=5))
def test_single_point_fast_paths_agree_with_vectorised(poly: list, pts: list) -> None:
    pl = np.array(poly)
    assume(np.any(np.linalg.norm(np.diff(pl, axis=0), axis=1) > 1e-3))
    # a polyline that goes back over itself has no side along the overlap (a point there is
    # as near to either direction, and the two paths may break that tie differently)
    d = np.diff(pl, axis=0)
    d = d[np.linalg.norm(d, axis=1) > 1e-9]
    cross = d[:-1, 0] * d[1:, 1] - d[:-1, 1] * d[1:, 0]
    assume(not np.any((np.abs(cross) < 1e-9) & (np.einsum("ij,ij->i", d[:-1], d[1:]) < 0)))
    many = signed_distance(np.array(pts), pl)
    for p, d in zip(pts, np.atleast_1d(many), strict=True):
        assert signed_distance(p, pl) == pytest.approx(float(d), rel=1e-9, abs=1e-9)
    if len(poly) >= 3:
        inside = points_in_polygon(np.array(pts), pl)
        for p, v in zip(pts, np.atleast_1d(inside), strict=True):
            assert points_in_polygon(p, pl) is bool(v)
