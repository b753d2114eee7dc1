"""FastestDet (dog-qiuqiu) exports.

Input ``1x3xHxW`` float32, **BGR** divided by 255, plain resize (aspect not kept; 352x352).
Output ``1x85xGhxGw`` (one cell per 16 input pixels): channel 0 objectness (already
sigmoid), 1-2 cell offsets (apply tanh), 3-4 box width/height relative to the input (apply
sigmoid), 5-84 class scores (softmax). Decoding::

    cx = (gx + tanh(t_x)) / Gw;  cy = (gy + tanh(t_y)) / Gh;  w, h = sigmoid(t_w), sigmoid(t_h)
    score = obj ** 0.6 * max(cls) ** 0.4
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from linewatch.detect.formats import Candidates, best_class, cxcywh_to_xyxy
from linewatch.detect.letterbox import Letterbox, stretch


def _sigmoid(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    return (1.0 / (1.0 + np.exp(-x))).astype(np.float32)


class FastestDetFormat:
    name = "fastestdet"
    rgb = False
    normalise = True
    pad_value = 114
    input_layout = "1x3xHxW float32 BGR /255 (352x352)"
    output_layout = "1x85xGhxGw (Gh = H/16; 22x22 at 352)"

    def fit(self, w: int, h: int, in_w: int, in_h: int) -> Letterbox:
        return stretch(w, h, in_w, in_h)

    def check_output(self, shape: tuple[int, ...], in_w: int, in_h: int) -> str | None:
        if len(shape) != 4 or shape[1] != 85:
            return f"expected output (B, 85, Gh, Gw), got {shape}"
        return None

    def decode(
        self, raw: npt.NDArray[np.float32], in_w: int, in_h: int, min_score: float
    ) -> Candidates:
        gh, gw = raw.shape[1], raw.shape[2]
        cells = raw.reshape(85, -1).T  # (Gh*Gw, 85), row-major: index = gy * Gw + gx
        coco, cls_score = best_class(cells[:, 5:])
        obj = np.clip(cells[:, 0], 0, None)
        score = (obj**0.6 * np.clip(cls_score, 0, None) ** 0.4).astype(np.float32)
        keep = np.flatnonzero(score >= min_score)
        if keep.size == 0:
            return Candidates.empty()
        c = cells[keep]
        gy, gx = np.divmod(keep, gw)
        cx = (gx + np.tanh(c[:, 1])) / gw * in_w
        cy = (gy + np.tanh(c[:, 2])) / gh * in_h
        bw = _sigmoid(c[:, 3]) * in_w
        bh = _sigmoid(c[:, 4]) * in_h
        boxes = cxcywh_to_xyxy(np.stack([cx, cy, bw, bh], axis=1))
        return Candidates(boxes, score[keep], coco[keep])
