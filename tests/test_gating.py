"""Motion gating policy (linewatch.detect.gating) on synthetic scenes with a fake detector.

The fake detector finds bright blobs (textured "people" on a black ground), on whole frames
or on crops, and records what it was asked to run, so the tests can check both what the
gate outputs and when the model ran.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import pytest

from linewatch.detect.flow import carry_boxes
from linewatch.detect.gating import GatingParams, MotionGatedDetector
from linewatch.detect.letterbox import Letterbox, letterbox_top_left
from linewatch.detect.mosaic import Packing, pack
from linewatch.detect.motionmask import MotionMask
from linewatch.detect.nms import iou_matrix
from linewatch.records import Detections, Frame, ObjectClass

W, H, FPS = 320, 240, 10.0
RNG = np.random.default_rng(7)
TEXTURE = RNG.integers(150, 256, size=(40, 20, 3), dtype=np.uint8)  # a "person", 20 x 40


class BlobDetector:
    """Bright connected blobs -> person boxes (score from the blob's mean brightness)."""

    name = "blobs"
    nms_iou = 0.45

    def __init__(self, crops: bool = True) -> None:
        self._crops = crops
        self.full_calls: list[int] = []  # images per detect_images call
        self.crop_calls: list[list[tuple[int, int, int, int]]] = []

    @property
    def supports_crops(self) -> bool:
        return self._crops

    def frame_letterbox(self, w: int, h: int) -> Letterbox:
        return letterbox_top_left(w, h, 320, 320)

    def crop_packing(self, image_size: tuple[int, int], rois: Sequence[tuple]) -> Packing:
        return pack([(x2 - x1, y2 - y1) for x1, y1, x2, y2 in rois])

    def _blobs(self, image: np.ndarray) -> Detections:
        mask = (image.max(axis=2) > 100).astype(np.uint8)
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask)
        boxes = [[x, y, x + w, y + h] for x, y, w, h, area in stats[1:n].tolist() if area >= 20]
        return Detections(
            np.array(boxes, np.float32).reshape(-1, 4),
            np.full(len(boxes), 0.9, np.float32),
            np.full(len(boxes), int(ObjectClass.PERSON)),
        )

    def detect_images(self, images: Sequence[np.ndarray]) -> list[Detections]:
        self.full_calls.append(len(images))
        return [self._blobs(im) for im in images]

    def detect_crops(
        self, image: np.ndarray, rois: Sequence[tuple], packing: Packing | None = None
    ) -> list[Detections]:
        self.crop_calls.append(list(rois))
        out = []
        for x1, y1, x2, y2 in rois:
            d = self._blobs(image[y1:y2, x1:x2])
            d.xyxy[:, [0, 2]] += x1
            d.xyxy[:, [1, 3]] += y1
            out.append(d)
        return out


def scene(people: Sequence[tuple[int, int]], brightness: int = 0) -> np.ndarray:
    img = np.full((H, W, 3), brightness, np.uint8)
    for x, y in people:
        img[y : y + 40, x : x + 20] = TEXTURE
    return img


def frame(i: int, image: np.ndarray, camera: str = "cam") -> Frame:
    return Frame(camera, i, i / FPS, image)


def truth(x: int, y: int) -> list[float]:
    return [x, y, x + 20, y + 40]


def best_iou(dets: Detections, box: list[float]) -> float:
    if len(dets) == 0:
        return 0.0
    return float(iou_matrix(dets.xyxy, [box]).max())


def gate(det: BlobDetector, **kw: float) -> MotionGatedDetector:
    return MotionGatedDetector(det, GatingParams(**kw))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- policy
def test_static_scene_runs_the_model_once_and_rechecks_at_the_set_rate() -> None:
    det = BlobDetector()
    g = gate(det, recheck_seconds=1.0, refresh_seconds=10.0)
    outs = [g.detect(frame(i, scene([(100, 80)]))) for i in range(35)]
    assert det.full_calls == [1]  # the first frame only
    # re-checks (crops around the previous detection) at t = 1.0, 2.0, 3.0
    assert len(det.crop_calls) == 3
    assert all(o.xyxy.tolist() == [truth(100, 80)] for o in outs)
    assert all(o.score.tolist() == pytest.approx([0.9]) for o in outs)
    assert g.stats.reuse == 35 - 1 - 3


def test_refresh_runs_the_whole_frame() -> None:
    det = BlobDetector()
    g = gate(det, recheck_seconds=1.0, refresh_seconds=2.0)
    for i in range(45):
        g.detect(frame(i, scene([(100, 80)])))
    assert len(det.full_calls) == 3  # t = 0, 2, 4
    assert g.stats.full_reasons == {"first": 1, "refresh": 2}


def test_moving_person_is_followed_every_frame() -> None:
    det = BlobDetector()
    g = gate(det)
    ious = []
    for i in range(40):
        x = 20 + 6 * i
        ious.append(best_iou(g.detect(frame(i, scene([(x, 100)]))), truth(x, 100)))
    assert min(ious) > 0.8, ious
    assert det.full_calls == [1]
    assert g.stats.crops > 0 and g.stats.carry > 0  # crops and optical-flow carries
    # no crop covers the whole frame: the model sees small regions
    assert max((x2 - x1) * (y2 - y1) for c in det.crop_calls for x1, y1, x2, y2 in c) < W * H / 4


