"""Motion gating: run the detector only where and when the image changes.

The policy, per camera (state is kept per ``frame.camera``, so one gated detector may serve
several cameras and batch their full-frame runs together). Times are stream times.

1. **Full run** (the model on the whole frame) on the camera's first frame; when
   ``refresh_seconds`` have passed since the last full run; when more than
   ``scene_change_fraction`` of the image moved (lighting change, camera shake); when the
   crops of step 4 would cost more than ``max_crop_share`` of a full run (input pixels);
   and, for a model with a fixed input size (no crops), whenever step 4 would run.
2. **No motion and no re-check due**: the model does not run; the last detections are
   re-emitted unchanged (same boxes, same scores). A static scene costs decoding plus the
   motion mask (:mod:`~linewatch.detect.motionmask`).
3. **Carry**: when there is motion, no re-check is due and the model ran on the previous
   frame (at most ``carry_frames`` frames in a row are carried), the model does not run:
   the last boxes move along the sparse optical flow between the two frames
   (:mod:`~linewatch.detect.flow`), keeping their size, score and class. With
   ``carry_unexplained=False`` a frame is carried only when every motion blob touches a
   previous box (a newcomer then gets the model at once; else at most one frame late).
4. **Crops**: otherwise (motion, or a re-check due every ``recheck_seconds``) regions are
   built from the motion blobs, plus, on a re-check, every previous detection (so a person
   lying still is confirmed or dropped at that rate). Each blob is grown to cover the
   previous detections it touches (a moving limb brings its whole person), expanded by a
   margin (``margin_frac`` of the image's longer side, at least ``min_margin_px``) and
   clipped; two overlapping regions are merged when their union costs no more pixels than
   the two apart. The regions, each at the scale the whole frame is seen at, are packed
   into one input (:mod:`~linewatch.detect.mosaic`): one model run. Output: the fresh
   detections (minus boxes cut by an inner region border: truncated objects) plus the
   previous detections not entirely inside a region; class-wise NMS between the two
   prefers the fresh box.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from linewatch.detect.flow import carry_boxes
from linewatch.detect.letterbox import Image, Letterbox
from linewatch.detect.mosaic import Packing
from linewatch.detect.motionmask import MotionMask, MotionMaskParams, MotionResult
from linewatch.detect.nms import batched_nms
from linewatch.records import Detections, Frame

Roi = tuple[int, int, int, int]


class CroppableDetector(Protocol):
    """What the gate needs from a detector (``OnnxDetector`` provides it)."""

    name: str
    nms_iou: float

    @property
    def supports_crops(self) -> bool: ...

    def frame_letterbox(self, w: int, h: int) -> Letterbox: ...

    def detect_images(self, images: Sequence[Image]) -> list[Detections]: ...

    def detect_crops(
        self, image: Image, rois: Sequence[Roi], packing: Packing | None = None
    ) -> list[Detections]: ...

    def crop_packing(self, image_size: tuple[int, int], rois: Sequence[Roi]) -> Packing: ...


@dataclass(frozen=True, slots=True)
class GatingParams:
    """The policy's knobs (see the module docstring); times in stream seconds."""

    recheck_seconds: float = 1.0  # previous boxes re-checked with crops this often
    refresh_seconds: float = 10.0  # the whole frame re-detected this often
    carry_frames: int = 1  # frames in a row carried along the flow (0: never)
    carry_unexplained: bool = True  # carry even when a blob touches no previous box
    margin_frac: float = 0.03  # crop margin, share of the image's longer side
    min_margin_px: int = 16
    max_crop_share: float = 0.6  # crops costlier than this share of a whole frame: whole
    scene_change_fraction: float = 0.5  # this much of the image moved: whole frame
    edge_px: float = 2.0  # a fresh box this close to an inner region border is truncated
    mask: MotionMaskParams = field(default_factory=MotionMaskParams)


@dataclass(slots=True)
class GateStats:
    """What the gate did (for benchmarks and docs)."""

    frames: int = 0
    full: int = 0
    crops: int = 0  # frames handled with crops
    reuse: int = 0  # frames with no model run
    carry: int = 0  # frames whose boxes were carried along the optical flow
    regions: int = 0  # crops run
    crop_input_px: int = 0
    full_input_px: int = 0
    #: why whole frames ran: first, refresh, scene, cost, recheck / no_crops (fixed size)
    full_reasons: dict[str, int] = field(default_factory=dict)

    def model_share(self) -> float:
        """Model input pixels processed, relative to running every frame in full."""
        per_full = self.full_input_px / max(1, self.full)
        return (self.full_input_px + self.crop_input_px) / max(1.0, per_full * self.frames)


@dataclass(slots=True)
class _CameraState:
    mask: MotionMask
    last: Detections
    last_full_t: float | None = None
    last_check_t: float | None = None
    carried: int = 0  # frames carried along the flow since the last model run


