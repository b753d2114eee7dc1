"""Event-level evaluation: detected findings against ground-truth events.

A predicted event matches a ground-truth event when they have the same kind, the same
subject (line or zone id), the same direction, and times within ``tolerance_s``. Matching is
one-to-one and optimal per (kind, subject, direction) group: the Hungarian algorithm first
maximises the number of matches, then minimises the total time difference.

- Event dicts need ``kind`` and ``t_start``; the subject is ``subject`` (or ``line`` /
  ``zone``); ``direction`` and ``t_end`` are optional. A ground-truth event without a
  direction matches predictions of any direction (hand-written truth may not say).
- The time compared is the moment the event happens: ``t_start``, except for ``zone_exit``
  whose ``t_start`` is the entry time and whose exit is ``t_end``.
- For events with a duration (``incursion``, ``zone_exit``, ``loitering``) the duration
  error ``|(t_end - t_start)_pred - (t_end - t_start)_gt|`` of matched pairs is reported.
- Evaluated kinds: those of the ground truth by default (a run also reports kinds the
  truth does not cover, e.g. speeds); precision is 1 when nothing was predicted and recall
  is 1 when there was nothing to find.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

#: kinds whose time of occurrence is ``t_end`` (``t_start`` is the entry)
END_TIMED_KINDS = frozenset({"zone_exit"})
#: kinds with a meaningful duration
DURATION_KINDS = frozenset({"incursion", "zone_exit", "loitering"})


@dataclass(frozen=True, slots=True)
class NormEvent:
    """The fields of an event dict that matching uses."""

    index: int  # position in the list given
    kind: str
    subject: str | None
    direction: str | None
    t: float  # the time compared (see END_TIMED_KINDS)
    duration: float | None

    @classmethod
    def of(cls, index: int, d: Mapping[str, Any]) -> NormEvent:
        try:
            kind = str(d["kind"])
            t_start = float(d["t_start"])
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(
                f"event #{index}: needs `kind` and a numeric `t_start` ({e!r}): {dict(d)}"
            ) from None
        subject = d.get("subject")
        if subject is None:
            subject = d.get("line", d.get("zone"))
        t_end_raw = d.get("t_end")
        t_end = None if t_end_raw is None else float(t_end_raw)
        t = t_end if kind in END_TIMED_KINDS and t_end is not None else t_start
        duration = None if t_end is None or kind not in DURATION_KINDS else t_end - t_start
        direction = d.get("direction")
        return cls(
            index,
            kind,
            None if subject is None else str(subject),
            None if direction is None else str(direction),
            t,
            duration,
        )


@dataclass(frozen=True, slots=True)
class Match:
    gt: int  # index in the ground-truth list
    pred: int  # index in the predicted list
    dt: float  # predicted time - ground-truth time (seconds)
    d_duration: float | None  # predicted duration - ground-truth duration


def _stats(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "median": None, "max": None}
    a = np.abs(np.asarray(values, dtype=np.float64))
    return {"mean": float(a.mean()), "median": float(np.median(a)), "max": float(a.max())}


@dataclass(frozen=True, slots=True)
class Scores:
    """Counts and scores of one kind (or all kinds together)."""

    tp: int
    fp: int
    fn: int
    timing: dict[str, float | None]  # mean / median / max of |dt| over matches
    duration: dict[str, float | None] | None = None  # same for durations, when they apply

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(precision=self.precision, recall=self.recall, f1=self.f1)
        return d


@dataclass(frozen=True)
class EventMetrics:
    """Per-kind and overall (micro-averaged) scores, the matches and what was not matched."""

    tolerance_s: float
    per_kind: dict[str, Scores]
    overall: Scores
    matches: list[Match] = field(default_factory=list)
    missed: list[int] = field(default_factory=list)  # gt indices without a match
    false_alarms: list[int] = field(default_factory=list)  # pred indices without a match

    def to_dict(self) -> dict[str, Any]:
        return {
            "tolerance_s": self.tolerance_s,
            "per_kind": {k: s.to_dict() for k, s in self.per_kind.items()},
            "overall": self.overall.to_dict(),
            "matches": [asdict(m) for m in self.matches],
            "missed": list(self.missed),
            "false_alarms": list(self.false_alarms),
        }


def load_events_json(path: str | Path) -> list[dict[str, Any]]:
    """Events from a JSON file: a list of event dicts (or ``{"events": [...]}``)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: events file not found")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{p}: not valid JSON: {e}") from None
    if isinstance(data, dict) and isinstance(data.get("events"), list):
        data = data["events"]
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise ValueError(f"{p}: expected a list of event objects")
    for i, d in enumerate(data):
        try:
            NormEvent.of(i, d)  # checks kind / t_start
        except ValueError as e:
            raise ValueError(f"{p}: {e}") from None
    return data


