"""The multi-object tracker: ByteTrack-class two-stage association with a Kalman motion model.

One :class:`Tracker` serves one camera. Per update (``t`` in stream seconds):

1. every track's Kalman state is predicted ``dt = t - t_prev`` seconds ahead;
2. high-score detections are matched to every track: cost ``1 - IoU + w * distance``. A
   confirmed track (tracked or lost) may take a detection whose IoU with its predicted box
   is high enough *or* whose centre is inside its motion gate: a Kalman (Mahalanobis) gate
   around the predicted centre, which widens while the track is lost (after 2-3 s of
   occlusion the IoU with the prediction is often 0), or around its last observed centre
   (it stopped or turned back while hidden), capped in box heights. Tentative tracks
   compete on IoU with a cost penalty: the tentative track of a static false detection
   keeps it, so a passing track is not pulled onto it;
3. low-score detections are matched to the tracks left, on IoU and similar height only;
4. high-score detections still left start tentative tracks;
5. a confirmed track unmatched for ``max_lost_seconds`` ends (``exit_lost_seconds`` when
   it left through the image border), or after ``max_lost_stationary_seconds`` when it was
   stationary (a person lying still who is no longer detected keeps his id for minutes);
   its state is dropped at once.

Ids are given at confirmation (``confirm_hits`` matches, one of them scoring at least
``new_track_score``), counted per instance from 1, so unconfirmed clutter leaves no gaps.
At confirmation the track's recent tentative observations are emitted once (back-fill),
then one point per matched frame.

    >>> from linewatch.config import TrackerConfig
    >>> trk = Tracker(TrackerConfig(confirm_hits=2), camera="cam1")
    >>> box = np.array([[100, 100, 120, 150]], dtype=np.float32)
    >>> [len(trk.update(Detections(box + 3 * k, [0.9]), t=k / 7, frame=k).points)
    ...  for k in range(4)]
    [0, 2, 1, 1]
    >>> trk.finish()
    [1]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from linewatch.config import TrackerConfig
from linewatch.records import Detections, TrackPoint
from linewatch.track.association import (
    FORBIDDEN,
    assign,
    centre_distance,
    height_ratio,
    iou_matrix,
)
from linewatch.track.kalman import BoxKalman, KalmanNoise, xyxy_to_cxcywh
from linewatch.track.state import Obs, TrackState, observe

Vec = npt.NDArray[np.float64]

#: weight of the normalised centre distance in the association cost
_DIST_WEIGHT = 0.5
#: association cost added to tentative tracks (confirmed tracks win ties)
_TENTATIVE_PENALTY = 0.2
#: pairs whose heights differ more than this factor are never associated
_MAX_HEIGHT_RATIO = 2.5
#: a flatter detection whose foot point is within this many (track) box heights of the
#: track's last foot point may match whatever its height ratio (a person falling)
_FOOT_GATE = 0.35
#: the same for low-score detections (often a head or a half person during occlusion)
_LOW_HEIGHT_RATIO = 1.5


@dataclass(frozen=True, slots=True)
class TrackUpdate:
    """What one update produced: points of confirmed tracks, ids that ended."""

    points: list[TrackPoint]
    ended: list[int]


class Tracker:
    """Multi-object tracker of one camera (see the module docstring)."""

    def __init__(
        self, config: TrackerConfig, camera: str, frame_size: tuple[int, int] | None = None
    ) -> None:
        self.config = config
        self.camera = camera
        #: (width, height) of the image: lets tracks leaving through the right and bottom
        #: borders end early (the left and top borders are at 0 anyway)
        self._frame_size = frame_size
        self._noise = KalmanNoise()
        self._tracks: dict[int, TrackState] = {}  # internal key -> track (tentative too)
        self._next_key = 0
        self._next_id = 1
        self._t: float | None = None

    # ------------------------------------------------------------------ public
    def reset(self) -> None:
        """Forget every track (without reporting them ended) and restart ids at 1."""
        self._tracks.clear()
        self._next_key = 0
        self._next_id = 1
        self._t = None

    def finish(self) -> list[int]:
        """End every live track (end of footage); returns the confirmed ids ended."""
        ended = sorted(tr.track_id for tr in self._tracks.values() if tr.track_id is not None)
        self._tracks.clear()
        self._t = None
        return ended

    @property
    def live_tracks(self) -> int:
        """Tracks held (tentative, confirmed and lost): the tracker's whole state."""
        return len(self._tracks)

    def update(self, dets: Detections, t: float, frame: int) -> TrackUpdate:
        """Associate one frame's detections; ``t`` in stream seconds, never decreasing."""
        cfg = self.config
        if self._t is not None and t < self._t:
            raise ValueError(f"time went backwards: {t} after {self._t}")
        dt = 0.0 if self._t is None else t - self._t
        self._t = t
        for tr in self._tracks.values():
            tr.kf.predict(dt)

        keep = dets.score >= cfg.low_score
        dets = dets[np.flatnonzero(keep)]
        high = np.flatnonzero(dets.score >= cfg.high_score)
        low = np.flatnonzero(dets.score < cfg.high_score)
        keys = list(self._tracks)
        matches: list[tuple[int, int]] = []

        # stage 1: high-score detections <-> every track (confirmed ones also by motion gate;
        # tentative ones compete too, so that a static clutter detection that never makes a
        # confirmed track still keeps a passing track from jumping onto it)
        m, left_trk, left_high = self._match(keys, dets, high, gated=True)
        matches += m
        # stage 2: low-score detections <-> tracks left, IoU only
        m, _, _ = self._match(
            left_trk, dets, low, min_iou=cfg.low_match_iou, max_ratio=_LOW_HEIGHT_RATIO
        )
        matches += m

        points: list[TrackPoint] = []
        for key, di in matches:
            points += self._apply(key, dets, di, t, frame)
        matched = {k for k, _ in matches}
        ended = self._age(matched, t)
        for di in left_high:
            points += self._start(dets, int(di), t, frame)
        points.sort(key=lambda p: (p.t, p.track_id))
        return TrackUpdate(points=points, ended=ended)

    # ------------------------------------------------------------------ stages
    def _match(
        self,
        keys: list[int],
        dets: Detections,
        cols: npt.NDArray[np.intp],
        *,
        gated: bool = False,
        min_iou: float | None = None,
        max_ratio: float = _MAX_HEIGHT_RATIO,
    ) -> tuple[list[tuple[int, int]], list[int], list[int]]:
        """Assign detections ``cols`` to tracks ``keys``; returns (key, det), keys, dets left."""
        cols = np.asarray(cols, dtype=int)
        if not keys or cols.size == 0:
            return [], list(keys), cols.tolist()
        cfg = self.config
        pred = np.stack([self._tracks[k].kf.box_xyxy() for k in keys])
        boxes = dets.xyxy[cols]
        iou = iou_matrix(pred, boxes)
        dist = centre_distance(pred, boxes)
        allowed = iou >= (cfg.match_iou if min_iou is None else min_iou)
        tentative = np.array([not self._tracks[k].confirmed for k in keys])
        if gated:
            allowed |= self._gates(keys, boxes, dist) & ~tentative[:, None]
        allowed &= height_ratio(pred, boxes) <= max_ratio
        if gated:
            allowed |= self._fallen(keys, boxes) & ~tentative[:, None]
        cost = 1.0 - iou + _DIST_WEIGHT * dist + _TENTATIVE_PENALTY * tentative[:, None]
        cost = np.where(allowed, cost, FORBIDDEN)
        pairs, rows_left, cols_left = assign(cost, max_cost=FORBIDDEN / 2)
        return (
            [(keys[r], int(cols[c])) for r, c in pairs],
            [keys[r] for r in rows_left],
            [int(cols[c]) for c in cols_left],
        )

    def _gates(self, keys: list[int], boxes: npt.NDArray[np.float32], dist: Vec) -> Vec:
        """Pairs inside the motion gate, for two hypotheses: the track went on at its
        velocity (around the predicted centre) or it stopped or turned back (around its last
        observed centre). Mahalanobis distance with the predicted uncertainty (the gate
        widens by itself while a track is lost), capped in box heights (tighter for a
        stationary track, which reappears where it was)."""
        cfg = self.config
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2.0
        out = np.zeros((len(keys), len(boxes)), dtype=bool)
        for i, k in enumerate(keys):
            tr = self._tracks[k]
            var = tr.kf.innovation_var()[:2]
            x1, y1, x2, y2 = tr.last.box
            last = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
            m2_pred = (((centres - tr.kf.mean[:2]) ** 2) / var).sum(axis=1)
            m2_stop = (((centres - last) ** 2) / var).sum(axis=1)
            d_stop = np.hypot(*(centres - last).T) / tr.kf.height
            cap = cfg.stationary_gate_distance if tr.still else cfg.max_gate_distance
            out[i] = ((m2_pred <= cfg.gate_sigmas**2) & (dist[i] <= cap)) | (
                (m2_stop <= cfg.gate_sigmas**2) & (d_stop <= cap)
            )
        return out

    def _fallen(self, keys: list[int], boxes: npt.NDArray[np.float32]) -> Vec:
        """Pairs where the object changed shape where it stands (a person who falls): the
        detection's foot point is within ``_FOOT_GATE`` box heights of the track's last foot
        point and its box is flatter. These pass whatever the height ratio."""
        feet_x = (boxes[:, 0] + boxes[:, 2]) / 2.0
        heights = boxes[:, 3] - boxes[:, 1]
        out = np.zeros((len(keys), len(boxes)), dtype=bool)
        for i, k in enumerate(keys):
            tr = self._tracks[k]
            x1, y1, x2, y2 = tr.last.box
            d_foot = np.hypot(feet_x - (x1 + x2) / 2, boxes[:, 3] - y2) / max(y2 - y1, 1.0)
            out[i] = (d_foot <= _FOOT_GATE) & (heights < y2 - y1)
        return out

    def _observe(self, tr: TrackState, t: float, z: Vec) -> None:
        tr.history.append((t, float(z[0]), float(z[1]), float(z[3])))
        speed = tr.speed(window=self.config.stationary_window_seconds)
        tr.still = speed is not None and speed <= self.config.stationary_speed

    # ------------------------------------------------------------------ lifecycle
    def _apply(self, key: int, dets: Detections, di: int, t: float, frame: int) -> list[TrackPoint]:
        tr = self._tracks[key]
        obs = observe(dets, di, t, frame)
        z = xyxy_to_cxcywh(dets.xyxy[di])[0]
        scale = 1.0 if dets.score[di] >= self.config.high_score else 2.0
        tr.kf.update(z, meas_scale=scale)
        tr.last = obs
        tr.hits += 1
        c = int(dets.cls[di])
        tr.votes[c] = tr.votes.get(c, 0) + 1
        self._observe(tr, t, z)
        if tr.confirmed:
            return [self._point(tr, obs)]
        tr.pending.append(obs)
        tr.best_score = max(tr.best_score, obs.score)
        return self._confirm(tr) if self._ready(tr) else []

    def _start(self, dets: Detections, di: int, t: float, frame: int) -> list[TrackPoint]:
        z = xyxy_to_cxcywh(dets.xyxy[di])[0]
        obs = observe(dets, di, t, frame)
        tr = TrackState(kf=BoxKalman(z, self._noise), last=obs)
        tr.votes[int(dets.cls[di])] = 1
        self._observe(tr, t, z)
        tr.pending.append(obs)
        tr.best_score = obs.score
        self._tracks[self._next_key] = tr
        self._next_key += 1
        return self._confirm(tr) if self._ready(tr) else []

    def _ready(self, tr: TrackState) -> bool:
        """Confirm after ``confirm_hits`` matches, one of them at ``new_track_score``."""
        return tr.hits >= self.config.confirm_hits and tr.best_score >= self.config.new_track_score

    def _confirm(self, tr: TrackState) -> list[TrackPoint]:
        tr.track_id = self._next_id
        self._next_id += 1
        recent = tr.last.t - self.config.max_lost_seconds
        out = [self._point(tr, o) for o in tr.pending if o.t >= recent]
        tr.pending.clear()
        return out

    def _age(self, matched: set[int], t: float) -> list[int]:
        """Drop tracks lost too long; returns the confirmed ids that ended."""
        cfg = self.config
        ended: list[int] = []
        for key in [k for k in self._tracks if k not in matched]:
            tr = self._tracks[key]
            lost = t - tr.last.t
            stationary = tr.still
            if stationary:
                tr.kf.freeze()
            else:
                tr.kf.mean[6:] = 0.0  # coast at constant size
            if not tr.confirmed:
                # a stationary unconfirmed track (static clutter the detector keeps seeing
                # at a moderate score) is held longer, so that it keeps its detection and
                # a track passing by cannot jump onto it
                limit = cfg.max_lost_seconds if stationary else cfg.tentative_max_lost_seconds
                if lost > limit:
                    del self._tracks[key]
                continue
            limit = cfg.max_lost_stationary_seconds if stationary else cfg.max_lost_seconds
            if not stationary and self._leaving(tr):
                limit = min(limit, cfg.exit_lost_seconds)
            if lost > limit:
                assert tr.track_id is not None
                ended.append(tr.track_id)
                del self._tracks[key]
        return sorted(ended)

    def _leaving(self, tr: TrackState) -> bool:
        """Has most likely left the view: last seen at the image border moving out, or
        predicted (centre) outside the image."""
        w, h = self._frame_size if self._frame_size is not None else (np.inf, np.inf)
        x1, y1, x2, y2 = tr.last.box
        margin = self.config.edge_margin * max(y2 - y1, 1.0)
        cx, cy, vx, vy = (float(v) for v in tr.kf.mean[[0, 1, 4, 5]])
        return bool(
            (x1 <= margin and vx < 0)
            or (y1 <= margin and vy < 0)
            or (x2 >= w - margin and vx > 0)
            or (y2 >= h - margin and vy > 0)
            or not (0 <= cx <= w and 0 <= cy <= h)
        )

    def _point(self, tr: TrackState, obs: Obs) -> TrackPoint:
        assert tr.track_id is not None
        return TrackPoint(
            camera=self.camera,
            track_id=tr.track_id,
            t=obs.t,
            frame=obs.frame,
            box=obs.box,
            cls=tr.cls(),
            score=obs.score,
            keypoints=obs.keypoints,
        )