@dataclass(frozen=True, slots=True)
class _Plan:
    kind: Literal["full", "crops", "reuse", "carry"]
    rois: tuple[Roi, ...] = ()
    recheck: bool = False  # the crops include every previous detection
    packing: Packing | None = None
    motion: MotionResult | None = None


class MotionGatedDetector:
    """Wraps a detector with the motion-gating policy of this module."""

    def __init__(
        self,
        detector: CroppableDetector,
        params: GatingParams | None = None,
        recheck_seconds: float | None = None,
    ) -> None:
        p = params or GatingParams()
        if recheck_seconds is not None:
            p = replace(p, recheck_seconds=recheck_seconds)
        self.params = p
        self.detector = detector
        self.name = f"gated({detector.name})"
        self.stats = GateStats()
        self._states: dict[str, _CameraState] = {}

    def reset(self) -> None:
        self._states.clear()
        self.stats = GateStats()

    def detect(self, frame: Frame) -> Detections:
        return self.detect_batch([frame])[0]

    def detect_batch(self, frames: Sequence[Frame]) -> list[Detections]:
        """Frames of one or several cameras; the full-frame runs of one wave (at most one
        frame per camera) are batched together."""
        out: list[Detections | None] = [None] * len(frames)
        pending = list(range(len(frames)))
        while pending:
            wave: list[int] = []
            rest: list[int] = []
            seen: set[str] = set()
            for i in pending:
                (rest if frames[i].camera in seen else wave).append(i)
                seen.add(frames[i].camera)
            for i, d in zip(wave, self._wave([frames[i] for i in wave]), strict=True):
                out[i] = d
            pending = rest
        return [d if d is not None else Detections.empty() for d in out]

    def forget(self, camera: str) -> None:
        """Drop one camera's state (its footage ended)."""
        self._states.pop(camera, None)

    # ------------------------------------------------------------------ policy
    def _state(self, camera: str) -> _CameraState:
        st = self._states.get(camera)
        if st is None:
            st = _CameraState(MotionMask(self.params.mask), Detections.empty())
            self._states[camera] = st
        return st

    def _wave(self, frames: list[Frame]) -> list[Detections]:
        plans = [self._plan(f) for f in frames]
        results: list[Detections] = [Detections.empty()] * len(frames)
        full = [i for i, p in enumerate(plans) if p.kind == "full"]
        if full:
            dets = self.detector.detect_images([frames[i].image for i in full])
            for i, d in zip(full, dets, strict=True):
                results[i] = d
                st = self._state(frames[i].camera)
                st.last_full_t = st.last_check_t = frames[i].t
                lb = self.detector.frame_letterbox(*frames[i].size)
                self.stats.full_input_px += lb.in_w * lb.in_h
        for i, p in enumerate(plans):
            st = self._state(frames[i].camera)
            if p.recheck:
                st.last_check_t = frames[i].t
            if p.kind == "crops":
                crop_dets = self.detector.detect_crops(frames[i].image, p.rois, p.packing)
                results[i] = self._merge(st.last, p.rois, crop_dets, frames[i].size)
            elif p.kind == "reuse":
                results[i] = st.last
            elif p.kind == "carry" and p.motion is not None and p.motion.prev_grey is not None:
                results[i] = self._carry(st.last, p.motion, frames[i].size)
            if p.kind in ("full", "crops"):
                st.carried = 0
            elif p.kind == "carry":
                st.carried += 1
            st.last = results[i]
            self.stats.frames += 1
            if p.kind == "full":
                self.stats.full += 1
            elif p.kind == "crops":
                self.stats.crops += 1
            elif p.kind == "carry":
                self.stats.carry += 1
            else:
                self.stats.reuse += 1
        return results

    def _plan(self, frame: Frame) -> _Plan:
        st = self._state(frame.camera)
        motion = st.mask.update(frame.image, frame.t)
        p = self.params
        if motion.first or st.last_full_t is None or st.last_check_t is None:
            return self._full("first")
        t = frame.t
        if t - st.last_full_t >= max(p.refresh_seconds, p.recheck_seconds) or t < st.last_full_t:
            return self._full("refresh")
        if motion.fraction >= p.scene_change_fraction:
            return self._full("scene")
        recheck = t - st.last_check_t >= p.recheck_seconds
        blobs = motion.boxes
        if recheck:
            blobs = np.concatenate([blobs, np.round(st.last.xyxy).astype(np.int32)])
        if blobs.shape[0] == 0:
            return _Plan("reuse")
        if (
            not recheck
            and st.carried < p.carry_frames
            and len(st.last)
            and motion.prev_grey is not None
            and (p.carry_unexplained or _explained(motion.boxes, st.last.xyxy))
        ):
            return _Plan("carry", motion=motion)
        if not self.detector.supports_crops:
            return self._full("recheck" if recheck else "no_crops")
        w, h = frame.size
        rois = self.regions(blobs, st.last.xyxy, w, h)
        full = self.detector.frame_letterbox(w, h)
        packing = self.detector.crop_packing((w, h), rois)
        cost = packing.area
        if cost > p.max_crop_share * full.in_w * full.in_h:
            return self._full("cost")
        self.stats.regions += len(rois)
        self.stats.crop_input_px += cost
        return _Plan("crops", tuple(rois), recheck, packing)

    def _carry(self, last: Detections, motion: MotionResult, size: tuple[int, int]) -> Detections:
        assert motion.prev_grey is not None
        boxes, _ = carry_boxes(motion.prev_grey, motion.grey, last.xyxy, motion.factor, size)
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        return Detections(boxes[keep], last.score[keep], last.cls[keep])

    def _full(self, reason: str) -> _Plan:
        self.stats.full_reasons[reason] = self.stats.full_reasons.get(reason, 0) + 1
        return _Plan("full", recheck=True)

    def regions(
        self, blobs: npt.NDArray[np.int32], previous: npt.NDArray[np.float32], w: int, h: int
    ) -> list[Roi]:
        """Crop regions for motion blobs (xyxy), given the previous detections' boxes."""
        p = self.params
        margin = max(float(p.min_margin_px), p.margin_frac * max(w, h))
        boxes: list[list[float]] = []
        for b in blobs.astype(np.float64):
            r = b.copy()
            if previous.shape[0]:
                touch = (
                    (previous[:, 0] < b[2])
                    & (previous[:, 2] > b[0])
                    & (previous[:, 1] < b[3])
                    & (previous[:, 3] > b[1])
                )
                for q in previous[touch]:
                    r[:2] = np.minimum(r[:2], q[:2])
                    r[2:] = np.maximum(r[2:], q[2:])
            boxes.append(
                [
                    max(0.0, r[0] - margin),
                    max(0.0, r[1] - margin),
                    min(float(w), r[2] + margin),
                    min(float(h), r[3] + margin),
                ]
            )
        merged = _merge_overlapping(boxes)
        return [(int(a), int(b), int(np.ceil(c)), int(np.ceil(d))) for a, b, c, d in merged]

    def _merge(
        self,
        previous: Detections,
        rois: Sequence[Roi],
        crop_dets: Sequence[Detections],
        size: tuple[int, int],
    ) -> Detections:
        w, h = size
        e = self.params.edge_px
        fresh: list[Detections] = []
        for (x1, y1, x2, y2), d in zip(rois, crop_dets, strict=True):
            b = d.xyxy
            cut = (
                ((b[:, 0] <= x1 + e) & (x1 > 0))
                | ((b[:, 1] <= y1 + e) & (y1 > 0))
                | ((b[:, 2] >= x2 - e) & (x2 < w))
                | ((b[:, 3] >= y2 - e) & (y2 < h))
            )
            fresh.append(d[~cut])
        inside = np.zeros(len(previous), dtype=bool)
        pb = previous.xyxy
        for x1, y1, x2, y2 in rois:
            inside |= (
                (pb[:, 0] >= x1 - 1)
                & (pb[:, 1] >= y1 - 1)
                & (pb[:, 2] <= x2 + 1)
                & (pb[:, 3] <= y2 + 1)
            )
        kept = previous[~inside]
        kept = Detections(kept.xyxy, kept.score, kept.cls)  # keypoints are not carried over
        new = Detections.concat(fresh)
        allp = Detections.concat([new, kept])
        if len(allp) == 0:
            return allp
        priority = allp.score + np.where(np.arange(len(allp)) < len(new), 2.0, 0.0)
        keep = batched_nms(allp.xyxy, priority, allp.cls, self.detector.nms_iou)
        return allp[keep]


