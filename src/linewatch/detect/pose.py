"""Pose plug-in: MoveNet MultiPose (ONNX) keypoints for person detections.

Model: input ``1xHxWx3`` int32 **RGB** (H = W = ``input_size``, a multiple of 32), the image
padded to a square (bottom/right, black) then resized; output ``1x6x56``: per person 17 x
``(y, x, score)`` normalised to the input, then ``ymin, xmin, ymax, xmax, score``.
Keypoints are the 17 COCO keypoints (nose, eyes, ears, shoulders, elbows, wrists, hips,
knees, ankles).

:class:`PoseDetector` wraps any detector: after it runs, each person box is cut as a square
(``CONTEXT`` x its longer side) and the squares are tiled in one input (a 2x2 grid, up
to 4 people per run), so the small people of surveillance footage are seen large; the
pose overlapping the box most in its tile (IoU >= ``POSE_IOU``) goes to that box. Every
detection gets ``keypoints`` (N, 17, 3) in image pixels; one without a pose (or not a
person) gets zeros (score 0). The pose model runs only on frames with a person detection.
:func:`attach_keypoints` matches whole-frame poses (:meth:`PoseEstimator.estimate`) to
boxes by IoU instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import numpy.typing as npt

from linewatch.detect.base import Detector, DetectorError
from linewatch.detect.letterbox import Image
from linewatch.detect.nms import iou_matrix
from linewatch.records import Detections, Frame, ObjectClass

if TYPE_CHECKING:
    from linewatch.config import PoseConfig

NUM_KEYPOINTS = 17
#: people per run: a 2x2 grid (MoveNet finds up to 6, but 3x3 tiles are too small for it)
MAX_PEOPLE = 4
CONTEXT = 1.25  # a tile is this many times the person box's longer side
POSE_IOU = 0.3  # a pose belongs to a box when their boxes overlap at least this much
EXPECT = "MoveNet MultiPose: input 1xHxWx3 int32 RGB (H, W multiples of 32), output 1x6x56"


@dataclass(frozen=True, slots=True)
class Poses:
    boxes: npt.NDArray[np.float32]  # (P, 4) xyxy image pixels
    scores: npt.NDArray[np.float32]  # (P,)
    keypoints: npt.NDArray[np.float32]  # (P, 17, 3) x, y, score in image pixels


def decode_movenet(raw: npt.NDArray[np.float32], side: float, min_score: float) -> Poses:
    """``raw`` (6, 56) -> poses scoring >= min_score, in pixels of a ``side``-square image."""
    keep = raw[:, 55] >= min_score
    r = raw[keep]
    kp = r[:, :51].reshape(-1, NUM_KEYPOINTS, 3)
    keypoints = np.stack([kp[:, :, 1] * side, kp[:, :, 0] * side, kp[:, :, 2]], axis=-1)
    boxes = np.stack([r[:, 52], r[:, 51], r[:, 54], r[:, 53]], axis=1) * side
    return Poses(
        boxes.astype(np.float32), r[:, 55].astype(np.float32), keypoints.astype(np.float32)
    )


class PoseEstimator:
    """One MoveNet MultiPose session (created here: errors are DetectorError)."""

    def __init__(self, path: Path, input_size: int = 256, min_score: float = 0.2) -> None:
        import onnxruntime as ort  # lazy: heavy back-end

        from linewatch.detect.session import choose_providers

        if not path.is_file():
            raise DetectorError(f"pose model file not found: {path} ({EXPECT})")
        try:
            self.session: Any = ort.InferenceSession(
                str(path), providers=choose_providers("auto", ort.get_available_providers())
            )
        except Exception as e:
            raise DetectorError(f"{path}: cannot load the pose model ({e}); {EXPECT}") from None
        inp = self.session.get_inputs()[0]
        if len(inp.shape) != 4 or inp.shape[3] != 3 or "int32" not in inp.type:
            raise DetectorError(f"{path}: input is {inp.type} {inp.shape}; {EXPECT}")
        self.input_name: str = inp.name
        self.input_size = input_size
        self.min_score = min_score
        self.path = path

    def estimate(self, image: Image) -> Poses:
        h, w = image.shape[:2]
        side = max(h, w)
        square = np.zeros((side, side, 3), np.uint8)
        square[:h, :w] = image
        s = self.input_size
        rgb = cv2.cvtColor(
            cv2.resize(square, (s, s), interpolation=cv2.INTER_LINEAR), cv2.COLOR_BGR2RGB
        )
        raw = self.session.run(None, {self.input_name: rgb[None].astype(np.int32)})[0]
        if raw.ndim != 3 or raw.shape[2] != 56:
            raise DetectorError(f"{self.path}: output shape {raw.shape}; {EXPECT}")
        return decode_movenet(np.asarray(raw[0], np.float32), float(side), self.min_score)

    def _run(self, canvas: Image) -> Poses:
        rgb = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)
        raw = self.session.run(None, {self.input_name: rgb[None].astype(np.int32)})[0]
        if raw.ndim != 3 or raw.shape[2] != 56:
            raise DetectorError(f"{self.path}: output shape {raw.shape}; {EXPECT}")
        return decode_movenet(np.asarray(raw[0], np.float32), float(self.input_size), 0.0)

    def estimate_boxes(
        self, image: Image, boxes: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        """Keypoints (N, 17, 3) for each box: the boxes, each cut as a square of
        ``CONTEXT`` x its longer side, are tiled in a grid (up to ``MAX_PEOPLE`` per run)
        so small people are seen large; the pose overlapping the box most is that box's."""
        out = np.zeros((len(boxes), NUM_KEYPOINTS, 3), np.float32)
        s = self.input_size
        for start in range(0, len(boxes), MAX_PEOPLE):
            chunk = boxes[start : start + MAX_PEOPLE]
            k = int(np.ceil(np.sqrt(len(chunk))))
            cell = s / k
            canvas = np.zeros((s, s, 3), np.uint8)
            tiles = []  # (tile x, tile y, scale, crop x0, crop y0)
            for t, (x1, y1, x2, y2) in enumerate(chunk):
                side = CONTEXT * max(x2 - x1, y2 - y1, 1.0)
                x0, y0 = (x1 + x2 - side) / 2, (y1 + y2 - side) / 2
                tx, ty = (t % k) * cell, (t // k) * cell
                sc = cell / side
                m = np.array([[sc, 0, tx - x0 * sc], [0, sc, ty - y0 * sc]], np.float32)
                warped = cv2.warpAffine(image, m, (s, s), flags=cv2.INTER_LINEAR)
                a, b = round(tx), round(ty)
                e, f = round(tx + cell), round(ty + cell)
                canvas[b:f, a:e] = warped[b:f, a:e]
                tiles.append((tx, ty, sc, x0, y0))
            poses = self._run(canvas)
            good = poses.scores >= self.min_score
            for t, (tx, ty, sc, x0, y0) in enumerate(tiles):
                # the detection box as it lies in its tile; its pose is the one overlapping
                # it most (a neighbour cut into the tile overlaps it less)
                x1, y1, x2, y2 = chunk[t]
                in_tile = [(x1 - x0) * sc + tx, (y1 - y0) * sc + ty]
                in_tile += [(x2 - x0) * sc + tx, (y2 - y0) * sc + ty]
                ious = np.where(good, iou_matrix([in_tile], poses.boxes)[0], 0.0)
                if ious.size == 0 or ious.max() < POSE_IOU:
                    continue
                kp = poses.keypoints[int(np.argmax(ious))].copy()
                kp[:, 0] = (kp[:, 0] - tx) / sc + x0
                kp[:, 1] = (kp[:, 1] - ty) / sc + y0
                out[start + t] = kp
        return out


def attach_keypoints(dets: Detections, poses: Poses, match_iou: float = 0.3) -> Detections:
    """Detections with keypoints (N, 17, 3): each person box takes the pose whose box
    overlaps it most (one to one, greedy by IoU >= ``match_iou``); the rest get zeros."""
    kps = np.zeros((len(dets), NUM_KEYPOINTS, 3), np.float32)
    person = np.flatnonzero(dets.cls == int(ObjectClass.PERSON))
    if person.size and len(poses.boxes):
        ious = iou_matrix(dets.xyxy[person], poses.boxes)
        while True:
            i, j = np.unravel_index(int(np.argmax(ious)), ious.shape)
            if ious[i, j] < match_iou:
                break
            kps[person[i]] = poses.keypoints[j]
            ious[i, :] = -1.0
            ious[:, j] = -1.0
    return Detections(dets.xyxy, dets.score, dets.cls, kps)


class PoseDetector:
    """A detector whose person detections carry MoveNet keypoints."""

    def __init__(self, detector: Detector, estimator: PoseEstimator) -> None:
        self.detector = detector
        self.estimator = estimator
        self.name = f"{detector.name}+pose"

    def _with_pose(self, frame: Frame, dets: Detections) -> Detections:
        kps = np.zeros((len(dets), NUM_KEYPOINTS, 3), np.float32)
        person = np.flatnonzero(dets.cls == int(ObjectClass.PERSON))
        if person.size:
            kps[person] = self.estimator.estimate_boxes(frame.image, dets.xyxy[person])
        return Detections(dets.xyxy, dets.score, dets.cls, kps)

    def detect(self, frame: Frame) -> Detections:
        return self._with_pose(frame, self.detector.detect(frame))

    def freeze(self, boxes: object, stationary: object = None) -> None:
        """Pass the pipeline's still-object hint on to the wrapped detector, if it has one."""
        inner = getattr(self.detector, "freeze", None)
        if inner is not None:
            inner(boxes, stationary)

    def detect_batch(self, frames: Sequence[Frame]) -> list[Detections]:
        dets = self.detector.detect_batch(frames)
        return [self._with_pose(f, d) for f, d in zip(frames, dets, strict=True)]

    def reset(self) -> None:
        self.detector.reset()


def with_pose(detector: Detector, cfg: PoseConfig | None, base_dir: Path | None) -> Detector:
    """``detector`` with the camera's pose plug-in (``camera.pose``), or unchanged."""
    if cfg is None:
        return detector
    path = Path(cfg.model).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    return PoseDetector(detector, PoseEstimator(path, cfg.input_size, cfg.min_score))
