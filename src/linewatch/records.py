"""Core records that flow between the stages: Frame, Detections, TrackPoint, Event.

Conventions (used everywhere in linewatch):

- Images are ``numpy.uint8`` arrays of shape ``(H, W, 3)`` in **BGR** order (OpenCV's order,
  and what PyAV gives with ``format="bgr24"``).
- Boxes are ``xyxy`` in image pixels, float32: left, top, right, bottom.
- Time ``t`` is seconds from the camera's start, taken from the stream
  (``pts * time_base``, or ``index / fps`` when the config overrides the rate); never the
  wall clock of the processing machine.
- Site coordinates are metres on the site map (X east, Y north when the user follows that
  convention); a camera without calibration has ``site = None`` on its points.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int16]


class ObjectClass(IntEnum):
    """linewatch's object classes (COCO ids are mapped onto these by the detectors)."""

    OBJECT = 0  # unknown moving thing (the motion detector without calibration)
    PERSON = 1
    VEHICLE = 2  # car, bus, truck, motorcycle
    BICYCLE = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, name: str) -> ObjectClass:
        try:
            return cls[name.upper()]
        except KeyError:
            allowed = ", ".join(c.label for c in cls)
            raise ValueError(f"unknown object class {name!r}; allowed: {allowed}") from None


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame of one camera."""

    camera: str
    index: int  # decoded frame index in the source (0-based), before any stride
    t: float  # seconds from the camera's start, from the stream's pts
    image: npt.NDArray[np.uint8]  # H x W x 3, BGR

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.image.shape[1]), int(self.image.shape[0])


class Detections:
    """Columnar detections of one frame: boxes, scores, classes (and optional keypoints).

    Shapes are checked at construction; index with a boolean mask or an index array::

        >>> d = Detections(np.array([[0, 0, 10, 20], [5, 5, 9, 9]]), np.array([0.9, 0.2]))
        >>> len(d[d.score > 0.5])
        1
        >>> d.foot.tolist()
        [[5.0, 20.0], [7.0, 9.0]]
    """

    __slots__ = ("cls", "keypoints", "score", "xyxy")

    def __init__(
        self,
        xyxy: npt.ArrayLike,
        score: npt.ArrayLike | None = None,
        cls: npt.ArrayLike | None = None,
        keypoints: npt.ArrayLike | None = None,
    ) -> None:
        boxes = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)
        n = boxes.shape[0]
        scores = (
            np.ones(n, dtype=np.float32)
            if score is None
            else np.asarray(score, dtype=np.float32).reshape(-1)
        )
        classes = (
            np.zeros(n, dtype=np.int16)
            if cls is None
            else np.asarray(cls, dtype=np.int16).reshape(-1)
        )
        if scores.shape[0] != n or classes.shape[0] != n:
            raise ValueError(
                f"Detections: {n} boxes but {scores.shape[0]} scores and {classes.shape[0]} classes"
            )
        kps = None
        if keypoints is not None:
            kps = np.asarray(keypoints, dtype=np.float32)
            if kps.ndim != 3 or kps.shape[0] != n or kps.shape[2] != 3:
                raise ValueError(f"Detections: keypoints must be (N, K, 3), got {kps.shape}")
        self.xyxy: FloatArray = boxes
        self.score: FloatArray = scores
        self.cls: IntArray = classes
        self.keypoints: FloatArray | None = kps  # (N, K, 3): x, y, score in image pixels

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), dtype=np.float32))

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    def __getitem__(self, index: npt.ArrayLike) -> Detections:
        idx = np.asarray(index)
        if idx.ndim == 0:
            idx = idx.reshape(1)
        return Detections(
            self.xyxy[idx],
            self.score[idx],
            self.cls[idx],
            None if self.keypoints is None else self.keypoints[idx],
        )

    def __repr__(self) -> str:
        return f"Detections(n={len(self)})"

    @staticmethod
    def concat(parts: Sequence[Detections]) -> Detections:
        if not parts:
            return Detections.empty()
        kps = None
        if all(p.keypoints is not None for p in parts) and parts:
            kps = np.concatenate([p.keypoints for p in parts if p.keypoints is not None])
        return Detections(
            np.concatenate([p.xyxy for p in parts]),
            np.concatenate([p.score for p in parts]),
            np.concatenate([p.cls for p in parts]),
            kps,
        )

    @property
    def foot(self) -> FloatArray:
        """Bottom-centre of each box (the ground contact point), shape (N, 2)."""
        return np.stack(
            [(self.xyxy[:, 0] + self.xyxy[:, 2]) / 2, self.xyxy[:, 3]], axis=1
        ).astype(np.float32)

    @property
    def area(self) -> FloatArray:
        wh = np.clip(self.xyxy[:, 2:] - self.xyxy[:, :2], 0, None)
        return (wh[:, 0] * wh[:, 1]).astype(np.float32)


@dataclass(frozen=True, slots=True)
class TrackPoint:
    """One observation of one confirmed track (the unit of the track log)."""

    camera: str
    track_id: int  # unique per camera and run
    t: float  # seconds from the camera's start
    frame: int  # source frame index
    box: tuple[float, float, float, float]  # xyxy image pixels
    cls: ObjectClass
    score: float
    site: tuple[float, float] | None = None  # foot point on the site map, metres
    #: (K, 3) keypoints as nested tuples, when a pose model ran; else None
    keypoints: tuple[tuple[float, float, float], ...] | None = None

    @property
    def foot(self) -> tuple[float, float]:
        """Foot point (bottom centre of the box) in image pixels."""
        return ((self.box[0] + self.box[2]) / 2.0, self.box[3])

    def anchor(self) -> tuple[float, float]:
        """The point rules reason on: site metres when calibrated, else image foot point."""
        return self.site if self.site is not None else self.foot


@dataclass(frozen=True, slots=True)
class Provenance:
    """Why an event fired: the rule, its parameters and the observations it used."""

    rule: str
    params: Mapping[str, Any]
    observations: Sequence[Mapping[str, Any]] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "params": dict(self.params),
            "observations": [dict(o) for o in self.observations],
        }


@dataclass(frozen=True, slots=True)
class Event:
    """A finding. ``id`` is deterministic: the same analysis gives the same ids."""

    kind: str  # "crossing", "incursion", "zone_enter", ...
    camera: str
    track_ids: tuple[int, ...]
    t_start: float
    t_end: float
    subject: str | None = None  # the line or zone id the event is about
    direction: str | None = None  # "north->south"
    location: tuple[float, float] | None = None  # where, in site metres (or image px)
    attributes: Mapping[str, Any] = field(default_factory=dict)
    provenance: Provenance | None = None

    @property
    def id(self) -> str:
        return event_id(self.kind, self.camera, self.subject, self.track_ids, self.t_start)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "camera": self.camera,
            "track_ids": list(self.track_ids),
            "t_start": self.t_start,
            "t_end": self.t_end,
            "subject": self.subject,
            "direction": self.direction,
            "location": None if self.location is None else list(self.location),
            "attributes": dict(self.attributes),
            "provenance": None if self.provenance is None else self.provenance.to_dict(),
        }


def event_id(
    kind: str, camera: str, subject: str | None, track_ids: Sequence[int], t_start: float
) -> str:
    """Deterministic event id: a hash of what identifies the finding (time to the ms).

    >>> event_id("crossing", "cam1", "mdl", (3,), 12.3456) == event_id(
    ...     "crossing", "cam1", "mdl", [3], 12.3459)
    False
    >>> len(event_id("crossing", "cam1", "mdl", (3,), 1.0))
    16
    """
    key = json.dumps(
        [kind, camera, subject, [int(i) for i in track_ids], round(float(t_start), 3)]
    )
    return hashlib.sha256(key.encode()).hexdigest()[:16]
