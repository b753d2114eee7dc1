"""The demo's findings against its ground truth over many seeds, per detector setting.

For each seed: render the synthetic incident, analyse it (no report) and check every finding
the tests check for seeds 3, 7 and 11 (tests/test_demo.py), with the issue's tolerances:
crossings (count, actor, direction, time within 0.5 s), the vehicle's speed at the crossing
(within 10 %), the temporary incursion (times within 0.5 s, depth within 0.5 m), the pursuit
(leader and followers), and the driver down (one event, t_down and time of assistance
within 0.5 s). Prints one line per seed and the count of seeds fully right.

    uv run python bench/demo_seeds.py                          # seeds 0-20, the demo's config
    uv run python bench/demo_seeds.py --downscale 2            # the motion default instead
    uv run python bench/demo_seeds.py --no-separate-still --seeds 3 7 11
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from linewatch.config import SiteConfig
from linewatch.demo import DemoResult, run_demo

TIME_TOL, DEPTH_TOL, SPEED_TOL = 0.5, 0.5, 0.10


def failures(r: DemoResult) -> list[str]:
    """What does not match the ground truth (empty: every finding right)."""
    bad: list[str] = []
    ev = r.events
    exp = r.truth.expected
    found = sorted((e for e in ev if e["kind"] == "crossing"), key=lambda e: e["t_start"])
    truth = sorted(exp.crossings, key=lambda c: c.t)
    if len(found) != len(truth):
        bad.append(f"{len(found)} crossings, truth {len(truth)}")
    else:
        for e, c in zip(found, truth, strict=True):
            who = r.actors.get(e["track_ids"][0])
            if who != c.actor or e["direction"] != c.direction or abs(e["t_start"] - c.t) > 0.5:
                bad.append(
                    f"crossing {who} {e['direction']} {e['t_start']:.2f}, truth "
                    f"{c.actor} {c.direction} {c.t:.2f}"
                )
    for s in exp.speeds:
        e = next((e for e in found if r.actors.get(e["track_ids"][0]) == s.actor), None)
        v = None if e is None else e["attributes"].get("speed_kmh")
        if v is None or abs(v - s.speed_kmh) > SPEED_TOL * s.speed_kmh:
            bad.append(f"speed {v}, truth {s.speed_kmh:.1f} km/h")
    inc = [e for e in ev if e["kind"] == "incursion"]
    for x in exp.incursions:
        if len(inc) != 1:
            bad.append(f"{len(inc)} incursions")
            continue
        e, a = inc[0], inc[0]["attributes"]
        if (
            abs(e["t_start"] - x.t_cross) > TIME_TOL
            or abs(e["t_end"] - x.t_return) > TIME_TOL
            or abs(a["max_depth"] - x.max_depth) > DEPTH_TOL
        ):
            bad.append(
                f"incursion {e['t_start']:.2f}-{e['t_end']:.2f} {a['max_depth']:.2f} m, "
                f"truth {x.t_cross:.2f}-{x.t_return:.2f} {x.max_depth:.2f} m"
            )
    pur = [e for e in ev if e["kind"] == "pursuit"]
    for p in exp.pursuits:
        names = [r.actors.get(t) for t in pur[0]["track_ids"]] if len(pur) == 1 else None
        if names is None or names[0] != p.leader or set(names[1:]) != set(p.followers):
            bad.append(f"pursuit {names if names else len(pur)}")
    down = [e for e in ev if e["kind"] == "person_down"]
    for d in exp.persons_down:
        if len(down) != 1:
            got = [(e["t_start"], e["attributes"].get("t_assistance")) for e in down]
            bad.append(f"{len(down)} person_down {got}, truth {d.t_down:.2f}, {d.t_assist}")
            continue
        e, a = down[0], down[0]["attributes"]
        t_a = a.get("t_assistance")
        if (
            r.actors.get(e["track_ids"][0]) != d.actor
            or abs(a["t_down"] - d.t_down) > TIME_TOL
            or (d.t_assist is None) != (t_a is None)
            or (t_a is not None and d.t_assist is not None and abs(t_a - d.t_assist) > TIME_TOL)
        ):
            bad.append(
                f"down {a['t_down']:.2f}, assisted {t_a}, truth {d.t_down:.2f}, {d.t_assist:.2f}"
                if d.t_assist is not None
                else "down: unassisted"
            )
    return bad


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="*", default=list(range(21)))
    ap.add_argument("--downscale", type=int, help="override the motion detector's downscale")
    ap.add_argument("--no-separate-still", action="store_true")
    ap.add_argument("--json", type=Path, help="write the per-seed results here")
    args = ap.parse_args(argv)

    def configure(cfg: SiteConfig) -> SiteConfig:
        upd: dict[str, Any] = {}
        if args.downscale is not None:
            upd["downscale"] = args.downscale
        if args.no_separate_still:
            upd["separate_still"] = False
        cams = [
            c.model_copy(update={"detector": c.detector.model_copy(update=upd)})
            for c in cfg.cameras
        ]
        return cfg.model_copy(update={"cameras": cams})

    rows = []
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            r = run_demo(
                Path(tmp), seed=seed, log=Console(quiet=True), report=False, configure=configure
            )
            bad = failures(r)
        rows.append({"seed": seed, "failures": bad, "analysis_s": r.timings["analysis"]})
        print(
            f"seed {seed:3d}: {'right' if not bad else '; '.join(bad)}  "
            f"(analysis {r.timings['analysis']:.1f} s, all {time.perf_counter() - t0:.1f} s)",
            flush=True,
        )
    ok = sum(not row["failures"] for row in rows)
    print(f"{ok} / {len(rows)} seeds with every finding right")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
