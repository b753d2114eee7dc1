"""Whole-pipeline throughput against decode-only throughput, measured in one run.

    uv run python bench/bench_pipeline.py                       # street.mp4, motion detector
    uv run python bench/bench_pipeline.py --video PATH --line "215,230,640,230" --repeat 3

Decode-only is PyAV decoding every frame without converting it (the floor any analysis
pays); "analysis" is `linewatch.pipeline.analyze` (decode + BGR conversion + detector +
tracker + track log + rules + event store) with the built-in motion detector. Both are
measured back to back in the same process, best of --repeat, so the ratio is meaningful
on a loaded machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from linewatch.config import parse_config
from linewatch.pipeline import analyze
from linewatch.video import open_video

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--video", type=Path, default=SHARED / "data/street/street.mp4")
    ap.add_argument("--line", default="215,230,640,230", help="x1,y1,x2,y2 image line")
    ap.add_argument("--margin", type=float, default=8.0)
    ap.add_argument("--downscale", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if not args.video.is_file():
        raise SystemExit(f"{args.video}: not found (../shared is needed for this benchmark)")
    x1, y1, x2, y2 = (float(v) for v in args.line.split(","))
    cfg = parse_config(
        {
            "cameras": [
                {
                    "id": "cam",
                    "source": str(args.video),
                    "detector": {"type": "motion", "downscale": args.downscale},
                }
            ],
            "lines": [{"id": "l", "camera": "cam", "points": [[x1, y1], [x2, y2]]}],
            "rules": {"crossing": {"margin": args.margin}},
        }
    )
    cam = cfg.cameras[0]
    decode, full = [], []
    frames = 0
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        with open_video(cam) as src:
            frames = sum(1 for _ in src.decode_only())
        decode.append(frames / (time.perf_counter() - t0))
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            result = analyze(cfg, Path(tmp) / "run")
            full.append(result.cameras[0].frames_analysed / (time.perf_counter() - t0))
    d, f = max(decode), max(full)
    print(f"video: {args.video.name}, {frames} frames, best of {args.repeat}")
    print(f"decode only      : {d:8.1f} frames/s")
    print(f"whole analysis   : {f:8.1f} frames/s (motion detector, downscale {args.downscale})")
    print(f"ratio            : {d / f:8.2f}x slower than decoding alone")


if __name__ == "__main__":
    main()
