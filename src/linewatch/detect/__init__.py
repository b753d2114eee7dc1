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
    """The detector a camera's config asks for (``camera.detector.type``), wrapped with the
    pose plug-in when ``camera.pose`` is set."""
    cfg = camera.detector
    detector: Detector
    if cfg.type == "motion":
        from linewatch.detect.motion import MotionDetector

        detector = MotionDetector(cfg, homography)
    else:
        from linewatch.detect.onnx import build_onnx_detector  # lazy: onnxruntime

        detector = build_onnx_detector(cfg, homography, base_dir)
    if camera.pose is not None:
        from linewatch.detect.pose import with_pose  # lazy: onnxruntime

        detector = with_pose(detector, camera.pose, base_dir)
    return detector
