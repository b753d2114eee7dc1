"""Detection evaluation against MOT-format boxes: precision/recall at IoU 0.5 and AP.

``evaluate_detections(gt_path, video_path, detector_or_config)`` runs a detector on every
frame of a video that the ground truth covers and scores its output per class:

- Matching, per frame and class: detections in descending score order each take the
  unmatched ground-truth box of highest IoU, if that IoU is >= ``iou`` (0.5).
- Ground-truth rows with ``conf == 0`` are *ignore* boxes (MOTChallenge's "not evaluated"
  people): they are never missed, and a detection that matches no evaluated box but
  overlaps an ignore box by >= ``iou`` is dropped (neither true nor false positive).
- Precision and recall are at the detector's operating point (every box it outputs);
  AP is the all-point interpolated area under the precision/recall curve obtained by
  sweeping a threshold over the output scores (VOC 2010+ / COCO-style, one IoU).
- MOT ground truth has no class column for MOT15: every row is taken as the first of
  ``classes`` (``person``). A detector's ``object`` (unknown class) boxes count as that
  class too, so the class-less motion detector can be scored.
- Frame mapping: gt frame ``N`` is video frame index ``N - frame_offset`` (PETS09-S2L1:
  ``frame_offset = 1``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from linewatch.detect.nms import iou_matrix
from linewatch.records import Detections, ObjectClass

if TYPE_CHECKING:
    from linewatch.config import DetectorConfig
    from linewatch.detect.base import Detector


@dataclass(frozen=True, slots=True)
class ClassMetrics:
    name: str
    precision: float
    recall: float
    ap: float
    tp: int
    fp: int
    fn: int
    gt: int  # evaluated ground-truth boxes
    detections: int  # detections scored (ignored ones excluded)
    ignored: int  # detections dropped because they match an ignore box


@dataclass(frozen=True, slots=True)
class DetectionMetrics:
    detector: str
    frames: int
    iou: float
    classes: dict[str, ClassMetrics] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "detector": self.detector,
            "frames": self.frames,
            "iou": self.iou,
            "classes": {k: asdict(v) for k, v in self.classes.items()},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def table(self) -> str:
        """Plain-text table, one row per class."""
        head = f"{'class':<8} {'prec':>6} {'recall':>6} {'AP':>6} {'TP':>6} {'FP':>6} {'FN':>6}"
        rows = [f"{self.detector}: {self.frames} frames, IoU {self.iou:g}", head]
        for m in self.classes.values():
            rows.append(
                f"{m.name:<8} {m.precision:6.3f} {m.recall:6.3f} {m.ap:6.3f} "
                f"{m.tp:6d} {m.fp:6d} {m.fn:6d}"
            )
        return "\n".join(rows)


@dataclass(slots=True)
class _Accumulator:
    scores: list[float] = field(default_factory=list)
    hits: list[bool] = field(default_factory=list)
    gt: int = 0
    ignored: int = 0


def match_frame(
    det_boxes: npt.ArrayLike,
    det_scores: npt.ArrayLike,
    gt_boxes: npt.ArrayLike,
    ignore_boxes: npt.ArrayLike | None = None,
    iou: float = 0.5,
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Greedy matching of one frame: ``(is_tp, is_ignored)`` per detection (input order)."""
    db = np.asarray(det_boxes, dtype=np.float64).reshape(-1, 4)
    ds = np.asarray(det_scores, dtype=np.float64).reshape(-1)
    gb = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    ib = np.zeros((0, 4)) if ignore_boxes is None else np.asarray(ignore_boxes, np.float64)
    ib = ib.reshape(-1, 4)
    tp = np.zeros(db.shape[0], dtype=bool)
    ign = np.zeros(db.shape[0], dtype=bool)
    if db.shape[0] == 0:
        return tp, ign
    ious = iou_matrix(db, gb)
    iou_ign = iou_matrix(db, ib)
    taken = np.zeros(gb.shape[0], dtype=bool)
    for i in np.argsort(-ds, kind="stable"):
        if gb.shape[0]:
            cand = np.where(taken, -1.0, ious[i])
            j = int(np.argmax(cand))
            if cand[j] >= iou:
                taken[j] = True
                tp[i] = True
                continue
        if ib.shape[0] and iou_ign[i].max() >= iou:
            ign[i] = True
    return tp, ign


