"""Side-by-side tracker comparison on PETS09-S2L1 with the same YOLOX-nano detections.

linewatch's tracker against the ``trackers`` package (ByteTrack, SORT, OC-SORT, BoT-SORT;
supervision >= 0.27 no longer ships a ByteTrack of its own, it moved to ``trackers``),
all fed the same cached detections (``bench/cache_detections.py``; computed here when the
cache is missing). Peers get ``frame_rate=7`` (the real rate of PETS09-S2L1) and their
defaults, plus the best ByteTrack setting of a small grid tried on this sequence.
Metrics by ``linewatch.eval.tracks`` (TrackEval).
Throughput is tracker-only (detections already in memory), frames per second.

    uv run python bench/compare_trackers.py                   # markdown table
    uv run python bench/compare_trackers.py --json out.json   # figures as JSON too
    uv run python bench/compare_trackers.py --set '{"max_lost_seconds": 4}'  # try a setting
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cache_detections as cd

from linewatch.config import TrackerConfig
from linewatch.eval.tracks import TrackMetrics, evaluate_tracks, format_table
from linewatch.records import Detections, ObjectClass
from linewatch.track import Tracker

GT = cd.SHARED / "data" / "pets09-s2l1" / "gt.txt"
FPS = 7.0
SIZE = (768, 576)

FrameDets = tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.int64]]
Rows = list[tuple[int, int, float, float, float, float, float]]


def load_detections(path: Path) -> list[FrameDets]:
    if not path.is_file():
        print(f"caching detections to {path} (about 15-40 ms per frame) ...", file=sys.stderr)
        np.savez_compressed(path, **cd.detect_video())  # type: ignore[arg-type]
    return cd.load(path)[1]


def _rows(frame: int, ids: npt.ArrayLike, xyxy: npt.ArrayLike, conf: npt.ArrayLike) -> Rows:
    b = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    out: Rows = []
    for tid, box, c in zip(np.asarray(ids), b, np.asarray(conf), strict=True):
        if int(tid) < 0:
            continue
        out.append(
            (frame + 1, int(tid), box[0], box[1], box[2] - box[0], box[3] - box[1], float(c))
        )
    return out


def run_linewatch(
    frames: Sequence[FrameDets], cfg: TrackerConfig, frame_size: tuple[int, int] | None
) -> tuple[Rows, float]:
    trk = Tracker(cfg, "pets09", frame_size=frame_size)
    rows: Rows = []
    t0 = time.perf_counter()
    for i, (b, s, _) in enumerate(frames):
        up = trk.update(Detections(b, s, np.full(len(b), ObjectClass.PERSON)), i / FPS, i)
        for p in up.points:
            x1, y1, x2, y2 = p.box
            rows.append((p.frame + 1, p.track_id, x1, y1, x2 - x1, y2 - y1, p.score))
    trk.finish()
    return rows, time.perf_counter() - t0


def run_peer(frames: Sequence[FrameDets], make: Callable[[], Any]) -> tuple[Rows, float]:
    import supervision as sv

    trk = make()
    rows: Rows = []
    elapsed = 0.0
    for i, (b, s, c) in enumerate(frames):
        det = sv.Detections(xyxy=b.astype(np.float32), confidence=s, class_id=c.astype(int))
        t0 = time.perf_counter()
        out = trk.update(det)
        elapsed += time.perf_counter() - t0
        rows += _rows(i, out.tracker_id, out.xyxy, out.confidence)
    return rows, elapsed


def peers() -> dict[str, Callable[[], Any]]:
    import trackers

    r = FPS
    return {
        "trackers ByteTrack (defaults)": lambda: trackers.ByteTrackTracker(frame_rate=r),
        # the best of a small grid tried on this sequence (activation 0.6-0.8, buffer
        # 15-90 frames at 30 fps, IoU 0.1-0.2, high 0.5-0.6, 2-3 frames to confirm)
        "trackers ByteTrack (tuned: activation 0.8, buffer 60, IoU 0.2)": lambda: (
            trackers.ByteTrackTracker(
                frame_rate=r,
                track_activation_threshold=0.8,
                lost_track_buffer=60,
                minimum_iou_threshold=0.2,
            )
        ),
        "trackers SORT (defaults)": lambda: trackers.SORTTracker(frame_rate=r),
        "trackers OC-SORT (defaults)": lambda: trackers.OCSORTTracker(frame_rate=r),
        "trackers BoT-SORT (no CMC: fixed camera)": lambda: trackers.BoTSORTTracker(
            frame_rate=r, enable_cmc=False
        ),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--cache", type=Path, default=cd.DEFAULT_OUT)
    ap.add_argument("--set", default="{}", help="TrackerConfig overrides for linewatch, JSON")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ap.add_argument("--ours-only", action="store_true")
    ap.add_argument(
        "--zero-conf",
        choices=["ignore_matched", "drop_gt"],
        default="ignore_matched",
        help="conf-0 gt rows: ignore predictions on them (default) or count them as FP",
    )
    args = ap.parse_args()
    if not GT.is_file():
        raise SystemExit(f"{GT} not found: this bench needs ../shared")
    frames = load_detections(args.cache)
    cfg = TrackerConfig(**json.loads(args.set))

    results: dict[str, TrackMetrics] = {}
    speed: dict[str, dict[str, str]] = {}
    runs: dict[str, Callable[[], tuple[Rows, float]]] = {
        "linewatch Tracker": lambda: run_linewatch(frames, cfg, SIZE),
        "linewatch Tracker (no frame_size)": lambda: run_linewatch(frames, cfg, None),
    }
    if not args.ours_only:
        for name, make in peers().items():
            runs[name] = lambda make=make: run_peer(frames, make)  # type: ignore[misc]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, fn in runs.items():
            rows, dt = fn()
            pred = np.asarray(rows, dtype=np.float64).reshape(-1, 7)
            results[name] = evaluate_tracks(GT, pred, zero_conf=args.zero_conf)
            speed[name] = {"frames/s": f"{len(frames) / max(dt, 1e-9):.0f}"}

    print(f"PETS09-S2L1, {len(frames)} frames at {FPS:g} fps, YOLOX-nano detections ({args.cache})")
    print(format_table(results, speed))
    if args.json:
        args.json.write_text(
            json.dumps({k: {**v.to_dict(), **speed[k]} for k, v in results.items()}, indent=2)
        )


if __name__ == "__main__":
    main()
