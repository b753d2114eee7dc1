"""Multi-object tracking evaluation against MOTChallenge ground truth (HOTA, CLEAR, IDF1).

The metrics are TrackEval's own (``trackeval.metrics.HOTA / CLEAR / Identity``), run on a
data dict built here, with MOTChallenge's preprocessing of ground-truth rows whose
``conf`` column is 0 (people the benchmark does not evaluate):

- ``zero_conf="ignore_matched"`` (default): predictions matched (Hungarian, IoU >= 0.5) to
  a conf-0 box are dropped, then the conf-0 boxes are dropped. This is what MOTChallenge
  does for its distractor boxes (MOT16/17/20): tracking an ignored person costs nothing.
- ``zero_conf="drop_gt"``: only the conf-0 boxes are dropped (TrackEval with
  ``BENCHMARK=MOT15``, whose preprocessing is off): tracking them counts as false positives.

    >>> from linewatch.eval.mot import from_array
    >>> gt = from_array([[1, 1, 0, 0, 10, 10, 1], [2, 1, 1, 0, 10, 10, 1]])
    >>> m = evaluate_tracks(gt, gt)
    >>> round(m.idf1, 3), round(m.hota, 3), m.id_switches
    (1.0, 1.0, 0)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from linewatch.eval.mot import MotFrame, MotRows, from_array, read_mot
from linewatch.records import TrackPoint

ZeroConf = Literal["ignore_matched", "drop_gt"]
PredLike = str | Path | MotRows | npt.ArrayLike | Sequence[TrackPoint]

_EPS = np.finfo("float").eps


@dataclass(frozen=True, slots=True)
class TrackMetrics:
    """Tracking figures of one sequence (fractions in 0..1, counts as ints)."""

    hota: float
    deta: float
    assa: float
    idf1: float
    idp: float
    idr: float
    mota: float
    motp: float
    id_switches: int
    fragmentations: int
    mostly_tracked: int
    mostly_lost: int
    false_positives: int
    false_negatives: int
    gt_ids: int
    pred_ids: int
    gt_dets: int
    pred_dets: int

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


TABLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("HOTA", "hota"),
    ("DetA", "deta"),
    ("AssA", "assa"),
    ("IDF1", "idf1"),
    ("IDP", "idp"),
    ("IDR", "idr"),
    ("MOTA", "mota"),
    ("MOTP", "motp"),
    ("IDSW", "id_switches"),
    ("Frag", "fragmentations"),
    ("IDs", "pred_ids"),
)


def format_table(
    results: Mapping[str, TrackMetrics], extra: Mapping[str, Mapping[str, str]] | None = None
) -> str:
    """A markdown table, one row per named result (percentages with one decimal)."""
    extra = extra or {}
    extra_cols = sorted({k for v in extra.values() for k in v})
    head = ["tracker", *[c for c, _ in TABLE_COLUMNS], *extra_cols]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    for name, m in results.items():
        cells = [name]
        for _, attr in TABLE_COLUMNS:
            v = getattr(m, attr)
            cells.append(str(v) if isinstance(v, int) else f"{100 * v:.1f}")
        cells.extend(extra.get(name, {}).get(c, "") for c in extra_cols)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def points_to_mot(points: Iterable[TrackPoint], frame_offset: int = 1) -> dict[int, MotFrame]:
    """Track points as MOT frames (``frame + frame_offset``: MOT counts frames from 1)."""
    rows = [(p.frame + frame_offset, p.track_id, *p.box, p.score) for p in points]
    if not rows:
        return {}
    arr = np.asarray(rows, dtype=np.float64)
    xywh = np.concatenate([arr[:, :4], arr[:, 4:6] - arr[:, 2:4], arr[:, 6:7]], axis=1)
    return from_array(xywh)


def _as_rows(x: PredLike) -> MotRows:
    if isinstance(x, str | Path):
        return read_mot(x)
    if isinstance(x, Mapping):
        return x
    if isinstance(x, Sequence) and len(x) > 0 and isinstance(x[0], TrackPoint):
        return points_to_mot(x)  # type: ignore[arg-type]
    return from_array(np.asarray(x, dtype=np.float64))


def box_iou(
    a: npt.NDArray[np.floating[Any]], b: npt.NDArray[np.floating[Any]]
) -> npt.NDArray[np.float64]:
    """IoU matrix of xyxy boxes (TrackEval's convention: continuous coordinates, no +1)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    out = np.zeros_like(inter)
    ok = union > _EPS
    out[ok] = inter[ok] / union[ok]
    return out


_EMPTY = MotFrame(
    ids=np.zeros(0, dtype=np.int64),
    xyxy=np.zeros((0, 4)),
    conf=np.zeros(0),
    extra=np.zeros((0, 0)),
)


def build_data(
    gt: MotRows, pred: MotRows, zero_conf: ZeroConf = "ignore_matched"
) -> dict[str, Any]:
    """TrackEval's per-sequence data dict (ids relabelled 0..n-1), preprocessed."""
    frames = sorted(set(gt) | set(pred))
    gt_ids_t, pr_ids_t, sims = [], [], []
    for f in frames:
        g = gt.get(f, _EMPTY)
        p = pred.get(f, _EMPTY)
        sim = box_iou(g.xyxy, p.xyxy)
        keep_p = np.ones(len(p), dtype=bool)
        ignored = g.conf == 0
        if zero_conf == "ignore_matched" and ignored.any() and len(p):
            score = np.where(sim >= 0.5 - _EPS, sim, 0.0)
            rows, cols = linear_sum_assignment(-score)
            hit = score[rows, cols] > _EPS
            drop = cols[hit & ignored[rows]]
            keep_p[drop] = False
        keep_g = ~ignored
        gt_ids_t.append(g.ids[keep_g])
        pr_ids_t.append(p.ids[keep_p])
        sims.append(sim[np.ix_(keep_g, keep_p)])
    gt_map = {
        v: i for i, v in enumerate(np.unique(np.concatenate([*gt_ids_t, np.zeros(0, np.int64)])))
    }
    pr_map = {
        v: i for i, v in enumerate(np.unique(np.concatenate([*pr_ids_t, np.zeros(0, np.int64)])))
    }
    return {
        "num_timesteps": len(frames),
        "num_gt_ids": len(gt_map),
        "num_tracker_ids": len(pr_map),
        "num_gt_dets": int(sum(len(i) for i in gt_ids_t)),
        "num_tracker_dets": int(sum(len(i) for i in pr_ids_t)),
        "gt_ids": [np.array([gt_map[v] for v in ids], dtype=int) for ids in gt_ids_t],
        "tracker_ids": [np.array([pr_map[v] for v in ids], dtype=int) for ids in pr_ids_t],
        "similarity_scores": sims,
        "seq": "seq",
    }


def evaluate_tracks(
    gt: PredLike,
    pred: PredLike,
    *,
    zero_conf: ZeroConf = "ignore_matched",
) -> TrackMetrics:
    """HOTA / CLEAR / Identity metrics of ``pred`` against ``gt``.

    ``gt`` and ``pred``: a MOT file path, ``{frame: MotFrame}`` (see :mod:`.mot`), an
    (N, >=7) array of MOT rows, or (pred only) a sequence of ``TrackPoint`` (their 0-based
    frame index + 1 is the MOT frame).
    """
    import trackeval  # lazy: evaluation-only dependency

    data = build_data(_as_rows(gt), _as_rows(pred), zero_conf)
    hota = trackeval.metrics.HOTA().eval_sequence(data)
    clear = trackeval.metrics.CLEAR({"PRINT_CONFIG": False}).eval_sequence(data)
    ident = trackeval.metrics.Identity({"PRINT_CONFIG": False}).eval_sequence(data)
    return TrackMetrics(
        hota=float(np.mean(hota["HOTA"])),
        deta=float(np.mean(hota["DetA"])),
        assa=float(np.mean(hota["AssA"])),
        idf1=float(ident["IDF1"]),
        idp=float(ident["IDP"]),
        idr=float(ident["IDR"]),
        mota=float(clear["MOTA"]),
        motp=float(clear["MOTP"]),
        id_switches=int(clear["IDSW"]),
        fragmentations=int(clear["Frag"]),
        mostly_tracked=int(clear["MT"]),
        mostly_lost=int(clear["ML"]),
        false_positives=int(clear["CLR_FP"]),
        false_negatives=int(clear["CLR_FN"]),
        gt_ids=int(data["num_gt_ids"]),
        pred_ids=int(data["num_tracker_ids"]),
        gt_dets=int(data["num_gt_dets"]),
        pred_dets=int(data["num_tracker_dets"]),
    )
