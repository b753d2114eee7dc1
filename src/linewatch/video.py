"""Video sources: decode a camera's footage into :class:`~linewatch.records.Frame` objects.

``open_video(camera, base_dir)`` opens a file (or an ``rtsp://``-style URL) with PyAV and
returns a :class:`VideoSource`, an iterator of BGR frames with stream times.

Time
    ``t = pts * time_base - start`` where ``start`` is the stream's ``start_time`` (so the
    first frame is at ``t = 0``). When the camera config sets ``fps`` (the container's rate
    is wrong, e.g. PETS09 says 10 fps but was recorded at 7), ``t = index / fps``. A frame
    without a pts falls back to ``index / fps``.

Stride
    ``camera.analysis_fps`` keeps at most that many frames per second, chosen by time (robust
    to variable frame rates): a frame is kept when ``t >= next_due`` and then
    ``next_due += 1 / analysis_fps`` (re-anchored after a gap). Skipped frames are decoded
    (inter-frame codecs need them) but never converted to numpy.

Errors
    Opening raises a :class:`VideoError` subclass with a one-line message:
    :class:`VideoNotFound`, :class:`VideoEmpty` (zero bytes, no video stream) or
    :class:`VideoUndecodable` (not a video, unreadable header, unreachable URL). A decode
    error in the middle of the footage (truncated or corrupted file) does **not** raise out
    of the iterator: iteration ends and a line naming the frame index and time is appended to
    :attr:`VideoSource.errors`, so the pipeline keeps what it found before.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, cast

import av
import av.error

from linewatch.records import Frame

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from av.container import InputContainer
    from av.video.frame import VideoFrame
    from av.video.stream import VideoStream

    from linewatch.config import CameraConfig

__all__ = [
    "VideoEmpty",
    "VideoError",
    "VideoNotFound",
    "VideoSource",
    "VideoUndecodable",
    "is_url",
    "open_video",
]

_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
#: PyAV/FFmpeg options for network sources (tested recipe, see ../shared/SERVICES.md)
_LIVE_OPTIONS = {
    "rtsp_transport": "tcp",
    "timeout": "3000000",  # microseconds
    "analyzeduration": "100000",
    "probesize": "50000",
}
_LIVE_TIMEOUT = (5.0, 5.0)  # open, read (seconds)
_FALLBACK_FPS = 25.0
_EPS = 1e-6


class VideoError(Exception):
    """Footage that cannot be opened; ``str(err)`` is a one-line message for the user."""


class VideoNotFound(VideoError):
    """The file does not exist."""


class VideoEmpty(VideoError):
    """The file is empty or has no video stream."""


class VideoUndecodable(VideoError):
    """Not a video, a header FFmpeg cannot read, or a source that cannot be reached."""


def is_url(source: str) -> bool:
    """True for ``scheme://...`` sources (RTSP, HTTP...), False for file paths."""
    return bool(_URL.match(source))


def _declared_rate(stream: VideoStream) -> float | None:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate is not None and float(rate) > 0:
            return float(rate)
    return None


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


class _Stride:
    """Keep at most one frame per ``period`` seconds, chosen by stream time."""

    __slots__ = ("_next_due", "_period")

    def __init__(self, period: float | None) -> None:
        self._period = period
        self._next_due: float | None = None

    def keep(self, t: float) -> bool:
        p, due = self._period, self._next_due
        if p is None:
            return True
        if due is not None and t < due - _EPS:
            return False
        # after a gap (t beyond the next slot) re-anchor at t: no burst of catch-up frames
        self._next_due = (due if due is not None and t < due + p else t) + p
        return True


