"""Analysis of a site config's footage into a run folder: perception, then reasoning.

Perception (decode -> detect -> track -> project) runs once per camera and writes the
track log. Reasoning (the rule engine) then replays the track log of every camera merged
in time order. ``linewatch rules`` runs the very same reasoning on a stored track log, so a
re-run with the same config gives the same events (the same ids).
"""

from __future__ import annotations

import heapq
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from linewatch import __version__
from linewatch.config import CameraConfig, SiteConfig, dump_config, load_config
from linewatch.detect import build_detector
from linewatch.geometry import Homography
from linewatch.records import Event, ObjectClass, TrackPoint
from linewatch.rules.engine import RuleEngine
from linewatch.store import EventStore
from linewatch.track.tracker import Tracker
from linewatch.tracklog import TrackLogWriter, replay
from linewatch.video import VideoError, open_video

#: progress callback: (camera id, frames done, frames expected or None)
Progress = Callable[[str, int, int | None], None]

CONFIG_FILE = "config.yaml"
EVENTS_FILE = "events.db"
TRACKS_FILE = "tracks.parquet"
RUN_FILE = "run.json"


@dataclass
class CameraReport:
    camera: str
    frames_decoded: int = 0
    frames_analysed: int = 0
    tracks: int = 0
    seconds: float = 0.0  # processing time (machine clock: a benchmark figure, not a stream time)
    duration: float = 0.0  # stream seconds covered
    errors: list[str] = field(default_factory=list)


@dataclass
class RunResult:
    run_dir: Path
    events: list[Event]
    cameras: list[CameraReport]
    perception_seconds: float
    reasoning_seconds: float
    notes: list[str] = field(default_factory=list)  # the rules' remarks on this run

    @property
    def errors(self) -> list[str]:
        return [f"{c.camera}: {e}" for c in self.cameras for e in c.errors]


def homographies(cfg: SiteConfig) -> dict[str, Homography | None]:
    """Each camera's homography (None when uncalibrated)."""
    out: dict[str, Homography | None] = {}
    for cam in cfg.cameras:
        cal = cam.calibration
        out[cam.id] = None if cal is None else Homography.fit(cal.image, cal.site)
    return out


def _project(points: list[TrackPoint], h: Homography | None) -> list[TrackPoint]:
    if h is None or not points:
        return points
    feet = np.array([p.foot for p in points], dtype=np.float64)
    site = h.to_site(feet)
    return [replace(p, site=(float(s[0]), float(s[1]))) for p, s in zip(points, site, strict=True)]


