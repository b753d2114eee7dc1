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


def _greedy(ious: npt.NDArray[np.float64], iou: float) -> list[int]:
    """Greedy suppression over an IoU matrix whose rows are in descending score order."""
    n = ious.shape[0]
    suppressed = np.zeros(n, dtype=bool)
    keep: list[int] = []
    for i in range(n):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= ious[i] > iou
    return keep


def nms(boxes: npt.ArrayLike, scores: npt.ArrayLike, iou: float) -> npt.NDArray[np.intp]:
    """Indices of the boxes kept, highest score first; a box is suppressed when its IoU with
    a kept, higher-scoring box is strictly above ``iou``. Ties keep the lower index."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    order = np.argsort(-s, kind="stable")
    if order.size <= 1:
        return order.astype(np.intp)
    ob = b[order]
    return order[_greedy(iou_matrix(ob, ob), iou)].astype(np.intp)


def batched_nms(
    boxes: npt.ArrayLike, scores: npt.ArrayLike, classes: npt.ArrayLike, iou: float
) -> npt.NDArray[np.intp]:
    """Class-wise NMS: boxes of different classes never suppress each other.

    Returns kept indices sorted by descending score.
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    c = np.asarray(classes).reshape(-1)
    order = np.argsort(-s, kind="stable")
    if order.size <= 1:
        return order.astype(np.intp)
    ob, oc = b[order], c[order]
    ious = iou_matrix(ob, ob)
    ious[oc[:, None] != oc[None, :]] = 0.0
    return order[_greedy(ious, iou)].astype(np.intp)
