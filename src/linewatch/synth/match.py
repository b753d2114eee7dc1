"""Which ground-truth actor each analysed track is: the actor whose truth box overlaps the
track's boxes (IoU >= ``min_iou``) in most of the track's frames."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from linewatch.records import TrackPoint
from linewatch.synth.truth import GroundTruth


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two xyxy boxes.

    >>> iou((0, 0, 2, 2), (1, 0, 3, 2))
    0.3333333333333333
    """
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match_tracks(
    truth: GroundTruth, points: Iterable[TrackPoint], min_iou: float = 0.3, min_share: float = 0.5
) -> dict[int, str]:
    """``{track id: actor id}`` for tracks that are one actor in at least ``min_share`` of
    their frames; tracks that match nothing (clutter) are left out."""
    votes: dict[int, Counter[str]] = {}
    frames: Counter[int] = Counter()
    for p in points:
        frames[p.track_id] += 1
        best, best_iou = None, min_iou
        for actor, box in truth.boxes(p.frame).items():
            v = iou(p.box, box)
            if v >= best_iou:
                best, best_iou = actor, v
        if best is not None:
            votes.setdefault(p.track_id, Counter())[best] += 1
    out: dict[int, str] = {}
    for tid, counter in votes.items():
        actor, n = counter.most_common(1)[0]
        if n >= min_share * frames[tid]:
            out[tid] = actor
    return out
