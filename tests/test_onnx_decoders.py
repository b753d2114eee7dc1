"""ONNX detector pre/post-processing, checked exactly on tiny graphs built here with `onnx`.

Constant-output graphs let us choose the raw network output and check the decoded boxes
(letterbox inversion, class mapping, thresholds, NMS); a "block detector" graph (average
pooling per stride + 1x1 convolution, i.e. YOLOX's output layout) fires exactly on bright
8x8 cells, so full-frame, crop and batch paths can be checked end to end in onnxruntime.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from linewatch.config import (  # noqa: E402
    FastestDetDetectorConfig,
    UltralyticsDetectorConfig,
    YoloxDetectorConfig,
)
from linewatch.detect.base import DetectorError  # noqa: E402
from linewatch.detect.gating import MotionGatedDetector  # noqa: E402
from linewatch.detect.letterbox import (  # noqa: E402
    letterbox_centred,
    letterbox_top_left,
    scaled_crop,
    stretch,
)
from linewatch.detect.mosaic import pack  # noqa: E402
from linewatch.detect.nms import batched_nms, iou_matrix, nms  # noqa: E402
from linewatch.detect.onnx import OnnxDetector, build_onnx_detector, open_onnx_detector  # noqa: E402
from linewatch.detect.session import choose_providers  # noqa: E402
from linewatch.records import Frame, ObjectClass  # noqa: E402

PERSON, VEHICLE, BICYCLE = (
    int(ObjectClass.PERSON),
    int(ObjectClass.VEHICLE),
    int(ObjectClass.BICYCLE),
)


# --------------------------------------------------------------------------- graph builders
def _save(graph: Any, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def constant_model(
    path: Path, out: np.ndarray, in_shape: list[Any], in_name: str = "images"
) -> Path:
    """A graph whose output is ``out`` whatever the input."""
    node = helper.make_node("Constant", [], ["output"], value=numpy_helper.from_array(out))
    graph = helper.make_graph(
        [node],
        "const",
        [helper.make_tensor_value_info(in_name, TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, list(out.shape))],
    )
    return _save(graph, path)


def scaled_model(path: Path, out: np.ndarray, size: int) -> Path:
    """Ultralytics-layout graph with a free batch: output[b] = out * mean(input[b])."""
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["m"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Squeeze", ["m", "ax"], ["m2"]),  # (B, 1)
        helper.make_node("Unsqueeze", ["m2", "ax2"], ["m3"]),  # (B, 1, 1)
        helper.make_node("Mul", ["m3", "c"], ["output"]),
    ]
    inits = [
        numpy_helper.from_array(out, "c"),
        numpy_helper.from_array(np.array([2, 3], np.int64), "ax"),
        numpy_helper.from_array(np.array([2], np.int64), "ax2"),
    ]
    graph = helper.make_graph(
        nodes,
        "scaled",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["B", 3, size, size])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["B", *out.shape[1:]])],
        initializer=inits,
    )
    return _save(graph, path)


def block_model(path: Path, hw: tuple[Any, Any] = ("H", "W")) -> Path:
    """YOLOX-layout graph: per stride s, a cell's objectness is the mean of its blue channel
    / 255, its box is the cell itself (dx = dy = 0.5, log w = log h = 0), class person = 1.
    Only an entirely white 8x8 cell (aligned) scores 1 at stride 8."""
    nodes, inits, parts = [], [], []
    w = np.zeros((85, 3, 1, 1), np.float32)
    b = np.zeros(85, np.float32)
    w[4, 0, 0, 0] = 1 / 255  # objectness = blue / 255
    b[0] = b[1] = 0.5  # centre of the cell
    b[5] = 1.0  # person
    inits += [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")]
    inits.append(numpy_helper.from_array(np.array([1, 85, -1], np.int64), "shape"))
    for s in (8, 16, 32):
        nodes += [
            helper.make_node(
                "AveragePool", ["images"], [f"p{s}"], kernel_shape=[s, s], strides=[s, s]
            ),
            helper.make_node("Conv", [f"p{s}", "w", "b"], [f"c{s}"]),
            helper.make_node("Reshape", [f"c{s}", "shape"], [f"r{s}"]),
        ]
        parts.append(f"r{s}")
    nodes += [
        helper.make_node("Concat", parts, ["cat"], axis=2),
        helper.make_node("Transpose", ["cat"], ["output"], perm=[0, 2, 1]),
    ]
    graph = helper.make_graph(
        nodes,
        "blocks",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, *hw])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, "N", 85])],
        initializer=inits,
    )
    return _save(graph, path)


def frame(image: np.ndarray, index: int = 0, camera: str = "cam") -> Frame:
    return Frame(camera, index, index / 10.0, image)


def yolox_cfg(model: Path, **kw: Any) -> YoloxDetectorConfig:
    base: dict[str, Any] = {"type": "yolox", "model": str(model), "input_size": 64}
    base.update(kw)
    return YoloxDetectorConfig.model_validate(base)


# --------------------------------------------------------------------------- letterbox
def test_letterbox_top_left_matches_yolox_preproc() -> None:
    lb = letterbox_top_left(768, 576, 416, 416)
    r = 416 / 768
    assert (lb.scale_x, lb.scale_y, lb.pad_x, lb.pad_y) == (r, r, 0, 0)
    assert (lb.resized_w, lb.resized_h) == (416, int(576 * r))
    img = np.full((576, 768, 3), 7, np.uint8)
    canvas = lb.apply(img)
    assert canvas.shape == (416, 416, 3)
    assert (canvas[: lb.resized_h] == 7).all() and (canvas[lb.resized_h :] == 114).all()
    box = np.array([[100.0, 50.0, 200.0, 300.0]])
    assert np.allclose(lb.invert(box * r), box, atol=1e-4)


def test_letterbox_centred_matches_ultralytics() -> None:
    lb = letterbox_centred(1280, 720, 640, 640)
    assert (lb.resized_w, lb.resized_h) == (640, 360)
    assert (lb.pad_x, lb.pad_y) == (0, 140)
    img = np.zeros((720, 1280, 3), np.uint8)
    canvas = lb.apply(img)
    assert (canvas[:140] == 114).all() and (canvas[140:500] == 0).all()
    assert (canvas[500:] == 114).all()
    box_in = np.array([[10.0, 150.0, 110.0, 250.0]])
    assert np.allclose(lb.invert(box_in), [[20.0, 20.0, 220.0, 220.0]])


def test_stretch_and_clipping() -> None:
    lb = stretch(704, 352, 352, 352)
    assert (lb.scale_x, lb.scale_y) == (0.5, 1.0)
    out = lb.invert(np.array([[-10.0, -5.0, 400.0, 360.0]]), image_size=(704, 352))
    assert out.tolist() == [[0.0, 0.0, 704.0, 352.0]]


def test_scaled_crop_pads_to_multiple_of_32() -> None:
    lb = scaled_crop(100, 50, 0.5, 0.5)
    assert (lb.resized_w, lb.resized_h, lb.in_w, lb.in_h) == (50, 25, 64, 32)


# --------------------------------------------------------------------------- NMS
def test_nms_suppresses_only_above_threshold() -> None:
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 12], [0, 0, 10, 20], [50, 50, 60, 60]])
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    # IoU(0,1) = 100/120 = 0.833; IoU(0,2) = 0.5 (not strictly above 0.5: kept)
    assert nms(boxes, scores, 0.5).tolist() == [0, 2, 3]
    assert nms(boxes, scores, 0.9).tolist() == [0, 1, 2, 3]
    assert iou_matrix(boxes[:1], boxes[2:3])[0, 0] == pytest.approx(0.5)


def test_batched_nms_is_class_wise() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10]])
    scores = np.array([0.5, 0.9, 0.8])
    classes = np.array([1, 1, 2])
    assert batched_nms(boxes, scores, classes, 0.45).tolist() == [1, 2]


# --------------------------------------------------------------------------- YOLOX decode
def _yolox_rows(in_w: int, in_h: int) -> tuple[np.ndarray, dict[tuple[int, int, int], int]]:
    rows, index = [], {}
    for s in (8, 16, 32):
        for gy in range(in_h // s):
            for gx in range(in_w // s):
                index[(s, gx, gy)] = len(rows)
                rows.append(np.zeros(85, np.float32))
    return np.stack(rows), index


def test_yolox_decode_letterbox_classes_thresholds_nms(tmp_path: Path) -> None:
    out, idx = _yolox_rows(64, 64)
    # person at stride 8, cell (3, 2): centre ((0.5+3)*8, (0.25+2)*8) = (28, 18), 16 x 32
    r = out[idx[(8, 3, 2)]]
    r[:4] = [0.5, 0.25, math.log(2), math.log(4)]
    r[4], r[5] = 0.9, 0.8  # score 0.72
    # a weaker duplicate of it one cell right (IoU 0.6 > 0.45): suppressed
    d = out[idx[(8, 4, 2)]]
    d[:4] = [0.0, 0.25, math.log(2), math.log(4)]
    d[4], d[5] = 0.9, 0.5
    # car at stride 16, cell (1, 1): centre (24, 24), 32 x 16 -> vehicle
    c = out[idx[(16, 1, 1)]]
    c[:4] = [0.5, 0.5, math.log(2), 0.0]
    c[4], c[5 + 2] = 1.0, 0.6
    # dog (COCO 16) with a high score: dropped; bicycle below its own threshold: dropped
    out[idx[(32, 0, 0)], 4], out[idx[(32, 0, 0)], 5 + 16] = 1.0, 0.99
    out[idx[(32, 1, 1)], 4], out[idx[(32, 1, 1)], 5 + 1] = 1.0, 0.5
    model = constant_model(tmp_path / "yolox.onnx", out[None], [1, 3, 64, 64])
    det = open_onnx_detector(
        yolox_cfg(model, score_threshold=0.3, class_thresholds={"bicycle": 0.6})
    )
    assert det.model.fixed_hw == (64, 64)  # a constant graph cannot be relaxed
    # image 128 x 96 -> r = 0.5, top-left: input pixels x 2 = image pixels
    dets = det.detect(frame(np.zeros((96, 128, 3), np.uint8)))
    assert dets.cls.tolist() == [PERSON, VEHICLE]
    assert dets.score.tolist() == pytest.approx([0.72, 0.6])
    np.testing.assert_allclose(dets.xyxy, [[40, 4, 72, 68], [16, 32, 80, 64]], atol=1e-4)


def test_yolox_boxes_are_clipped_to_the_image(tmp_path: Path) -> None:
    out, idx = _yolox_rows(64, 64)
    r = out[idx[(8, 0, 0)]]
    r[:4] = [0.0, 0.0, math.log(2), math.log(2)]  # centre (0, 0), 16 x 16
    r[4], r[5] = 1.0, 1.0
    model = constant_model(tmp_path / "y.onnx", out[None], [1, 3, 64, 64])
    dets = open_onnx_detector(yolox_cfg(model)).detect(frame(np.zeros((64, 64, 3), np.uint8)))
    assert dets.xyxy.tolist() == [[0.0, 0.0, 8.0, 8.0]]


# --------------------------------------------------------------------------- Ultralytics
def test_ultralytics_decode_centred_letterbox(tmp_path: Path) -> None:
    n = 8 * 8 + 4 * 4 + 2 * 2
    out = np.zeros((1, 84, n), np.float32)
    out[0, :4, 5] = [32, 32, 16, 8]  # cx, cy, w, h in input pixels
    out[0, 4 + 0, 5] = 0.9  # person
    out[0, :4, 7] = [10, 20, 4, 4]
    out[0, 4 + 7, 7] = 0.7  # truck -> vehicle
    out[0, :4, 9] = [10, 20, 4, 4]
    out[0, 4 + 7, 9] = 0.1  # below the default 0.3
    model = constant_model(tmp_path / "u.onnx", out, [1, 3, 64, 64])
    cfg = UltralyticsDetectorConfig.model_validate(
        {"type": "ultralytics", "model": str(model), "input_size": 64}
    )
    det = open_onnx_detector(cfg)
    # image 128 x 96 -> r = 0.5, resized 64 x 48, centred: pad_y = 8
    dets = det.detect(frame(np.zeros((96, 128, 3), np.uint8)))
    assert dets.cls.tolist() == [PERSON, VEHICLE]
    np.testing.assert_allclose(dets.xyxy, [[48, 40, 80, 56], [16, 20, 24, 28]], atol=1e-4)


# --------------------------------------------------------------------------- FastestDet
def test_fastestdet_decode_plain_resize(tmp_path: Path) -> None:
    out = np.zeros((1, 85, 4, 4), np.float32)  # 64 input, one cell per 16 px
    out[0, 0, 2, 1] = 0.8  # obj at gy = 2, gx = 1
    out[0, 1, 2, 1] = math.atanh(0.5)  # x offset +0.5 cell
    out[0, 2, 2, 1] = 0.0
    out[0, 3, 2, 1] = 0.0  # w = sigmoid(0) = 0.5 of the input
    out[0, 4, 2, 1] = math.log(0.25 / 0.75)  # h = 0.25
    out[0, 5 + 1, 2, 1] = 0.9  # bicycle
    out[0, 0, 0, 0] = 0.01  # weak cell: below threshold
    out[0, 5, 0, 0] = 1.0
    model = constant_model(tmp_path / "f.onnx", out, [1, 3, 64, 64], in_name="input.1")
    cfg = FastestDetDetectorConfig.model_validate(
        {"type": "fastestdet", "model": str(model), "input_size": 64}
    )
    dets = open_onnx_detector(cfg).detect(frame(np.zeros((96, 128, 3), np.uint8)))
    # input: cx = (1 + 0.5) / 4 * 64 = 24, cy = 2 / 4 * 64 = 32, w = 32, h = 16
    # -> [8, 24, 40, 40] in input px; image = input x (2, 1.5)
    assert dets.cls.tolist() == [BICYCLE]
    assert dets.score.tolist() == pytest.approx([0.8**0.6 * 0.9**0.4], rel=1e-5)
    np.testing.assert_allclose(dets.xyxy, [[16, 36, 80, 60]], atol=1e-4)


# --------------------------------------------------------------------------- batching
def test_detect_batch_stacks_frames_when_the_batch_is_free(tmp_path: Path) -> None:
    n = 84
    out = np.zeros((1, 84, n), np.float32)
    out[0, :4, 0] = [32, 32, 16, 16]
    out[0, 4, 0] = 1.0  # person; scaled by the image's mean (RGB / 255)
    model = scaled_model(tmp_path / "s.onnx", out, 64)
    det = open_onnx_detector(
        UltralyticsDetectorConfig.model_validate(
            {"type": "ultralytics", "model": str(model), "input_size": 64}
        )
    )
    assert det.model.batch_dynamic
    calls: list[tuple[int, ...]] = []
    run = det.model.run
    det.model.run = lambda b: (calls.append(b.shape), run(b))[1]  # type: ignore[method-assign]
    white, black = np.full((64, 64, 3), 255, np.uint8), np.zeros((64, 64, 3), np.uint8)
    res = det.detect_batch([frame(white, 0, "a"), frame(black, 0, "b"), frame(white, 1, "c")])
    assert calls == [(3, 3, 64, 64)]
    assert [len(r) for r in res] == [1, 0, 1]
    assert res[0].xyxy.tolist() == [[24.0, 24.0, 40.0, 40.0]]


def test_detect_batch_loops_when_the_batch_is_fixed(tmp_path: Path) -> None:
    det = open_onnx_detector(yolox_cfg(block_model(tmp_path / "b.onnx", (64, 64))))
    assert not det.model.batch_dynamic
    calls: list[tuple[int, ...]] = []
    run = det.model.run
    det.model.run = lambda b: (calls.append(b.shape), run(b))[1]  # type: ignore[method-assign]
    img = np.zeros((64, 64, 3), np.uint8)
    img[8:16, 16:24] = 255
    res = det.detect_batch([frame(img), frame(np.zeros_like(img)), frame(img)])
    assert calls == [(1, 3, 64, 64)] * 3
    assert [r.xyxy.tolist() for r in res] == [[[16, 8, 24, 16]], [], [[16, 8, 24, 16]]]


# --------------------------------------------------------------------------- crops
def test_block_model_full_frame_and_crops_agree(tmp_path: Path) -> None:
    det = open_onnx_detector(
        yolox_cfg(block_model(tmp_path / "b.onnx"), input_size=128, score_threshold=0.9)
    )
    assert det.supports_crops and det.model.fixed_hw is None
    img = np.zeros((192, 256, 3), np.uint8)  # r = 0.5: 16 x 16 image blocks -> 8 x 8 cells
    blocks = [(32, 16), (128, 64), (208, 160)]
    for x, y in blocks:
        img[y : y + 16, x : x + 16] = 255
    want = sorted([x, y, x + 16, y + 16] for x, y in blocks)
    full = det.detect(frame(img))
    assert sorted(full.xyxy.tolist()) == want
    rois = [(0, 0, 96, 64), (96, 32, 192, 128), (176, 128, 256, 192)]
    crops = det.detect_crops(img, rois)
    assert [c.xyxy.tolist() for c in crops] == [[w] for w in want]
    packing = det.crop_packing((256, 192), rois)
    assert packing.width % 32 == 0 and packing.height % 32 == 0
    assert packing.area < 128 * 128


def test_pack_places_crops_apart() -> None:
    sizes = [(40, 30), (70, 20), (20, 50), (33, 33)]
    p = pack(sizes, gap=8)
    rects = [(x, y, x + w, y + h) for (x, y), (w, h) in zip(p.positions, sizes, strict=True)]
    for i, a in enumerate(rects):
        assert a[2] <= p.width and a[3] <= p.height
        for b in rects[i + 1 :]:
            apart_x = a[2] + 8 <= b[0] or b[2] + 8 <= a[0]
            apart_y = a[3] + 8 <= b[1] or b[3] + 8 <= a[1]
            assert apart_x or apart_y


# --------------------------------------------------------------------------- errors and build
def test_missing_model_names_the_expected_shapes(tmp_path: Path) -> None:
    with pytest.raises(DetectorError, match=r"not found.*1x3xHxW.*1xNx85"):
        open_onnx_detector(yolox_cfg(tmp_path / "nope.onnx"))


def test_wrong_model_is_a_clear_error(tmp_path: Path) -> None:
    fastest_like = constant_model(
        tmp_path / "f.onnx", np.zeros((1, 85, 4, 4), np.float32), [1, 3, 64, 64]
    )
    with pytest.raises(DetectorError, match=r"not a yolox model.*expected output"):
        open_onnx_detector(yolox_cfg(fastest_like))
    garbage = tmp_path / "g.onnx"
    garbage.write_bytes(b"not a model")
    with pytest.raises(DetectorError, match="cannot load"):
        open_onnx_detector(yolox_cfg(garbage))


def test_fixed_input_size_mismatch(tmp_path: Path) -> None:
    out, _ = _yolox_rows(64, 64)
    model = constant_model(tmp_path / "y.onnx", out[None], [1, 3, 64, 64])
    with pytest.raises(DetectorError, match=r"fixed at 64x64 but input_size is 128"):
        open_onnx_detector(yolox_cfg(model, input_size=128))


def test_unknown_class_threshold(tmp_path: Path) -> None:
    with pytest.raises(DetectorError, match="unknown object class 'dog'"):
        open_onnx_detector(
            yolox_cfg(block_model(tmp_path / "b.onnx"), class_thresholds={"dog": 0.5})
        )


def test_providers() -> None:
    cpu, cuda = "CPUExecutionProvider", "CUDAExecutionProvider"
    assert choose_providers("auto", [cpu]) == [cpu]
    assert choose_providers("auto", [cuda, cpu]) == [cuda, cpu]
    assert choose_providers("cpu", [cuda, cpu]) == [cpu]
    with pytest.raises(DetectorError, match="onnxruntime-gpu"):
        choose_providers("cuda", [cpu])


def test_build_wraps_in_the_gate_and_resolves_relative_paths(tmp_path: Path) -> None:
    block_model(tmp_path / "b.onnx")
    gated = build_onnx_detector(yolox_cfg(Path("b.onnx")), None, tmp_path)
    assert isinstance(gated, MotionGatedDetector)
    bare = build_onnx_detector(yolox_cfg(Path("b.onnx"), motion_gating=False), None, tmp_path)
    assert isinstance(bare, OnnxDetector)


def test_no_session_at_config_validation_or_import(tmp_path: Path) -> None:
    cfg = yolox_cfg(tmp_path / "absent.onnx")  # validating never opens the file
    assert cfg.model == tmp_path / "absent.onnx"
    code = (
        "import sys, linewatch.detect.onnx, linewatch.detect.gating, linewatch.eval.detections;"
        "print('onnxruntime' in sys.modules)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "False"
