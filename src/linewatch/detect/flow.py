"""Carry boxes from one frame to the next along sparse optical flow.

Each box is sampled on a 3 x 5 grid of points inside it (away from its border, where the
background is); Lucas-Kanade (pyramidal) tracks them between two grey images; the box moves
by the median displacement of the points tracked. Boxes keep their size. A box with fewer
than ``min_points`` tracked points stays where it was and is flagged.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

_FX = np.array([0.3, 0.5, 0.7], dtype=np.float32)
_FY = np.array([0.2, 0.35, 0.5, 0.65, 0.8], dtype=np.float32)


def carry_boxes(
    prev: npt.NDArray[np.uint8],
    cur: npt.NDArray[np.uint8],
    boxes: npt.NDArray[np.float32],
    factor: float,
    image_size: tuple[int, int],
    min_points: int = 3,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """Boxes (N, 4, full-image pixels) moved from ``prev`` to ``cur`` (grey images
    ``factor`` times smaller than the full image); returns (boxes, moved) with ``moved``
    False where too few points were tracked (the box is then unchanged). Clipped to
    ``image_size`` (w, h)."""
    out = np.asarray(boxes, dtype=np.float32).reshape(-1, 4).copy()
    n = out.shape[0]
    if n == 0:
        return out, np.zeros(0, dtype=bool)
    small = out / np.float32(factor)
    gx, gy = np.meshgrid(_FX, _FY)
    fx, fy = gx.ravel(), gy.ravel()
    k = fx.size
    xs = small[:, None, 0] + fx[None, :] * (small[:, None, 2] - small[:, None, 0])
    ys = small[:, None, 1] + fy[None, :] * (small[:, None, 3] - small[:, None, 1])
    pts = np.stack([xs, ys], axis=-1).reshape(-1, 1, 2).astype(np.float32)
    nxt, status, _ = cv2.calcOpticalFlowPyrLK(
        prev, cur, pts, np.empty_like(pts), winSize=(9, 9), maxLevel=2
    )
    ok = status.reshape(n, k) == 1
    d = (nxt - pts).reshape(n, k, 2) * np.float32(factor)
    count = ok.sum(axis=1)
    moved = count >= min_points
    if moved.any():  # median of the tracked points (untracked ones sorted to the end)
        srt = np.sort(np.where(ok[:, :, None], d, np.inf), axis=1)[moved]
        c = count[moved]
        lo = np.take_along_axis(srt, ((c - 1) // 2)[:, None, None], axis=1)[:, 0]
        hi = np.take_along_axis(srt, (c // 2)[:, None, None], axis=1)[:, 0]
        shift = (lo + hi) / 2  # (M, 2)
        out[moved] += np.concatenate([shift, shift], axis=1)
    w, h = image_size
    out[:, [0, 2]] = np.minimum(np.maximum(out[:, [0, 2]], 0), w)
    out[:, [1, 3]] = np.minimum(np.maximum(out[:, [1, 3]], 0), h)
    return out, moved
