"""Detector throughput on real footage: decode only, decode+detect, whole pipeline.

For each video and detector, with motion gating off and on, in one run (so the ratios
compare like with like on the same, possibly busy, machine)::

    uv run python bench/bench_detectors.py                       # PETS09 and street, all
    uv run python bench/bench_detectors.py --videos pets09 --detectors yolox --frames 300

Frames per second are over the frames analysed (PETS09 at its real 7 fps), of wall time and
of this process's CPU time; ``--repeat N`` keeps the best of N runs, alternating gating
off/on, so other load on a shared machine disturbs the ratios less. The "pipeline"
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
    """Frames per second of wall time, and of this process's CPU time (all its threads:
    less sensitive to other processes sharing the machine)."""
    t0, c0 = time.perf_counter(), time.process_time()
    n = fn()
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    return {
        "frames": n,
        "seconds": dt,
        "cpu_seconds": dc,
        "fps": n / dt if dt > 0 else float("nan"),
        "cpu_fps": n / dc if dc > 0 else float("nan"),
    }


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


def interleaved(video: str, name: str, threads: int, frames: int | None) -> dict[str, float]:
    """Decode once; per frame run detect + track with gating off and on, alternating which
    goes first, and sum each one's time: both see the same load, so the ratio is stable
    on a busy machine. Returns seconds per frame of decode and of each detect + track."""
    from linewatch.config import CameraConfig
    from linewatch.detect import build_detector
    from linewatch.track.tracker import Tracker
    from linewatch.video import open_video

    cams = [
        CameraConfig.model_validate(camera_config(video, detector_config(name, g, threads), None))
        for g in (False, True)
    ]
    dets = [build_detector(c, None, None) for c in cams]
    trackers = [Tracker(c.tracker, c.id) for c in cams]
    spent = [0.0, 0.0]
    decode = 0.0
    n = 0
    with open_video(cams[0]) as src:
        t0 = time.perf_counter()
        for f in src:
            decode += time.perf_counter() - t0
            for k in (0, 1) if n % 2 else (1, 0):
                t = time.perf_counter()
                trackers[k].update(dets[k].detect(f), f.t, f.index)
                spent[k] += time.perf_counter() - t
            n += 1
            if frames is not None and n >= frames:
                break
            t0 = time.perf_counter()
    return {"frames": n, "decode": decode / n, "off": spent[0] / n, "on": spent[1] / n}


def best(a: dict[str, float] | None, b: dict[str, float]) -> dict[str, float]:
    return b if a is None or b["fps"] > a["fps"] else a


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", default="pets09,street")
    ap.add_argument("--detectors", default="yolox,fastestdet,motion")
    ap.add_argument("--frames", type=int, default=None, help="frames per video (default all)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs per figure, alternating gating off/on; the "
        "best is kept (robust to other load on a shared machine)",
    )
    ap.add_argument("--no-pipeline", action="store_true", help="skip the whole-pipeline runs")
    ap.add_argument(
        "--interleave",
        action="store_true",
        help="also time decode + detect + track with gating off and on frame by frame",
    )
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    if not SHARED.is_dir():
        print(f"needs {SHARED} (footage and models)", file=sys.stderr)
        return 2
    preload()  # imports (scipy, pyarrow, ...) are not part of any figure
    cols = ["detect"] if args.no_pipeline else ["detect", "pipeline"]
    results: list[dict[str, Any]] = []
    for video in args.videos.split(","):
        base = camera_config(video, {"type": "motion"}, args.frames)
        dec = None
        for _ in range(args.repeat):
            dec = best(dec, timed(lambda base=base: run_decode(base, args.frames)))
        assert dec is not None
        print(f"{video}: decode only {dec['fps']:.1f} fps ({dec['frames']:.0f} frames)")
        for name in args.detectors.split(","):
            rows = [
                {"video": video, "detector": name, "gating": g, "decode": dec}
                for g in ((False, True) if name != "motion" else (False,))
            ]
            for r in range(args.repeat):
                for row in rows if r % 2 == 0 else rows[::-1]:
                    cam = camera_config(
                        video, detector_config(name, row["gating"], args.threads), None
                    )
                    row["detect"] = best(
                        row.get("detect"), timed(detect_runner(cam, args.frames, False))
                    )
                    if not args.no_pipeline:
                        row["pipeline"] = best(
                            row.get("pipeline"),
                            timed(lambda cam=cam: run_pipeline(cam, args.frames)),
                        )
            if args.interleave and name != "motion":
                il = interleaved(video, name, args.threads, args.frames)
                dec_s, off_s, on_s = il["decode"], il["off"], il["on"]
                rows[1]["interleaved"] = il
                print(
                    f"  {name:<10} interleaved, ms/frame: decode {1e3 * dec_s:.1f}, "
                    f"detect+track off {1e3 * off_s:.1f} on {1e3 * on_s:.1f}: "
                    f"decode+detect+track x{(dec_s + off_s) / (dec_s + on_s):.2f}"
                )
            for row in rows:
                figs = "  ".join(
                    f"{c} {row[c]['fps']:6.1f} fps (cpu {row[c]['cpu_fps']:6.1f})" for c in cols
                )
                print(f"  {name:<10} gating={'on ' if row['gating'] else 'off'} {figs}")
            results.extend(rows)
    print("\nratios (gating on / off):")
    for on in (r for r in results if r["gating"]):
        off = next(
            r
            for r in results
            if r["video"] == on["video"] and r["detector"] == on["detector"] and not r["gating"]
        )
        parts = []
        for c in cols:
            wall, cpu = on[c]["fps"] / off[c]["fps"], on[c]["cpu_fps"] / off[c]["cpu_fps"]
            parts.append(f"{c} x{wall:.2f} (cpu x{cpu:.2f})")
        print(f"  {on['video']:<7} {on['detector']:<10} " + "  ".join(parts))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
