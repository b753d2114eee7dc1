"""``linewatch calibrate``, ``linewatch eval tracks|detections|events|derive`` and
``linewatch export mot|json|csv``.

Registered on the groups defined in :mod:`linewatch.cli` (imported there, at its end).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from linewatch.tracklog import TrackLog

from linewatch.cli import (
    UsageError,
    _require_run,
    _user_errors,
    app,
    err,
    eval_app,
    export_app,
    out,
)


@eval_app.command("tracks")
def eval_tracks(
    pred: Annotated[Path, typer.Argument(help="Run folder, or a MOT-format file of tracks.")],
    gt: Annotated[Path, typer.Option("--gt", help="MOT-format ground truth (gt.txt).")],
    camera: Annotated[
        str | None, typer.Option(help="Camera of the run to evaluate (default: the only one).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
) -> None:
    """HOTA, IDF1, MOTA (DetA, AssA, ID switches, fragmentations) against MOT ground truth."""
    from linewatch.eval.tracks import evaluate_tracks, format_table

    with _user_errors():
        if not gt.is_file():
            raise UsageError(f"{gt}: ground-truth file not found")
        if pred.is_dir():
            log, cam = _run_log(pred, camera)
            metrics = evaluate_tracks(gt, [p for p in log.points() if p.camera == cam])
        elif pred.is_file():
            metrics = evaluate_tracks(gt, pred)
        else:
            raise UsageError(f"{pred}: neither a run folder nor a MOT file")
    if as_json:
        sys.stdout.write(metrics.to_json() + "\n")
    else:
        out.print(format_table({pred.name: metrics}), highlight=False, markup=False)


def _run_log(run_dir: Path, camera: str | None) -> tuple[TrackLog, str]:
    """A run's track log and the camera to use (the only one when none is named)."""
    from linewatch.tracklog import read_tracklog

    tracks = run_dir / "tracks.parquet"
    if not tracks.is_file():
        raise UsageError(f"{run_dir}: no tracks.parquet (not a run folder?)")
    log = read_tracklog(tracks)
    cams = list(log.cameras)
    if camera is None:
        if len(cams) != 1:
            raise UsageError(f"the run has cameras {cams}: choose one with --camera")
        camera = cams[0]
    elif camera not in cams:
        raise UsageError(f"no camera {camera!r} in the run (cameras: {cams})")
    return log, camera


@eval_app.command("detections")
def eval_detections(
    gt: Annotated[Path, typer.Option("--gt", help="MOT-format ground truth (gt.txt).")],
    video: Annotated[Path, typer.Option("--video", help="The footage the gt describes.")],
    config: Annotated[
        Path | None,
        typer.Option(help="Site config whose first camera's detector to use (default: motion)."),
    ] = None,
    camera: Annotated[str | None, typer.Option(help="Camera of --config to take.")] = None,
    fps: Annotated[float | None, typer.Option(help="Real frame rate (PETS09: 7).")] = None,
    frame_offset: Annotated[int, typer.Option(help="gt frame number of video frame index 0.")] = 1,
    iou: Annotated[float, typer.Option(help="IoU for a match.")] = 0.5,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
) -> None:
    """Per-class precision, recall (IoU 0.5) and AP of a detector against MOT boxes."""
    from linewatch.config import DetectorConfig, MotionDetectorConfig, load_config
    from linewatch.eval.detections import evaluate_detections

    with _user_errors():
        for p in (gt, video):
            if not p.is_file():
                raise UsageError(f"{p}: not found")
        det_cfg: DetectorConfig = MotionDetectorConfig()
        if config is not None:
            cfg = load_config(config)
            cam = cfg.camera(camera) if camera else cfg.cameras[0]
            det_cfg = cam.detector
            model = getattr(det_cfg, "model", None)
            if model is not None:
                det_cfg = det_cfg.model_copy(update={"model": cfg.resolve(model)})
        metrics = evaluate_detections(
            gt, video, det_cfg, frame_offset=frame_offset, fps=fps, iou=iou
        )
    if as_json:
        sys.stdout.write(metrics.to_json() + "\n")
    else:
        out.print(metrics.table(), highlight=False, markup=False)


@export_app.command("mot")
def export_mot_cmd(
    run_dir: Annotated[Path, typer.Argument(help="Run folder.")],
    out_file: Annotated[Path, typer.Option("--out", "-o", help="MOT file to write.")],
    camera: Annotated[str | None, typer.Option(help="Camera (default: the only one).")] = None,
    frame_offset: Annotated[int, typer.Option(help="MOT frame of video frame 0.")] = 1,
) -> None:
    """Write a camera's tracks in MOTChallenge format (frame,id,left,top,w,h,conf,-1,-1,-1)."""
    from linewatch.export import export_mot

    with _user_errors():
        log, cam = _run_log(run_dir, camera)
        n = export_mot(log, cam, out_file, frame_offset)
    err.print(f"wrote {n} rows to {out_file}", highlight=False)


def _export_events(run_dir: Path, fmt: str, out_file: Path | None) -> None:
    from linewatch.export import format_events
    from linewatch.store import EventStore

    with _user_errors():
        _require_run(run_dir)
        text = format_events(EventStore.for_run(run_dir).query(), fmt)
    if out_file is None:
        sys.stdout.write(text)
    else:
        out_file.write_text(text, encoding="utf-8")
        err.print(f"wrote {out_file}", highlight=False)


