"""Geometry between a camera image and a network input: resize, pad, and back.

Every ONNX format maps the image into its input the same way: scale by ``(scale_x,
scale_y)``, then place the scaled image at ``(pad_x, pad_y)`` on a canvas of the input size
filled with a pad value. :class:`Letterbox` records that mapping, applies it to an image and
inverts it for boxes, so the decoders and the motion gate share one tested piece of code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Letterbox:
    """image pixel ``x`` -> input pixel ``x * scale_x + pad_x`` (same for y)."""

    scale_x: float
    scale_y: float
    pad_x: int
    pad_y: int
    resized_w: int  # size of the scaled image inside the canvas
    resized_h: int
    in_w: int  # canvas (network input) size
    in_h: int

    def apply(self, image: Image, pad_value: int = 114) -> Image:
        """The network-input canvas (H_in, W_in, 3) uint8 holding the scaled image."""
        h, w = image.shape[:2]
        if (w, h) == (self.resized_w, self.resized_h):
            resized = image
        else:
            resized = np.asarray(
                cv2.resize(image, (self.resized_w, self.resized_h), interpolation=cv2.INTER_LINEAR),
                dtype=np.uint8,
            )
        if (
            self.pad_x == 0
            and self.pad_y == 0
            and (self.resized_w, self.resized_h) == (self.in_w, self.in_h)
        ):
            return np.ascontiguousarray(resized)
        canvas = np.full((self.in_h, self.in_w, 3), pad_value, dtype=np.uint8)
        canvas[
            self.pad_y : self.pad_y + self.resized_h, self.pad_x : self.pad_x + self.resized_w
        ] = resized
        return canvas

    def invert(
        self, boxes: npt.NDArray[np.floating], image_size: tuple[int, int] | None = None
    ) -> npt.NDArray[np.float32]:
        """Boxes (N, 4) xyxy in input pixels -> image pixels, clipped to ``image_size`` (w, h)."""
        out = np.asarray(boxes, dtype=np.float32).reshape(-1, 4).copy()
        out[:, [0, 2]] = (out[:, [0, 2]] - self.pad_x) / self.scale_x
        out[:, [1, 3]] = (out[:, [1, 3]] - self.pad_y) / self.scale_y
        if image_size is not None:
            w, h = image_size
            out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, w)
            out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, h)
        return out


def letterbox_top_left(w: int, h: int, in_w: int, in_h: int) -> Letterbox:
    """YOLOX's preprocessing: keep aspect, scale ``r = min(in/size)``, image at the top-left.

    The scaled size is ``int(w * r)`` as in YOLOX's ``preproc``; boxes are divided by ``r``.
    """
    r = min(in_w / w, in_h / h)
    rw, rh = max(1, int(w * r)), max(1, int(h * r))
    return Letterbox(r, r, 0, 0, rw, rh, in_w, in_h)


def letterbox_centred(w: int, h: int, in_w: int, in_h: int) -> Letterbox:
    """Ultralytics' ``LetterBox``: keep aspect, scaled image centred, pad split both sides."""
    r = min(in_w / w, in_h / h)
    rw, rh = max(1, round(w * r)), max(1, round(h * r))
    dw, dh = (in_w - rw) / 2, (in_h - rh) / 2
    return Letterbox(r, r, round(dw - 0.1), round(dh - 0.1), rw, rh, in_w, in_h)


def stretch(w: int, h: int, in_w: int, in_h: int) -> Letterbox:
    """Plain resize to the input size (FastestDet): no padding, aspect not kept."""
    return Letterbox(in_w / w, in_h / h, 0, 0, in_w, in_h, in_w, in_h)


def scaled_crop(w: int, h: int, scale_x: float, scale_y: float, multiple: int = 32) -> Letterbox:
    """Scale an image (a crop) by fixed factors and pad bottom/right to a multiple of ``multiple``.

    Used by the motion gate: a crop is seen at the same scale as the full frame would be,
    in an input just big enough to hold it (needs a model with free input height/width).
    """
    rw, rh = max(1, round(w * scale_x)), max(1, round(h * scale_y))
    in_w = max(multiple, math.ceil(rw / multiple) * multiple)
    in_h = max(multiple, math.ceil(rh / multiple) * multiple)
    return Letterbox(rw / w, rh / h, 0, 0, rw, rh, in_w, in_h)
