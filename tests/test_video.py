"""video.py: stream times, fps override, stride, and every bad-file case, on real files
written here with PyAV (H.264), plus the shared footage when ../shared is present."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from linewatch.config import CameraConfig
from linewatch.video import (
    VideoEmpty,
    VideoError,
    VideoNotFound,
    VideoSource,
    VideoUndecodable,
    _Stride,
    is_url,
    open_video,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
W, H, N, FPS = 160, 96, 50, 25


def rect_x(i: int) -> int:
    return 4 + 2 * i


def write_clip(
    path: Path,
    n: int = N,
    fps: int = FPS,
    faststart: bool = False,
    pts_ms: list[int] | None = None,
) -> Path:
    """A small H.264 clip: red rectangle moving right on a noisy grey background.

    ``pts_ms`` gives explicit frame times in milliseconds (variable frame rate).
    """
    opts = {"movflags": "faststart"} if faststart else {}
    rng = np.random.default_rng(1)
    with av.open(str(path), "w", options=opts) as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.options = {"g": "10", "bf": "0", "preset": "ultrafast"}
        if pts_ms is not None:
            s.codec_context.time_base = Fraction(1, 1000)
        for i in range(n):
            img = rng.integers(60, 140, (H, W, 3), dtype=np.uint8)
            img[30:60, rect_x(i) : rect_x(i) + 20] = (0, 0, 230)  # BGR red
            vf = av.VideoFrame.from_ndarray(img, format="bgr24")
            if pts_ms is not None:
                vf.pts = pts_ms[i]
                vf.time_base = Fraction(1, 1000)
            for pkt in s.encode(vf):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return path


def cam(source: str | Path, **kw: object) -> CameraConfig:
    return CameraConfig.model_validate({"id": "c1", "source": str(source), **kw})


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    good = write_clip(d / "good.mp4")
    fast = write_clip(d / "fast.mp4", faststart=True)
    data = fast.read_bytes()
    (d / "truncated.mp4").write_bytes(data[: len(data) // 2])
    # a corrupt NAL length in packet 25: FFmpeg's decoder raises InvalidDataError there
    with av.open(str(fast)) as c:
        pos = [int(pkt.pos or 0) for pkt in c.demux(video=0) if pkt.size]
    bad = bytearray(data)
    bad[pos[25] : pos[25] + 4] = b"\xff\xff\xff\xff"
    (d / "corrupt.mp4").write_bytes(bytes(bad))
    moov_end = good.read_bytes()
    (d / "truncated_header.mp4").write_bytes(moov_end[: len(moov_end) // 2])
    (d / "empty.mp4").write_bytes(b"")
    (d / "random.mp4").write_bytes(np.random.default_rng(0).bytes(20_000))
    (d / "text.mp4").write_text("this is not a video\n" * 200)
    vfr_ms = [0]
    gaps = np.random.default_rng(2).choice([20, 40, 40, 40, 80, 300], size=N - 1)
    for g in gaps:
        vfr_ms.append(vfr_ms[-1] + int(g))
    write_clip(d / "vfr.mp4", pts_ms=vfr_ms)
    (d / "vfr_ms.txt").write_text(",".join(map(str, vfr_ms)))
    with av.open(str(d / "audio.wav"), "w") as c:
        a = c.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 800), dtype=np.int16), format="s16", layout="mono"
        )
        frame.sample_rate = 8000
        for pkt in a.encode(frame):
            c.mux(pkt)
        for pkt in a.encode():
            c.mux(pkt)
    return {p.stem: p for p in d.iterdir()}


# ------------------------------------------------------------------ good files
def test_times_from_pts_and_properties(clips: dict[str, Path]) -> None:
    with open_video(cam(clips["good"])) as src:
        assert isinstance(src, VideoSource)
        assert src.size == (W, H)
        assert src.fps == pytest.approx(FPS)
        assert src.frame_count == N
        assert src.duration == pytest.approx(N / FPS, abs=0.05)
        frames = list(src)
        assert src.errors == []
        assert src.frames_decoded == N
    assert [f.index for f in frames] == list(range(N))
    np.testing.assert_allclose([f.t for f in frames], np.arange(N) / FPS, atol=1e-6)
    f = frames[10]
    assert f.camera == "c1" and f.image.dtype == np.uint8 and f.image.shape == (H, W, 3)
    x = rect_x(10)
    patch = f.image[35:55, x + 3 : x + 17].reshape(-1, 3).mean(axis=0)
    assert patch[2] > 180 and patch[0] < 60  # BGR order: red is the last channel


def test_variable_frame_rate_times(clips: dict[str, Path]) -> None:
    expected = [int(v) / 1000 for v in clips["vfr_ms"].read_text().split(",")]
    with open_video(cam(clips["vfr"])) as src:
        times = [t for _, t in src.decode_only()]
    np.testing.assert_allclose(times, expected, atol=1e-3)


def test_fps_override(clips: dict[str, Path]) -> None:
    with open_video(cam(clips["good"], fps=7)) as src:
        assert src.fps == 7
        assert src.duration == pytest.approx(N / 7)
        times = [t for _, t in src.decode_only()]
    np.testing.assert_allclose(times, np.arange(N) / 7)


def test_stride_keeps_frames_by_time(clips: dict[str, Path]) -> None:
    with open_video(cam(clips["good"], analysis_fps=5)) as src:
        frames = list(src)
        assert src.frames_decoded == N
        assert src.frames_kept == len(frames)
    assert [f.index for f in frames] == list(range(0, N, 5))
    with open_video(cam(clips["good"], analysis_fps=100)) as src:
        assert len(list(src.decode_only())) == N  # faster than the source: every frame


def test_stride_on_variable_frame_rate(clips: dict[str, Path]) -> None:
    with open_video(cam(clips["vfr"], analysis_fps=10)) as src:
        times = np.array([t for _, t in src.decode_only()])
        decoded = src.frames_decoded
    assert decoded == N and 1 < len(times) < N
    assert_rate_bounded(times, 10.0)
    assert len(times) >= times[-1] * 10 / 4  # the clip has gaps of up to 0.3 s


def assert_rate_bounded(kept: np.ndarray, rate: float) -> None:
    """Between any two kept frames, at most ``rate`` frames per second (+1 for the ends)."""
    n = len(kept)
    i, j = np.triu_indices(n, 1)
    assert np.all(j - i < (kept[j] - kept[i]) * rate + 1 + 1e-6)


@given(
    st.lists(st.floats(0.001, 2.0), min_size=1, max_size=200),
    st.floats(0.5, 30.0),
)
def test_stride_property(gaps: list[float], rate: float) -> None:
    times = np.concatenate([[0.0], np.cumsum(gaps)])
    stride = _Stride(1.0 / rate)
    kept = [t for t in times if stride.keep(float(t))]
    assert kept[0] == 0.0
    assert_rate_bounded(np.array(kept), rate)
    # no frame is dropped when the previous kept one is a full period or more behind it
    for t in times:
        prior = [k for k in kept if k <= t]
        assert t in kept or t - prior[-1] < 1.0 / rate + 1e-6


def test_relative_source_and_single_iteration(clips: dict[str, Path]) -> None:
    src = open_video(cam("good.mp4"), base_dir=clips["good"].parent)
    with src:
        assert sum(1 for _ in src.decode_only()) == N
        with pytest.raises(VideoError, match="once"):
            next(iter(src))


def test_is_url() -> None:
    assert is_url("rtsp://127.0.0.1:8554/cam")
    assert not is_url("footage/cam1.mp4")
    assert not is_url("C:/footage/cam1.mp4")


# ------------------------------------------------------------------ bad files
@pytest.mark.parametrize(
    ("name", "exc"),
    [
        ("empty", VideoEmpty),
        ("audio", VideoEmpty),
        ("random", VideoUndecodable),
        ("text", VideoUndecodable),
        ("truncated_header", VideoUndecodable),
    ],
)
def test_bad_files_raise_typed_errors(
    clips: dict[str, Path], name: str, exc: type[VideoError]
) -> None:
    with pytest.raises(exc) as info:
        open_video(cam(clips[name]))
    msg = str(info.value)
    assert "\n" not in msg and clips[name].name in msg


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(VideoNotFound, match="not found"):
        open_video(cam(tmp_path / "nope.mp4"))
    with pytest.raises(VideoUndecodable, match="not a file"):
        open_video(cam(tmp_path))


@pytest.mark.parametrize("name", ["truncated", "corrupt"])
def test_mid_file_error_keeps_frames_before_it(clips: dict[str, Path], name: str) -> None:
    with open_video(cam(clips[name])) as src:
        frames = list(src)  # must not raise
        errors = list(src.errors)
    assert 5 < len(frames) < N
    assert [f.index for f in frames] == list(range(len(frames)))
    assert len(errors) == 1
    last = frames[-1]
    assert f"frame {src.frames_decoded - 1}" in errors[0]
    assert last.index <= src.frames_decoded - 1
    # the frames before the error are intact: the rectangle is where it was drawn
    x = rect_x(last.index)
    assert last.image[35:55, x + 3 : x + 17, 2].mean() > 180


def test_corrupt_packet_raises_inside_decoder(clips: dict[str, Path]) -> None:
    """The decode-error path is real: the corrupt packet stops decoding at frame 25."""
    with open_video(cam(clips["corrupt"])) as src:
        indices = [i for i, _ in src.decode_only()]
    assert indices == list(range(25))
    assert "decode error after frame 24" in src.errors[0]
    assert "Invalid data" in src.errors[0]


# ------------------------------------------------------------------ shared footage
needs_shared = pytest.mark.skipif(
    not (SHARED / "data").is_dir(), reason=f"shared footage not found at {SHARED}"
)


@needs_shared
@pytest.mark.shared
def test_street_times() -> None:
    with open_video(cam(SHARED / "data/street/street.mp4")) as src:
        assert src.size == (640, 352)
        assert src.frame_count == 905
        assert src.fps == pytest.approx(24.0, abs=0.05)
        times = [t for (_, t), _ in zip(src.decode_only(), range(48), strict=False)]
    with av.open(str(SHARED / "data/street/street.mp4")) as c:
        s = c.streams.video[0]
        start, tb = int(s.start_time or 0), Fraction(s.time_base or 1)
        pts = [int(f.pts or 0) for f, _ in zip(c.decode(s), range(48), strict=False)]
        expected = [float((p - start) * tb) for p in pts]
    assert times[0] == 0.0
    np.testing.assert_allclose(times, expected, atol=1e-9)
    # street.mp4 is really variable-rate: one frame interval is doubled (a dropped frame)
    assert np.median(np.diff(times)) == pytest.approx(1 / 24, abs=1e-3)


@needs_shared
@pytest.mark.shared
def test_pets_fps_override_and_stride() -> None:
    pets = SHARED / "data/pets09-s2l1/vtest.avi"
    with open_video(cam(pets)) as src:
        assert src.fps == pytest.approx(10.0)  # what the container claims
    with open_video(cam(pets, fps=7, analysis_fps=3.5)) as src:
        assert src.duration == pytest.approx(795 / 7)
        kept = [(i, t) for (i, t), _ in zip(src.decode_only(), range(20), strict=False)]
    assert [i for i, _ in kept] == list(range(0, 40, 2))
    np.testing.assert_allclose([t for _, t in kept], np.arange(0, 40, 2) / 7)
