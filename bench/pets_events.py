"""PETS09-S2L1 as an event benchmark: line crossings found by the pipeline vs the truth.

1. A site config for the sequence is written into the output folder: one camera (fps 7,
   a calibration of 6 ground-truth foot points and their worldX/worldY, picked spread over
   the image), three lines drawn across (perpendicular to) the walking paths and one zone
   (site metres, the gt's ground frame):

   - ``south_y11`` y = -11 from x = -16 to x = -2 (sides north / south): across the
     north-south paths, near the camera
   - ``north_y1``  y = -1 from x = -12 to x = -3  (sides north / south): across the same
     paths, further from the camera (people about 70 px tall there, 95 px at south_y11)
   - ``east_x1``   x = -1 from y = -12 to y = -5  (sides west / east): across the
     east-west paths (people about 65 px tall)
   - zone ``plaza`` x in [-9, -5], y in [-6, -2]

   ``--along`` adds ``west_x7`` (x = -7, y from -16 to 4), a line *along* the main
   north-south path: people walking within its 0.5 m margin make crossings ill-defined
   (a stress case, not the benchmark).

2. Ground-truth events are derived from gt.txt by the project's rules
   (``linewatch.eval.derive``), 3. ``linewatch.pipeline.analyze`` runs on the video with each
   detector (YOLOX-nano, then the motion detector), 4. events are evaluated
   (``linewatch.eval.events``) and every missed ground-truth crossing is explained from
   the run's track log (not tracked there / id switch / tracked but not counted / late).

    uv run python bench/pets_events.py                       # both detectors
    uv run python bench/pets_events.py --detector yolox --out /tmp/pets-yolox
    uv run python bench/pets_events.py --reuse               # evaluate existing runs only
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from linewatch.config import load_config
from linewatch.eval.derive import derive_events, load_mot_rows
from linewatch.eval.events import EventMetrics, evaluate_events, format_metrics
from linewatch.store import EventStore
from linewatch.tracklog import read_tracklog

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
GT = SHARED / "data" / "pets09-s2l1" / "gt.txt"
VIDEO = SHARED / "data" / "pets09-s2l1" / "vtest.avi"
YOLOX = SHARED / "models" / "yolox-nano" / "yolox_nano.onnx"
FPS = 7.0

#: 6 gt rows (foot point = bottom centre of the box, worldX/worldY), spread over the image
CALIBRATION = {
    "image": [
        [15.835, 202.584],
        [716.06, 574.88],
        [464.76, 203.26],
        [242.9335, 574.5],
        [717.623, 308.04],
        [239.73, 270.808],
    ],
    "site": [
        [-6.541, 7.6544],
        [-17.08, -16.247],
        [-1.8179, -4.7477],
        [-19.689, -11.475],
        [-7.6933, -13.356],
        [-9.4906, -3.2483],
    ],
}
NS = {"left": "north", "right": "south"}  # walking east (+x) along the line
WE = {"left": "west", "right": "east"}  # walking north (+y) along the line
LINES: list[dict[str, Any]] = [
    {"id": "south_y11", "points": [[-16, -11], [-2, -11]], "sides": NS},
    {"id": "north_y1", "points": [[-12, -1], [-3, -1]], "sides": NS},
    {"id": "east_x1", "points": [[-1, -12], [-1, -5]], "sides": WE},
]
ALONG_LINE: dict[str, Any] = {"id": "west_x7", "points": [[-7, -16], [-7, 4]], "sides": WE}
ZONES = [{"id": "plaza", "points": [[-9, -6], [-5, -6], [-5, -2], [-9, -2]]}]
DETECTORS: dict[str, dict[str, Any]] = {
    "yolox": {"type": "yolox", "model": str(YOLOX)},
    "motion": {"type": "motion"},
}


def site_config(detector: str, along: bool = False) -> dict[str, Any]:
    return {
        "site": {"name": f"PETS09-S2L1 ({detector})"},
        "cameras": [
            {
                "id": "view1",
                "source": str(VIDEO),
                "fps": FPS,
                "detector": DETECTORS[detector],
                "calibration": CALIBRATION,
            }
        ],
        "lines": [*LINES, ALONG_LINE] if along else LINES,
        "zones": ZONES,
    }


def write_config(folder: Path, detector: str, along: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"pets09-{detector}.yaml"
    text = yaml.safe_dump(site_config(detector, along), sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- diagnosis
def _gt_position(rows: np.ndarray, track: int, t: float) -> np.ndarray | None:
    tr = rows[rows[:, 1] == track]
    if len(tr) == 0:
        return None
    k = int(np.argmin(np.abs((tr[:, 0] - 1) / FPS - t)))
    if abs((tr[k, 0] - 1) / FPS - t) > 0.5:
        return None
    return tr[k, 7:9]


def _nearest_track(pts: dict[str, np.ndarray], at: np.ndarray, t: float) -> tuple[int, float]:
    sel = np.abs(pts["t"] - t) <= 0.5 / FPS + 1e-6
    if not sel.any():
        return -1, float("inf")
    d = np.hypot(pts["x"][sel] - at[0], pts["y"][sel] - at[1])
    k = int(np.argmin(d))
    return int(pts["id"][sel][k]), float(d[k])


def explain_misses(
    gt: list[dict[str, Any]],
    pred: list[dict[str, Any]],
    metrics: EventMetrics,
    run_dir: Path,
    rows: np.ndarray,
    kind: str = "crossing",
    near_m: float = 1.5,
) -> list[str]:
    """One line per missed gt event of ``kind``: why the run did not report it."""
    tl = read_tracklog(run_dir / "tracks.parquet").table.to_pydict()
    pts = {
        "t": np.asarray(tl["t"], dtype=np.float64),
        "id": np.asarray(tl["track_id"], dtype=np.int64),
        "x": np.asarray([np.nan if v is None else v for v in tl["site_x"]], dtype=np.float64),
        "y": np.asarray([np.nan if v is None else v for v in tl["site_y"]], dtype=np.float64),
    }
    matched = {m.pred: m.gt for m in metrics.matches}
    out = []
    for gi in metrics.missed:
        g = gt[gi]
        if g["kind"] != kind:
            continue
        head = f"gt #{g['track_ids'][0]} {g['subject']} {g['direction']} t={g['t_start']:.2f}s"
        near = [
            (i, p)
            for i, p in enumerate(pred)
            if p["kind"] == kind
            and p.get("subject") == g["subject"]
            and abs(p["t_start"] - g["t_start"]) <= 3.0
        ]
        same = [(i, p) for i, p in near if p.get("direction") == g["direction"]]
        taken = [(i, p) for i, p in same if abs(p["t_start"] - g["t_start"]) <= metrics.tolerance_s]
        if taken:
            owners = ", ".join(
                f"gt #{gt[matched[i]]['track_ids'][0]}" for i, _ in taken if i in matched
            )
            out.append(
                f"{head}: the run's crossing here counts for {owners} (one track for "
                "people crossing together)"
            )
            continue
        if same:
            dts = ", ".join(f"{p['t_start'] - g['t_start']:+.2f}s" for _, p in same)
            out.append(f"{head}: reported outside the tolerance ({dts})")
            continue
        if near:
            dts = ", ".join(f"{p['t_start'] - g['t_start']:+.2f}s" for _, p in near)
            out.append(f"{head}: reported with the other direction only ({dts})")
            continue
        probes: list[tuple[float, int | None, float]] = []  # (dt, nearest track, distance)
        for dt in (-1.0, 0.0, 1.0):
            pos = _gt_position(rows, int(g["track_ids"][0]), g["t_start"] + dt)
            if pos is None:  # the person is not annotated then (left the view, footage end)
                continue
            tid, d = _nearest_track(pts, pos, g["t_start"] + dt)
            probes.append((dt, tid if d <= near_m else None, d))
        desc = ", ".join(
            f"{dt:+.0f}s: " + ("none" if i is None else f"#{i} at {d:.1f} m") for dt, i, d in probes
        )
        ids = [i for _, i, _ in probes]
        if all(i is None for i in ids):
            why = f"no track within {near_m} m of the person (not detected, or its box is off)"
        elif None in ids:
            why = f"no track within {near_m} m of the person at some probes (lost or box off)"
        elif len(set(ids)) > 1:
            why = "id switch at the crossing (a track starting beyond the line has no crossing)"
        else:
            why = "tracked through it but not counted (margin / hold / track started late)"
        out.append(f"{head}: {why} [{desc}]")
    return out


# --------------------------------------------------------------------------- main
def run_one(
    detector: str, out: Path, gt_events: list[dict[str, Any]], args: argparse.Namespace
) -> tuple[Path, list[dict[str, Any]], EventMetrics, float | None]:
    """Analyse (or, with --reuse, re-run the rules on the stored track log) and evaluate."""
    from linewatch.pipeline import analyze, rerun_rules

    cfg_path = write_config(out, detector, args.along)
    run_dir = out / f"run-{detector}"
    if args.reuse and (run_dir / "tracks.parquet").is_file():
        rerun_rules(run_dir, cfg_path)
    else:
        analyze(load_config(cfg_path), run_dir)
    perception = json.loads((run_dir / "run.json").read_text())["perception_seconds"]
    pred = [e.to_dict() for e in EventStore.for_run(run_dir).query()]
    metrics = evaluate_events(gt_events, pred, tolerance_s=args.tolerance)
    return run_dir, pred, metrics, perception


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("/tmp/linewatch-pets-events"))
    ap.add_argument("--detector", choices=[*DETECTORS, "all"], default="all")
    ap.add_argument("--tolerance", type=float, default=1.0)
    ap.add_argument(
        "--reuse", action="store_true", help="re-run the rules on existing runs (no video)"
    )
    ap.add_argument("--along", action="store_true", help="add the line along the main path")
    ap.add_argument("--json", type=Path, help="write the figures here too")
    args = ap.parse_args(argv)
    if not GT.is_file() or not VIDEO.is_file():
        print(f"PETS09-S2L1 not found under {SHARED}", file=sys.stderr)
        return 2
    cfg = load_config(write_config(args.out, "motion", args.along))
    gt_events = [e.to_dict() for e in derive_events(GT, cfg, fps=FPS)]
    (args.out / "gt_events.json").write_text(json.dumps(gt_events, indent=1), encoding="utf-8")
    rows = load_mot_rows(GT)
    figures: dict[str, Any] = {"config": site_config("yolox", args.along)}
    figures["gt_events"] = len(gt_events)
    names = list(DETECTORS) if args.detector == "all" else [args.detector]
    for det in names:
        run_dir, pred, metrics, perception = run_one(det, args.out, gt_events, args)
        c = metrics.per_kind.get("crossing")
        print(f"\n== {det}: {run_dir} (perception {perception:.1f} s)")
        print(format_metrics(metrics))
        if c is not None:
            print(
                f"crossing: precision {c.precision:.3f} recall {c.recall:.3f} F1 {c.f1:.3f} "
                f"({c.tp} of {c.tp + c.fn} gt, {c.fp} false alarms)"
            )
        for line in explain_misses(gt_events, pred, metrics, run_dir, rows):
            print("  missed " + line)
        for pi in metrics.false_alarms:
            p = pred[pi]
            if p["kind"] == "crossing":
                print(
                    f"  false alarm track {p['track_ids']} {p['subject']} {p['direction']} "
                    f"t={p['t_start']:.2f}s"
                )
        figures[det] = {"perception_seconds": perception, **metrics.to_dict()}
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
