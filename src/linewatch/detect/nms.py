"""Non-maximum suppression (greedy, class-wise), in numpy."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def iou_matrix(a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """IoU of every box of ``a`` (N, 4) with every box of ``b`` (M, 4), xyxy -> (N, M)."""
    aa = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    bb = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    x1 = np.maximum(aa[:, None, 0], bb[None, :, 0])
    y1 = np.maximum(aa[:, None, 1], bb[None, :, 1])
    x2 = np.minimum(aa[:, None, 2], bb[None, :, 2])
    y2 = np.minimum(aa[:, None, 3], bb[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = np.clip(aa[:, 2] - aa[:, 0], 0, None) * np.clip(aa[:, 3] - aa[:, 1], 0, None)
    area_b = np.clip(bb[:, 2] - bb[:, 0], 0, None) * np.clip(bb[:, 3] - bb[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def nms(boxes: npt.ArrayLike, scores: npt.ArrayLike, iou: float) -> npt.NDArray[np.intp]:
    """Indices of the boxes kept, highest score first; a box is suppressed when its IoU with
    a kept, higher-scoring box is strictly above ``iou``. Ties keep the lower index."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    order = np.argsort(-s, kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        if order.size == 1:
            break
        rest = order[1:]
        ious = iou_matrix(b[i : i + 1], b[rest])[0]
        order = rest[ious <= iou]
    return np.asarray(keep, dtype=np.intp)


def batched_nms(
    boxes: npt.ArrayLike, scores: npt.ArrayLike, classes: npt.ArrayLike, iou: float
) -> npt.NDArray[np.intp]:
    """Class-wise NMS: boxes of different classes never suppress each other.

    Returns kept indices sorted by descending score.
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    c = np.asarray(classes).reshape(-1)
    kept: list[npt.NDArray[np.intp]] = []
    for k in np.unique(c):
        idx = np.flatnonzero(c == k)
        kept.append(idx[nms(b[idx], s[idx], iou)])
    if not kept:
        return np.zeros(0, dtype=np.intp)
    allk = np.concatenate(kept)
    return allk[np.argsort(-s[allk], kind="stable")]
