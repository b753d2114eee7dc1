"""The ``linewatch`` command: a thin layer over the Python API.

Exit codes: 0 ok; 1 a findings-level failure (e.g. ``verify`` found a changed file);
2 a usage or input error, reported in one line without a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import tzinfo
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from linewatch import __version__

app = typer.Typer(
    name="linewatch",
    help="Boundary-camera footage in, investigation findings out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
eval_app = typer.Typer(help="Evaluate detections, tracks and events against ground truth.")
export_app = typer.Typer(help="Export a run's tracks or events.")
app.add_typer(eval_app, name="eval")
app.add_typer(export_app, name="export")

err = Console(stderr=True)
out = Console()

Fmt = Literal["table", "json", "csv"]


class UsageError(Exception):
    """A user error reported in one line with exit code 2."""


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn the project's expected errors into one-line messages and exit code 2."""
    from linewatch.config import ConfigError
    from linewatch.detect.base import DetectorError
    from linewatch.video import VideoError

    try:
        yield
    except (ConfigError, VideoError, DetectorError, UsageError, FileNotFoundError) as e:
        raise _fail(str(e)) from None


@contextmanager
def _progress_bar(enabled: bool = True) -> Iterator[Callable[[str, int, int | None], None]]:
    """A rich progress bar fed by the pipeline's (camera, done, total) callback."""
    tasks: dict[str, TaskID] = {}
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not enabled,
        transient=False,
    ) as bar:

        def update(camera: str, done: int, total: int | None) -> None:
            if camera not in tasks:
                tasks[camera] = bar.add_task(f"{camera}: analysing", total=total)
            bar.update(tasks[camera], completed=done, total=total)

        yield update