def _explained(blobs: npt.NDArray[np.int32], boxes: npt.NDArray[np.float32]) -> bool:
    """Whether every motion blob overlaps at least one of the boxes."""
    if blobs.shape[0] == 0:
        return True
    if boxes.shape[0] == 0:
        return False
    b = blobs.astype(np.float32)
    overlap = (
        (b[:, None, 0] < boxes[None, :, 2])
        & (boxes[None, :, 0] < b[:, None, 2])
        & (b[:, None, 1] < boxes[None, :, 3])
        & (boxes[None, :, 1] < b[:, None, 3])
    )
    return bool(overlap.any(axis=1).all())


def _area(b: Sequence[float]) -> float:
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


def _merge_overlapping(boxes: list[list[float]]) -> list[list[float]]:
    """Union two overlapping boxes when their union costs no more pixels than the two
    apart; repeat until no such pair is left (overlapping regions may remain)."""
    out = [list(b) for b in boxes]
    changed = True
    while changed:
        changed = False
        for i in range(len(out)):
            for j in range(i + 1, len(out)):
                a, b = out[i], out[j]
                if not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]):
                    continue
                u = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
                if _area(u) <= _area(a) + _area(b):
                    out[i] = u
                    del out[j]
                    changed = True
                    break
            if changed:
                break
    return out
