"""Ultralytics exports (YOLOv8, YOLO11 detect): decoding is done in the graph.

Input ``Bx3xHxW`` float32, **RGB** divided by 255, letterbox keeping aspect with the image
centred and pad 114. Output ``Bx84xN``: rows ``cx, cy, w, h`` in input pixels then 80 class
scores (already sigmoid, no objectness); ``score = max(cls)``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from linewatch.detect.formats import Candidates, best_class, cxcywh_to_xyxy
from linewatch.detect.letterbox import Letterbox, letterbox_centred


class UltralyticsFormat:
    name = "ultralytics"
    rgb = True
    normalise = True
    pad_value = 114
    input_layout = "Bx3xHxW float32 RGB /255 (640x640 by default)"
    output_layout = "Bx84xN (cx, cy, w, h, 80 class scores; N = 8400 at 640)"

    def fit(self, w: int, h: int, in_w: int, in_h: int) -> Letterbox:
        return letterbox_centred(w, h, in_w, in_h)

    def check_output(self, shape: tuple[int, ...], in_w: int, in_h: int) -> str | None:
        n = sum((in_h // s) * (in_w // s) for s in (8, 16, 32))
        if len(shape) != 3 or shape[1] != 84 or shape[2] != n:
            return f"expected output (B, 84, {n}) for a {in_w}x{in_h} input, got {shape}"
        return None

    def decode(
        self, raw: npt.NDArray[np.float32], in_w: int, in_h: int, min_score: float
    ) -> Candidates:
        rows = raw.T  # (N, 84)
        coco, score = best_class(rows[:, 4:])
        keep = np.flatnonzero(score >= min_score)
        if keep.size == 0:
            return Candidates.empty()
        boxes = cxcywh_to_xyxy(rows[keep, :4])
        return Candidates(boxes, score[keep], coco[keep])
