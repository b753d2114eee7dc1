"""Evidence stills and clips, the window reader, track interpolation and the annotated video.

``make_run`` builds a small run folder the way the pipeline writes one (config snapshot with
absolute sources, events.db, tracks.parquet + steps, run.json) around an H.264 video of two
moving rectangles; test_report.py and test_manifest.py use it too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import av
import numpy as np
import pytest
import yaml

from linewatch.annotate import CameraOverlay, TrackIndex, annotate, track_colour
from linewatch.clips import WindowReader, merge_windows
from linewatch.config import CameraConfig, load_config
from linewatch.evidence import (
    EvidenceOptions,
    annotate_video,
    load_run,
    write_evidence,
)
from linewatch.geometry import Homography
from linewatch.records import Event, ObjectClass, Provenance, TrackPoint
from linewatch.store import EventStore
from linewatch.tracklog import TrackLogWriter, read_tracklog
from linewatch.video import open_video

W, H, FPS, N_FRAMES = 320, 240, 10, 60
START = datetime(2024, 5, 1, 15, 31, 0, tzinfo=timezone(timedelta(hours=2)))
# cam2 sees the same footage, calibrated: 20 px per metre, y up (north)
CAL_IMAGE = [(0.0, 0.0), (320.0, 0.0), (320.0, 240.0), (0.0, 240.0)]
CAL_SITE = [(0.0, 12.0), (16.0, 12.0), (16.0, 0.0), (0.0, 0.0)]


def box_of(track: int, i: int) -> tuple[float, float, float, float]:
    """Exact box of rectangle ``track`` in frame ``i``."""
    if track == 1:  # left to right, crosses x = 160 at frame 25
        x = 20.0 + 4.0 * i
        return (x, 100.0, x + 40.0, 160.0)
    y = 10.0 + 2.0 * i  # track 2: top to bottom on the left
    return (40.0, y, 70.0, y + 50.0)


def write_video(path: Path, n: int = N_FRAMES, gop: int = 10) -> None:
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=FPS)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.options = {"g": str(gop), "preset": "ultrafast", "bf": "0"}
        ramp = np.tile(np.linspace(40, 120, W, dtype=np.uint8), (H, 1))
        for i in range(n):
            img = np.dstack([ramp, ramp, ramp]).copy()
            for tid, colour in ((1, (30, 200, 30)), (2, (200, 30, 200))):
                x1, y1, x2, y2 = (int(v) for v in box_of(tid, i))
                img[y1:y2, x1:x2] = colour
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            frame.pts = i
            out.mux(s.encode(frame))
        out.mux(s.encode(None))


@dataclass
class Run:
    run_dir: Path
    video: Path
    events: list[Event]


def make_run(root: Path, n_frames: int = N_FRAMES) -> Run:
    """A run folder at ``root/run`` with the video at ``root/footage.mp4``."""
    root.mkdir(parents=True, exist_ok=True)
    video = root / "footage.mp4"
    write_video(video, n_frames)
    run = root / "run"
    run.mkdir()
    cfg = {
        "site": {"name": "Test bridge", "timezone": "Europe/Berlin"},
        "cameras": [
            {"id": "cam1", "source": str(video.resolve()), "start_time": START.isoformat()},
            {
                "id": "cam2",
                "source": str(video.resolve()),
                "calibration": {"image": CAL_IMAGE, "site": CAL_SITE},
            },
        ],
        "lines": [
            {
                "id": "mdl",
                "camera": "cam1",
                "points": [[160, 0], [160, 240]],
                "sides": {"left": "east", "right": "west"},
            },
            {
                "id": "fence",
                "points": [[8, 0], [8, 12]],
                "sides": {"left": "west", "right": "east"},
            },
        ],
        "zones": [{"id": "yard", "camera": "cam1", "points": [[200, 20], [300, 20], [300, 90]]}],
    }
    (run / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    h = Homography.fit(CAL_IMAGE, CAL_SITE)
    with TrackLogWriter(run / "tracks.parquet") as log:
        for cam in ("cam1", "cam2"):
            for i in range(n_frames):
                t = i / FPS
                pts = []
                for tid, cls in ((1, ObjectClass.VEHICLE), (2, ObjectClass.PERSON)):
                    box = box_of(tid, i)
                    site = None
                    if cam == "cam2":
                        sx, sy = h.to_site(((box[0] + box[2]) / 2, box[3]))
                        site = (float(sx), float(sy))
                    pts.append(TrackPoint(cam, tid, t, i, box, cls, 0.9, site))
                log.step(cam, t, pts, [1, 2] if i == n_frames - 1 else [])
    prov = Provenance("crossing", {"margin": 0.5, "min_hold": 2}, ({"t": 2.4}, {"t": 2.6}))
    events = [
        Event(
            "crossing",
            "cam1",
            (1,),
            2.5,
            2.5,
            "mdl",
            "west->east",
            (160.0, 160.0),
            {"class": "vehicle", "speed_kmh": 61.2, "units": "px"},
            prov,
        ),
        Event(
            "incursion",
            "cam2",
            (1,),
            2.5,
            4.0,
            "fence",
            "west->east",
            (8.0, 4.0),
            {
                "class": "vehicle",
                "side_into": "east",
                "excursion_seconds": 1.5,
                "max_depth": 2.25,
                "returned": True,
                "units": "m",
            },
            Provenance("incursion", {"max_seconds": 60}),
        ),
        Event("foo_bar", "cam2", (2,), 4.0, 5.0, None, None, None, {}, None),
    ]
    store = EventStore.for_run(run)
    store.replace_run("run", events, start_times={"cam1": START, "cam2": None})
    store.close()
    meta = {
        "software": {"name": "linewatch", "version": "0.1.0"},
        "site": "Test bridge",
        "cameras": [
            {
                "camera": c,
                "frames_decoded": n_frames,
                "frames_analysed": n_frames,
                "tracks": 2,
                "seconds": 0.1,
                "duration": 5.9,
                "errors": [],
            }
            for c in ("cam1", "cam2")
        ],
    }
    (run / "run.json").write_text(json.dumps(meta), encoding="utf-8")
    return Run(run, video, events)


# ---------------------------------------------------------------------------- tests
@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return make_run(tmp_path_factory.mktemp("ev"))


@pytest.fixture(scope="module")
def evidence(run: Run) -> list:  # type: ignore[type-arg]
    return write_evidence(run.run_dir, EvidenceOptions(still_format="png"))


def test_merge_windows() -> None:
    assert merge_windows([(5, 6), (-1, 1), (0.5, 2), (7, 6)]) == [(0.0, 2), (5, 6)]


def test_window_reader_matches_open_video_times_and_pixels(run: Run) -> None:
    cam = CameraConfig(id="cam1", source=str(run.video))
    allframes = {f.t: f for f in open_video(cam)}
    assert sorted(allframes) == pytest.approx([i / FPS for i in range(N_FRAMES)])
    windows = [(0.3, 0.8), (4.0, 4.45)]
    reader = WindowReader(cam, None, windows, seek_gap=1.0)
    got = list(reader)
    assert reader.seeks >= 1  # the 3 s gap was skipped with a seek
    expected = [t for t in sorted(allframes) if any(a - 1e-6 <= t <= b + 1e-6 for a, b in windows)]
    assert [f.t for f in got] == expected
    for f in got:
        assert np.array_equal(f.image, allframes[f.t].image)
        assert f.index == allframes[f.t].index


def test_window_reader_with_fps_override_counts_frames(run: Run) -> None:
    cam = CameraConfig(id="cam1", source=str(run.video), fps=5.0)
    got = list(WindowReader(cam, None, [(2.0, 3.0)], seek_gap=0.5))
    ref = [f for f in open_video(cam) if 2.0 - 1e-6 <= f.t <= 3.0 + 1e-6]
    assert [(f.index, f.t) for f in got] == [(f.index, f.t) for f in ref]
    assert got[0].index == 10


def test_track_index_interpolates_and_respects_gaps(run: Run) -> None:
    log = read_tracklog(run.run_dir / "tracks.parquet")
    table = log.camera_table("cam1")
    sparse = table.filter(np.isin(table["frame"].to_numpy(), [0, 5, 40]))
    idx = TrackIndex(sparse, max_gap=1.0)
    mid = idx.box_at(1, 0.25)  # halfway between frames 0 and 5
    assert mid == pytest.approx(
        tuple((a + b) / 2 for a, b in zip(box_of(1, 0), box_of(1, 5), strict=True))
    )
    assert idx.box_at(1, 2.0) is None  # 0.5 s -> 4.0 s is a 3.5 s gap: lost, not drawn
    assert idx.box_at(1, 4.0) == pytest.approx(box_of(1, 40))
    assert idx.box_at(1, 4.5) is None  # after its last point
    assert idx.cls(1) is ObjectClass.VEHICLE
    trail = TrackIndex(table).trail(1, 3.0, 1.0)
    assert len(trail) == 11 and trail[-1] == pytest.approx((80.0 + 4.0 * 30 - 40.0, 160.0))


def test_annotate_draws_box_in_track_colour_and_dims_others(run: Run) -> None:
    cfg = load_config(run.run_dir / "config.yaml")
    overlay = CameraOverlay.build(cfg, "cam1", None)
    assert [ln.id for ln in overlay.lines] == ["mdl"]  # the site line needs calibration
    img = np.full((H, W, 3), 90, np.uint8)
    idx = TrackIndex(read_tracklog(run.run_dir / "tracks.parquet").camera_table("cam1"))
    out = annotate(img, overlay, idx.at(1.0), highlight={1})
    x1, y1, _, y2 = (round(v) for v in box_of(1, 10))
    assert tuple(out[(y1 + y2) // 2, x1]) == track_colour(1)
    x1b, y1b, _, y2b = (round(v) for v in box_of(2, 10))
    assert tuple(out[(y1b + y2b) // 2, x1b]) != track_colour(2)  # not highlighted: dimmed
    assert np.array_equal(img, np.full((H, W, 3), 90, np.uint8))  # input untouched


def test_site_line_projects_into_calibrated_camera(run: Run) -> None:
    cfg = load_config(run.run_dir / "config.yaml")
    ov = CameraOverlay.build(cfg, "cam2", Homography.fit(CAL_IMAGE, CAL_SITE))
    fence = next(ln for ln in ov.lines if ln.id == "fence")
    assert fence.points[:, 0] == pytest.approx([160.0, 160.0])  # x = 8 m -> 160 px
    (west, (wx, _)), (east, (ex, _)) = fence.labels
    assert (west, east) == ("west", "east") and wx < 160 < ex


def test_evidence_files_per_event(run: Run, evidence: list) -> None:  # type: ignore[type-arg]
    assert [i.event_id for i in evidence] == [e.id for e in run.events]
    for item, ev in zip(evidence, run.events, strict=True):
        assert item.still == f"evidence/{ev.id}.png" and item.clip == f"evidence/{ev.id}.mp4"
        assert item.t_still == pytest.approx(ev.t_start)
        clip = run.run_dir / item.clip
        data = clip.read_bytes()
        assert data.index(b"moov") < data.index(b"mdat")  # +faststart
        with av.open(str(clip)) as c:
            s = c.streams.video[0]
            assert s.codec_context.name == "h264" and s.format.name == "yuv420p"
            n = sum(1 for _ in c.decode(s))
        lo, hi = max(0.0, ev.t_start - 3.0), min(ev.t_end + 3.0, (N_FRAMES - 1) / FPS)
        assert n == item.clip_frames == round((hi - lo) * FPS) + 1


def test_still_shows_the_event_track_highlighted(run: Run, evidence: list) -> None:  # type: ignore[type-arg]
    import cv2

    crossing = evidence[0]
    img = cv2.imread(str(run.run_dir / crossing.still))
    x1, y1, _, y2 = (round(v) for v in box_of(1, 25))  # the frame at t = 2.5 s
    assert tuple(int(v) for v in img[(y1 + y2) // 2, x1]) == track_colour(1)
    assert img[2:12, :].mean() < 60  # the caption band darkens the top


def test_missing_source_is_a_note_not_a_crash(tmp_path: Path) -> None:
    r = make_run(tmp_path, n_frames=12)
    r.video.unlink()
    items = write_evidence(r.run_dir)
    assert all(i.still is None and i.clip is None and "source" in (i.note or "") for i in items)


def test_annotated_video_full_and_highlights(run: Run, tmp_path: Path) -> None:
    full = annotate_video(run.run_dir, tmp_path / "full.mp4", camera="cam1")
    hl = annotate_video(run.run_dir, tmp_path / "hl.mp4", highlights=True, camera="cam1")
    counts = []
    for p in (full, hl):
        with av.open(str(p)) as c:
            counts.append(sum(1 for _ in c.decode(video=0)))
    assert counts[0] == N_FRAMES
    assert counts[1] == round(5.5 * FPS) + 1  # only the crossing's window: 0 .. 5.5 s
    both = annotate_video(run.run_dir, tmp_path / "both.mp4")
    with av.open(str(both)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 2 * N_FRAMES
    assert load_run(run.run_dir).events[0].kind == "crossing"


def test_clip_window_of_long_events_keeps_the_key_moment() -> None:
    from linewatch.evidence import clip_window
    from linewatch.store import StoredEvent

    def ev(kind: str, t0: float, t1: float, **attrs: float) -> StoredEvent:
        return StoredEvent(
            "x", "r", kind, "cam1", (1,), t0, t1, None, None, "z", None, None, attrs, None
        )

    opt = EvidenceOptions(pre_roll=3, post_roll=3, max_clip_seconds=20)
    assert clip_window(ev("crossing", 10, 10), opt) == (7, 13)
    assert clip_window(ev("loitering", 100, 400), opt) == (97, 117)  # from the entry
    assert clip_window(ev("zone_exit", 100, 400), opt) == (383, 403)  # up to the exit
    assert clip_window(ev("speeding", 100, 200, t_max=150), opt) == (147, 167)  # the peak
