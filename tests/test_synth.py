"""The synthetic scene renderer: camera model, rendering, video output, exact ground truth."""

from __future__ import annotations

import itertools
import json
import math
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from linewatch.config import LineConfig, load_config
from linewatch.records import ObjectClass
from linewatch.synth import (
    Actor,
    PinholeCamera,
    PostureChange,
    Scenario,
    SceneRenderer,
    Waypoint,
    expected_crossings,
    expected_events,
    expected_incursions,
    expected_persons_down,
    incident_scenario,
    load_truth,
    render,
)

SMALL_CAM = PinholeCamera(x=10.0, y=20.0, height=8.0, yaw=210.0, pitch=20.0, focal=260.0,
                          width=320, height_px=180)  # fmt: skip
PERSON, VEHICLE = ObjectClass.PERSON, ObjectClass.VEHICLE


def mdl() -> LineConfig:
    return LineConfig.model_validate(
        {"id": "mdl", "points": [(-30, 0), (30, 0)], "sides": {"left": "north", "right": "south"}}
    )


def small_scene(duration: float = 2.0, seed: int = 3) -> Scenario:
    """A vehicle and a person crossing the line southward, a person standing still."""
    return Scenario(
        camera=SMALL_CAM,
        actors=(
            Actor("car", VEHICLE, (Waypoint(0, -2, 12), Waypoint(2, -2, -8)), (40, 60, 200)),
            Actor("walker", PERSON, (Waypoint(0, 2, 4), Waypoint(2, 2.5, -1)), (200, 80, 40)),
            Actor("stander", PERSON, (Waypoint(0, 5, -6), Waypoint(2, 5, -6)), (60, 200, 60)),
        ),
        duration=duration,
        fps=10.0,
        lines=(mdl(),),
        name="small",
        seed=seed,
    )


# --------------------------------------------------------------------------- camera model
def test_ground_homography_agrees_with_projection_and_inverse() -> None:
    rng = np.random.default_rng(0)
    xy = np.column_stack([rng.uniform(-10, 10, 50), rng.uniform(-30, 5, 50)])
    via_h = SMALL_CAM.ground_to_image(xy)
    via_3d = SMALL_CAM.to_image(np.column_stack([xy, np.zeros(len(xy))]))
    np.testing.assert_allclose(via_h, via_3d, atol=1e-6)
    np.testing.assert_allclose(SMALL_CAM.image_to_ground(via_h), xy, atol=1e-6)
    # a point straight ahead on the ground lands on the image's vertical centre line
    ahead = np.array(
        [[10 + 20 * math.sin(math.radians(210)), 20 + 20 * math.cos(math.radians(210))]]
    )
    assert SMALL_CAM.ground_to_image(ahead)[0, 0] == pytest.approx(160.0, abs=1e-6)
    # higher points appear higher in the image; points behind the camera do not project
    low, high = SMALL_CAM.to_image([[0, 0, 0], [0, 0, 2]])
    assert high[1] < low[1]
    assert np.isnan(SMALL_CAM.to_image([[10, 40, 0]])).all()
    # above the horizon there is no ground
    assert np.isnan(SMALL_CAM.image_to_ground([[100, SMALL_CAM.horizon_v - 5]])).all()


def test_calibration_pairs_are_visible_exact_ground_points() -> None:
    image, site = SMALL_CAM.calibration_pairs()
    assert len(image) == len(site) >= 4
    px = np.array(image)
    assert (px[:, 0] >= 0).all() and (px[:, 0] <= 320).all()
    assert (px[:, 1] > SMALL_CAM.horizon_v).all() and (px[:, 1] <= 180).all()
    np.testing.assert_allclose(SMALL_CAM.ground_to_image(site), px, atol=2e-3)
    # the pairs determine the camera's ground homography
    fit, _ = cv2.findHomography(np.array(site), px)
    np.testing.assert_allclose(fit / fit[2, 2], SMALL_CAM.ground_homography, rtol=1e-3, atol=1e-3)


