"""track/: the multi-object tracker on synthetic detections (no video), plus the PETS09-S2L1
oracle check and the YOLOX-nano regression figure when ../shared is present."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest

from linewatch.config import TrackerConfig
from linewatch.records import Detections, ObjectClass, TrackPoint
from linewatch.track import Tracker, TrackUpdate

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PETS = SHARED / "data" / "pets09-s2l1"
YOLOX = SHARED / "models" / "yolox-nano" / "yolox_nano.onnx"
FPS = 7.0

#: recorded with the default TrackerConfig on YOLOX-nano (416, score >= 0.1, NMS 0.45)
#: detections of PETS09-S2L1 (bench/compare_trackers.py prints the same figures)
PETS_IDF1 = 0.781
PETS_HOTA = 0.568

Box = tuple[float, float, float, float]


def person(cx: float, foot: float, h: float = 80.0) -> Box:
    w = 0.4 * h
    return (cx - w / 2, foot - h, cx + w / 2, foot)


def dets(boxes: Iterable[Box], scores: Iterable[float] | None = None, cls: int = 1) -> Detections:
    b = list(boxes)
    s = [0.9] * len(b) if scores is None else list(scores)
    return Detections(np.asarray(b, dtype=np.float32).reshape(-1, 4), s, [cls] * len(b))


def run(
    tracker: Tracker,
    frames: Iterable[tuple[float, Detections]],
) -> tuple[list[TrackPoint], list[int]]:
    points: list[TrackPoint] = []
    ended: list[int] = []
    for i, (t, d) in enumerate(frames):
        up = tracker.update(d, t, i)
        points += up.points
        ended += up.ended
    ended += tracker.finish()
    return points, ended


# --------------------------------------------------------------------------- synthetic


def test_person_lying_still_ten_minutes_keeps_one_id() -> None:
    rng = np.random.default_rng(0)
    frames = []
    n = int(600 * FPS)  # 10 simulated minutes at 7 fps
    lying = (300.0, 400.0, 390.0, 430.0)  # wide, low box
    blackout = range(int(200 * FPS), int(260 * FPS))  # the detector loses him for a minute
    for i in range(n):
        t = i / FPS
        if i in blackout or rng.random() < 0.2:  # and misses 20 % of the other frames
            frames.append((t, Detections.empty()))
            continue
        jitter = rng.normal(0, 1.5, 4)
        frames.append((t, dets([tuple(np.add(lying, jitter))], [rng.uniform(0.55, 0.9)])))
    points, ended = run(Tracker(TrackerConfig(), "cam"), frames)
    assert {p.track_id for p in points} == {1}
    assert ended == [1]
    # seen again after the one-minute blackout, under the same id
    assert max(p.t for p in points) > 590
    assert any(p.t > 260 for p in points) and any(p.t < 200 for p in points)


def test_lying_still_ends_after_max_lost_stationary_seconds() -> None:
    cfg = TrackerConfig(max_lost_stationary_seconds=30.0)
    box = (300.0, 400.0, 390.0, 430.0)
    trk = Tracker(cfg, "cam")
    ended: list[int] = []
    for i in range(int(60 * FPS)):
        d = dets([box]) if i < 5 * FPS else Detections.empty()
        ended += trk.update(d, i / FPS, i).ended
        if ended:
            assert 5 + 30 <= i / FPS <= 5 + 30 + 1
            break
    assert ended == [1]
    assert trk.live_tracks == 0


def _crossing_frames(drop_occluded: bool) -> tuple[list[tuple[float, Detections]], list[list[str]]]:
    """Two walkers on crossing paths (A left->right, B right->left, B nearer the camera).
    Returns the frames and, per frame, which walker each detection belongs to."""
    frames, who = [], []
    for i in range(int(8 * FPS)):
        t = i / FPS
        ax, bx = 100 + 60 * t, 580 - 60 * t  # 60 px/s, they meet at t = 4 s
        a, b = person(ax, 300.0, 80.0), person(bx, 320.0, 90.0)
        overlap = abs(ax - bx) < 30
        boxes, names = [a, b], ["A", "B"]
        if drop_occluded and overlap:  # A hidden behind B: no detection of A
            boxes, names = [b], ["B"]
        frames.append((t, dets(boxes)))
        who.append(names)
    return frames, who


@pytest.mark.parametrize("drop_occluded", [False, True])
def test_two_people_crossing_keep_their_ids(drop_occluded: bool) -> None:
    frames, who = _crossing_frames(drop_occluded)
    trk = Tracker(TrackerConfig(), "cam")
    by_walker: dict[str, set[int]] = defaultdict(set)
    for i, (t, d) in enumerate(frames):
        for p in trk.update(d, t, i).points:
            # which walker is this point's box? (the detection it was made from)
            k = int(np.argmin(np.abs(d.xyxy[:, 0] - p.box[0])))
            by_walker[who[i][k]].add(p.track_id)
    trk.finish()
    assert len(by_walker["A"]) == 1 and len(by_walker["B"]) == 1
    assert by_walker["A"] != by_walker["B"]


def test_occlusion_gap_of_two_seconds_reassociates() -> None:
    frames = []
    for i in range(int(8 * FPS)):
        t = i / FPS
        hidden = 3.0 <= t < 5.0  # behind a pillar for 2 s, walking on at 50 px/s
        frames.append((t, Detections.empty() if hidden else dets([person(100 + 50 * t, 300)])))
    points, ended = run(Tracker(TrackerConfig(), "cam"), frames)
    assert {p.track_id for p in points} == {1}
    assert any(p.t >= 5.0 for p in points)
    assert ended == [1]


def test_turning_back_while_hidden_reassociates() -> None:
    """Hidden for 1.2 s while it stops and walks back: the constant-velocity prediction is
    far off by then; the detection near where it was last seen still takes the track."""
    frames = []
    for i in range(int(8 * FPS)):
        t = i / FPS
        x = 100 + 60 * t if t < 3.0 else 280 - 60 * (t - 3.0)  # turns back at t = 3 s
        hidden = 2.4 <= t < 3.6
        frames.append((t, Detections.empty() if hidden else dets([person(x, 300, 60)])))
    points, _ = run(Tracker(TrackerConfig(), "cam"), frames)
    assert {p.track_id for p in points} == {1}
    assert any(p.t > 3.6 for p in points)


def test_gap_longer_than_max_lost_gives_a_new_id() -> None:
    """The control of the test above: the same gap beyond max_lost_seconds."""
    frames = []
    for i in range(int(8 * FPS)):
        t = i / FPS
        hidden = 3.0 <= t < 5.0
        frames.append((t, Detections.empty() if hidden else dets([person(100 + 50 * t, 300)])))
    points, ended = run(Tracker(TrackerConfig(max_lost_seconds=1.0), "cam"), frames)
    assert {p.track_id for p in points} == {1, 2}
    assert ended == [1, 2]


def test_irregular_frame_times() -> None:
    """dt comes from t: a walker sampled at irregular times (1-6 frames apart) keeps one id."""
    rng = np.random.default_rng(3)
    t, frames = 0.0, []
    while t < 20:
        frames.append((t, dets([person(50 + 40 * t, 300)])))
        t += rng.integers(1, 7) / 7.0
    points, _ = run(Tracker(TrackerConfig(), "cam"), frames)
    assert {p.track_id for p in points} == {1}
    # every observation is emitted but, at worst, the very first: a lone tentative box has
    # no velocity yet and the walker may have moved off it when the next frame comes late
    assert len(points) >= len(frames) - 1
    assert len(frames) > 40


def test_time_must_not_go_backwards() -> None:
    trk = Tracker(TrackerConfig(), "cam")
    trk.update(dets([person(100, 300)]), 1.0, 7)
    with pytest.raises(ValueError, match="backwards"):
        trk.update(dets([person(100, 300)]), 0.5, 3)


def test_ids_are_counted_per_instance() -> None:
    a, b = Tracker(TrackerConfig(), "cam1"), Tracker(TrackerConfig(), "cam2")
    for i in range(10):
        t = i / FPS
        pa = a.update(dets([person(100 + 5 * i, 300), person(400, 300)]), t, i).points
        pb = b.update(dets([person(200 + 5 * i, 300)]), t, i).points
        assert all(p.camera == "cam1" for p in pa) and all(p.camera == "cam2" for p in pb)
    assert sorted({p.track_id for p in pa}) == [1, 2]
    assert {p.track_id for p in pb} == {1}  # not 3: the counter is not shared


def test_ended_tracks_state_is_dropped() -> None:
    trk = Tracker(TrackerConfig(max_lost_seconds=1.0, exit_lost_seconds=0.5), "cam")
    ended: list[int] = []
    for i in range(int(30 * FPS)):
        t = i / FPS
        # a new walker every 3 s, each seen for 2 s, on another path 200 px away from the
        # previous one's: at most one alive at a time
        k, age = divmod(t, 3.0)
        boxes = [person(100 + 40 * age, 150 + 200 * (k % 2))] if age < 2.0 else []
        ended += trk.update(dets(boxes), t, i).ended
        assert trk.live_tracks <= 2
    ended += trk.finish()
    assert ended == list(range(1, 11))  # ten walkers, each reported ended exactly once
    assert trk.live_tracks == 0
    assert not trk._tracks  # internal map empty


def test_reset_forgets_tracks_and_restarts_ids() -> None:
    trk = Tracker(TrackerConfig(), "cam")
    for i in range(5):
        trk.update(dets([person(100 + 5 * i, 300)]), i / FPS, i)
    trk.reset()
    assert trk.live_tracks == 0
    pts = [p for i in range(5) for p in trk.update(dets([person(300, 300)]), i / FPS, i).points]
    assert {p.track_id for p in pts} == {1}


def test_backfill_on_confirmation() -> None:
    trk = Tracker(TrackerConfig(confirm_hits=3), "cam")
    ups: list[TrackUpdate] = []
    for i in range(5):
        ups.append(trk.update(dets([person(100 + 6 * i, 300)]), i / FPS, i))
    assert [len(u.points) for u in ups] == [0, 0, 3, 1, 1]
    backfill = ups[2].points
    assert [p.frame for p in backfill] == [0, 1, 2]
    assert [p.t for p in backfill] == pytest.approx([0, 1 / FPS, 2 / FPS])
    assert {p.track_id for p in backfill} == {1}
    assert backfill[0].box == pytest.approx(person(100, 300))  # the observed box, not a guess


def test_unconfirmed_clutter_gets_no_id_and_leaves_no_gap() -> None:
    trk = Tracker(TrackerConfig(confirm_hits=3), "cam")
    points: list[TrackPoint] = []
    for i in range(20):
        boxes = [person(100 + 6 * i, 300)]
        if i in (3, 4):  # a two-frame false positive elsewhere
            boxes.append(person(500, 200))
        if i >= 10:  # a second real person
            boxes.append(person(400, 350))
        points += trk.update(dets(boxes), i / FPS, i).points
    assert sorted({p.track_id for p in points}) == [1, 2]


def test_confirmation_needs_one_confident_detection() -> None:
    cfg = TrackerConfig(new_track_score=0.7)
    trk = Tracker(cfg, "cam")
    pts = [
        p for i in range(20) for p in trk.update(dets([person(300, 300)], [0.6]), i / FPS, i).points
    ]
    assert pts == []  # a steady 0.6 never makes a track...
    pts = trk.update(dets([person(300, 300)], [0.75]), 20 / FPS, 20).points
    assert {p.track_id for p in pts} == {1}  # ...one detection at 0.75 confirms it
    assert len(pts) > 1  # with its recent tentative path back-filled


def test_low_score_second_stage_keeps_a_track_alive() -> None:
    def frames() -> list[tuple[float, Detections]]:
        out = []
        for i in range(int(10 * FPS)):
            t = i / FPS
            weak = 2.0 <= t < 7.0  # 5 s of low-confidence detections (> max_lost_seconds)
            out.append((t, dets([person(100 + 40 * t, 300)], [0.3 if weak else 0.9])))
        return out

    points, _ = run(Tracker(TrackerConfig(max_lost_seconds=3.0, low_score=0.1), "cam"), frames())
    assert {p.track_id for p in points} == {1}
    assert sum(1 for p in points if 2.0 <= p.t < 7.0) == int(5 * FPS)  # observed, not coasting
    # control: when the low-score detections are ignored, the track is lost
    points, _ = run(Tracker(TrackerConfig(max_lost_seconds=3.0, low_score=0.4), "cam"), frames())
    assert len({p.track_id for p in points}) == 2


def test_low_score_detections_never_start_tracks() -> None:
    trk = Tracker(TrackerConfig(high_score=0.5), "cam")
    pts = [
        p
        for i in range(30)
        for p in trk.update(dets([person(300, 300)], [0.45]), i / FPS, i).points
    ]
    assert pts == []
    assert trk.live_tracks == 0


def test_walker_does_not_stick_to_static_clutter() -> None:
    """A walker passes a static false detection (a sign at score 0.55): while the walker's
    own detection is missing right after passing it, the track must not jump onto the sign."""
    sign = (200.0, 220.0, 230.0, 300.0)
    frames = []
    for i in range(int(12 * FPS)):
        t = i / FPS
        x = 60 + 30 * t  # passes the sign (x 215) at about t = 5.2 s
        boxes, scores = [sign], [0.55]
        walker = person(x, 302, 82)
        hidden = 4.5 <= t < 6.0  # merged with the sign, then missed
        if not hidden:
            boxes.append(walker)
            scores.append(0.85)
        frames.append((t, dets(boxes, scores)))
    points, _ = run(Tracker(TrackerConfig(), "cam"), frames)
    assert {p.track_id for p in points} == {1}  # the sign never becomes a track
    late = [p for p in points if p.t > 8.0]
    assert late and all(abs(p.foot[0] - (60 + 30 * p.t)) < 5 for p in late)


def test_track_leaving_the_image_ends_soon_and_a_newcomer_gets_a_new_id() -> None:
    frames = []
    for i in range(int(10 * FPS)):
        t = i / FPS
        boxes = []
        if t < 4.0:  # walks out through the right border (image 640 wide) at 80 px/s
            x = 340 + 80 * t
            boxes.append((x - 16, 220, min(x + 16, 640), 300))
        if t >= 5.5:  # somebody else walks in at the same place 1.5 s later
            x = 640 - 80 * (t - 5.5)
            boxes.append((x - 16, 222, min(x + 16, 640), 302))
        frames.append((t, dets(boxes)))
    trk = Tracker(TrackerConfig(max_lost_seconds=3.0), "cam", frame_size=(640, 480))
    points, ended = run(trk, frames)
    assert {p.track_id for p in points} == {1, 2}
    assert ended == [1, 2]
    first = [p for p in points if p.track_id == 1]
    assert max(p.t for p in first) < 4.0


def test_track_class_is_the_majority_vote() -> None:
    trk = Tracker(TrackerConfig(confirm_hits=1), "cam")
    classes = [1, 1, 3, 1, 3, 1, 1]
    pts: list[TrackPoint] = []
    for i, c in enumerate(classes):
        pts += trk.update(dets([person(100 + 5 * i, 300)], cls=c), i / FPS, i).points
    assert pts[-1].cls is ObjectClass.PERSON
    assert all(p.site is None for p in pts)


# --------------------------------------------------------------------------- PETS09-S2L1

needs_pets = pytest.mark.skipif(
    not (PETS / "gt.txt").is_file(),
    reason=f"PETS09-S2L1 ground truth not found at {PETS} (../shared is absent)",
)


def _track_mot_frames(frames: list[Detections], cfg: TrackerConfig) -> list[TrackPoint]:
    trk = Tracker(cfg, "pets09", frame_size=(768, 576))
    pts: list[TrackPoint] = []
    for i, d in enumerate(frames):
        pts += trk.update(d, i / FPS, i).points  # real rate 7 fps (the container says 10)
    trk.finish()
    return pts


@pytest.mark.shared
@needs_pets
def test_oracle_gt_boxes_without_ids() -> None:
    from linewatch.eval.mot import read_mot
    from linewatch.eval.tracks import evaluate_tracks

    gt = read_mot(PETS / "gt.txt")
    frames = []
    for i in range(795):
        g = gt.get(i + 1)  # gt frame N is video frame N-1
        frames.append(Detections.empty() if g is None else Detections(g.xyxy, np.ones(len(g))))
    m = evaluate_tracks(PETS / "gt.txt", _track_mot_frames(frames, TrackerConfig()))
    assert m.idf1 >= 0.95, m
    assert m.id_switches <= 2, m


@pytest.fixture(scope="session")
def pets_yolox(request: pytest.FixtureRequest) -> list[Detections]:
    """YOLOX-nano person detections of PETS09-S2L1 by the project's detector (score >= 0.1,
    NMS 0.45), cached in pytest's cache keyed by the model, the video and the detector code."""
    if not (YOLOX.is_file() and (PETS / "vtest.avi").is_file()):
        pytest.skip(f"YOLOX-nano model or PETS09 video not found under {SHARED}")
    import av

    from linewatch.config import YoloxDetectorConfig
    from linewatch.detect import onnx as onnx_mod
    from linewatch.records import Frame

    cfg = YoloxDetectorConfig(
        type="yolox",
        model=YOLOX,
        score_threshold=0.1,
        nms_iou=0.45,
        motion_gating=False,
        threads=2,
        provider="cpu",
    )
    h = hashlib.sha256(YOLOX.read_bytes())
    h.update(str((PETS / "vtest.avi").stat().st_size).encode())
    h.update(cfg.model_dump_json().encode())
    for src in sorted(Path(onnx_mod.__file__).parent.glob("*.py")):
        h.update(src.read_bytes())
    cache = Path(request.config.cache.mkdir("linewatch-pets09-yolox")) / f"{h.hexdigest()[:16]}.npz"
    if not cache.is_file():
        det = onnx_mod.build_onnx_detector(cfg, None, None)
        rows = []
        with av.open(str(PETS / "vtest.avi")) as c:
            for i, fr in enumerate(c.decode(video=0)):
                d = det.detect(Frame("pets09", i, i / FPS, fr.to_ndarray(format="bgr24")))
                d = d[d.cls == ObjectClass.PERSON]
                rows += [(i, *b, s) for b, s in zip(d.xyxy.tolist(), d.score.tolist(), strict=True)]
        np.savez_compressed(cache, rows=np.asarray(rows, dtype=np.float64).reshape(-1, 6))
    rows = np.load(cache)["rows"]
    out = []
    for i in range(795):
        r = rows[rows[:, 0] == i]
        out.append(Detections(r[:, 1:5], r[:, 5], np.full(len(r), ObjectClass.PERSON)))
    return out


