"""Detection evaluation: matching, ignore boxes, AP, and the end-to-end run on a video."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from linewatch.eval.detections import (
    DetectionScorer,
    average_precision,
    evaluate_detections,
    match_frame,
)
from linewatch.records import Detections, Frame, ObjectClass

PERSON = int(ObjectClass.PERSON)


def test_match_frame_is_greedy_by_score_and_needs_iou_05() -> None:
    gt = [[0, 0, 10, 10], [20, 0, 30, 10]]
    dets = [[0, 0, 10, 10], [0, 0, 10, 9], [20, 0, 30, 5], [20, 0, 30, 4.9]]
    # det 1 (higher score) takes gt 0; det 0 finds it taken; det 2 has IoU exactly 0.5
    tp, ign = match_frame(dets, [0.5, 0.9, 0.4, 0.3], gt)
    assert tp.tolist() == [False, True, True, False]
    assert not ign.any()


def test_ignore_boxes_are_neither_hits_nor_misses() -> None:
    tp, ign = match_frame([[50, 50, 60, 60], [0, 0, 10, 10]], [0.9, 0.8], [], [[50, 50, 60, 61]])
    assert tp.tolist() == [False, False] and ign.tolist() == [True, False]
    # a detection matching a real box is a hit even when an ignore box overlaps it
    tp, ign = match_frame([[0, 0, 10, 10]], [0.9], [[0, 0, 10, 10]], [[0, 0, 10, 10]])
    assert tp.tolist() == [True] and ign.tolist() == [False]


def test_average_precision_all_point() -> None:
    # hits by score: TP, FP, TP, FP with 3 ground-truth boxes
    ap = average_precision([0.9, 0.8, 0.7, 0.6], [True, False, True, False], 3)
    assert ap == pytest.approx(1 / 3 * 1.0 + 1 / 3 * (2 / 3))
    assert average_precision([0.5, 0.9], [True, True], 2) == pytest.approx(1.0)
    assert average_precision([], [], 4) == 0.0
    assert np.isnan(average_precision([0.3], [False], 0))


def test_scorer_counts_per_class() -> None:
    s = DetectionScorer(("person", "vehicle"))
    dets = Detections(
        [[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]],
        [0.9, 0.8, 0.7],
        [PERSON, PERSON, int(ObjectClass.VEHICLE)],
    )
    s.add(dets, [[0, 0, 10, 10], [60, 60, 70, 70]])  # gt: persons
    m = s.result("x")
    p, v = m.classes["person"], m.classes["vehicle"]
    assert (p.tp, p.fp, p.fn, p.gt) == (1, 1, 1, 2)
    assert p.precision == 0.5 and p.recall == 0.5
    assert (v.tp, v.fp, v.gt) == (0, 1, 0) and np.isnan(v.recall)


def test_unknown_class_counts_when_one_class_is_evaluated() -> None:
    s = DetectionScorer(("person",))
    s.add(Detections([[0, 0, 10, 10]], [0.6], [int(ObjectClass.OBJECT)]), [[0, 0, 10, 10]])
    assert s.result("motion").classes["person"].tp == 1


# --------------------------------------------------------------------------- end to end
def _write_video(path: Path, n: int) -> None:
    av = pytest.importorskip("av")
    with av.open(str(path), "w") as c:
        st = c.add_stream("mpeg4", rate=10)
        st.width, st.height, st.pix_fmt = 64, 48, "yuv420p"
        for i in range(n):
            img = np.full((48, 64, 3), 10 * i, np.uint8)
            for p in st.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                c.mux(p)
        for p in st.encode():
            c.mux(p)


def _gt_box(n: int) -> list[float]:
    return [2.0 * n, 5.0, 2.0 * n + 10, 25.0]


class KeyedDetector:
    """Returns the ground-truth box of gt frame ``index + offset`` (+ a constant extra)."""

    name = "keyed"

    def __init__(self, offset: int) -> None:
        self.offset = offset
        self.seen: list[int] = []

    def detect(self, frame: Frame) -> Detections:
        self.seen.append(frame.index)
        n = frame.index + self.offset
        return Detections([_gt_box(n), [40, 30, 50, 40]], [0.9, 0.4], [PERSON, PERSON])

    def detect_batch(self, frames: Sequence[Frame]) -> list[Detections]:
        return [self.detect(f) for f in frames]

    def reset(self) -> None:
        pass


def test_evaluate_detections_on_a_video(tmp_path: Path) -> None:
    video = tmp_path / "v.avi"
    _write_video(video, 12)
    rows = [f"{n},1,{_gt_box(n)[0]},5,10,20,1,-1,-1,-1" for n in range(1, 11)]
    rows.append("3,9,40,30,10,10,0,-1,-1,-1")  # an ignore box under the extra detection
    gt = tmp_path / "gt.txt"
    gt.write_text("\n".join(rows) + "\n")

    det = KeyedDetector(offset=1)
    m = evaluate_detections(gt, video, det, frame_offset=1)
    p = m.classes["person"]
    assert det.seen == list(range(10))  # gt frames 1..10 = video frames 0..9
    assert m.frames == 10
    assert (p.tp, p.fn, p.ignored, p.fp) == (10, 0, 1, 9)
    assert p.recall == 1.0 and p.precision == pytest.approx(10 / 19)
    assert p.ap == pytest.approx(1.0)  # every hit scores above every false positive
    data = json.loads(m.to_json())
    assert data["classes"]["person"]["tp"] == 10 and data["detector"] == "keyed"
    assert "person" in m.table()

    # the wrong frame mapping: boxes one frame late (2 px apart: still IoU >= 0.5) ...
    late = evaluate_detections(gt, video, KeyedDetector(offset=0), frame_offset=1)
    assert late.classes["person"].tp == 10
    # ... and far off with a larger shift
    off = evaluate_detections(gt, video, KeyedDetector(offset=6), frame_offset=1, max_frames=4)
    assert off.frames == 4 and off.classes["person"].tp == 0