def test_truth_foot_points_match_the_boxes_bottom_centres() -> None:
    scene = small_scene()
    r = SceneRenderer(scene)
    checked = 0
    for i in range(scene.frame_count):
        f = r.frame(i, noise=False)
        for actor_id, st in f.states.items():
            v = f.views[actor_id]
            if v.box is None or v.visibility < 0.99:
                continue
            x0, y0, x1, y1 = v.box
            # the homography maps the truth foot point inside the box, near its bottom
            u, w = SMALL_CAM.ground_to_image([[st.x, st.y]])[0]
            assert x0 <= u <= x1 and y0 <= w <= y1 + 1e-6
            # and the box's bottom centre lies on the ground within the actor's footprint
            gx, gy = SMALL_CAM.image_to_ground([[(x0 + x1) / 2, y1]])[0]
            half_diag = math.hypot(st.size[0], st.size[1]) / 2
            assert math.hypot(gx - st.x, gy - st.y) <= half_diag + 0.05, actor_id
            checked += 1
    assert checked >= 40


# --------------------------------------------------------------------------- rendering
def test_truth_boxes_contain_exactly_the_pixels_each_actor_changes() -> None:
    scene = small_scene()
    r = SceneRenderer(scene)
    for i in (0, 9, 19):
        full = r.frame(i)
        for actor_id, view in full.views.items():
            without = r.frame(i, exclude={actor_id})
            diff = np.any(full.image != without.image, axis=2)
            ys, xs = np.nonzero(diff)
            if view.box is None:
                assert len(xs) == 0
                continue
            assert len(xs) > 0, f"{actor_id} is visible but changes no pixel"
            x0, y0, x1, y1 = view.box
            # anti-aliased edges may touch the pixel next to the box
            assert xs.min() >= x0 - 1.5 and xs.max() <= x1 + 1.5, actor_id
            assert ys.min() >= y0 - 1.5 and ys.max() <= y1 + 1.5, actor_id
            # the actor fills a good part of its box (it is a box, not a speck inside it)
            changed = len(xs) / max(1.0, (x1 - x0) * (y1 - y0))
            assert changed > 0.3, (actor_id, changed)


def test_occlusion_lowers_visibility() -> None:
    cam = SMALL_CAM
    # the person stands right behind the vehicle as seen from the camera
    ahead = (math.sin(math.radians(cam.yaw)), math.cos(math.radians(cam.yaw)))
    car_xy = (cam.x + 18 * ahead[0], cam.y + 18 * ahead[1])
    back_xy = (cam.x + 21 * ahead[0], cam.y + 21 * ahead[1])
    car = Actor("car", VEHICLE, (Waypoint(0, *car_xy), Waypoint(1, *car_xy)), heading=120.0)
    man = Actor("man", PERSON, (Waypoint(0, *back_xy), Waypoint(1, *back_xy)))
    scene = Scenario(camera=cam, actors=(car, man), duration=0.5, fps=10)
    views = SceneRenderer(scene).frame(0).views
    assert views["car"].visibility == pytest.approx(1.0, abs=0.02)
    assert 0.0 <= views["man"].visibility < 0.7
    alone = SceneRenderer(Scenario(camera=cam, actors=(man,), duration=0.5, fps=10)).frame(0)
    assert alone.views["man"].visibility == pytest.approx(1.0, abs=0.02)


def test_render_writes_video_config_and_truth(tmp_path: Path) -> None:
    scene = small_scene(duration=2.0)
    res = render(scene, tmp_path)
    assert res.video == tmp_path / "small.mp4"
    with av.open(str(res.video)) as c:
        stream = c.streams.video[0]
        assert stream.average_rate == Fraction(10)
        assert (stream.codec_context.width, stream.codec_context.height) == (320, 180)
        frames = list(c.decode(video=0))
    assert len(frames) == scene.frame_count == 20
    times = [float(f.pts * f.time_base) for f in frames]
    np.testing.assert_allclose(times, np.arange(20) / 10.0, atol=1e-6)
    assert frames[0].format.name == "yuv420p"
    # the config loads and describes the scene
    cfg = load_config(res.config)
    cam = cfg.cameras[0]
    assert cfg.resolve(cam.source) == res.video
    assert cam.detector.type == "motion"
    assert cam.calibration is not None and len(cam.calibration.image) >= 4
    assert cam.start_time is not None and cam.start_time.isoformat().startswith("2017-11-13T15:11")
    assert [ln.id for ln in cfg.lines] == ["mdl"]
    assert cfg.lines[0].sides.left == "north"
    # the truth reads back identical to what render returned
    truth = load_truth(res.truth)
    assert truth == res.ground_truth
    assert truth.frame_count == 20 and truth.fps == 10.0
    car = truth.actors["car"]
    assert car.cls == "vehicle" and len(car.frames) == 20
    assert car.frames[5].frame == 5 and car.frames[5].t == pytest.approx(0.5)
    assert car.frames[5].speed == pytest.approx(10.0)  # 20 m in 2 s
    assert {c.actor for c in truth.expected.crossings} == {"car", "walker"}
    # the decoded frame looks like the rendered one (lossy, but close)
    rendered = SceneRenderer(scene).frame(10).image.astype(np.int16)
    decoded = frames[10].to_ndarray(format="bgr24").astype(np.int16)
    assert np.abs(rendered - decoded).mean() < 4.0