class StillGuard:
    """Keeps a still tracked object in the background model's foreground.

    Background subtraction learns a person who lies still into the background within
    seconds. For every live track that has *moved* (its foot point travelled more than half
    its box height since it was first seen: a "ghost" left by a parked car that drove off
    never moves, so it is never protected) the guard hands the track's last box to the
    detector's ``freeze`` hook, until the tracker ends the track.

    It also says which of those boxes are *stationary*: a person or a vehicle (the track's
    class) whose foot point has stayed within ``max(2 px, 10 % of the box height)`` of
    where it settled for ``STATIONARY_SECONDS``.
    The detector reports such an object from its own box and finds whoever moves beside
    it separately (a rescuer kneeling by a person lying), instead of one merged blob that
    takes the lying person's track or hides him. A slow walker or crawler keeps moving his
    foot point and is never stationary. Unclassified objects (every object of an
    uncalibrated camera) are never held: on street.mp4, leaf shadows and foliage that had
    jittered and then settled were held as phantom objects to the end of the clip, which
    doubled the track log.
    """

    STATIONARY_SECONDS = 2.0

    def __init__(self) -> None:
        self._first: dict[int, tuple[float, float]] = {}
        self._last: dict[int, TrackPoint] = {}
        self._moved: set[int] = set()
        self._settled: dict[int, tuple[float, float, float]] = {}  # foot x, y and since when

    def update(self, points: list[TrackPoint], ended: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """The boxes to protect (xyxy, full-frame pixels) and which are stationary."""
        for p in points:
            foot = p.foot
            first = self._first.setdefault(p.track_id, foot)
            self._last[p.track_id] = p
            height = max(p.box[3] - p.box[1], 1.0)
            if np.hypot(foot[0] - first[0], foot[1] - first[1]) > 0.5 * height:
                self._moved.add(p.track_id)
            sx, sy, _ = self._settled.setdefault(p.track_id, (foot[0], foot[1], p.t))
            if np.hypot(foot[0] - sx, foot[1] - sy) > max(2.0, 0.1 * height):
                self._settled[p.track_id] = (foot[0], foot[1], p.t)
        for tid in ended:
            self._first.pop(tid, None)
            self._last.pop(tid, None)
            self._moved.discard(tid)
            self._settled.pop(tid, None)
        now = max((p.t for p in points), default=None)
        ids = sorted(self._moved)
        boxes = np.asarray([self._last[t].box for t in ids], dtype=np.float32).reshape(-1, 4)
        stationary = np.array(
            [
                self._last[t].cls in (ObjectClass.PERSON, ObjectClass.VEHICLE)
                and now is not None
                and now - self._settled[t][2] >= self.STATIONARY_SECONDS
                for t in ids
            ],
            dtype=bool,
        )
        return boxes, stationary

    def __len__(self) -> int:
        return len(self._first)


def perceive_camera(
    cam: CameraConfig,
    cfg: SiteConfig,
    h: Homography | None,
    log: TrackLogWriter,
    progress: Progress | None = None,
) -> CameraReport:
    """Decode, detect, track and project one camera's footage into the track log."""
    report = CameraReport(cam.id)
    started = time.perf_counter()
    detector = build_detector(cam, h, cfg.base_dir)
    freeze = getattr(detector, "freeze", None)
    guard = StillGuard()
    live_ids: set[int] = set()
    last_t = 0.0
    with open_video(cam, cfg.base_dir) as src:
        tracker = Tracker(cam.tracker, cam.id, frame_size=src.size)
        total = src.frame_count
        for frame in src:
            dets = detector.detect(frame)
            upd = tracker.update(dets, frame.t, frame.index)
            points = _project(upd.points, h)
            if freeze is not None:
                freeze(*guard.update(points, upd.ended))
            live_ids.update(p.track_id for p in points)
            log.step(cam.id, frame.t, points, upd.ended)
            report.frames_analysed += 1
            last_t = frame.t
            if progress is not None:
                progress(cam.id, frame.index + 1, total)
        report.frames_decoded = src.frames_decoded
        report.errors.extend(src.errors)
    ended = tracker.finish()
    if ended:
        log.step(cam.id, last_t, [], ended)
    report.tracks = len(live_ids)
    report.duration = last_t
    report.seconds = time.perf_counter() - started
    return report


def _merged_steps(
    tracks_path: Path,
) -> Iterator[tuple[str, float, list[TrackPoint], list[int]]]:
    per_camera: dict[str, list[tuple[str, float, list[TrackPoint], list[int]]]] = {}
    for step in replay(tracks_path):  # streams the log (no whole-table read and sort)
        per_camera.setdefault(step[0], []).append(step)
    # each camera's steps are in stream order; merge cameras by time (stable on ties)
    keyed = (
        [(s[1], ci, si, s) for si, s in enumerate(steps)]
        for ci, steps in enumerate(per_camera.values())
    )
    for _, _, _, merged in heapq.merge(*keyed):
        yield merged


def reason(cfg: SiteConfig, tracks_path: Path, notes: list[str] | None = None) -> list[Event]:
    """Run the rule engine over a stored track log (all cameras merged in time order).
    The engine's notes (e.g. "speed needs a calibrated camera") are appended to ``notes``."""
    engine = RuleEngine(cfg, homographies(cfg))
    events: list[Event] = []
    for camera, t, points, ended in _merged_steps(tracks_path):
        events.extend(engine.step(camera, t, points, ended))
    events.extend(engine.finish())
    if notes is not None:
        notes.extend(engine.notes)
    events.sort(key=lambda e: (e.t_start, e.camera, e.id))
    return events


def _snapshot(cfg: SiteConfig) -> SiteConfig:
    """The config with camera sources and model paths made absolute (runs are portable)."""
    cams = []
    for cam in cfg.cameras:
        src = cam.source if "://" in cam.source else str(cfg.resolve(cam.source).resolve())
        upd: dict[str, object] = {"source": src}
        det = cam.detector
        if hasattr(det, "model"):
            upd["detector"] = det.model_copy(update={"model": cfg.resolve(det.model).resolve()})
        cams.append(cam.model_copy(update=upd))
    return cfg.model_copy(update={"cameras": cams})


def analyze(cfg: SiteConfig, out_dir: Path, progress: Progress | None = None) -> RunResult:
    """Analyse every camera of ``cfg`` into ``out_dir`` (created; existing results replaced)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _drop_derived(out_dir)
    snap = _snapshot(cfg)
    (out_dir / CONFIG_FILE).write_text(dump_config(snap), encoding="utf-8")
    hs = homographies(cfg)
    t0 = time.perf_counter()
    reports: list[CameraReport] = []
    with TrackLogWriter(out_dir / TRACKS_FILE) as log:
        for cam in cfg.cameras:
            try:
                reports.append(perceive_camera(cam, cfg, hs[cam.id], log, progress))
            except VideoError as e:
                reports.append(CameraReport(cam.id, errors=[str(e)]))
    t1 = time.perf_counter()
    notes: list[str] = []
    events = reason(cfg, out_dir / TRACKS_FILE, notes)
    t2 = time.perf_counter()
    store = EventStore.for_run(out_dir)
    run_id = out_dir.resolve().name
    store.replace_run(run_id, events, start_times={c.id: c.start_time for c in cfg.cameras})
    result = RunResult(out_dir, events, reports, t1 - t0, t2 - t1, notes)
    _write_run_json(result, cfg)
    return result


def rerun_rules(run_dir: Path, config_path: Path | None = None) -> tuple[list[Event], list[Event]]:
    """Re-run reasoning on a run's track log; returns (old events, new events) and stores
    the new ones. With ``config_path`` the run's config snapshot is replaced by it (its
    cameras' sources are kept from the snapshot's perception)."""
    cfg = load_config(config_path if config_path is not None else run_dir / CONFIG_FILE)
    store = EventStore.for_run(run_dir)
    run_id = run_dir.resolve().name
    old = [se.to_event() for se in store.query()]
    new = reason(cfg, run_dir / TRACKS_FILE)
    store.replace_run(run_id, new, start_times={c.id: c.start_time for c in cfg.cameras})
    _drop_derived(run_dir)
    if config_path is not None:
        (run_dir / CONFIG_FILE).write_text(dump_config(_snapshot(cfg)), encoding="utf-8")
    return old, new


def _drop_derived(run_dir: Path) -> None:
    """Evidence, report and manifest describe the old events: remove them (rebuild with
    ``linewatch report``) so a run folder never shows findings it no longer holds."""
    import shutil

    for name in ("evidence", "report"):
        shutil.rmtree(run_dir / name, ignore_errors=True)
    (run_dir / "manifest.json").unlink(missing_ok=True)


def _write_run_json(result: RunResult, cfg: SiteConfig) -> None:
    meta = {
        "software": {"name": "linewatch", "version": __version__},
        "site": cfg.site.name,
        "cameras": [asdict(c) for c in result.cameras],
        "events": len(result.events),
        "rule_notes": result.notes,
        "perception_seconds": result.perception_seconds,
        "reasoning_seconds": result.reasoning_seconds,
    }
    (result.run_dir / RUN_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