def test_person_who_stops_and_lies_still_stays_detected() -> None:
    det = BlobDetector()
    g = gate(det, recheck_seconds=1.0)
    seen = []
    for i in range(80):
        x = 30 + 5 * min(i, 15)  # walks for 1.5 s, then stays still for 6.5 s
        if i == 50:  # by now the background has absorbed the walk (time constant 1 s)
            runs_before = len(det.crop_calls) + len(det.full_calls)
        d = g.detect(frame(i, scene([(x, 120), (250, 20)])))
        seen.append(best_iou(d, truth(x, 120)) > 0.8 and best_iou(d, truth(250, 20)) > 0.99)
    assert all(seen)
    # the last 3 s of still scene: the model ran only for the re-checks (t = 5, 6, 7)
    assert len(det.crop_calls) + len(det.full_calls) - runs_before == 3


def test_newcomer_is_found_within_one_frame_and_a_leaver_dropped() -> None:
    det = BlobDetector()
    g = gate(det)
    found_at = None
    for i in range(20):
        people = [(60, 60)] + ([(200, 150)] if i >= 5 else [])
        d = g.detect(frame(i, scene(people)))
        if found_at is None and best_iou(d, truth(200, 150)) > 0.9:
            found_at = i
    assert found_at is not None and found_at <= 6
    gone_at = None
    for i in range(20, 40):
        d = g.detect(frame(i, scene([(60, 60)])))
        if gone_at is None and best_iou(d, truth(200, 150)) == 0.0:
            gone_at = i
        assert best_iou(d, truth(60, 60)) > 0.99
    assert gone_at is not None and gone_at <= 22


def test_scene_change_runs_the_whole_frame() -> None:
    det = BlobDetector()
    g = gate(det)
    g.detect(frame(0, scene([(60, 60)])))
    g.detect(frame(1, scene([(60, 60)])))
    g.detect(frame(2, scene([(60, 60)], brightness=90)))  # lights on
    assert g.stats.full_reasons.get("scene") == 1


def test_fixed_size_model_runs_whole_frames_only_on_motion_or_recheck() -> None:
    det = BlobDetector(crops=False)
    g = gate(det, recheck_seconds=1.0)
    for i in range(5):
        g.detect(frame(i, scene([(60, 60)])))
    assert det.full_calls == [1] and not det.crop_calls
    for i in range(5, 8):
        g.detect(frame(i, scene([(60 + 5 * i, 60)])))
    assert det.crop_calls == []
    assert 1 < len(det.full_calls) <= 4  # motion: whole frames (some carried)


def test_cameras_have_separate_state_and_full_runs_are_batched() -> None:
    det = BlobDetector()
    g = gate(det)
    out = g.detect_batch([frame(0, scene([(10, 10)]), "a"), frame(0, scene([(200, 100)]), "b")])
    assert det.full_calls == [2]
    assert out[0].xyxy.tolist() == [truth(10, 10)] and out[1].xyxy.tolist() == [truth(200, 100)]
    out = g.detect_batch([frame(1, scene([(10, 10)]), "a"), frame(1, scene([(200, 100)]), "b")])
    assert det.full_calls == [2]  # nothing moved in either camera
    assert out[1].xyxy.tolist() == [truth(200, 100)]
    g.forget("a")
    g.detect(frame(2, scene([(10, 10)]), "a"))
    assert det.full_calls == [2, 1]
    g.reset()
    g.detect(frame(3, scene([(200, 100)]), "b"))
    assert det.full_calls == [2, 1, 1]


def test_regions_grow_to_the_previous_box_and_merge_only_when_cheaper() -> None:
    g = gate(BlobDetector(), margin_frac=0.0, min_margin_px=4)
    prev = np.array([[100, 100, 120, 140]], np.float32)
    rois = g.regions(np.array([[105, 130, 115, 140]], np.int32), prev, W, H)
    assert rois == [(96, 96, 124, 144)]
    # two far-apart blobs whose margins overlap a little: kept apart
    rois = g.regions(np.array([[10, 10, 40, 40], [45, 10, 75, 40]], np.int32), prev[:0], W, H)
    assert len(rois) == 1  # union (73 x 38) costs less than the two (38 x 38 each) apart
    rois = g.regions(np.array([[10, 10, 40, 200], [44, 196, 300, 230]], np.int32), prev[:0], W, H)
    assert len(rois) == 2


# --------------------------------------------------------------------------- building blocks
def test_motion_mask_finds_what_moved() -> None:
    m = MotionMask()
    assert m.update(scene([(60, 60)]), 0.0).first
    still = m.update(scene([(60, 60)]), 0.1)
    assert still.boxes.shape == (0, 4) and still.fraction == 0.0
    moved = m.update(scene([(70, 60)]), 0.2)
    assert len(moved.boxes) >= 1
    x1, y1, x2, y2 = (
        moved.boxes[:, 0].min(),
        moved.boxes[:, 1].min(),
        moved.boxes[:, 2].max(),
        moved.boxes[:, 3].max(),
    )
    assert x1 <= 62 and y1 <= 62 and x2 >= 88 and y2 >= 98


def test_carry_boxes_follows_a_textured_object() -> None:
    a = cv2.cvtColor(scene([(100, 100)]), cv2.COLOR_BGR2GRAY)
    b = cv2.cvtColor(scene([(105, 103)]), cv2.COLOR_BGR2GRAY)
    boxes, moved = carry_boxes(a, b, np.array([truth(100, 100)], np.float32), 1.0, (W, H))
    assert moved.tolist() == [True]
    np.testing.assert_allclose(boxes, [truth(105, 103)], atol=1.0)
    # a box on a textureless ground cannot be tracked: it stays
    boxes, moved = carry_boxes(a, b, np.array([[0, 0, 20, 20]], np.float32), 1.0, (W, H))
    assert boxes.tolist() == [[0, 0, 20, 20]]
