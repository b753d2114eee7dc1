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

import numpy as np

from linewatch.detect.base import Detector, DetectorError
from linewatch.detect.coco import class_threshold_table, coco_lookup
from linewatch.detect.fastestdet import FastestDetFormat
from linewatch.detect.formats import ModelFormat, to_tensor
from linewatch.detect.letterbox import Image, Letterbox, scaled_crop
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

    def detect_crops(self, image: Image, rois: Sequence[Roi]) -> list[Detections]:
        """Each region of ``image`` seen at the scale the whole frame would be seen at, in an
        input just big enough for it; boxes in image pixels (clipped to the region)."""
        if not rois:
            return []
        if not self.supports_crops:
            raise DetectorError(f"{self.name}: the model has a fixed input size; no crops")
        h, w = image.shape[:2]
        full = self.frame_letterbox(w, h)
        crops, lbs, sizes = [], [], []
        for x1, y1, x2, y2 in rois:
            crops.append(image[y1:y2, x1:x2])
            lbs.append(scaled_crop(x2 - x1, y2 - y1, full.scale_x, full.scale_y))
            sizes.append((x2 - x1, y2 - y1))
        dets = self._run(crops, lbs, sizes)
        out = []
        for (x1, y1, _, _), d in zip(rois, dets, strict=True):
            d.xyxy[:, [0, 2]] += x1
            d.xyxy[:, [1, 3]] += y1
            out.append(d)
        return out

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

    def _postprocess(
        self, raw: np.ndarray, lb: Letterbox, image_size: tuple[int, int]
    ) -> Detections:
        cand = self.fmt.decode(raw, lb.in_w, lb.in_h, self._min_score)
        if cand.scores.size == 0:
            return Detections.empty()
        cls = self._lut[np.clip(cand.coco, 0, self._lut.size - 1)]
        cls = np.where(cand.coco < self._lut.size, cls, -1).astype(np.int16)
        ok = cls >= 0
        ok[ok] = cand.scores[ok] >= self._thresholds[cls[ok]]
        boxes = lb.invert(cand.boxes[ok], image_size)
        scores, cls = cand.scores[ok], cls[ok]
        nonempty = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        boxes, scores, cls = boxes[nonempty], scores[nonempty], cls[nonempty]
        keep = batched_nms(boxes, scores, cls, self.nms_iou)
        return Detections(boxes[keep], scores[keep], cls[keep])


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
    # motion gating (cfg.motion_gating) lands with linewatch.detect.gating
    return det
