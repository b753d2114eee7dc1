"""Re-running the rules with a changed line vs the original analysis: the cost ratio.

Copies RUN_DIR (``rerun_rules`` rewrites the run's events and config snapshot), moves the
first line of its config snapshot by ``--shift`` metres/pixels (a perpendicular move of
the whole line, as an investigator redrawing it would), times
``linewatch.pipeline.rerun_rules`` on the copy (best of ``--repeat``) and divides by the
run's ``perception_seconds`` (run.json: decode + detect + track of the original analysis).
The goal is under 5 %. On a shared machine the two timings can be taken under different
loads: ``--measure-perception`` analyses the footage again (into a temporary folder) right
before the re-runs, so both figures share the same conditions. The CPU time of the process
is reported beside the wall time (less sensitive to other processes on a loaded machine).

``--rules`` also times ``pipeline.reason`` alone (the rule engine over the replayed track
log, without the event store) with all rules, none, and each rule switched on alone (the
incursion rule needs the crossing rule, so its figure includes it).

    uv run python bench/rerun_rules.py /tmp/linewatch-pets-events/run-yolox
    uv run python bench/rerun_rules.py RUN_DIR --repeat 5 --shift 1.0 --json out.json
    uv run python bench/rerun_rules.py RUN_DIR --rules
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from linewatch.config import SiteConfig, load_config
from linewatch.pipeline import analyze, reason, rerun_rules

RULES = ("crossing", "incursion", "zones", "speed", "pursuit", "person_down")


def moved_config(snapshot: Path, shift: float) -> tuple[dict[str, Any], str]:
    """The config snapshot with its first line moved by ``shift`` along its left normal."""
    data = yaml.safe_load(snapshot.read_text(encoding="utf-8"))
    lines = data.get("lines") or []
    if not lines:
        raise SystemExit(f"{snapshot}: the run's config has no line to move")
    pts = np.asarray(lines[0]["points"], dtype=np.float64)
    d = pts[-1] - pts[0]
    normal = np.array([-d[1], d[0]]) / max(float(np.linalg.norm(d)), 1e-12)
    lines[0]["points"] = (pts + normal * shift).round(3).tolist()
    return data, str(lines[0]["id"])


def best_of(repeat: int, fn: Any) -> tuple[float, float]:
    """(wall, CPU) seconds of the fastest of ``repeat`` calls (each the best of its kind)."""
    wall, cpu = [], []
    for _ in range(max(1, repeat)):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return min(wall), min(cpu)


def rule_breakdown(cfg: SiteConfig, tracks: Path, repeat: int) -> dict[str, tuple[float, float]]:
    """``reason`` timed with all rules, none, and each rule alone (wall, CPU seconds)."""
    off = cfg.rules.model_copy(
        update={n: getattr(cfg.rules, n).model_copy(update={"enabled": False}) for n in RULES}
    )
    variants = {"all": cfg.rules, "none": off}
    for n in RULES:
        on = getattr(cfg.rules, n).model_copy(update={"enabled": True})
        variants[n] = off.model_copy(update={n: on})
    out = {}
    for name, rules in variants.items():
        c = cfg.model_copy(update={"rules": rules})
        out[name] = best_of(repeat, lambda c=c: reason(c, tracks))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--shift", type=float, default=1.0, help="move the first line this far")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path)
    ap.add_argument(
        "--measure-perception",
        action="store_true",
        help="analyse the footage again now and use that perception time",
    )
    ap.add_argument("--rules", action="store_true", help="time reason() per rule too")
    args = ap.parse_args(argv)
    run = args.run_dir
    meta_path = run / "run.json"
    if not meta_path.is_file() or not (run / "tracks.parquet").is_file():
        print(f"{run}: not a run folder (run.json, tracks.parquet)", file=sys.stderr)
        return 2
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    perception = float(meta["perception_seconds"])
    frames = sum(int(c.get("frames_analysed", 0)) for c in meta.get("cameras", []))
    times: list[float] = []
    cpu_times: list[float] = []
    counts: tuple[int, int] = (0, 0)
    breakdown: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="lw-rerun-") as tmp:
        if args.measure_perception:
            fresh = analyze(load_config(run / "config.yaml"), Path(tmp) / "fresh")
            print(
                f"perception now: {fresh.perception_seconds:.1f} s (run.json: {perception:.1f} s)"
            )
            perception = fresh.perception_seconds
        data, line_id = moved_config(run / "config.yaml", args.shift)
        cfg_path = Path(tmp) / "moved.yaml"
        cfg_path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        for _ in range(max(1, args.repeat)):
            copy = Path(tmp) / "run"
            if copy.exists():
                shutil.rmtree(copy)
            shutil.copytree(run, copy)
            t0, c0 = time.perf_counter(), time.process_time()
            old, new = rerun_rules(copy, cfg_path)
            times.append(time.perf_counter() - t0)
            cpu_times.append(time.process_time() - c0)
            counts = (len(old), len(new))
        if args.rules:
            breakdown = rule_breakdown(load_config(cfg_path), run / "tracks.parquet", args.repeat)
    best = min(times)
    ratio = best / perception if perception > 0 else float("nan")
    figures = {
        "run_dir": str(run),
        "frames_analysed": frames,
        "perception_seconds": perception,
        "rerun_seconds": times,
        "rerun_best_seconds": best,
        "rerun_cpu_seconds": cpu_times,
        "ratio": ratio,
        "reason_seconds": {k: {"wall": w, "cpu": c} for k, (w, c) in breakdown.items()},
        "moved_line": line_id,
        "shift": args.shift,
        "events_before": counts[0],
        "events_after": counts[1],
    }
    print(
        f"{run}: re-running the rules with line {line_id!r} moved by {args.shift:g} took "
        f"{best:.2f} s (best of {len(times)}) vs perception {perception:.1f} s "
        f"({frames} frames): {100 * ratio:.1f} % (goal < 5 %); events {counts[0]} -> {counts[1]}"
        f"; CPU {min(cpu_times):.2f} s"
    )
    if breakdown:
        base = breakdown["none"]
        parts = [f"all {breakdown['all'][0]:.3f} s (CPU {breakdown['all'][1]:.3f})"]
        parts.append(f"none {base[0]:.3f} (CPU {base[1]:.3f})")
        parts += [f"{n} +{breakdown[n][1] - base[1]:.3f}" for n in RULES]
        print("  reason(): " + ", ".join(parts) + " (per rule: CPU seconds over none)")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
