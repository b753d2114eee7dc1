"""Association between tracks and detections: box similarity and gated assignment.

>>> a = np.array([[0, 0, 10, 10], [20, 0, 30, 10]], dtype=float)
>>> b = np.array([[21, 0, 31, 10]], dtype=float)
>>> iou_matrix(a, b).round(2).tolist()
[[0.0], [0.82]]
>>> assign(np.array([[0.9], [0.1]]), max_cost=0.5)
([(1, 0)], [0], [])
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

Mat = npt.NDArray[np.float64]

#: cost marking a forbidden pair (beyond every gate)
FORBIDDEN = 1e6


def iou_matrix(a: npt.ArrayLike, b: npt.ArrayLike) -> Mat:
    """IoU of every xyxy box in ``a`` with every box in ``b``, shape (len(a), len(b))."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def centre_distance(a: npt.ArrayLike, b: npt.ArrayLike) -> Mat:
    """Centre distance of xyxy boxes divided by the height of the box in ``a``."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ca = (a[:, :2] + a[:, 2:]) / 2
    cb = (b[:, :2] + b[:, 2:]) / 2
    ha = np.maximum(a[:, 3] - a[:, 1], 1.0)
    return np.linalg.norm(ca[:, None, :] - cb[None, :, :], axis=2) / ha[:, None]


def height_ratio(a: npt.ArrayLike, b: npt.ArrayLike) -> Mat:
    """max(h_a, h_b) / min(h_a, h_b) of every pair (1 = same height)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ha = np.maximum(a[:, 3] - a[:, 1], 1.0)[:, None]
    hb = np.maximum(b[:, 3] - b[:, 1], 1.0)[None, :]
    return np.maximum(ha, hb) / np.minimum(ha, hb)


def assign(cost: Mat, max_cost: float) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Minimum-cost one-to-one assignment keeping pairs with cost <= ``max_cost``.

    Returns ``(matches, unmatched_rows, unmatched_cols)``.
    """
    n_rows, n_cols = cost.shape
    if n_rows == 0 or n_cols == 0:
        return [], list(range(n_rows)), list(range(n_cols))
    clipped = np.where(cost <= max_cost, cost, FORBIDDEN)
    rows, cols = linear_sum_assignment(clipped)
    matches = [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if cost[r, c] <= max_cost]
    used_r = {r for r, _ in matches}
    used_c = {c for _, c in matches}
    return (
        matches,
        [r for r in range(n_rows) if r not in used_r],
        [c for c in range(n_cols) if c not in used_c],
    )
