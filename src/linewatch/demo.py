"""``linewatch demo``: render the synthetic incident, analyse it, report the findings.

The scene re-enacts the motivating case (see ``linewatch.synth.incident``). The demo runs
the default pipeline (motion detector, tracker, every rule) on the rendered video exactly
as ``linewatch analyze`` would on real footage, then names each track after the actor it
is in the ground truth, so the findings can be read against what really happened.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from linewatch.config import SiteConfig, load_config
from linewatch.pipeline import Progress, analyze
from linewatch.report.findings import sentence
from linewatch.store import EventStore
from linewatch.synth.incident import incident_scenario
from linewatch.synth.match import match_tracks
from linewatch.synth.render import render
from linewatch.synth.truth import GroundTruth
from linewatch.tracklog import read_tracklog

#: the kinds the demo prints (per-track speed summaries and zone enter/exit are in the run)
HEADLINE_KINDS = ("crossing", "incursion", "speeding", "pursuit", "person_down", "loitering")


@dataclass
class DemoResult:
    out_dir: Path
    run_dir: Path
    video: Path
    report: Path | None
    truth: GroundTruth
    actors: dict[int, str]  # track id -> actor id in the ground truth
    events: list[dict[str, Any]]
    timezone: str
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def findings(self) -> dict[str, Any]:
        """What ``--json`` prints: events (with the actor each track is), truth, paths."""
        return {
            "run_dir": str(self.run_dir),
            "video": str(self.video),
            "report": None if self.report is None else str(self.report),
            "actors": {str(k): v for k, v in sorted(self.actors.items())},
            "events": self.events,
            "expected": _expected(self.truth),
            "timings_s": {k: round(v, 2) for k, v in self.timings.items()},
        }

    def print(self, console: Console) -> None:
        table = Table(title="linewatch demo: findings on the synthetic incident")
        table.add_column("when", no_wrap=True)
        table.add_column("finding")
        table.add_column("who (ground truth)")
        for ev in self.events:
            if ev["kind"] not in HEADLINE_KINDS:
                continue
            who = ", ".join(f"{t}={self.actors.get(t, '?')}" for t in ev["track_ids"])
            when = f"{ev['t_start']:6.1f} s"
            table.add_row(when, ev["sentence"], who)
        console.print(table)
        n = len(self.events)
        console.print(
            f"{n} events in all (zone entries/exits and per-track speeds included): "
            f"`linewatch events {self.run_dir}`",
            highlight=False,
        )
        if self.report is not None:
            console.print(f"report: {self.report}", highlight=False)
        t = self.timings
        console.print(
            f"render {t.get('render', 0):.1f} s, analysis {t.get('analysis', 0):.1f} s, "
            f"report {t.get('report', 0):.1f} s",
            highlight=False,
        )


def _expected(truth: GroundTruth) -> dict[str, Any]:
    e = truth.expected
    return {
        "crossings": [
            {"actor": c.actor, "line": c.line, "direction": c.direction, "t": float(c.t)}
            for c in e.crossings
        ],
        "incursions": [
            {
                "actor": i.actor,
                "line": i.line,
                "t_cross": float(i.t_cross),
                "t_return": float(i.t_return),
                "max_depth_m": float(i.max_depth),
            }
            for i in e.incursions
        ],
        "speeds": [
            {"actor": s.actor, "line": s.line, "t": float(s.t), "speed_kmh": float(s.speed_kmh)}
            for s in e.speeds
        ],
        "pursuits": [
            {"leader": p.leader, "followers": list(p.followers), "t_start": float(p.t_start)}
            for p in e.pursuits
        ],
        "persons_down": [
            {
                "actor": d.actor,
                "t_down": float(d.t_down),
                "t_assist": None if d.t_assist is None else float(d.t_assist),
            }
            for d in e.persons_down
        ],
    }


def run_demo(
    out_dir: Path,
    seed: int = 7,
    progress: Progress | None = None,
    log: Console | None = None,
    report: bool = True,
    configure: Callable[[SiteConfig], SiteConfig] | None = None,
) -> DemoResult:
    """Render the incident scene into OUT/scene, analyse it into OUT/run, build the report.

    ``configure`` may change the scene's config before the analysis (benchmarks compare
    detector settings with it)."""
    say: Callable[[str], None] = (lambda m: log.print(m, highlight=False)) if log else print
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    say(f"rendering the synthetic incident (seed {seed}) into {out_dir / 'scene'}")
    scene = render(incident_scenario(seed), out_dir / "scene")
    timings["render"] = time.perf_counter() - t0
    cfg = load_config(scene.config)
    if configure is not None:
        cfg = configure(cfg)
    t1 = time.perf_counter()
    run_dir = out_dir / "run"
    analyze(cfg, run_dir, progress)
    timings["analysis"] = time.perf_counter() - t1
    points = list(read_tracklog(run_dir / "tracks.parquet").points())
    actors = match_tracks(scene.ground_truth, points)
    stored = EventStore.for_run(run_dir).query()
    classes = {(p.camera, p.track_id): p.cls.label for p in points}
    events = []
    for se in stored:
        d = se.to_dict()
        d["sentence"] = sentence(se, classes, cfg.site.timezone)
        d["actors"] = [actors.get(t) for t in se.track_ids]
        events.append(d)
    report_path = None
    if report:
        from linewatch.report import build_report

        t2 = time.perf_counter()
        say("building the report (stills, clips, manifest)")
        report_path = build_report(run_dir)
        timings["report"] = time.perf_counter() - t2
    timings["total"] = time.perf_counter() - t0
    return DemoResult(
        out_dir=out_dir,
        run_dir=run_dir,
        video=scene.video,
        report=report_path,
        truth=scene.ground_truth,
        actors=actors,
        events=events,
        timezone=cfg.site.timezone,
        timings=timings,
    )
