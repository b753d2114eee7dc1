"""``build_report(run_dir)``: RUN_DIR/report/index.html and report.json, then the manifest.

The page is self-contained: CSS inline, no script, no CDN; stills, clips and figures are
referenced relatively inside the run folder (``../evidence/...``, ``timeline.png``), so the
folder can be copied, archived or served as it is. ``report.json`` holds the same content
for tools (paths there are relative to the run folder).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, FileSystemLoader, select_autoescape

from linewatch import __version__
from linewatch.annotate import CameraOverlay, Image, camera_homography
from linewatch.evidence import (
    EVIDENCE_DIR,
    EvidenceItem,
    EvidenceOptions,
    RunData,
    WindowReader,
    load_run,
    write_evidence,
)
from linewatch.manifest import write_manifest
from linewatch.report import plots
from linewatch.report.findings import full_time, key_findings, sentence
from linewatch.store import StoredEvent

REPORT_DIR = "report"
TEMPLATES = Path(__file__).parent / "templates"


def build_report(
    run_dir: str | Path,
    evidence: bool = True,
    options: EvidenceOptions | None = None,
    manifest: bool = True,
) -> Path:
    """Write the run's report (and missing evidence, and the manifest); returns index.html.

    ``evidence``: write the still and clip of every event that has none yet.
    ``manifest``: write ``manifest.json`` last, covering the report (see manifest.py).
    """
    d = Path(run_dir)
    data = load_run(d)
    out = d / REPORT_DIR
    out.mkdir(parents=True, exist_ok=True)
    items: dict[str, EvidenceItem] = {}
    if evidence:
        todo = [e for e in data.events if _existing(d, e.id) is None]
        if todo:
            items = {i.event_id: i for i in write_evidence(d, options, todo, run=data)}
    content = report_content(data, items)
    (out / "report.json").write_text(
        json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    html = env.get_template("report.html.j2").render(r=content)
    index = out / "index.html"
    index.write_text(html, encoding="utf-8")
    if manifest:
        write_manifest(d)
    return index


def _existing(run_dir: Path, event_id: str) -> dict[str, str | None] | None:
    """The evidence files already there for an event (None when there is no still)."""
    still = next(
        (
            f"{EVIDENCE_DIR}/{event_id}.{ext}"
            for ext in ("jpg", "png")
            if (run_dir / EVIDENCE_DIR / f"{event_id}.{ext}").is_file()
        ),
        None,
    )
    if still is None:
        return None
    clip = f"{EVIDENCE_DIR}/{event_id}.mp4"
    return {"still": still, "clip": clip if (run_dir / clip).is_file() else None}


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _first_frame(data: RunData, camera: str) -> tuple[Image | None, tuple[int, int] | None]:
    cam = data.config.camera(camera)
    if _is_url(cam.source) or not data.config.resolve(cam.source).is_file():
        return None, None
    for frame in WindowReader(cam, data.config.base_dir, [(0.0, 5.0)]):
        return frame.image, frame.size
    return None, None


def _figures(data: RunData) -> dict[str, Any]:
    d, cfg, events = data.run_dir, data.config, data.events
    out = d / REPORT_DIR
    figs: dict[str, Any] = {"image_maps": {}}
    cams = [c.id for c in cfg.cameras]
    figs["timeline"] = _rel(
        d, plots.timeline(events, cams, out / "timeline.png", cfg.site.timezone)
    )
    hs = {c.id: camera_homography(c) for c in cfg.cameras}
    tables = (
        {c: data.tracklog.camera_table(c) for c in cams if c in data.tracklog.cameras}
        if data.tracklog is not None
        else {}
    )
    hot = {(e.camera, t) for e in events for t in e.track_ids}
    if any(h is not None for h in hs.values()):
        figs["site_map"] = _rel(
            d, plots.site_map(cfg, hs, tables, events, out / "site-map.png", hot or None)
        )
    for cam in cfg.cameras:
        if hs[cam.id] is not None:
            continue
        background, size = _first_frame(data, cam.id)
        overlay = CameraOverlay.build(cfg, cam.id, None)
        cam_hot = {t for c, t in hot if c == cam.id} or None
        path = out / f"image-map-{_safe(cam.id)}.png"
        cam_events = [e for e in events if e.camera == cam.id]
        plots.image_map(overlay, tables.get(cam.id), cam_events, background, size, path, cam_hot)
        figs["image_maps"][cam.id] = _rel(d, path)
    calibrated = {c: t for c, t in tables.items() if hs.get(c) is not None}
    chosen: dict[str, list[int]] = {}
    for cam_id, table in calibrated.items():
        ids = sorted({t for c, t in hot if c == cam_id})
        if not ids:  # no finding: the longest tracks
            counts: dict[int, int] = {}
            for tid in table.column("track_id").to_pylist():
                counts[int(tid)] = counts.get(int(tid), 0) + 1
            ids = sorted(sorted(counts, key=lambda i: -counts[i])[:8])
        chosen[cam_id] = ids[:12]
    sp = plots.speed_profiles(
        calibrated, chosen, out / "speeds.png", cfg.rules.speed.window_seconds
    )
    figs["speed_profiles"] = None if sp is None else _rel(d, sp)
    return figs


def _rel(run_dir: Path, path: Path) -> str:
    return path.relative_to(run_dir).as_posix()


def _event_entry(
    data: RunData,
    e: StoredEvent,
    items: dict[str, EvidenceItem],
    classes: dict[tuple[str, int], str],
) -> dict[str, Any]:
    tz = data.config.site.timezone
    ev = e.to_dict()
    ev["sentence"] = sentence(e, classes, tz)
    ev["time"] = full_time(e, tz)
    ev["duration"] = e.t_end - e.t_start
    ev["classes"] = [classes.get((e.camera, t), "object") for t in e.track_ids]
    found = _existing(data.run_dir, e.id)
    item = items.get(e.id)
    ev["evidence"] = {
        "still": None if found is None else found["still"],
        "clip": None if found is None else found["clip"],
        "note": None if item is None else item.note,
    }
    if found is None and item is None:
        ev["evidence"]["note"] = "no evidence written (build the report with evidence)"
    return ev


def report_content(data: RunData, items: dict[str, EvidenceItem] | None = None) -> dict[str, Any]:
    """Everything the report shows, as JSON-ready data (paths relative to the run folder)."""
    d, cfg = data.run_dir, data.config
    classes = data.classes()
    run_json = d / "run.json"
    run: dict[str, Any] = (
        json.loads(run_json.read_text(encoding="utf-8")) if run_json.is_file() else {}
    )
    config_text = (d / "config.yaml").read_text(encoding="utf-8")
    cameras = [
        {
            "id": c.id,
            "source": c.source,
            "calibrated": c.calibration is not None,
            "start_time": None if c.start_time is None else c.start_time.isoformat(),
            "detector": c.detector.type,
        }
        for c in cfg.cameras
    ]
    return {
        "report_format": 1,
        "title": f"linewatch report: {cfg.site.name}",
        "site": {"name": cfg.site.name, "timezone": cfg.site.timezone},
        "run_id": d.resolve().name,
        "software": run.get("software") or {"name": "linewatch", "version": None},
        "report_software": {"name": "linewatch", "version": __version__},
        "findings": key_findings(data.events, classes, cfg.site.timezone),
        "events": [_event_entry(data, e, items or {}, classes) for e in data.events],
        "figures": _figures(data),
        "cameras": cameras,
        "run": run,
        "config": yaml.safe_load(config_text),
        "config_text": config_text,
    }


def _is_url(source: str) -> bool:
    """A live source (``rtsp://...``): no file to cut evidence from or to hash."""
    return "://" in source
