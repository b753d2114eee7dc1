"""A cheap motion mask for gating a detector: where did the image change?

Per frame (all on a grey copy downscaled so its longer side is at most ``max_side`` px and
blurred 5x5): a pixel is *moving* when it differs by more than ``diff_threshold`` grey levels
from the previous frame **or** from a running-average background. The background follows the
image with a time constant of ``background_seconds`` of stream time
(``alpha = 1 - exp(-dt / tau)``), so an object that stops keeps counting as moving for a few
seconds, then fades into the background. The mask is dilated and its connected blobs (at
least ``min_blob_px`` low-res pixels) are returned as boxes in full-image pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from linewatch.detect.letterbox import Image


@dataclass(frozen=True, slots=True)
class MotionMaskParams:
    max_side: int = 192
    diff_threshold: int = 16
    background_seconds: float = 1.0
    min_blob_px: int = 4
    dilate_px: int = 1


@dataclass(frozen=True, slots=True)
class MotionResult:
    boxes: npt.NDArray[np.int32]  # (N, 4) xyxy full-image pixels of the moving blobs
    fraction: float  # share of the image that moved
    first: bool  # first frame seen (no reference yet)
    grey: npt.NDArray[np.uint8]  # this frame, downscaled grey (blurred)
    prev_grey: npt.NDArray[np.uint8] | None  # the previous frame, same size (None: first)
    factor: float  # full-image pixels per downscaled pixel


class MotionMask:
    """Stateful motion mask of one camera (``reset()`` forgets the reference images)."""

    def __init__(self, params: MotionMaskParams | None = None) -> None:
        self.params = params or MotionMaskParams()
        self._bg: npt.NDArray[np.float32] | None = None
        self._prev: npt.NDArray[np.uint8] | None = None
        self._t: float | None = None
        k = 2 * self.params.dilate_px + 1
        self._kernel = np.ones((k, k), np.uint8)

    def reset(self) -> None:
        self._bg = None
        self._prev = None
        self._t = None

    def _small(self, image: Image) -> tuple[npt.NDArray[np.uint8], float]:
        h, w = image.shape[:2]
        f = max(1.0, max(h, w) / self.params.max_side)
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        if f > 1.0:
            grey = cv2.resize(
                grey, (max(1, round(w / f)), max(1, round(h / f))), interpolation=cv2.INTER_AREA
            )
        return np.asarray(cv2.GaussianBlur(grey, (5, 5), 0), dtype=np.uint8), f

    def update(self, image: Image, t: float) -> MotionResult:
        """Motion of ``image`` (stream time ``t``) against the previous frame and background."""
        small, f = self._small(image)
        h, w = image.shape[:2]
        if self._bg is None or self._prev is None or self._prev.shape != small.shape:
            self._bg = small.astype(np.float32)
            self._prev = small
            self._t = t
            return MotionResult(np.zeros((0, 4), np.int32), 0.0, True, small, None, f)
        thr = self.params.diff_threshold
        moving = (cv2.absdiff(small, self._prev) > thr) | (
            cv2.absdiff(small, self._bg.astype(np.uint8)) > thr
        )
        dt = max(0.0, t - (self._t if self._t is not None else t))
        alpha = 1.0 - math.exp(-dt / self.params.background_seconds) if dt > 0 else 0.05
        cv2.accumulateWeighted(small.astype(np.float32), self._bg, alpha)
        prev = self._prev
        self._prev = small
        self._t = t
        mask = cv2.dilate(moving.astype(np.uint8), self._kernel)
        fraction = float(moving.mean())
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        boxes = []
        for i in range(1, n):
            x, y, bw, bh, area = (int(v) for v in stats[i])
            if area < self.params.min_blob_px:
                continue
            boxes.append(
                [
                    math.floor(x * f),
                    math.floor(y * f),
                    min(w, math.ceil((x + bw) * f)),
                    min(h, math.ceil((y + bh) * f)),
                ]
            )
        arr = np.asarray(boxes, dtype=np.int32).reshape(-1, 4)
        return MotionResult(arr, fraction, False, small, prev, f)