class VideoSource:
    """Frames of one camera's footage, in stream order; iterate once.

    Use as a context manager (or call :meth:`close`). Attributes after (or during)
    iteration: ``frames_decoded`` (every decoded frame, kept or skipped), ``frames_kept``,
    ``errors`` (decode errors that ended iteration early, one line each).
    """

    def __init__(
        self,
        container: InputContainer,
        camera: CameraConfig,
        name: str,
        live: bool = False,
    ) -> None:
        self._container = container
        self._stream: VideoStream = container.streams.video[0]
        self._stream.thread_type = "AUTO"
        self._camera_id = camera.id
        self._fps_override = camera.fps
        self._period = None if camera.analysis_fps is None else 1.0 / camera.analysis_fps
        self.name = name
        self.live = live
        self.errors: list[str] = []
        self.frames_decoded = 0
        self.frames_kept = 0
        self._started = False
        self._active: Generator[tuple[int, float, VideoFrame], None, None] | None = None
        self._closed = False
        # everything read from FFmpeg's structures is read now: after close() they are freed
        s = self._stream
        tb = s.time_base
        self._time_base = Fraction(tb) if tb is not None else None
        self._start_pts: int | None = int(s.start_time) if s.start_time is not None else None
        self.container_fps: float | None = _declared_rate(s)
        """The frame rate the container declares (None when it declares none)."""
        self.fps: float = float(camera.fps or self.container_fps or _FALLBACK_FPS)
        """Frames per second used for timing: the config's override, else the container's."""
        self.size: tuple[int, int] = (int(s.codec_context.width), int(s.codec_context.height))
        """(width, height) in pixels."""
        n = int(s.frames or 0)
        self.frame_count: int | None = n if n > 0 and not live else None
        """Frames the container lists, or None when it does not say (live, mkv, ts...)."""
        self.duration: float | None = None if live else self._duration(container)
        """Seconds of footage (None for live sources or when the container does not say)."""

    def _duration(self, container: InputContainer) -> float | None:
        s, n = self._stream, self.frame_count
        declared: float | None = None
        if s.duration is not None and self._time_base is not None:
            declared = float(s.duration * self._time_base)
        elif container.duration is not None:
            declared = float(container.duration) / 1e6
        if self._fps_override is not None:
            if n is not None:
                return n / self.fps
            cfps = self.container_fps
            return None if cfps is None or declared is None else declared * cfps / self.fps
        if declared is None and n is not None:
            return n / self.fps
        return declared

    # ------------------------------------------------------------------ timing
    def _time(self, index: int, pts: int | None) -> float:
        if self._fps_override is not None or pts is None or self._time_base is None:
            return index / self.fps
        if self._start_pts is None:
            self._start_pts = pts  # live stream: the first frame with a pts is t = 0
        return float((pts - self._start_pts) * self._time_base)

    # ------------------------------------------------------------------ iteration
    def _decoded(self) -> Iterator[tuple[int, float, VideoFrame]]:
        """(index, t, av frame) of every kept frame; decode errors end it (see ``errors``)."""
        if self._started:
            raise VideoError(f"{self.name}: a video source can be iterated once; open it again")
        if self._closed:
            raise VideoError(f"{self.name}: the video source is closed")
        self._started = True
        # keep a handle: close() must finish the generator (and FFmpeg's demuxer inside it)
        # before the container is freed; a half-consumed one finalised later would crash
        self._active = self._decode()
        return self._active

    def _decode(self) -> Generator[tuple[int, float, VideoFrame], None, None]:
        stride = _Stride(self._period)
        t = 0.0
        try:
            for packet in self._container.demux(self._stream):
                for vf in packet.decode():
                    index = self.frames_decoded
                    self.frames_decoded += 1
                    t = self._time(index, vf.pts)
                    if not stride.keep(t):
                        continue
                    self.frames_kept += 1
                    yield index, t, vf
        except (av.error.FFmpegError, OSError, EOFError) as e:
            where = (
                f"after frame {self.frames_decoded - 1} (t={t:.3f} s)"
                if self.frames_decoded
                else "before the first frame"
            )
            self.errors.append(
                f"{self.name}: decode error {where}, analysis stopped there: {_first_line(e)}"
            )
            return
        n = self.frame_count
        if n is not None and self.frames_decoded < n - 1:
            self.errors.append(
                f"{self.name}: footage ended early, after frame {self.frames_decoded - 1} "
                f"(t={t:.3f} s): {self.frames_decoded} of the {n} frames the container "
                f"lists (truncated file?)"
            )

    def __iter__(self) -> Iterator[Frame]:
        for index, t, vf in self._decoded():
            image = cast("npt.NDArray[np.uint8]", vf.to_ndarray(format="bgr24"))
            yield Frame(self._camera_id, index, t, image)

    def decode_only(self) -> Iterator[tuple[int, float]]:
        """(index, t) of the frames ``__iter__`` would yield, decoded but never converted.

        For benchmarks and for indexing footage; same stride, timing and error handling.
        """
        for index, t, _ in self._decoded():
            yield index, t

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._active is not None:
                self._active.close()
                self._active = None
            self._container.close()

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        w, h = self.size
        return f"VideoSource({self.name!r}, {w}x{h}, {self.fps:.3g} fps)"


def _open_container(target: str, name: str, live: bool) -> InputContainer:
    try:
        if live:
            return av.open(target, mode="r", options=dict(_LIVE_OPTIONS), timeout=_LIVE_TIMEOUT)
        return av.open(target, mode="r")
    except (av.error.FFmpegError, OSError, EOFError, ValueError) as e:
        what = "cannot open the live source" if live else "not a readable video file"
        raise VideoUndecodable(f"{name}: {what} ({_first_line(e)})") from None


def open_video(camera: CameraConfig, base_dir: Path | None = None) -> VideoSource:
    """Open a camera's footage; relative paths are resolved against ``base_dir``.

    Raises :class:`VideoNotFound`, :class:`VideoEmpty` or :class:`VideoUndecodable`.
    """
    source = camera.source
    live = is_url(source)
    if live:
        # Live sources open with the tested options; reconnection is the caller's job
        # (a dropped connection simply ends the iteration).
        target = name = source
    else:
        path = Path(source).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        name = str(path)
        if not path.exists():
            raise VideoNotFound(f"{name}: video file not found (camera {camera.id!r})")
        if not path.is_file():
            raise VideoUndecodable(f"{name}: not a file (camera {camera.id!r})")
        if path.stat().st_size == 0:
            raise VideoEmpty(f"{name}: the video file is empty (0 bytes)")
        target = name
    container = _open_container(target, name, live)
    if not container.streams.video:
        container.close()
        raise VideoEmpty(f"{name}: no video stream in the file")
    stream = container.streams.video[0]
    if stream.codec_context is None or not stream.codec_context.width:
        container.close()
        raise VideoUndecodable(f"{name}: the video stream has no readable frame size")
    return VideoSource(container, camera, name, live=live)
