"""Evidence: an annotated still and a short H.264 clip per event, and the annotated video.

``write_evidence(run_dir)`` writes ``RUN_DIR/evidence/<event id>.jpg`` (the frame nearest the
event's start, annotated: boxes and trails of the event's tracks, the lines and zones, a
caption and a burnt-in time) and ``RUN_DIR/evidence/<event id>.mp4`` (``pre_roll`` seconds
before to ``post_roll`` seconds after the event, annotated on every frame; H.264, yuv420p,
``+faststart`` so a browser plays it before it has all of it).

Efficiency: per camera, the windows of all its events are merged and the footage is
decoded once, in order; frames outside every window are decoded but never converted, and
a gap longer than ``seek_gap`` seconds is skipped with a keyframe seek (not when the config
overrides the frame rate: times are then frame counts and need every frame).

Frame times are computed exactly as :mod:`linewatch.video` computes them, so they match the
track log's ``t``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2

from linewatch.annotate import (
    CameraOverlay,
    Image,
    TrackIndex,
    annotate,
    camera_homography,
    fit_width,
    letterbox,
)
from linewatch.clips import ClipWriter, WindowReader
from linewatch.config import CameraConfig, SiteConfig, load_config
from linewatch.report.findings import caption, event_time, frame_stamp
from linewatch.store import EventStore, StoredEvent
from linewatch.tracklog import TrackLog, read_tracklog

EVIDENCE_DIR = "evidence"
_EPS = 1e-6


@dataclass(frozen=True, slots=True)
class EvidenceOptions:
    pre_roll: float = 3.0  # seconds of clip before the event
    post_roll: float = 3.0  # seconds of clip after the event's end
    max_clip_seconds: float = 60.0  # a long event (loitering) gets its first minute
    trail_seconds: float = 3.0  # trail length drawn behind each track
    still_format: str = "jpg"  # "jpg" or "png"
    max_width: int = 1280  # wider footage is scaled down in stills and clips
    crf: int = 23  # x264 quality (lower is better, bigger)
    preset: str = "veryfast"  # x264 speed/size trade-off
    seek_gap: float = 10.0  # skip gaps longer than this with a seek


@dataclass(frozen=True, slots=True)
class EvidenceItem:
    """What was written for one event (paths relative to the run folder)."""

    event_id: str
    camera: str
    still: str | None
    clip: str | None
    t_still: float | None  # stream time of the still's frame
    clip_frames: int
    note: str | None = None  # why something is missing


@dataclass
class RunData:
    """What the evidence and the report read from a run folder."""

    run_dir: Path
    config: SiteConfig
    events: list[StoredEvent]
    tracklog: TrackLog | None
    _indexes: dict[str, TrackIndex] = field(default_factory=dict)

    def index(self, camera: str) -> TrackIndex | None:
        if self.tracklog is None or camera not in self.tracklog.cameras:
            return None
        if camera not in self._indexes:
            self._indexes[camera] = TrackIndex(self.tracklog.camera_table(camera))
        return self._indexes[camera]

    def classes(self) -> dict[tuple[str, int], str]:
        out: dict[tuple[str, int], str] = {}
        for cam in self.config.cameras:
            idx = self.index(cam.id)
            for tid in idx.track_ids if idx is not None else ():
                c = idx.cls(tid) if idx is not None else None
                if c is not None:
                    out[(cam.id, tid)] = c.label
        return out


def load_run(run_dir: str | Path) -> RunData:
    """The run folder's config snapshot, events and track log (None when absent)."""
    d = Path(run_dir)
    cfg = load_config(d / "config.yaml")
    store = EventStore.for_run(d)
    try:
        events = store.query()
    finally:
        store.close()
    tracks = d / "tracks.parquet"
    return RunData(d, cfg, events, read_tracklog(tracks) if tracks.is_file() else None)


# --------------------------------------------------------------------------- evidence
@dataclass
class _Pending:
    event: StoredEvent
    start: float
    end: float
    caption: str
    writer: ClipWriter
    still: tuple[float, Image] | None = None
    still_done: bool = False