def test_same_seed_same_truth_and_frames(tmp_path: Path) -> None:
    assert incident_scenario(5) == incident_scenario(5)
    assert incident_scenario(5) != incident_scenario(6)
    a = render(small_scene(duration=1.0), tmp_path / "a")
    b = render(small_scene(duration=1.0), tmp_path / "b")
    assert a.truth.read_bytes() == b.truth.read_bytes()
    f1 = SceneRenderer(small_scene()).frame(7).image
    f2 = SceneRenderer(small_scene()).frame(7).image
    f3 = SceneRenderer(small_scene(seed=4)).frame(7).image
    assert np.array_equal(f1, f2)
    assert not np.array_equal(f1, f3)  # another seed, other sensor noise


def test_sensor_noise_and_lighting_drift() -> None:
    scene = Scenario(camera=SMALL_CAM, actors=(), duration=30.0, fps=10, seed=1)
    r = SceneRenderer(scene)
    a, b = (r.frame(i).image.astype(np.float64) for i in (0, 1))
    noise = (a - b).std() / math.sqrt(2)
    assert 1.5 < noise < 3.5  # gaussian sensor noise of ~2.5 grey levels per frame
    gains = [r.gain(t) for t in np.arange(0, 60, 0.5)]
    assert 0.02 < max(gains) - min(gains) < 0.12
    assert max(abs(g2 - g1) for g1, g2 in itertools.pairwise(gains)) < 0.01  # slow


# --------------------------------------------------------------------------- expected events
def test_expected_crossings_and_incursion_are_exact() -> None:
    out_and_back = Actor(
        "p",
        PERSON,
        (Waypoint(0, 0, 5), Waypoint(2, 0, -3), Waypoint(3, 0, -3), Waypoint(5, 0, 2)),
    )
    outside = Actor("q", PERSON, (Waypoint(0, 40, 5), Waypoint(2, 40, -5)))  # past the line's end
    scene = Scenario(camera=SMALL_CAM, actors=(out_and_back, outside), duration=5, lines=(mdl(),))
    cs = expected_crossings(scene, "mdl")
    assert [(c.actor, c.direction) for c in cs] == [("p", "north->south"), ("p", "south->north")]
    assert cs[0].t == pytest.approx(1.25) and cs[1].t == pytest.approx(3.0 + 2 * 3 / 5)
    assert cs[0].speed_kmh == pytest.approx(4.0 * 3.6)
    (inc,) = expected_incursions(scene, "mdl", max_seconds=10)
    assert inc.side == "south" and inc.max_depth == pytest.approx(3.0)
    assert inc.duration == pytest.approx(cs[1].t - cs[0].t)
    assert expected_incursions(scene, "mdl", max_seconds=1.0) == []