def _version(value: bool) -> None:
    if value:
        out.print(f"linewatch {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    """linewatch: who crossed the line, when, in which direction, and what happened next."""


@app.command()
def analyze(
    config: Annotated[Path, typer.Argument(help="Site config (YAML).")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Run folder to write.")],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Analyse the footage of CONFIG into a run folder (events.db, tracks.parquet, ...)."""
    from linewatch.config import load_config
    from linewatch.pipeline import analyze as run_analysis

    with _user_errors():
        cfg = load_config(config)
        with _progress_bar(not quiet) as progress:
            result = run_analysis(cfg, out_dir, progress)
    for e in result.errors:
        err.print(f"[yellow]warning:[/] {e} (events found before it are kept)", highlight=False)
    counts: dict[str, int] = {}
    for ev in result.events:
        counts[ev.kind] = counts.get(ev.kind, 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no events"
    out.print(f"{out_dir}: {summary}", highlight=False)


@app.command()
def events(
    run_dir: Annotated[Path, typer.Argument(help="Run folder written by `analyze`.")],
    kind: Annotated[str | None, typer.Option(help="Only this event kind.")] = None,
    camera: Annotated[str | None, typer.Option(help="Only this camera.")] = None,
    since: Annotated[
        str | None, typer.Option(help="From this time: seconds or ISO 8601 wall time.")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Until this time: seconds or ISO 8601 wall time.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json or csv.")] = "table",
) -> None:
    """Query a run's events."""
    from linewatch.export import format_events
    from linewatch.store import EventStore

    with _user_errors():
        if fmt not in ("table", "json", "csv"):
            raise UsageError(f"--format must be table, json or csv (got {fmt!r})")
        _require_run(run_dir)
        store = EventStore.for_run(run_dir)
        rows = store.query(kind=kind, camera=camera, since=_time_arg(since), until=_time_arg(until))
        width = out.width if out.is_terminal else 160
        text = format_events(rows, fmt, width=width, tz=_run_timezone(run_dir))
        out.print(text, highlight=False, soft_wrap=True, markup=False, end="")


@app.command()
def rules(
    run_dir: Annotated[Path, typer.Argument(help="Run folder written by `analyze`.")],
    config: Annotated[
        Path | None, typer.Option(help="New config (lines, zones, rules); default: the run's.")
    ] = None,
) -> None:
    """Re-run the rules on a run's stored tracks (no video decoding) and say what changed."""
    from linewatch.pipeline import rerun_rules

    with _user_errors():
        _require_run(run_dir)
        old, new = rerun_rules(run_dir, config)
    old_ids = {e.id for e in old}
    new_ids = {e.id for e in new}
    added = [e for e in new if e.id not in old_ids]
    removed = [e for e in old if e.id not in new_ids]
    out.print(
        f"{len(new)} events ({len(added)} new, {len(removed)} gone, "
        f"{len(new) - len(added)} unchanged)",
        highlight=False,
    )
    for e in added:
        out.print(f"  + {_describe(e.to_dict())}", highlight=False)
    for e in removed:
        out.print(f"  - {_describe(e.to_dict())}", highlight=False)


def _describe(ev: dict[str, Any]) -> str:
    bits = [f"{ev['kind']}", f"{ev['camera']}", f"tracks {ev['track_ids']}"]
    if ev.get("subject"):
        bits.append(str(ev["subject"]))
    if ev.get("direction"):
        bits.append(str(ev["direction"]))
    bits.append(f"t={ev['t_start']:.2f}s")
    return " ".join(bits)


def _require_run(run_dir: Path) -> None:
    if not (run_dir / "events.db").is_file():
        raise UsageError(f"{run_dir}: not a run folder (no events.db); run `linewatch analyze`")


def _run_timezone(run_dir: Path) -> tzinfo | None:
    """The site's timezone from the run's config snapshot (None when unknown or invalid)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    import yaml

    try:
        snap = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
        return ZoneInfo(str(snap["site"]["timezone"]))
    except (OSError, KeyError, TypeError, ValueError, ZoneInfoNotFoundError, yaml.YAMLError):
        return None


def _time_arg(value: str | None) -> float | str | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return value


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for the demo.")] = Path(
        "linewatch-demo"
    ),
    seed: Annotated[int, typer.Option(help="Random seed of the synthetic scene.")] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
    report: Annotated[
        bool, typer.Option("--report/--no-report", help="Build the HTML report too.")
    ] = True,
) -> None:
    """Render the synthetic incident scene, analyse it and print the findings."""
    from linewatch.demo import run_demo

    with _user_errors(), _progress_bar(not as_json) as progress:
        result = run_demo(out_dir, seed=seed, progress=progress, log=err, report=report)
    if as_json:
        sys.stdout.write(json.dumps(result.findings, indent=2) + "\n")
    else:
        result.print(out)


# ---------------------------------------------------------------- evidence, report, custody
@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="Run folder written by `analyze`.")],
    no_evidence: Annotated[
        bool, typer.Option("--no-evidence", help="Do not cut stills and clips.")
    ] = False,
) -> None:
    """Write the evidence, the HTML/JSON report and the manifest of a run folder."""
    from linewatch.manifest import MANIFEST_FILE, sha256_file
    from linewatch.report import build_report

    with _user_errors():
        _require_run(run_dir)
        index = build_report(run_dir, evidence=not no_evidence)
    digest = sha256_file(run_dir / MANIFEST_FILE)
    out.print(f"report: {index}", highlight=False)
    out.print(f"manifest sha256 {digest} (record it outside the run folder)", highlight=False)


@app.command()
def verify(
    run_dir: Annotated[Path, typer.Argument(help="Run folder with a manifest.json.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Check the footage, run files, evidence and report against manifest.json (exit 1 if
    any file changed, is missing or was added)."""
    from linewatch.manifest import ManifestError, verify_run

    with _user_errors():
        try:
            result = verify_run(run_dir)
        except ManifestError as e:
            raise UsageError(str(e)) from None
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
    else:
        for line in result.lines():
            out.print(line, highlight=False, markup=False, soft_wrap=True)
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def annotate(
    run_dir: Annotated[Path, typer.Argument(help="Run folder written by `analyze`.")],
    out_file: Annotated[Path, typer.Option("--out", "-o", help="MP4 file to write.")],
    highlights: Annotated[
        bool, typer.Option("--highlights", help="Only the events' windows.")
    ] = False,
    camera: Annotated[str | None, typer.Option(help="Only this camera.")] = None,
) -> None:
    """Write the footage with boxes, ids, trails, lines, zones and event captions (MP4)."""
    from linewatch.evidence import annotate_video

    with _user_errors():
        _require_run(run_dir)
        path = annotate_video(run_dir, out_file, highlights=highlights, camera=camera)
    out.print(f"annotated video: {path}", highlight=False)


def main() -> None:
    """Entry point of the ``linewatch`` script."""
    app()


# calibration, evaluation and export commands live in cli_tools (registered on import)
from linewatch import cli_tools as _cli_tools  # noqa: E402, F401

if __name__ == "__main__":  # pragma: no cover
    main()