def write_evidence(
    run_dir: str | Path,
    options: EvidenceOptions | None = None,
    events: Sequence[StoredEvent] | None = None,
    run: RunData | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[EvidenceItem]:
    """Write a still and a clip for each event (default: every event of the run)."""
    opt = options or EvidenceOptions()
    if opt.still_format not in ("jpg", "png"):
        raise ValueError(f"still_format must be jpg or png, got {opt.still_format!r}")
    data = run or load_run(run_dir)
    todo = list(data.events if events is None else events)
    out_dir = Path(run_dir) / EVIDENCE_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    classes = data.classes()
    items: list[EvidenceItem] = []
    by_cam: dict[str, list[StoredEvent]] = {}
    for ev in todo:
        by_cam.setdefault(ev.camera, []).append(ev)
    for cam_id, evs in by_cam.items():
        try:
            cam = data.config.camera(cam_id)
        except KeyError:
            items += [_missing(e, f"camera {cam_id!r} is not in the config") for e in evs]
            continue
        if _is_url(cam.source) or not data.config.resolve(cam.source).is_file():
            note = f"source not available for evidence: {cam.source}"
            items += [_missing(e, note) for e in evs]
            continue
        items += _camera_evidence(data, cam, evs, classes, opt, out_dir, progress)
    order = {e.id: i for i, e in enumerate(todo)}
    items.sort(key=lambda it: order.get(it.event_id, 0))
    return items


def clip_window(ev: StoredEvent, opt: EvidenceOptions) -> tuple[float, float]:
    """The clip's span: pre-roll before the start to post-roll after the end; a longer one
    than ``max_clip_seconds`` is cut to that length around the event's key moment."""
    a, b = ev.t_start - opt.pre_roll, ev.t_end + opt.post_roll
    if b - a <= opt.max_clip_seconds:
        return a, b
    start = max(a, min(event_time(ev) - opt.pre_roll, b - opt.max_clip_seconds))
    return start, start + opt.max_clip_seconds


def _missing(ev: StoredEvent, note: str) -> EvidenceItem:
    return EvidenceItem(ev.id, ev.camera, None, None, None, 0, note)


def _camera_evidence(
    data: RunData,
    cam: CameraConfig,
    events: list[StoredEvent],
    classes: dict[tuple[str, int], str],
    opt: EvidenceOptions,
    out_dir: Path,
    progress: Callable[[str, int, int], None] | None,
) -> list[EvidenceItem]:
    overlay = CameraOverlay.build(data.config, cam.id, camera_homography(cam))
    index = data.index(cam.id)
    spans = [clip_window(ev, opt) for ev in events]
    reader = WindowReader(cam, data.config.base_dir, spans, opt.seek_gap)
    pending = [
        _Pending(
            ev,
            a,
            b,
            caption(ev, classes),
            ClipWriter(out_dir / f"{ev.id}.mp4", reader.fps, opt.crf, opt.preset),
        )
        for ev, (a, b) in zip(events, spans, strict=True)
    ]
    done = 0
    for frame in reader:
        tracks = index.at(frame.t, opt.trail_seconds) if index is not None else []
        stamp = frame_stamp(cam.id, cam.start_time, frame.t, data.config.site.timezone)
        for p in pending:
            if not (p.start - _EPS <= frame.t <= p.end + _EPS):
                continue
            img = annotate(frame.image, overlay, tracks, set(p.event.track_ids), [p.caption, stamp])
            img = fit_width(img, opt.max_width)
            p.writer.write(img)
            if not p.still_done:
                key = event_time(p.event)
                if p.still is None or abs(frame.t - key) <= abs(p.still[0] - key):
                    p.still = (frame.t, img)
                else:
                    p.still_done = True
        for p in pending:
            if p.writer.is_open and frame.t > p.end + _EPS:
                p.writer.close()
                done += 1
                if progress is not None:
                    progress(cam.id, done, len(pending))
    items = []
    for p in pending:
        p.writer.close()
        still = None
        if p.still is not None:
            still = f"{EVIDENCE_DIR}/{p.event.id}.{opt.still_format}"
            _write_image(data.run_dir / still, p.still[1])
        clip = f"{EVIDENCE_DIR}/{p.event.id}.mp4" if p.writer.frames else None
        note = None if clip else "no frame of the footage falls in the event's window"
        if reader.errors:
            note = "; ".join(reader.errors)
        t_still = None if p.still is None else p.still[0]
        items.append(EvidenceItem(p.event.id, cam.id, still, clip, t_still, p.writer.frames, note))
    return items


def _write_image(path: Path, image: Image) -> None:
    params = [cv2.IMWRITE_JPEG_QUALITY, 90] if path.suffix == ".jpg" else []
    ok, buf = cv2.imencode(path.suffix, image, params)
    if not ok:
        raise OSError(f"{path}: could not encode the image")
    path.write_bytes(buf.tobytes())


# --------------------------------------------------------------------------- video
def annotate_video(
    run_dir: str | Path,
    out: str | Path,
    highlights: bool = False,
    camera: str | None = None,
    options: EvidenceOptions | None = None,
) -> Path:
    """The whole footage (or, with ``highlights``, only the event windows) annotated: every
    track's box, id and trail, the lines and zones, and a caption for the events under way.

    Cameras are written one after the other (all of them unless ``camera`` is given), each
    frame fitted to the first camera's size. Returns ``out``.
    """
    opt = options or EvidenceOptions()
    data = load_run(run_dir)
    classes = data.classes()
    cams = [data.config.camera(camera)] if camera else list(data.config.cameras)
    target = Path(out)
    writer: ClipWriter | None = None
    for cam in cams:
        if _is_url(cam.source) or not data.config.resolve(cam.source).is_file():
            continue
        evs = [e for e in data.events if e.camera == cam.id]
        windows = [clip_window(e, opt) for e in evs] if highlights else [(0.0, math.inf)]
        reader = WindowReader(cam, data.config.base_dir, windows, opt.seek_gap)
        if writer is None:
            writer = ClipWriter(target, reader.fps, opt.crf, opt.preset)
        overlay = CameraOverlay.build(data.config, cam.id, camera_homography(cam))
        index = data.index(cam.id)
        for frame in reader:
            tracks = index.at(frame.t, opt.trail_seconds) if index is not None else []
            live = [e for e in evs if e.t_start - 1.0 <= frame.t <= e.t_end + 2.0]
            lines = [caption(e, classes) for e in live[:3]]
            lines.append(frame_stamp(cam.id, cam.start_time, frame.t, data.config.site.timezone))
            img = fit_width(annotate(frame.image, overlay, tracks, None, lines), opt.max_width)
            writer.write(img if writer.size is None else letterbox(img, writer.size))
    if writer is None or writer.frames == 0:
        raise FileNotFoundError(f"{run_dir}: no footage frame to annotate")
    writer.close()
    return target


def _is_url(source: str) -> bool:
    """A live source (``rtsp://...``): no file to cut evidence from or to hash."""
    return "://" in source
