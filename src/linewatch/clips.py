"""Footage windows in, H.264 clips out: the decoding and encoding behind the evidence.

``WindowReader`` decodes only the frames of a camera's footage that fall in given time
windows (one pass, in order; frames outside every window are decoded but never converted;
long gaps are skipped with a keyframe seek unless the config overrides the frame rate).
``ClipWriter`` writes an H.264 (yuv420p, ``+faststart``) MP4 a browser can play.
Frame times are computed exactly as :mod:`linewatch.video` computes them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import av
import av.error
import cv2
import numpy as np

from linewatch.annotate import Image
from linewatch.config import CameraConfig
from linewatch.records import Frame

_EPS = 1e-6


# --------------------------------------------------------------------------- decoding
def merge_windows(windows: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Sorted, overlapping or touching windows merged."""
    out: list[tuple[float, float]] = []
    for a, b in sorted((max(0.0, a), b) for a, b in windows if b >= a):
        if out and a <= out[-1][1] + _EPS:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


class WindowReader:
    """Decode the frames of a camera's footage that fall in the given windows, in order."""

    def __init__(
        self,
        camera: CameraConfig,
        base_dir: Path | None,
        windows: Sequence[tuple[float, float]],
        seek_gap: float = 10.0,
    ) -> None:
        self.camera = camera
        self.path = Path(camera.source).expanduser()
        if not self.path.is_absolute() and base_dir is not None:
            self.path = base_dir / self.path
        self.windows = merge_windows(windows)
        self.seek_gap = seek_gap
        self.errors: list[str] = []
        self.seeks = 0
        with av.open(str(self.path)) as c:
            s = c.streams.video[0]
            rate = next(
                (float(r) for r in (s.average_rate, s.guessed_rate, s.base_rate) if r), 25.0
            )
        self.fps = float(camera.fps or rate)

    def __iter__(self) -> Iterator[Frame]:
        emitted, seekable = -math.inf, self.camera.fps is None
        while self.windows:
            try:
                for frame in self._pass(seekable, emitted):
                    emitted = frame.t
                    yield frame
                return
            except _SeekFailed:  # a seek landed past its target: once more, no seeking
                seekable = False

    def _t(self, vf: av.VideoFrame, index: int, tb: Fraction | None, start: int) -> float:
        """The frame's time, exactly as linewatch.video computes it."""
        if self.camera.fps is not None or vf.pts is None or tb is None:
            return index / self.fps
        return float((vf.pts - start) * tb)

    def _pass(self, seekable: bool, after: float) -> Iterator[Frame]:
        """One pass over the file, yielding the window frames later than ``after``."""
        container = av.open(str(self.path))
        packets = None
        try:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            tb, start = stream.time_base, int(stream.start_time or 0)
            seekable = seekable and tb is not None
            index, counted, wi, last_target = 0, True, 0, -math.inf
            first = self.windows[0][0]
            target = first if seekable and first > max(after, 0.0) + self.seek_gap else None
            while True:
                check = None
                if target is not None and tb is not None:
                    pts = int(max(0.0, target - 1.0) / tb) + start
                    container.seek(pts, stream=stream, backward=True, any_frame=False)
                    self.seeks += 1
                    counted, check, last_target, target = False, target, target, None
                packets = container.demux(stream)
                for vf in (f for packet in packets for f in packet.decode()):
                    if vf.pts is None and not counted:
                        continue  # cannot be timed after a seek
                    t = self._t(vf, index, tb, start)
                    idx = index if counted else round(t * self.fps)
                    index += 1
                    if check is not None and t > check + _EPS:
                        raise _SeekFailed
                    check = None
                    while wi < len(self.windows) and t > self.windows[wi][1] + _EPS:
                        wi += 1
                    if wi >= len(self.windows):
                        return
                    w0 = self.windows[wi][0]
                    if t >= w0 - _EPS and t > after + _EPS:
                        img = cast(Image, vf.to_ndarray(format="bgr24"))
                        yield Frame(self.camera.id, idx, t, img)
                    elif seekable and w0 - t > self.seek_gap and w0 > last_target:
                        target = w0
                        break
                _close(packets)
                if target is None:
                    return
        except (av.error.FFmpegError, OSError, EOFError) as e:
            self.errors.append(f"{self.path}: decode error, evidence stops there: {e}")
        finally:
            _close(packets)
            container.close()


class _SeekFailed(Exception):
    pass


def _close(it: object) -> None:
    """Finish a PyAV demux generator before its container is closed."""
    close = getattr(it, "close", None)
    if callable(close):
        close()


# --------------------------------------------------------------------------- encoding
class ClipWriter:
    """An H.264 (yuv420p) MP4 with ``+faststart``; frames are BGR images of one size."""

    def __init__(self, path: Path, fps: float, crf: int = 23, preset: str = "veryfast") -> None:
        self.path = path
        self.fps = fps
        self.crf = crf
        self.preset = preset
        self.frames = 0
        self._out: Any = None
        self._stream: Any = None
        self._size: tuple[int, int] | None = None

    def write(self, image: Image) -> None:
        if self._out is None:
            h, w = image.shape[:2]
            self._size = (w - w % 2, h - h % 2)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._out = av.open(str(self.path), mode="w", options={"movflags": "+faststart"})
            rate = Fraction(self.fps).limit_denominator(1001)
            self._stream = self._out.add_stream("libx264", rate=rate)
            self._stream.width, self._stream.height = self._size
            self._stream.pix_fmt = "yuv420p"
            self._stream.options = {"crf": str(self.crf), "preset": self.preset}
            self._stream.thread_type = "FRAME"  # x264 frame threads: 1.7x on 2 cores
        assert self._size is not None
        w, h = self._size
        if image.shape[1] != w or image.shape[0] != h:
            if image.shape[1] >= w and image.shape[0] >= h:
                image = image[:h, :w]
            else:
                image = cast(Image, cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA))
        yuv = cast(Image, cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGR2YUV_I420))
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")  # BT.601, video range
        frame.pts = self.frames
        self._out.mux(self._stream.encode(frame))
        self.frames += 1

    @property
    def size(self) -> tuple[int, int] | None:
        """(width, height) of the clip, known once the first frame is written."""
        return self._size

    @property
    def is_open(self) -> bool:
        return self._out is not None

    def close(self) -> None:
        if self._out is not None:
            self._out.mux(self._stream.encode(None))
            self._out.close()
            self._out = None
