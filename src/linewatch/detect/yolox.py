"""YOLOX exports (Megvii, nano ... x) without in-graph decoding.

Input ``1x3xHxW`` float32, **BGR**, raw 0-255 values, letterbox keeping aspect with the
image at the top-left and pad 114. Output ``1xNx85``, one row per anchor-free grid cell
over strides 8, 16, 32 (row-major, x fastest): ``dx, dy, log w, log h, objectness, 80
class scores`` (objectness and classes already sigmoid). Decoding::

    xy = (d_xy + grid) * stride;  wh = exp(d_wh) * stride;  score = obj * max(cls)
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from linewatch.detect.formats import Candidates, best_class, cxcywh_to_xyxy
from linewatch.detect.letterbox import Letterbox, letterbox_top_left

STRIDES = (8, 16, 32)


def yolox_grid(in_w: int, in_h: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """(N, 2) grid cell x, y and (N,) stride, in YOLOX's output order."""
    grids, strides = [], []
    for s in STRIDES:
        hs, ws = in_h // s, in_w // s
        yv, xv = np.meshgrid(np.arange(hs), np.arange(ws), indexing="ij")
        grids.append(np.stack([xv, yv], axis=-1).reshape(-1, 2))
        strides.append(np.full(hs * ws, s))
    return (
        np.concatenate(grids).astype(np.float32),
        np.concatenate(strides).astype(np.float32),
    )


class YoloxFormat:
    name = "yolox"
    rgb = False
    normalise = False
    pad_value = 114
    input_layout = "1x3xHxW float32 BGR 0-255 (H, W multiples of 32; 416x416 for nano)"
    output_layout = "1xNx85 (N = sum over strides 8,16,32 of (H/s)*(W/s); 3549 at 416)"

    def __init__(self) -> None:
        self._grids: dict[tuple[int, int], tuple[npt.NDArray[np.float32], ...]] = {}

    def fit(self, w: int, h: int, in_w: int, in_h: int) -> Letterbox:
        return letterbox_top_left(w, h, in_w, in_h)

    def _grid(self, in_w: int, in_h: int) -> tuple[npt.NDArray[np.float32], ...]:
        key = (in_w, in_h)
        if key not in self._grids:  # bounded: one entry per input size the detector uses
            if len(self._grids) > 64:
                self._grids.clear()
            self._grids[key] = yolox_grid(in_w, in_h)
        return self._grids[key]

    def check_output(self, shape: tuple[int, ...], in_w: int, in_h: int) -> str | None:
        n = sum((in_h // s) * (in_w // s) for s in STRIDES)
        if len(shape) != 3 or shape[2] != 85 or shape[1] != n:
            return f"expected output (B, {n}, 85) for a {in_w}x{in_h} input, got {shape}"
        return None

    def decode(
        self, raw: npt.NDArray[np.float32], in_w: int, in_h: int, min_score: float
    ) -> Candidates:
        grid, stride = self._grid(in_w, in_h)
        coco, cls_score = best_class(raw[:, 5:])
        score = raw[:, 4] * cls_score
        keep = np.flatnonzero(score >= min_score)
        if keep.size == 0:
            return Candidates.empty()
        r = raw[keep]
        s = stride[keep, None]
        cxcy = (r[:, 0:2] + grid[keep]) * s
        wh = np.exp(r[:, 2:4]) * s
        boxes = cxcywh_to_xyxy(np.concatenate([cxcy, wh], axis=1))
        return Candidates(boxes, score[keep].astype(np.float32), coco[keep])