@pytest.mark.shared
@pytest.mark.slow
@needs_pets
def test_pets09_yolox_regression(pets_yolox: list[Detections]) -> None:
    from linewatch.eval.tracks import evaluate_tracks

    assert len(pets_yolox) == 795
    m = evaluate_tracks(PETS / "gt.txt", _track_mot_frames(pets_yolox, TrackerConfig()))
    assert m.idf1 >= PETS_IDF1 - 0.01, m
    assert m.hota >= PETS_HOTA - 0.01, m


def test_keypoints_reach_the_track_points() -> None:
    """A pose plug-in's keypoints travel with the detection into the track's points."""
    from linewatch.config import TrackerConfig
    from linewatch.records import Detections
    from linewatch.track.tracker import Tracker

    tracker = Tracker(TrackerConfig(), "cam")
    points = []
    for f in range(6):
        box = [[100 + 2 * f, 100, 120 + 2 * f, 160]]
        kps = np.full((1, 17, 3), [110 + 2 * f, 130, 0.9], dtype=np.float32)
        points += tracker.update(Detections(box, [0.95], [1], kps), f / 10, f).points
    assert points and all(p.keypoints is not None and len(p.keypoints) == 17 for p in points)
    assert points[-1].keypoints is not None and points[-1].keypoints[0][0] == pytest.approx(120.0)