def _match_group(
    gts: Sequence[NormEvent], preds: Sequence[NormEvent], tolerance: float
) -> list[tuple[NormEvent, NormEvent]]:
    """Optimal one-to-one matching within the tolerance (most matches, then least |dt|)."""
    if not gts or not preds:
        return []
    dt = np.abs(np.array([[p.t - g.t for p in preds] for g in gts], dtype=np.float64))
    allowed = dt <= tolerance
    if not allowed.any():
        return []
    # a match always costs less than leaving a pair out, so the count is maximised first
    big = (tolerance + 1.0) * (min(len(gts), len(preds)) + 1)
    cost = np.where(allowed, dt, big)
    rows, cols = linear_sum_assignment(cost)
    return [(gts[i], preds[j]) for i, j in zip(rows, cols, strict=True) if allowed[i, j]]


def evaluate_events(
    gt_events: Sequence[Mapping[str, Any]],
    pred_events: Sequence[Mapping[str, Any]],
    tolerance_s: float = 1.0,
    kinds: Iterable[str] | None = None,
) -> EventMetrics:
    """Precision, recall, F1 and timing error per event kind (see the module doc)."""
    if not (tolerance_s >= 0 and math.isfinite(tolerance_s)):
        raise ValueError(f"tolerance must be a finite number >= 0, got {tolerance_s}")
    gts = [NormEvent.of(i, d) for i, d in enumerate(gt_events)]
    preds = [NormEvent.of(i, d) for i, d in enumerate(pred_events)]
    wanted = sorted({g.kind for g in gts} if kinds is None else set(kinds))
    gts = [g for g in gts if g.kind in wanted]
    preds = [p for p in preds if p.kind in wanted]
    matches: list[Match] = []
    # groups: (kind, subject, direction) of the predictions; gt without direction joins each
    groups: dict[tuple[str, str | None, str | None], list[NormEvent]] = {}
    for p in preds:
        groups.setdefault((p.kind, p.subject, p.direction), []).append(p)
    gt_keys: dict[tuple[str, str | None, str | None], list[NormEvent]] = {}
    for g in gts:
        gt_keys.setdefault((g.kind, g.subject, g.direction), []).append(g)
    used_gt: set[int] = set()
    used_pred: set[int] = set()
    # exact (kind, subject, direction) first, then direction-less truth against the rest
    for key, gs in gt_keys.items():
        if key[2] is None:
            continue
        for g, p in _match_group(gs, groups.get(key, []), tolerance_s):
            matches.append(_mk(g, p))
    used_gt.update(m.gt for m in matches)
    used_pred.update(m.pred for m in matches)
    loose = [g for g in gts if g.direction is None]
    for kind, subject in sorted({(g.kind, g.subject) for g in loose}, key=str):
        gs = [g for g in loose if (g.kind, g.subject) == (kind, subject)]
        ps = [
            p for p in preds if (p.kind, p.subject) == (kind, subject) and p.index not in used_pred
        ]
        for g, p in _match_group(gs, ps, tolerance_s):  # any direction
            matches.append(_mk(g, p))
            used_gt.add(g.index)
            used_pred.add(p.index)
    matches.sort(key=lambda m: (m.gt, m.pred))
    missed = sorted(g.index for g in gts if g.index not in used_gt)
    false_alarms = sorted(p.index for p in preds if p.index not in used_pred)
    kind_of_gt = {g.index: g.kind for g in gts}
    per_kind: dict[str, Scores] = {}
    for kind in wanted:
        km = [m for m in matches if kind_of_gt[m.gt] == kind]
        per_kind[kind] = _scores(
            km,
            fp=sum(1 for p in preds if p.kind == kind and p.index not in used_pred),
            fn=sum(1 for g in gts if g.kind == kind and g.index not in used_gt),
            durations=kind in DURATION_KINDS,
        )
    overall = _scores(
        matches, len(false_alarms), len(missed), any(k in DURATION_KINDS for k in wanted)
    )
    return EventMetrics(tolerance_s, per_kind, overall, matches, missed, false_alarms)


def _mk(g: NormEvent, p: NormEvent) -> Match:
    dd = None if g.duration is None or p.duration is None else p.duration - g.duration
    return Match(g.index, p.index, p.t - g.t, dd)


def _scores(matches: Sequence[Match], fp: int, fn: int, durations: bool) -> Scores:
    dur = None
    if durations:
        dur = _stats([m.d_duration for m in matches if m.d_duration is not None])
    return Scores(len(matches), fp, fn, _stats([m.dt for m in matches]), dur)


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def format_metrics(metrics: EventMetrics) -> str:
    """A plain-text table: one row per kind, then all kinds together."""
    head = f"{'kind':<14}{'gt':>5}{'pred':>6}{'TP':>5}{'P':>7}{'R':>7}{'F1':>7}"
    head += f"{'|dt| mean':>11}{'median':>8}{'max':>7}"
    out = [f"event evaluation (tolerance {metrics.tolerance_s:g} s)", head]
    rows = [*metrics.per_kind.items(), ("all", metrics.overall)]
    for kind, s in rows:
        t = s.timing
        out.append(
            f"{kind:<14}{s.tp + s.fn:>5}{s.tp + s.fp:>6}{s.tp:>5}{s.precision:>7.3f}"
            f"{s.recall:>7.3f}{s.f1:>7.3f}{_num(t['mean']):>11}{_num(t['median']):>8}"
            f"{_num(t['max']):>7}"
        )
    return "\n".join(out)