def average_precision(scores: Sequence[float], hits: Sequence[bool], n_gt: int) -> float:
    """All-point interpolated AP from scored detections (``hits``: true positive or not)."""
    if n_gt == 0:
        return float("nan")
    if not scores:
        return 0.0
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    h = np.asarray(hits, dtype=np.float64)[order]
    tp = np.cumsum(h)
    fp = np.cumsum(1.0 - h)
    recall = tp / n_gt
    precision = tp / np.maximum(tp + fp, 1e-12)
    mrec = np.concatenate([[0.0], recall, [recall[-1]]])
    mpre = np.concatenate([[1.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    steps = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))


class DetectionScorer:
    """Accumulates per-frame matches; ``result()`` gives the metrics."""

    def __init__(self, classes: Sequence[str] = ("person",), iou: float = 0.5) -> None:
        self.classes = [ObjectClass.parse(c) for c in classes]
        self.iou = iou
        self.frames = 0
        self._acc = {c: _Accumulator() for c in self.classes}

    def add(
        self,
        dets: Detections,
        gt_boxes: npt.ArrayLike,
        ignore_boxes: npt.ArrayLike | None = None,
        gt_class: ObjectClass | None = None,
    ) -> None:
        """One frame: detections and its ground truth (all of class ``gt_class``, default
        the first evaluated class)."""
        self.frames += 1
        gcls = gt_class if gt_class is not None else self.classes[0]
        gb = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
        for c in self.classes:
            sel = dets.cls == int(c)
            if len(self.classes) == 1:
                sel |= dets.cls == int(ObjectClass.OBJECT)
            d = dets[np.flatnonzero(sel)]
            g = gb if c == gcls else np.zeros((0, 4))
            ig = ignore_boxes if c == gcls else None
            tp, ign = match_frame(d.xyxy, d.score, g, ig, self.iou)
            acc = self._acc[c]
            acc.gt += g.shape[0]
            acc.ignored += int(ign.sum())
            acc.scores.extend(d.score[~ign].tolist())
            acc.hits.extend(tp[~ign].tolist())

    def result(self, detector: str) -> DetectionMetrics:
        out: dict[str, ClassMetrics] = {}
        for c, acc in self._acc.items():
            tp = int(sum(acc.hits))
            n = len(acc.hits)
            out[c.label] = ClassMetrics(
                name=c.label,
                precision=tp / n if n else float("nan"),
                recall=tp / acc.gt if acc.gt else float("nan"),
                ap=average_precision(acc.scores, acc.hits, acc.gt),
                tp=tp,
                fp=n - tp,
                fn=acc.gt - tp,
                gt=acc.gt,
                detections=n,
                ignored=acc.ignored,
            )
        return DetectionMetrics(detector, self.frames, self.iou, out)


def evaluate_detections(
    gt_path: str | Path,
    video_path: str | Path,
    detector_or_config: Detector | DetectorConfig,
    frame_offset: int = 1,
    fps: float | None = None,
    classes: Sequence[str] = ("person",),
    iou: float = 0.5,
    max_frames: int | None = None,
) -> DetectionMetrics:
    """Run a detector (or build one from a detector config) over a video and score it
    against MOT ground truth; see the module docstring for the exact rules."""
    from linewatch.config import CameraConfig
    from linewatch.eval.mot import read_mot
    from linewatch.video import open_video

    gt = read_mot(gt_path)
    if not gt:
        raise ValueError(f"{gt_path}: no ground-truth rows")
    first, last = min(gt), max(gt)
    camera = CameraConfig.model_validate(
        {"id": "eval", "source": str(Path(video_path).resolve()), "fps": fps}
    )
    if hasattr(detector_or_config, "detect"):
        detector: Detector = detector_or_config  # type: ignore[assignment]
    else:
        from linewatch.detect import build_detector

        camera = camera.model_copy(update={"detector": detector_or_config})
        detector = build_detector(camera, None, None)
    scorer = DetectionScorer(classes, iou)
    with open_video(camera) as source:
        for frame in source:
            n = frame.index + frame_offset
            if n < first:
                continue
            if n > last or (max_frames is not None and scorer.frames >= max_frames):
                break
            rows = gt.get(n)
            dets = detector.detect(frame)
            if rows is None:
                scorer.add(dets, np.zeros((0, 4)))
                continue
            valid = rows.conf != 0
            scorer.add(dets, rows.xyxy[valid], rows.xyxy[~valid])
    return scorer.result(getattr(detector, "name", type(detector).__name__))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m linewatch.eval.detections GT VIDEO --detector JSON [--fps F] [--json OUT]``"""
    import argparse

    from pydantic import TypeAdapter, ValidationError

    from linewatch.config import DetectorConfig

    ap = argparse.ArgumentParser(description="Score a detector against MOT ground truth.")
    ap.add_argument("gt", type=Path)
    ap.add_argument("video", type=Path)
    ap.add_argument("--detector", default='{"type": "motion"}', help="detector config (JSON)")
    ap.add_argument("--fps", type=float, default=None, help="the footage's real frame rate")
    ap.add_argument("--frame-offset", type=int, default=1)
    ap.add_argument("--classes", default="person")
    ap.add_argument("--max-frames", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None, help="also write the metrics here")
    args = ap.parse_args(argv)
    try:
        cfg = TypeAdapter(DetectorConfig).validate_json(args.detector)
    except ValidationError as e:
        ap.error(f"--detector: {e}")
    m = evaluate_detections(
        args.gt,
        args.video,
        cfg,
        frame_offset=args.frame_offset,
        fps=args.fps,
        classes=tuple(args.classes.split(",")),
        max_frames=args.max_frames,
    )
    print(m.table())
    if args.json is not None:
        args.json.write_text(m.to_json(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
