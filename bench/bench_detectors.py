"""Detector throughput on real footage: decode only, decode+detect, whole pipeline.

For each video and detector, with motion gating off and on, in one run (so the ratios
compare like with like on the same, possibly busy, machine)::

    uv run python bench/bench_detectors.py                       # PETS09 and street, all
    uv run python bench/bench_detectors.py --videos pets09 --detectors yolox --frames 300

Frames per second are over the frames analysed (PETS09 at its real 7 fps). The "pipeline"
column runs :func:`linewatch.pipeline.analyze` (decode, detect, track, rules, track log,
event store) when that module is importable, else decode+detect+tracker. Needs ../shared
(footage and models); this is a benchmark, not a test: nothing is asserted. ``--json``
writes the figures to a file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

VIDEOS: dict[str, tuple[str, float | None]] = {
    "pets09": ("data/pets09-s2l1/vtest.avi", 7.0),
    "street": ("data/street/street.mp4", None),
}
MODELS = {
    "yolox": ("yolox", "models/yolox-nano/yolox_nano.onnx", {"person": 0.6}),
    "fastestdet": ("fastestdet", "models/fastestdet/FastestDet.onnx", {}),
}


def detector_config(name: str, gating: bool, threads: int) -> dict[str, Any]:
    if name == "motion":
        return {"type": "motion"}
    kind, path, thresholds = MODELS[name]
    return {
        "type": kind,
        "model": str(SHARED / path),
        "threads": threads,
        "motion_gating": gating,
        "class_thresholds": thresholds,
    }


def camera_config(video: str, det: dict[str, Any], frames: int | None) -> dict[str, Any]:
    path, fps = VIDEOS[video]
    cam: dict[str, Any] = {"id": video, "source": str(SHARED / path), "detector": det}
    if fps is not None:
        cam["fps"] = fps
    return cam


def timed(fn: Callable[[], int]) -> dict[str, float]:
    t0 = time.perf_counter()
    n = fn()
    dt = time.perf_counter() - t0
    return {"frames": n, "seconds": dt, "fps": n / dt if dt > 0 else float("nan")}


def run_decode(cam: dict[str, Any], frames: int | None) -> int:
    from linewatch.config import CameraConfig
    from linewatch.video import open_video

    n = 0
    with open_video(CameraConfig.model_validate(cam)) as src:
        for _ in src:
            n += 1
            if frames is not None and n >= frames:
                break
    return n


def detect_runner(cam: dict[str, Any], frames: int | None, track: bool) -> Callable[[], int]:
    """Decode + detect (+ track): the detector is built before the clock starts."""
    from linewatch.config import CameraConfig
    from linewatch.detect import build_detector
    from linewatch.video import open_video

    c = CameraConfig.model_validate(cam)
    det = build_detector(c, None, None)

    def run() -> int:
        tracker = None
        if track:
            from linewatch.track.tracker import Tracker

            tracker = Tracker(c.tracker, c.id)
        n = 0
        with open_video(c) as src:
            for f in src:
                d = det.detect(f)
                if tracker is not None:
                    tracker.update(d, f.t, f.index)
                n += 1
                if frames is not None and n >= frames:
                    break
        return n

    return run


def run_pipeline(cam: dict[str, Any], frames: int | None) -> int:
    """The whole pipeline over the whole video (``frames`` only limits the fallback)."""
    try:
        from linewatch.config import parse_config
        from linewatch.pipeline import analyze
    except ImportError:
        return detect_runner(cam, frames, track=True)()
    cfg = parse_config({"cameras": [cam]})
    with tempfile.TemporaryDirectory() as tmp:
        result = analyze(cfg, Path(tmp) / "run")
    return sum(c.frames_analysed for c in result.cameras)


def preload() -> None:
    import importlib

    for mod in ("linewatch.video", "linewatch.detect.onnx", "linewatch.detect.gating"):
        importlib.import_module(mod)
    for mod in ("linewatch.pipeline", "linewatch.track.tracker", "linewatch.detect.motion"):
        with contextlib.suppress(ImportError):
            importlib.import_module(mod)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", default="pets09,street")
    ap.add_argument("--detectors", default="yolox,fastestdet,motion")
    ap.add_argument("--frames", type=int, default=None, help="frames per video (default all)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-pipeline", action="store_true", help="skip the whole-pipeline runs")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    if not SHARED.is_dir():
        print(f"needs {SHARED} (footage and models)", file=sys.stderr)
        return 2
    preload()  # imports (scipy, pyarrow, ...) are not part of any figure
    results: list[dict[str, Any]] = []
    for video in args.videos.split(","):
        base = camera_config(video, {"type": "motion"}, args.frames)
        dec = timed(lambda base=base: run_decode(base, args.frames))
        print(f"{video}: decode only {dec['fps']:.1f} fps ({dec['frames']} frames)")
        for name in args.detectors.split(","):
            for gating in (False, True) if name != "motion" else (False,):
                cam = camera_config(video, detector_config(name, gating, args.threads), None)
                row: dict[str, Any] = {"video": video, "detector": name, "gating": gating}
                row["decode"] = dec
                row["detect"] = timed(detect_runner(cam, args.frames, False))
                if not args.no_pipeline:
                    row["pipeline"] = timed(lambda cam=cam: run_pipeline(cam, args.frames))
                results.append(row)
                cols = ["detect", "pipeline"] if not args.no_pipeline else ["detect"]
                figs = "  ".join(f"{c} {row[c]['fps']:6.1f} fps" for c in cols)
                print(f"  {name:<10} gating={'on ' if gating else 'off'} {figs}")
    print("\nratios (gating on / off):")
    for on in (r for r in results if r["gating"]):
        off = next(
            r
            for r in results
            if r["video"] == on["video"] and r["detector"] == on["detector"] and not r["gating"]
        )
        parts = [
            f"{c} x{on[c]['fps'] / off[c]['fps']:.2f}" for c in ("detect", "pipeline") if c in on
        ]
        print(f"  {on['video']:<7} {on['detector']:<10} " + "  ".join(parts))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
