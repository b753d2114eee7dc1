"""Detector plug-ins, built from a camera's config. Heavy back-ends are imported lazily:
importing :mod:`linewatch.detect` pulls in neither onnxruntime nor any model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from linewatch.detect.base import Detector, DetectorError

if TYPE_CHECKING:
    from linewatch.config import CameraConfig
    from linewatch.geometry import Homography

__all__ = ["Detector", "DetectorError", "build_detector"]


def build_detector(
    camera: CameraConfig, homography: Homography | None = None, base_dir: Path | None = None
) -> Detector:
    """The detector a camera's config asks for (``camera.detector.type``)."""
    cfg = camera.detector
    if cfg.type == "motion":
        from linewatch.detect.motion import MotionDetector

        return MotionDetector(cfg, homography)
    from linewatch.detect.onnx import build_onnx_detector  # lazy: onnxruntime

    return build_onnx_detector(cfg, homography, base_dir)