@export_app.command("json")
def export_json(
    run_dir: Annotated[Path, typer.Argument(help="Run folder.")],
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", help="File (default: stdout).")
    ] = None,
) -> None:
    """Write all of a run's events as a JSON list."""
    _export_events(run_dir, "json", out_file)


@export_app.command("csv")
def export_csv(
    run_dir: Annotated[Path, typer.Argument(help="Run folder.")],
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", help="File (default: stdout).")
    ] = None,
) -> None:
    """Write all of a run's events as CSV (attributes JSON-encoded)."""
    _export_events(run_dir, "csv", out_file)


@app.command()
def calibrate(
    config: Annotated[Path, typer.Argument(help="Site config (YAML).")],
    camera: Annotated[str, typer.Option("--camera", "-c", help="Camera id.")],
    out_file: Annotated[Path, typer.Option("--out", "-o", help="Image to write (PNG/JPEG).")],
    frame: Annotated[int, typer.Option("--frame", help="Frame index to draw on.")] = 0,
    minor: Annotated[float, typer.Option(help="Thin grid lines every this many m.")] = 1.0,
    major: Annotated[float, typer.Option(help="Labelled grid lines every this many m.")] = 5.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the errors as JSON.")] = False,
) -> None:
    """Draw the site grid, lines and zones over a frame, and print the reprojection error."""
    import cv2

    from linewatch.calibrate import draw_calibration, format_report, read_frame
    from linewatch.config import load_config

    with _user_errors():
        cfg = load_config(config)
        if camera not in {c.id for c in cfg.cameras}:
            raise UsageError(f"no camera {camera!r} in {config}")
        try:
            image, report = draw_calibration(
                read_frame(cfg, camera, frame).image, cfg, camera, minor, major
            )
        except ValueError as e:
            raise UsageError(str(e)) from None
        if not cv2.imwrite(str(out_file), image):
            raise UsageError(f"cannot write {out_file} (folder missing or unknown extension?)")
    if as_json:
        sys.stdout.write(json.dumps(None if report is None else report.to_dict(), indent=1))
        sys.stdout.write("\n")
    elif report is None:
        out.print(f"{camera}: no calibration (only its image lines and zones are drawn)")
    else:
        out.print(format_report(report), highlight=False, markup=False)
    err.print(f"wrote {out_file}", highlight=False)


@eval_app.command("events")
def eval_events(
    run_dir: Annotated[Path, typer.Argument(help="Run folder written by `analyze`.")],
    gt: Annotated[Path, typer.Option("--gt", help="Ground-truth events (JSON list).")],
    tolerance: Annotated[float, typer.Option(help="Time tolerance (s).")] = 1.0,
    kind: Annotated[
        list[str] | None, typer.Option(help="Evaluate this kind (repeatable; default: gt's).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
) -> None:
    """Precision, recall, F1 and timing error of a run's events against ground truth."""
    from linewatch.eval.events import evaluate_events, format_metrics, load_events_json
    from linewatch.store import EventStore

    with _user_errors():
        _require_run(run_dir)
        try:
            truth = load_events_json(gt)
            pred = [e.to_dict() for e in EventStore.for_run(run_dir).query()]
            metrics = evaluate_events(truth, pred, tolerance, kind or None)
        except ValueError as e:
            raise UsageError(str(e)) from None
    if as_json:
        sys.stdout.write(json.dumps(metrics.to_dict(), indent=1) + "\n")
    else:
        out.print(format_metrics(metrics), highlight=False, markup=False)


@eval_app.command("derive")
def eval_derive(
    gt_tracks: Annotated[Path, typer.Option("--gt-tracks", help="MOT ground-truth tracks.")],
    config: Annotated[Path, typer.Option("--config", help="Site config (lines, zones).")],
    camera: Annotated[str | None, typer.Option(help="Camera (default: the only one).")] = None,
    fps: Annotated[
        float | None, typer.Option(help="Frame rate of the gt (default: the camera's fps).")
    ] = None,
    world: Annotated[
        bool, typer.Option("--world", help="Site points from the gt's worldX/worldY.")
    ] = False,
    evaluated_only: Annotated[
        bool, typer.Option("--evaluated-only", help="Drop gt rows with conf 0.")
    ] = False,
    out_file: Annotated[Path | None, typer.Option("--out", "-o", help="JSON to write.")] = None,
) -> None:
    """Derive ground-truth events (crossings, incursions, zones) from ground-truth tracks."""
    from linewatch.config import load_config
    from linewatch.eval.derive import derive_events

    with _user_errors():
        cfg = load_config(config)
        try:
            found = derive_events(gt_tracks, cfg, camera, fps, world, evaluated_only)
        except ValueError as e:
            raise UsageError(str(e)) from None
    text = json.dumps([e.to_dict() for e in found], indent=1) + "\n"
    if out_file is None:
        sys.stdout.write(text)
        return
    out_file.write_text(text, encoding="utf-8")
    counts: dict[str, int] = {}
    for ev in found:
        counts[ev.kind] = counts.get(ev.kind, 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no events"
    out.print(f"{out_file}: {summary}", highlight=False)
