"""The real ONNX models of ../shared on PETS09-S2L1 frames (skipped when ../shared is absent).

Figures on the whole sequence are in docs/detectors.md (bench and eval scripts); these tests
check a short stretch against the ground truth so they stay fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PETS = SHARED / "data" / "pets09-s2l1"
YOLOX = SHARED / "models" / "yolox-nano" / "yolox_nano.onnx"
FASTEST = SHARED / "models" / "fastestdet" / "FastestDet.onnx"
MOVENET = SHARED / "models" / "movenet-multipose" / "movenet-multipose.onnx"

pytestmark = [
    pytest.mark.shared,
    pytest.mark.skipif(
        not (PETS / "vtest.avi").is_file() or not YOLOX.is_file(),
        reason=f"needs the shared footage and models in {SHARED} (not part of the repo)",
    ),
]
pytest.importorskip("onnxruntime")

from linewatch.config import FastestDetDetectorConfig, YoloxDetectorConfig  # noqa: E402
from linewatch.detect.base import DetectorError  # noqa: E402
from linewatch.detect.gating import MotionGatedDetector  # noqa: E402
from linewatch.detect.onnx import OnnxDetector, open_onnx_detector  # noqa: E402
from linewatch.eval.detections import DetectionScorer, evaluate_detections  # noqa: E402
from linewatch.eval.mot import read_mot  # noqa: E402
from linewatch.records import Frame, ObjectClass  # noqa: E402

N_FRAMES = 60
PERSON = int(ObjectClass.PERSON)


@pytest.fixture(scope="module")
def frames() -> list[Frame]:
    av = pytest.importorskip("av")
    out = []
    with av.open(str(PETS / "vtest.avi")) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i >= N_FRAMES:
                break
            out.append(Frame("pets", i, i / 7.0, f.to_ndarray(format="bgr24")))
    return out


@pytest.fixture(scope="module")
def gt() -> Any:
    return read_mot(PETS / "gt.txt")


def yolox(**kw: Any) -> OnnxDetector:
    cfg = {"type": "yolox", "model": str(YOLOX), "threads": 2, "class_thresholds": {"person": 0.6}}
    cfg.update(kw)
    return open_onnx_detector(YoloxDetectorConfig.model_validate(cfg))


def score(det: Any, frames: list[Frame], gt: Any) -> Any:
    s = DetectionScorer(("person",))
    for f in frames:
        rows = gt[f.index + 1]
        valid = rows.conf != 0
        s.add(det.detect(f), rows.xyxy[valid], rows.xyxy[~valid])
    return s.result(det.name).classes["person"]


def test_yolox_nano_finds_the_pets_people(frames: list[Frame], gt: Any) -> None:
    det = yolox()
    m = score(det, frames[::6], gt)  # 0.76 / 0.90 here; 0.88 / 0.93 over the sequence
    assert m.recall >= 0.7 and m.precision >= 0.8, m
    d = det.detect(frames[0])
    w, h = frames[0].size
    assert (d.xyxy[:, 0] >= 0).all() and (d.xyxy[:, 2] <= w).all() and (d.xyxy[:, 3] <= h).all()
    # the parked van (top right) is a vehicle
    vans = d[d.cls == int(ObjectClass.VEHICLE)]
    assert any(x1 > 600 and y2 < 120 for x1, _, _, y2 in vans.xyxy.tolist())


def test_yolox_runs_at_640_when_the_graph_allows(frames: list[Frame], gt: Any) -> None:
    pytest.importorskip("onnx")  # relaxing the fixed 416 input needs the onnx package
    det = yolox(input_size=640)
    assert det.model.free_hw
    m = score(det, frames[:1], gt)
    assert m.recall >= 0.6


def test_gated_yolox_keeps_recall_and_runs_less(frames: list[Frame], gt: Any) -> None:
    pytest.importorskip("onnx")
    gated = MotionGatedDetector(yolox())
    m_gated = score(gated, frames, gt)
    m_full = score(yolox(), frames, gt)
    assert m_gated.recall >= m_full.recall - 0.05, (m_gated, m_full)
    assert gated.stats.model_share() < 0.5, gated.stats


def test_fastestdet_runs_and_its_fixed_size_is_enforced(frames: list[Frame], gt: Any) -> None:
    if not FASTEST.is_file():
        pytest.skip(f"no {FASTEST}")
    cfg = {"type": "fastestdet", "model": str(FASTEST), "threads": 2}
    det = open_onnx_detector(FastestDetDetectorConfig.model_validate(cfg))
    assert det.model.fixed_hw == (352, 352) and not det.supports_crops
    m = score(det, frames[::10], gt)
    assert m.recall >= 0.5, m
    with pytest.raises(DetectorError, match="fixed at 352x352"):
        open_onnx_detector(FastestDetDetectorConfig.model_validate({**cfg, "input_size": 416}))
    with pytest.raises(DetectorError, match="not a yolox model"):
        wrong = {**cfg, "type": "yolox", "input_size": 352}
        open_onnx_detector(YoloxDetectorConfig.model_validate(wrong))


def test_evaluate_detections_on_the_first_frames() -> None:
    m = evaluate_detections(PETS / "gt.txt", PETS / "vtest.avi", yolox(), fps=7.0, max_frames=20)
    p = m.classes["person"]
    assert m.frames == 20 and p.gt > 40
    assert p.recall >= 0.8 and p.precision >= 0.8 and p.ap >= 0.75, p


def test_movenet_keypoints_land_on_the_people(frames: list[Frame]) -> None:
    if not MOVENET.is_file():
        pytest.skip(f"no {MOVENET}")
    from linewatch.detect.pose import PoseDetector, PoseEstimator

    det = PoseDetector(yolox(), PoseEstimator(MOVENET, 256, 0.2))
    d = det.detect(frames[0])
    assert d.keypoints is not None and d.keypoints.shape == (len(d), 17, 3)
    person = np.flatnonzero(d.cls == PERSON)
    with_pose = [i for i in person if (d.keypoints[i, :, 2] > 0.3).sum() >= 8]
    assert len(with_pose) >= len(person) // 2
    for i in with_pose:  # confident keypoints lie in (or next to) their person's box
        x1, y1, x2, y2 = d.xyxy[i]
        k = d.keypoints[i][d.keypoints[i, :, 2] > 0.3]
        pad = 0.25 * (y2 - y1)
        assert ((k[:, 0] > x1 - pad) & (k[:, 0] < x2 + pad)).all()
        assert ((k[:, 1] > y1 - pad) & (k[:, 1] < y2 + pad)).all()
    assert not d.keypoints[d.cls != PERSON].any()
