"""ONNX detectors (YOLOX, Ultralytics YOLOv8/YOLO11, FastestDet) behind the Detector interface.

``build_onnx_detector(cfg, homography, base_dir)`` opens the model (onnxruntime session:
threads, CPU/CUDA provider), checks its input/output against the format and returns an
:class:`OnnxDetector`, wrapped in the motion gate (:mod:`linewatch.detect.gating`) when
``cfg.motion_gating`` is on. Post-processing shared by all formats: COCO ids -> linewatch
classes (other COCO classes dropped), minimum score per linewatch class, boxes mapped back
to image pixels and clipped, class-wise NMS.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from linewatch.detect.base import Detector, DetectorError
from linewatch.detect.coco import class_threshold_table, coco_lookup
from linewatch.detect.fastestdet import FastestDetFormat
from linewatch.detect.formats import ModelFormat, to_tensor
from linewatch.detect.letterbox import Image, Letterbox
from linewatch.detect.mosaic import Packing, pack
from linewatch.detect.nms import batched_nms
from linewatch.detect.session import OnnxModel, open_model
from linewatch.detect.ultralytics import UltralyticsFormat
from linewatch.detect.yolox import YoloxFormat
from linewatch.records import Detections, Frame, ObjectClass

if TYPE_CHECKING:
    from linewatch.config import (
        FastestDetDetectorConfig,
        UltralyticsDetectorConfig,
        YoloxDetectorConfig,
    )
    from linewatch.geometry import Homography

    OnnxDetectorConfig = YoloxDetectorConfig | UltralyticsDetectorConfig | FastestDetDetectorConfig

#: a region of an image, xyxy integer pixels (x2, y2 exclusive)
Roi = tuple[int, int, int, int]

MAX_BATCH = 16
#: padding between crops packed into one input (input pixels)
CROP_GAP = 8


def make_format(kind: str) -> ModelFormat:
    if kind == "yolox":
        return YoloxFormat()
    if kind == "ultralytics":
        return UltralyticsFormat()
    if kind == "fastestdet":
        return FastestDetFormat()
    raise DetectorError(
        f"unknown ONNX detector type {kind!r}; allowed: yolox, ultralytics, fastestdet"
    )


class OnnxDetector:
    """One ONNX model run on whole frames (``detect``, ``detect_batch``) or on crops."""

    def __init__(self, cfg: OnnxDetectorConfig, model: OnnxModel, fmt: ModelFormat) -> None:
        self.name = f"{fmt.name}:{model.path.name}"
        self.cfg = cfg
        self.model = model
        self.fmt = fmt
        self.input_size = cfg.input_size
        self.nms_iou = cfg.nms_iou
        try:
            self._thresholds = class_threshold_table(cfg.score_threshold, cfg.class_thresholds)
        except ValueError as e:
            raise DetectorError(f"class_thresholds: {e}") from None
        self._lut = coco_lookup()
        kept = [int(c) for c in (ObjectClass.PERSON, ObjectClass.VEHICLE, ObjectClass.BICYCLE)]
        self._min_score = float(self._thresholds[kept].min())

    # ------------------------------------------------------------------ Detector
    def detect(self, frame: Frame) -> Detections:
        return self.detect_images([frame.image])[0]

    def detect_batch(self, frames: Sequence[Frame]) -> list[Detections]:
        """Several frames (e.g. one per camera): stacked into one run when the model has a
        free batch dimension, else one run each."""
        return self.detect_images([f.image for f in frames])

    def reset(self) -> None:
        """Stateless: nothing to forget."""

    # ------------------------------------------------------------------ images and crops
    @property
    def supports_crops(self) -> bool:
        """Whether the model accepts inputs of any height/width (needed for cheap crops)."""
        return self.model.free_hw

    def frame_letterbox(self, w: int, h: int) -> Letterbox:
        return self.fmt.fit(w, h, self.input_size, self.input_size)

    def detect_images(self, images: Sequence[Image]) -> list[Detections]:
        """Whole images at the configured input size."""
        lbs = [self.frame_letterbox(im.shape[1], im.shape[0]) for im in images]
        return self._run(list(images), lbs, [(im.shape[1], im.shape[0]) for im in images])

    def crop_packing(self, image_size: tuple[int, int], rois: Sequence[Roi]) -> Packing:
        """Where the regions go in the one input they share (see :mod:`~.mosaic`)."""
        full = self.frame_letterbox(*image_size)
        sizes = [
            (
                max(1, round((x2 - x1) * full.scale_x)),
                max(1, round((y2 - y1) * full.scale_y)),
            )
            for x1, y1, x2, y2 in rois
        ]
        return pack(sizes, gap=CROP_GAP)

    def detect_crops(
        self, image: Image, rois: Sequence[Roi], packing: Packing | None = None
    ) -> list[Detections]:
        """Regions of ``image``, each seen at the scale the whole frame is seen at, packed
        into one input (one model run; ``packing`` from :meth:`crop_packing` if already
        computed); boxes in image pixels, clipped to their region."""
        if not rois:
            return []
        if not self.supports_crops:
            raise DetectorError(f"{self.name}: the model has a fixed input size; no crops")
        h, w = image.shape[:2]
        if packing is None or len(packing.positions) != len(rois):
            packing = self.crop_packing((w, h), rois)
        canvas = np.full((packing.height, packing.width, 3), self.fmt.pad_value, np.uint8)
        sx, sy = self._scale((w, h))
        n = len(rois)
        place = np.zeros((n, 4), np.float32)  # ox, oy, rw, rh of each crop in the canvas
        for k, ((x1, y1, x2, y2), (ox, oy)) in enumerate(zip(rois, packing.positions, strict=True)):
            rw, rh = max(1, round((x2 - x1) * sx)), max(1, round((y2 - y1) * sy))
            crop = image[y1:y2, x1:x2]
            if (rw, rh) != (x2 - x1, y2 - y1):
                canvas[oy : oy + rh, ox : ox + rw] = cv2.resize(
                    crop, (rw, rh), interpolation=cv2.INTER_LINEAR
                )
            else:
                canvas[oy : oy + rh, ox : ox + rw] = crop
            place[k] = (ox, oy, rw, rh)
        raw = self.model.run(to_tensor([canvas], self.fmt.rgb, self.fmt.normalise))[0]
        boxes, scores, cls = self._candidates(raw, packing.width, packing.height)
        # each candidate belongs to the crop holding its centre (crops do not overlap)
        cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
        owner = np.full(boxes.shape[0], -1, np.int64)
        for k in range(n):
            ox, oy, rw, rh = place[k]
            owner[(cx >= ox) & (cx < ox + rw) & (cy >= oy) & (cy < oy + rh)] = k
        ok = owner >= 0
        boxes, scores, cls, owner = boxes[ok], scores[ok], cls[ok], owner[ok]
        r = np.asarray(rois, np.float32)
        p = place[owner]
        lo_x, lo_y, hi_x, hi_y = p[:, 0], p[:, 1], p[:, 0] + p[:, 2], p[:, 1] + p[:, 3]
        fx = (r[owner, 2] - r[owner, 0]) / p[:, 2]  # image pixels per input pixel
        fy = (r[owner, 3] - r[owner, 1]) / p[:, 3]
        b = np.empty_like(boxes)
        for col, lo, hi, f, org in (
            (0, lo_x, hi_x, fx, r[owner, 0]),
            (1, lo_y, hi_y, fy, r[owner, 1]),
            (2, lo_x, hi_x, fx, r[owner, 0]),
            (3, lo_y, hi_y, fy, r[owner, 1]),
        ):
            b[:, col] = (np.minimum(np.maximum(boxes[:, col], lo), hi) - lo) * f + org
        keep = self._nms_keep(b, scores, owner * 64 + cls)
        b, scores, cls, owner = b[keep], scores[keep], cls[keep], owner[keep]
        return [Detections(b[owner == k], scores[owner == k], cls[owner == k]) for k in range(n)]

    def _scale(self, image_size: tuple[int, int]) -> tuple[float, float]:
        full = self.frame_letterbox(*image_size)
        return full.scale_x, full.scale_y

    def _run(
        self, images: list[Image], lbs: list[Letterbox], sizes: list[tuple[int, int]]
    ) -> list[Detections]:
        results: list[Detections | None] = [None] * len(images)
        canvases = [lb.apply(im, self.fmt.pad_value) for im, lb in zip(images, lbs, strict=True)]
        groups: dict[tuple[int, int], list[int]] = {}
        for i, lb in enumerate(lbs):
            groups.setdefault((lb.in_h, lb.in_w), []).append(i)
        step = MAX_BATCH if self.model.batch_dynamic else 1
        for idx in groups.values():
            for k in range(0, len(idx), step):
                chunk = idx[k : k + step]
                raw = self.model.run(
                    to_tensor([canvases[i] for i in chunk], self.fmt.rgb, self.fmt.normalise)
                )
                for j, i in enumerate(chunk):
                    results[i] = self._postprocess(raw[j], lbs[i], sizes[i])
        return [r if r is not None else Detections.empty() for r in results]

    def _candidates(
        self, raw: np.ndarray, in_w: int, in_h: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Decoded boxes (input pixels), scores and linewatch classes above their threshold."""
        cand = self.fmt.decode(raw, in_w, in_h, self._min_score)
        if cand.scores.size == 0:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int16)
        inside = cand.coco < self._lut.size
        cls = np.where(inside, self._lut[np.clip(cand.coco, 0, self._lut.size - 1)], -1)
        ok = cls >= 0
        ok[ok] = cand.scores[ok] >= self._thresholds[cls[ok]]
        return cand.boxes[ok], cand.scores[ok], cls[ok].astype(np.int16)

    def _nms_keep(self, boxes: np.ndarray, scores: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """Indices kept by NMS within each group, dropping empty boxes; descending score."""
        nonempty = np.flatnonzero((boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1]))
        keep = batched_nms(boxes[nonempty], scores[nonempty], groups[nonempty], self.nms_iou)
        return nonempty[keep]

    def _nms(self, boxes: np.ndarray, scores: np.ndarray, cls: np.ndarray) -> Detections:
        keep = self._nms_keep(boxes, scores, cls)
        return Detections(boxes[keep], scores[keep], cls[keep])

    def _postprocess(
        self, raw: np.ndarray, lb: Letterbox, image_size: tuple[int, int]
    ) -> Detections:
        boxes, scores, cls = self._candidates(raw, lb.in_w, lb.in_h)
        return self._nms(lb.invert(boxes, image_size), scores, cls)


def resolve_model_path(model: Path, base_dir: Path | None) -> Path:
    p = Path(model).expanduser()
    if not p.is_absolute() and base_dir is not None:
        p = Path(base_dir) / p
    return p


def open_onnx_detector(cfg: OnnxDetectorConfig, base_dir: Path | None = None) -> OnnxDetector:
    """The bare (ungated) ONNX detector of a config."""
    fmt = make_format(cfg.type)
    model = open_model(
        resolve_model_path(cfg.model, base_dir), fmt, cfg.input_size, cfg.threads, cfg.provider
    )
    return OnnxDetector(cfg, model, fmt)


def build_onnx_detector(
    cfg: OnnxDetectorConfig, homography: Homography | None = None, base_dir: Path | None = None
) -> Detector:
    """The detector for an ONNX config: opens the session now (errors: DetectorError) and
    wraps it in the motion gate when ``cfg.motion_gating`` is on."""
    det = open_onnx_detector(cfg, base_dir)
    if not cfg.motion_gating:
        return det
    from linewatch.detect.gating import GatingParams, MotionGatedDetector

    return MotionGatedDetector(det, GatingParams(recheck_seconds=cfg.recheck_seconds))