def test_person_down_assistance_time_is_exact() -> None:
    down = Actor(
        "down",
        PERSON,
        (Waypoint(0, 0, 0), Waypoint(20, 0, 0)),
        postures=(PostureChange(2.0, "lying", 90.0),),
    )
    helper = Actor("helper", PERSON, (Waypoint(0, 10, 0), Waypoint(10, 0, 0)))  # 1 m/s
    car = Actor("car", VEHICLE, (Waypoint(0, 0, 1), Waypoint(20, 0, 1)))  # not a person
    scene = Scenario(camera=SMALL_CAM, actors=(down, helper, car), duration=20)
    (pd,) = expected_persons_down(scene, radius=2.0)
    assert pd.actor == "down" and pd.t_down == 2.0
    assert pd.t_assist == pytest.approx(8.0) and pd.assisted_by == "helper"
    assert down.state(5.0).posture == "lying" and down.state(5.0).size[0] == pytest.approx(1.8)


@pytest.mark.parametrize("seed", range(6))
def test_incident_has_the_required_findings(seed: int) -> None:
    scene = incident_scenario(seed)
    assert 40.0 <= scene.duration <= 65.0 and scene.fps == 10.0
    ev = expected_events(scene)
    crossings = [(c.actor, c.direction) for c in ev.crossings]
    assert crossings == [
        ("vehicle", "north->south"),
        ("pursuer1", "north->south"),
        ("pursuer1", "south->north"),
    ]
    (speed,) = ev.speeds
    assert speed.actor == "vehicle" and 50.0 <= speed.speed_kmh <= 70.0
    (inc,) = ev.incursions
    assert inc.actor == "pursuer1" and inc.side == "south"
    assert 0.5 < inc.duration < 10.0 and 2.0 < inc.max_depth < 6.0
    (p,) = ev.pursuits
    assert p.leader == "vehicle" and set(p.followers) == {"pursuer1", "pursuer2"}
    assert p.t_end - p.t_start >= 3.0
    (pd,) = ev.persons_down
    assert pd.actor == "driver" and pd.t_assist is not None
    assert pd.t_down > ev.crossings[0].t and pd.assisted_by in {"rescuer1", "rescuer2"}
    assert 15.0 <= pd.t_assist - pd.t_down <= 35.0  # much later (time compressed)
    # pursuer 2 stops short of the line; the driver lies beyond it
    p2 = scene.actor("pursuer2")
    assert min(w.y for w in p2.waypoints) > 0.5
    assert pd.y < -5.0
    # what matters happens in view: crossings, the fall, the assistance
    w, h = scene.camera.size
    moments = [(c.actor, c.t) for c in ev.crossings] + [("driver", pd.t_down + 1)]
    moments.append((pd.assisted_by, pd.t_assist))
    for actor_id, t in moments:
        u, v = scene.camera.ground_to_image([scene.actor(actor_id).position(t)])[0]
        assert 0 <= u <= w and 0 <= v <= h, (actor_id, t)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_incident_actors_rarely_overlap_in_the_image(seed: int) -> None:
    scene = incident_scenario(seed, width=320, height=180)
    r = SceneRenderer(scene)
    worst: dict[tuple[str, str], float] = {}
    for i in range(0, scene.frame_count, 2):
        boxes = {k: v.box for k, v in r.frame(i, noise=False).views.items() if v.visible}
        for (a, ba), (b, bb) in itertools.combinations(sorted(boxes.items()), 2):
            assert ba is not None and bb is not None
            ix = max(0.0, min(ba[2], bb[2]) - max(ba[0], bb[0]))
            iy = max(0.0, min(ba[3], bb[3]) - max(ba[1], bb[1]))
            small = min((ba[2] - ba[0]) * (ba[3] - ba[1]), (bb[2] - bb[0]) * (bb[3] - bb[1]))
            worst[(a, b)] = max(worst.get((a, b), 0.0), ix * iy / small)
    worst.pop(("driver", "vehicle"), None)  # he gets out of it
    assert worst, "no actors seen together"
    assert max(worst.values()) < 0.6, worst


def test_truth_json_has_the_documented_layout(tmp_path: Path) -> None:
    res = render(small_scene(duration=0.5), tmp_path)
    d = json.loads(res.truth.read_text())
    assert set(d["expected_events"]) == {
        "crossings",
        "incursions",
        "speeds",
        "pursuits",
        "persons_down",
    }
    row = d["actors"]["walker"]["frames"][0]
    assert {"t", "frame", "x", "y", "box", "posture", "visible", "visibility"} <= set(row)
    assert d["actors"]["walker"]["class"] == "person"
