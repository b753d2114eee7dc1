"""The detector interface every plug-in implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from linewatch.records import Detections, Frame


class DetectorError(RuntimeError):
    """A detector that cannot run (missing model file, wrong model shape...)."""


@runtime_checkable
class Detector(Protocol):
    """``detect(frame) -> Detections``; batch form for back-ends where batching pays.

    A detector may keep per-camera state (a background model); one instance serves one
    camera. ``reset()`` forgets that state.
    """

    name: str

    def detect(self, frame: Frame) -> Detections: ...

    def detect_batch(self, frames: Sequence[Frame]) -> list[Detections]: ...

    def reset(self) -> None: ...
