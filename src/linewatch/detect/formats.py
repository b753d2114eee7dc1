"""What an ONNX detector format is: its input convention and its raw-output decoder.

A format (YOLOX, Ultralytics, FastestDet) says how an image becomes the network input
(:meth:`ModelFormat.fit` gives the :class:`~linewatch.detect.letterbox.Letterbox`, plus the
channel order and scaling) and how one image's raw output becomes candidate boxes in
input pixels with a score and a COCO class id (:meth:`ModelFormat.decode`). Thresholds per
linewatch class, class mapping and NMS are shared and live in :mod:`linewatch.detect.onnx`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from linewatch.detect.letterbox import Image, Letterbox


@dataclass(frozen=True, slots=True)
class Candidates:
    """Decoded boxes of one image before thresholds per class and NMS."""

    boxes: npt.NDArray[np.float32]  # (N, 4) xyxy in network-input pixels
    scores: npt.NDArray[np.float32]  # (N,)
    coco: npt.NDArray[np.int64]  # (N,) COCO class id (0..79)

    @classmethod
    def empty(cls) -> Candidates:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))


class ModelFormat(Protocol):
    """Conventions of one family of ONNX exports."""

    name: str
    rgb: bool  # feed RGB (else BGR)
    normalise: bool  # divide by 255 (else raw 0-255)
    pad_value: int
    #: human-readable expected shapes, used in error messages
    input_layout: str
    output_layout: str

    def fit(self, w: int, h: int, in_w: int, in_h: int) -> Letterbox:
        """Mapping of a w x h image into an in_w x in_h input, as the model was trained."""
        ...

    def check_output(self, shape: tuple[int, ...], in_w: int, in_h: int) -> str | None:
        """None when a raw output of ``shape`` fits this format, else what is wrong."""
        ...

    def decode(
        self, raw: npt.NDArray[np.float32], in_w: int, in_h: int, min_score: float
    ) -> Candidates:
        """One image's raw output (batch dim removed) -> candidates scoring >= min_score."""
        ...


def to_tensor(canvases: list[Image], rgb: bool, normalise: bool) -> npt.NDArray[np.float32]:
    """Stack (H, W, 3) uint8 BGR canvases into an (N, 3, H, W) float32 tensor."""
    batch = np.stack(canvases)
    if rgb:
        batch = batch[..., ::-1]
    out = np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32)
    if normalise:
        out *= np.float32(1.0 / 255.0)
    return out


def best_class(
    scores: npt.NDArray[np.float32],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Per row of (N, C) class scores: argmax and max."""
    if scores.shape[0] == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    idx = scores.argmax(axis=1)
    return idx.astype(np.int64), scores[np.arange(scores.shape[0]), idx].astype(np.float32)


def cxcywh_to_xyxy(b: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
    out = np.empty((b.shape[0], 4), dtype=np.float32)
    out[:, 0] = b[:, 0] - b[:, 2] / 2
    out[:, 1] = b[:, 1] - b[:, 3] / 2
    out[:, 2] = b[:, 0] + b[:, 2] / 2
    out[:, 3] = b[:, 1] + b[:, 3] / 2
    return out
