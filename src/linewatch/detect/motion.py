"""Built-in motion detector: background subtraction, blobs, metric size filter and classes.

Needs no model weights. One instance serves one camera (it holds the background model).

Per frame
    1. Optional downscale (``cfg.downscale``, INTER_AREA).
    2. OpenCV MOG2 (``history``, ``var_threshold``, ``detectShadows=True``) with the automatic
       learning rate ``1 / min(frames seen, history)``; ``history`` counts *analysed* frames,
       so with ``analysis_fps`` it spans more seconds. Shadow pixels (value 127) are dropped
       by thresholding the mask above 127 (the first frame, all 127, gives nothing).
       Exposure: the frame is first scaled by the median ratio background / frame (every
       4th pixel; background refreshed every 10 frames), so auto-exposure steps (15 % on
       street.mp4) do not flood the mask. A frame still over 60 % foreground (lights
       switched, camera moved) gives no detections.
    3. Morphology: open (3x3, removes speckle) then close (kernel about 1/60 of the working
       image's short side) to merge the fragments of one object (other kernels tried:
       docs/street.md). The opening erases objects under ~3 working pixels thick: use
       ``downscale: 1`` where people are small (docs/detectors.md).
    4. Blobs: outer contours (``findContours``, ten times faster here than
       ``connectedComponentsWithStats``, which took 3-6 ms a frame at 768x576); a blob's area
       is its outline's pixel count, holes filled; blobs smaller than ``min_area_px`` (pixels
       of the full-size frame) are dropped; boxes that overlap strongly (intersection over
       the smaller box > 0.5) are merged.
    5. With a homography (calibrated camera), metric size and class
       (:mod:`linewatch.detect.metric`). The *size* filtered by ``min_area_m2`` /
       ``max_area_m2`` is ``width x height``: the object's upright silhouette area in m²,
       not its ground footprint (a person is about 0.5 x 1.7 = 0.85 m², a car 2.5-7 m²).
       Blobs whose foot is above the horizon keep OBJECT and skip the metric filter.
       Without calibration every blob is OBJECT.
    6. Score in [0, 1]: ``0.5 * sqrt(fill) + 0.5 * sqrt(min(1, area / (4 * min_area_px)))``
       where ``fill`` is the blob's pixels over its box area: solid, clearly-larger-than-
       minimum blobs score high (a walking person ~0.85), sparse minimum-size blobs ~0.5.

Still objects (``freeze``)
    MOG2 absorbs an object that stops into the background within about ``0.1 * history``
    frames (1 - backgroundRatio; 0.7-0.8 doubled street.mp4's foliage noise, 0.9 stays),
    and so the uniform inside of a slow object (a plain van side).

    MOG2 has no per-pixel learning rate, so ``freeze(boxes)`` makes a composite: inside
    the protected boxes (enlarged by 15 %) the frame is replaced by MOG2's current
    background image before the learning ``apply`` (the model re-learns its own background
    there, so the object is never absorbed), and foreground inside those boxes is MOG2's
    verdict on the real frame from an ``apply`` with learning rate 0, shadow-labelled
    pixels included (MOG2's shadow rule also fits a dark-clothed person lying on a lighter
    road). Cost, on frames with a box in use: one more ``apply`` and one
    ``getBackgroundImage`` (about 1 and 3 ms at 640x352). Boxes stay until the next call.

    A requested box is *used* only while its object is still and there: under 10 % of
    its pixels changed by more than 20 levels since the previous frame, and MOG2 finds at
    least 25 % of it foreground (shadows not counted); otherwise MOG2 learns the real frame
    there (this gate turned street.mp4's invented crossings from 9 to 2: docs/street.md).
    Caution: a protected *ghost* (where an object present in the first frames was) is
    still and differs from the background: it is kept too.

Still objects beside movers (``separate_still``)
    A person lying still and a rescuer walking up to him touch in the image long before
    they meet on the ground (the rescuer behind him is seen above him); the closing step
    joined them into one blob, which took one of their tracks and lost the other, placed
    the rescuer on the lying person's foot point (assistance reported seconds early) or
    made the lying person look upright (a false "got up"). Boxes that ``freeze`` marks
    *stationary* (the pipeline's StillGuard: a person or a vehicle whose foot point has
    settled for 2 s) and that are in use this frame are therefore *held*: each is reported
    as one detection with exactly its box (scored by its foreground share), and the other
    blobs are found in the mask with the held regions (box plus the 15 % margin) cleared
    before and after the closing. A mover loses the pixels it has inside a held region (a
    few pixels of width where it overlaps), never its own blob. A held object that moves
    again fails the still test and is found as a blob like any other. Over 21 demo seeds
    the findings were all right on 20 with it and on 2 without it (docs/detectors.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

import cv2
import numpy as np
import numpy.typing as npt

from linewatch.detect.metric import ToSite, classify, metric_size
from linewatch.records import Detections, Frame, ObjectClass

if TYPE_CHECKING:
    from linewatch.config import MotionDetectorConfig

__all__ = ["MotionDetector", "ToSite", "classify", "metric_size"]

F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]
#: a protected region: its slices in the working image (box enlarged by _PROTECT_GROW), the
#: box itself as slices relative to that region, and the box's row in the protected boxes
_Region = tuple[tuple[slice, slice], tuple[slice, slice], int]
_Held = tuple[tuple[slice, slice], tuple[slice, slice], npt.NDArray[np.float32]]

_BACKGROUND_RATIO = 0.9  # MOG2's default; 0.7-0.8 absorbed slower but doubled foliage noise
_MAX_FG_FRACTION = 0.6  # more foreground than this: a global change, not objects
_CLOSE_DIVISOR = 60  # closing kernel: the working image's short side / this (odd, >= 3)
_MERGE_OVERLAP = 0.5  # intersection / smaller box area above which two boxes merge
_PROTECT_GROW = 0.15  # protected boxes are enlarged by this fraction of their size
_STILL_DIFF = 20.0  # a pixel changed by more than this since the previous frame: moving
_STILL_MAX_MOVING = 0.1  # a protected box is still when fewer of its pixels are moving
_PROTECT_MIN_FILL = 0.25  # ... and MOG2 finds this much of it foreground
_GAIN_STEP = 4  # exposure gain from every 4th pixel in each direction
_GAIN_BG_EVERY = 10  # refresh the background sample for the gain every 10 frames
_GAIN_MIN = 0.01  # gains closer to 1 than this are not applied


def _span(lo: int, hi: int, size: int) -> slice:
    """``lo:hi`` clipped to ``0:size``, at least one element long (``size`` >= 1)."""
    lo = min(max(0, lo), size - 1)
    return slice(lo, min(max(lo + 1, hi), size))


def _merge_boxes(boxes: F32, areas: F32) -> tuple[F32, F32]:
    """Union boxes whose intersection exceeds ``_MERGE_OVERLAP`` of the smaller one."""
    bx = [b.copy() for b in boxes]
    ar = list(areas)
    merged = True
    while merged and len(bx) > 1:
        merged = False
        for i in range(len(bx)):
            for j in range(i + 1, len(bx)):
                a, b = bx[i], bx[j]
                iw = min(a[2], b[2]) - max(a[0], b[0])
                ih = min(a[3], b[3]) - max(a[1], b[1])
                if iw <= 0 or ih <= 0:
                    continue
                small = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
                if iw * ih > _MERGE_OVERLAP * small:
                    bx[i] = np.concatenate([np.minimum(a[:2], b[:2]), np.maximum(a[2:], b[2:])])
                    ar[i] = ar[i] + ar[j]
                    del bx[j], ar[j]
                    merged = True
                    break
            if merged:
                break
    return np.asarray(bx, dtype=np.float32).reshape(-1, 4), np.asarray(ar, dtype=np.float32)


class MotionDetector:
    """Background-subtraction detector (see the module docstring for the method)."""

    name = "motion"

    def __init__(self, cfg: MotionDetectorConfig, homography: ToSite | None = None) -> None:
        self.cfg = cfg
        self.homography = homography
        self._mog: cv2.BackgroundSubtractorMOG2 | None = None
        self._shape: tuple[int, int] | None = None
        self._protected: F32 = np.zeros((0, 4), dtype=np.float32)
        self._stationary: npt.NDArray[np.bool_] = np.zeros(0, dtype=bool)
        #: this frame's held objects (stationary protected boxes in use): each one's region
        #: and box as slices of the working image, and its box in full-frame pixels
        self._held: list[_Held] = []
        self._mask: U8 | None = None
        self._open = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        self._close: U8 | None = None
        self._bg_sample: F32 | None = None
        self._prev: U8 | None = None
        self.frames_seen = 0
        #: last exposure gain applied to the frame (1.0: none)
        self.gain = 1.0

    # ------------------------------------------------------------------ public
    def reset(self) -> None:
        """Forget the background model and the protected boxes."""
        self._mog = None
        self._shape = None
        self._protected = np.zeros((0, 4), dtype=np.float32)
        self._stationary = np.zeros(0, dtype=bool)
        self._held = []
        self._mask = None
        self._bg_sample = None
        self._prev = None
        self.frames_seen = 0
        self.gain = 1.0

    def freeze(self, boxes: npt.ArrayLike | None, stationary: npt.ArrayLike | None = None) -> None:
        """Protect these ``xyxy`` boxes (full-frame pixels) from being learnt as background.

        ``stationary`` (one flag per box, default none) marks the objects that have stayed
        put for a while: while such a box is in use, the object is reported from that box
        and the foreground around it is searched for other objects without it (see
        ``separate_still``). They stay protected until the next call; ``None`` or an empty
        array clears them.
        """
        if boxes is None:
            self._protected = np.zeros((0, 4), dtype=np.float32)
        else:
            self._protected = np.asarray(boxes, dtype=np.float32).reshape(-1, 4).copy()
        n = len(self._protected)
        flags = np.zeros(n, dtype=bool) if stationary is None else np.asarray(stationary, bool)
        if flags.shape != (n,):
            raise ValueError(f"freeze: {flags.shape[0]} stationary flags for {n} boxes")
        self._stationary = flags.copy()

    @property
    def mask(self) -> U8 | None:
        """The last frame's cleaned foreground mask (0/255, working resolution)."""
        return self._mask

    def detect_batch(self, frames: Sequence[Frame]) -> list[Detections]:
        return [self.detect(f) for f in frames]

    def detect(self, frame: Frame) -> Detections:
        small = self._compensate(self._prepare(frame.image))
        fg = self._foreground(small)
        self.frames_seen += 1
        if cv2.countNonZero(fg) > _MAX_FG_FRACTION * fg.size:
            self._mask = np.zeros_like(fg)
            return Detections.empty()
        fg = cast(U8, cv2.morphologyEx(fg, cv2.MORPH_OPEN, self._open))
        held = self._held if self.cfg.separate_still else []
        if not held:
            fg = cast(U8, cv2.morphologyEx(fg, cv2.MORPH_CLOSE, self._close_kernel(fg.shape)))
            self._mask = fg
            return self._blobs(fg)
        # a still object is reported from its own box; what moves beside it is found in the
        # rest of the mask (cleared there before the closing and after, which may grow back
        # into it), so the two never merge into one blob
        movers = fg.copy()
        for sl, _, _ in held:
            movers[sl] = 0
        movers = cast(U8, cv2.morphologyEx(movers, cv2.MORPH_CLOSE, self._close_kernel(fg.shape)))
        for sl, _, _ in held:
            movers[sl] = 0
        self._mask = movers.copy()
        for sl, _, _ in held:
            self._mask[sl] = fg[sl]
        return Detections.concat([self._blobs(movers), self._held_detections(fg, held)])

    # ------------------------------------------------------------------ steps
    def _prepare(self, image: U8) -> U8:
        d = self.cfg.downscale
        if d > 1:
            h, w = image.shape[:2]
            image = cast(U8, cv2.resize(image, (w // d, h // d), interpolation=cv2.INTER_AREA))
        shape = (int(image.shape[0]), int(image.shape[1]))
        if self._mog is None or shape != self._shape:
            self._mog = cv2.createBackgroundSubtractorMOG2(
                history=self.cfg.history, varThreshold=self.cfg.var_threshold, detectShadows=True
            )
            self._mog.setBackgroundRatio(_BACKGROUND_RATIO)
            self._shape = shape
            self._close = None
            self._bg_sample = None
            self._prev = None
            self.frames_seen = 0
        return image

    def _compensate(self, small: U8) -> U8:
        """Scale the frame's brightness to the background model's (exposure changes)."""
        mog = self._mog
        if mog is None or self.frames_seen == 0:
            return small
        if self._bg_sample is None or self.frames_seen % _GAIN_BG_EVERY == 0:
            bg = mog.getBackgroundImage()
            self._bg_sample = bg[::_GAIN_STEP, ::_GAIN_STEP].astype(np.float32).mean(axis=2)
        ref = self._bg_sample
        cur = small[::_GAIN_STEP, ::_GAIN_STEP].astype(np.float32).mean(axis=2)
        ok = (cur > 10) & (cur < 245) & (ref > 10) & (ref < 245)
        if ok.sum() < 50:
            return small
        gain = float(np.clip(np.median(ref[ok] / cur[ok]), 0.5, 2.0))
        self.gain = gain
        if abs(gain - 1.0) < _GAIN_MIN:
            return small
        return cast(U8, cv2.convertScaleAbs(small, alpha=gain))

    def _close_kernel(self, shape: tuple[int, ...]) -> U8:
        if self._close is None:
            k = max(3, round(min(shape[:2]) / _CLOSE_DIVISOR)) | 1
            self._close = cast(U8, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
        return self._close

    def _protected_slices(self, shape: tuple[int, int]) -> list[_Region]:
        d = float(self.cfg.downscale)
        h, w = shape
        out = []
        for i, (x0, y0, x1, y1) in enumerate(self._protected / d):
            gx, gy = (x1 - x0) * _PROTECT_GROW / 2, (y1 - y0) * _PROTECT_GROW / 2
            xa, xb = max(0, int(x0 - gx)), min(w, int(np.ceil(x1 + gx)))
            ya, yb = max(0, int(y0 - gy)), min(h, int(np.ceil(y1 + gy)))
            if xb <= xa or yb <= ya:
                continue
            # the box itself (not enlarged), relative to the enlarged region, never empty
            cx = _span(int(x0) - xa, int(np.ceil(x1)) - xa, xb - xa)
            cy = _span(int(y0) - ya, int(np.ceil(y1)) - ya, yb - ya)
            out.append(((slice(ya, yb), slice(xa, xb)), (cy, cx), i))
        return out

    def _still(self, small: U8, prev: U8 | None, regions: list[_Region]) -> list[_Region]:
        """The protected regions whose box content did not change since the last frame."""
        if prev is None:
            return []
        out = []
        for region in regions:
            sl, core, _ = region
            a = small[sl][core].astype(np.int16)
            b = prev[sl][core].astype(np.int16)
            moving = (np.abs(a - b).max(axis=2) > _STILL_DIFF).mean()
            if moving <= _STILL_MAX_MOVING:
                out.append(region)
        return out

    def _foreground(self, small: U8) -> U8:
        """Binary (0/255) foreground at working resolution; learns the background.

        Protected regions are kept out of the background model only while the object in
        them is *still* (its box content unchanged since the previous frame) and still
        there (MOG2, asked without learning, finds at least ``_PROTECT_MIN_FILL`` of its box
        foreground): a moving object needs no protection, and a region whose object left,
        or that only flickers (foliage, leaf shadows, compression noise), is learnt
        normally. Inside a used region the foreground is that verdict, shadow-labelled
        pixels included. (The extra ``apply`` also advances MOG2's frame count, so its
        automatic learning rate reaches ``1 / history`` sooner.)
        """
        mog = self._mog
        assert mog is not None
        prev, self._prev = self._prev, small
        self._held = []
        regions = self._protected_slices(self._shape or (0, 0)) if self.frames_seen else []
        regions = self._still(small, prev, regions)
        kept: list[tuple[slice, slice]] = []
        if regions:
            verdict = mog.apply(small, learningRate=0)  # no learning: 0, 127 shadow, 255
            for sl, core, i in regions:
                if (verdict[sl][core] > 127).mean() >= _PROTECT_MIN_FILL:
                    kept.append(sl)
                    if not self._stationary[i]:
                        continue
                    box = (
                        slice(sl[0].start + core[0].start, sl[0].start + core[0].stop),
                        slice(sl[1].start + core[1].start, sl[1].start + core[1].stop),
                    )
                    self._held.append((sl, box, self._protected[i]))
        if not kept:
            raw = mog.apply(small, learningRate=-1)
            return cast(U8, cv2.threshold(raw, 127, 255, cv2.THRESH_BINARY)[1])
        bg = mog.getBackgroundImage()
        composite = small.copy()
        for sl in kept:
            composite[sl] = bg[sl]
        raw = mog.apply(composite, learningRate=-1)
        fg = cast(U8, cv2.threshold(raw, 127, 255, cv2.THRESH_BINARY)[1])
        for sl in kept:
            fg[sl][verdict[sl] > 0] = 255
        return fg

    def _blobs(self, fg: U8) -> Detections:
        contours, _ = cv2.findContours(fg, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        if not contours:
            return Detections.empty()
        d = float(self.cfg.downscale)
        # pixels of a blob ~ polygon area through the boundary pixel centres + half its
        # perimeter + 1 (exact for rectangles); holes count as filled
        areas = np.array(
            [cv2.contourArea(c) + cv2.arcLength(c, True) / 2 + 1 for c in contours],
            dtype=np.float32,
        ) * np.float32(d * d)
        keep = np.flatnonzero(areas >= self.cfg.min_area_px)
        if keep.size == 0:
            return Detections.empty()
        rects = np.array([cv2.boundingRect(contours[int(i)]) for i in keep], dtype=np.float32)
        areas = areas[keep]
        x, y, bw, bh = rects.T
        # a blob's boundary pixels are only partly the object (edges, blur, noise): its edge
        # is estimated at their centres, half a working pixel inside the pixel extent
        boxes = np.stack([x + 0.5, y + 0.5, x + bw - 0.5, y + bh - 0.5], axis=1) * np.float32(d)
        boxes, areas = _merge_boxes(boxes, areas)
        return self._scored(boxes, areas)

    def _held_detections(self, fg: U8, held: list[_Held]) -> Detections:
        """Each held object's box, scored by the share of it that is foreground."""
        d2 = np.float32(self.cfg.downscale**2)
        boxes = np.array([box for _, _, box in held], dtype=np.float32).reshape(-1, 4)
        areas = np.array([cv2.countNonZero(fg[b]) for _, b, _ in held], dtype=np.float32) * d2
        return self._scored(boxes, areas)

    def _scored(self, boxes: F32, areas: F32) -> Detections:
        """Score, metric size filter and class for boxes with their foreground areas."""
        box_area = np.maximum((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 1.0)
        fill = np.clip(areas / box_area, 0.0, 1.0)
        size = np.minimum(1.0, areas / (4.0 * self.cfg.min_area_px))
        score = 0.5 * np.sqrt(fill) + 0.5 * np.sqrt(size)
        cls = np.full(len(boxes), int(ObjectClass.OBJECT), dtype=np.int16)
        if self.homography is not None:
            size_m = metric_size(self.homography, boxes)
            area_m2 = size_m[:, 0] * size_m[:, 1]
            ok = np.ones(len(boxes), dtype=bool)
            known = np.isfinite(area_m2)
            lo, hi = self.cfg.min_area_m2, self.cfg.max_area_m2
            with np.errstate(invalid="ignore"):
                if lo is not None:
                    ok &= ~known | (area_m2 >= lo)
                if hi is not None:
                    ok &= ~known | (area_m2 <= hi)
            cls = classify(size_m)
            boxes, score, cls = boxes[ok], score[ok], cls[ok]
        return Detections(boxes, score, cls)
