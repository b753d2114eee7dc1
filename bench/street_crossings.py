"""street.mp4: the line crossings the pipeline reports, against a list made by eye.

street.mp4 (../shared/data/street, 640x352, ~24 fps, 37.7 s) has no ground truth. The
config ``bench/configs/street.yaml`` draws one image line across the road (far side up the
image, near side down). This script

1. runs ``linewatch.pipeline.analyze`` on it (``--reuse``: keep an existing run folder),
2. prints every crossing (time, direction, track, class, box at the crossing),
3. compares them with :data:`BY_EYE`, the vehicle crossings found by stepping through the
   video frame by frame (docs/street.md: how): a reported crossing matches a by-eye one with
   the same direction within ``--tolerance`` seconds (one to one, nearest first); the rest
   are *invented*, the unmatched by-eye crossings *missed*,
4. writes a contact sheet PNG per reported crossing into ``OUT/sheets`` (six frames from
   0.5 s before to 0.75 s after the crossing, the line, the crossing track in colour and
   the other tracks dimmed), so every finding can be checked by eye.

    uv run python bench/street_crossings.py                       # /tmp/street-run
    uv run python bench/street_crossings.py --out /tmp/s2 --reuse
    uv run python bench/street_crossings.py --downscale 1 --min-area-px 150   # variants
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from linewatch.annotate import CameraOverlay, TrackIndex, annotate
from linewatch.config import SiteConfig, load_config
from linewatch.store import EventStore
from linewatch.tracklog import read_tracklog
from linewatch.video import open_video

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CONFIG = ROOT / "bench" / "configs" / "street.yaml"
OFFSETS = (-0.5, -0.25, 0.0, 0.25, 0.5, 0.75)  # sheet frames around the crossing (s)
TILE_SCALE = 0.75

#: Vehicle crossings of the line found by eye (docs/street.md), (t seconds, direction, what).
#: t is when the vehicle's lowest visible point (front bumper / tyres) reaches y = 230,
#: read from frames 1/12 s apart (about +-0.05 s).
BY_EYE: tuple[tuple[float, str, str], ...] = (
    (0.80, "far->near", "white sedan (heavy H.264 block artefacts 0.9-1.6 s)"),
    (3.20, "far->near", "red sedan"),
    (5.33, "far->near", "grey sedan"),
    (7.45, "far->near", "white pickup"),
    (9.90, "far->near", "white SUV"),
    (17.50, "far->near", "black SUV"),
    (19.90, "far->near", "black taxi"),
    (29.74, "far->near", "grey SUV"),
)

Image = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Crossing:
    t: float
    direction: str
    track: int
    cls: str
    box: tuple[float, float, float, float] | None  # last observation before the crossing


def crossings(run_dir: Path) -> list[Crossing]:
    out = []
    for ev in EventStore.for_run(run_dir).query(kind="crossing"):
        d: dict[str, Any] = ev.to_dict()
        obs = (d.get("provenance") or {}).get("observations") or []
        b = [float(v) for v in obs[0]["box"]] if obs else None
        box = None if b is None else (b[0], b[1], b[2], b[3])
        out.append(
            Crossing(
                t=float(d["t_start"]),
                direction=str(d["direction"]),
                track=int(d["track_ids"][0]),
                cls=str(d["attributes"].get("class", "?")),
                box=box,
            )
        )
    return sorted(out, key=lambda c: c.t)


def match(
    found: list[Crossing], truth: tuple[tuple[float, str, str], ...], tolerance: float
) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """(pairs (found index, truth index), invented found indices, missed truth indices)."""
    cand = sorted(
        (abs(f.t - g[0]), i, j)
        for i, f in enumerate(found)
        for j, g in enumerate(truth)
        if f.direction == g[1] and abs(f.t - g[0]) <= tolerance
    )
    used_f: set[int] = set()
    used_g: set[int] = set()
    pairs = []
    for _, i, j in cand:
        if i in used_f or j in used_g:
            continue
        used_f.add(i)
        used_g.add(j)
        pairs.append((i, j))
    invented = [i for i in range(len(found)) if i not in used_f]
    missed = [j for j in range(len(truth)) if j not in used_g]
    return sorted(pairs), invented, missed


def grab_frames(cfg: SiteConfig, times: list[float]) -> dict[float, tuple[float, Image]]:
    """For each wanted time, the decoded frame nearest to it: {wanted: (frame t, image)}."""
    cam = cfg.cameras[0]
    want = np.asarray(sorted(set(times)), dtype=np.float64)
    best: dict[float, tuple[float, Image]] = {}
    if want.size == 0:
        return best
    with open_video(cam, cfg.base_dir) as src:
        for frame in src:
            near = np.flatnonzero(np.abs(want - frame.t) < 0.5)
            for k in near.tolist():
                w = float(want[k])
                if w not in best or abs(frame.t - w) < abs(best[w][0] - w):
                    best[w] = (frame.t, frame.image)
            if frame.t > want[-1] + 0.5:
                break
    return best


def contact_sheet(
    c: Crossing,
    n: int,
    frames: dict[float, tuple[float, Image]],
    overlay: CameraOverlay,
    index: TrackIndex,
    verdict: str,
) -> Image:
    tiles = []
    for off in OFFSETS:
        want = round(c.t + off, 3)
        if want not in frames:
            continue
        ft, img = frames[want]
        caption = [f"#{n} t={ft:.2f}s ({off:+.2f})", f"track {c.track} {c.direction}"]
        if off == 0.0:
            caption.append(verdict)
        tracks = index.at(ft, trail_seconds=1.0)
        out = annotate(img, overlay, tracks, highlight={c.track}, caption=caption)
        tiles.append(cv2.resize(out, None, fx=TILE_SCALE, fy=TILE_SCALE))
    if not tiles:
        return np.zeros((8, 8, 3), dtype=np.uint8)
    h, w = tiles[0].shape[:2]
    cols = 3
    rows = (len(tiles) + cols - 1) // cols
    sheet = np.zeros((rows * (h + 4), cols * (w + 4), 3), dtype=np.uint8)
    for k, tile in enumerate(tiles):
        r, q = divmod(k, cols)
        sheet[r * (h + 4) : r * (h + 4) + h, q * (w + 4) : q * (w + 4) + w] = tile
    return sheet


def variant(cfg: SiteConfig, args: argparse.Namespace) -> SiteConfig:
    """The config with the motion detector's settings overridden from the command line."""
    over = {
        k: v
        for k, v in (
            ("downscale", args.downscale),
            ("min_area_px", args.min_area_px),
            ("var_threshold", args.var_threshold),
            ("separate_still", False if args.no_separate_still else None),
        )
        if v is not None
    }
    if not over:
        return cfg
    cam = cfg.cameras[0]
    det = cam.detector.model_copy(update=over)
    cam = cam.model_copy(update={"detector": det})
    return cfg.model_copy(update={"cameras": [cam]})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", type=Path, default=CONFIG)
    ap.add_argument("--out", type=Path, default=Path("/tmp/street-run"))
    ap.add_argument("--reuse", action="store_true", help="keep the run folder's analysis")
    ap.add_argument("--tolerance", type=float, default=0.6, help="matching window (s)")
    ap.add_argument("--no-sheets", action="store_true", help="skip the contact sheets")
    ap.add_argument("--downscale", type=int, help="override the motion detector's downscale")
    ap.add_argument("--min-area-px", type=float, help="override min_area_px")
    ap.add_argument("--var-threshold", type=float, help="override var_threshold")
    ap.add_argument("--no-separate-still", action="store_true", help="separate_still off")
    ap.add_argument("--json", type=Path, help="write the figures here too")
    args = ap.parse_args(argv)
    if not (SHARED / "data" / "street" / "street.mp4").is_file():
        print(f"street.mp4 not found under {SHARED}", file=sys.stderr)
        return 2
    cfg = variant(load_config(args.config), args)
    if not (args.reuse and (args.out / "tracks.parquet").is_file()):
        from linewatch.pipeline import analyze

        analyze(cfg, args.out)
    run = json.loads((args.out / "run.json").read_text(encoding="utf-8"))
    found = crossings(args.out)
    pairs, invented, missed = match(found, BY_EYE, args.tolerance)
    partner = dict(pairs)
    print(f"{args.out}: {len(found)} crossings (perception {run['perception_seconds']:.1f} s)")
    print(" #      t  direction   track  class   box at crossing        by eye")
    verdicts = []
    for n, c in enumerate(found):
        if n in partner:
            g = BY_EYE[partner[n]]
            verdict = f"= {g[2].split(' (')[0]} ({c.t - g[0]:+.2f} s)"
        else:
            verdict = "INVENTED"
        verdicts.append(verdict)
        box = "-" if c.box is None else "[" + ",".join(f"{v:.0f}" for v in c.box) + "]"
        print(f"{n:2d} {c.t:6.2f}  {c.direction:10s} {c.track:5d}  {c.cls:7s} {box:22s} {verdict}")
    for j in missed:
        print(f"   MISSED by-eye crossing t={BY_EYE[j][0]:.2f} {BY_EYE[j][1]} ({BY_EYE[j][2]})")
    dirs: dict[str, int] = {}
    for c in found:
        dirs[c.direction] = dirs.get(c.direction, 0) + 1
    print(
        f"by eye {len(BY_EYE)}, reported {len(found)} {dirs}: matched {len(pairs)}, "
        f"missed {len(missed)}, invented {len(invented)}"
    )
    if args.json:
        figures = {
            "reported": len(found),
            "directions": dirs,
            "matched": len(pairs),
            "missed": len(missed),
            "invented": len(invented),
            "perception_seconds": run["perception_seconds"],
            "crossings": [
                {"t": c.t, "direction": c.direction, "track": c.track, "verdict": v}
                for c, v in zip(found, verdicts, strict=True)
            ],
        }
        args.json.write_text(json.dumps(figures, indent=1), encoding="utf-8")
    if args.no_sheets or not found:
        return 0
    sheets = args.out / "sheets"
    sheets.mkdir(exist_ok=True)
    for old in sheets.glob("crossing_*.png"):
        old.unlink()
    frames = grab_frames(cfg, [round(c.t + o, 3) for c in found for o in OFFSETS])
    overlay = CameraOverlay.build(cfg, cfg.cameras[0].id, None)
    index = TrackIndex(read_tracklog(args.out / "tracks.parquet").table)
    for n, c in enumerate(found):
        sheet = contact_sheet(c, n, frames, overlay, index, verdicts[n])
        cv2.imwrite(str(sheets / f"crossing_{n:02d}_t{c.t:06.2f}.png"), sheet)
    print(f"contact sheets: {sheets}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
