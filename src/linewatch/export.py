"""Findings and tracks in the formats people and tools read.

- ``format_events(events, fmt)``: ``table`` (rich, human times), ``json`` (a list of
  ``StoredEvent.to_dict()``), ``csv`` (flat columns; attributes and provenance as JSON).
- ``export_mot(tracklog, camera, path)``: MOTChallenge rows
  ``frame,id,left,top,width,height,conf,-1,-1,-1`` for one camera.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Literal

from rich.console import Console
from rich.table import Table

from linewatch.store import StoredEvent
from linewatch.tracklog import TrackLog

EventFormat = Literal["table", "json", "csv"]
FORMATS: tuple[EventFormat, ...] = ("table", "json", "csv")
CSV_COLUMNS = (
    "id",
    "kind",
    "camera",
    "track_ids",
    "t_start",
    "t_end",
    "wall_start",
    "wall_end",
    "subject",
    "direction",
    "location_x",
    "location_y",
    "attributes",
    "rule",
    "provenance",
)


def format_events(
    events: Sequence[StoredEvent], fmt: str = "table", width: int = 140, tz: tzinfo | None = None
) -> str:
    """The events as text in ``fmt`` (``table``, ``json`` or ``csv``); ``tz``: the zone the
    table shows wall times in (the site's), UTC by default."""
    if fmt == "json":
        return json.dumps([e.to_dict() for e in events], indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        return _csv(events)
    if fmt == "table":
        buf = io.StringIO()
        console = Console(file=buf, width=width, color_system=None, force_terminal=False)
        console.print(event_table(events, tz))
        return buf.getvalue()
    raise ValueError(f"unknown format {fmt!r}; allowed: {', '.join(FORMATS)}")


def event_table(events: Sequence[StoredEvent], tz: tzinfo | None = None) -> Table:
    """A rich table of events (for a terminal: print it with a rich console)."""
    table = Table(title=f"{len(events)} event{'s' if len(events) != 1 else ''}")
    for name, justify in (
        ("start", "left"),
        ("duration", "right"),
        ("kind", "left"),
        ("camera", "left"),
        ("line/zone", "left"),
        ("direction", "left"),
        ("tracks", "left"),
        ("id", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for e in events:
        table.add_row(
            human_time(e.wall_start, e.t_start, tz),
            f"{e.t_end - e.t_start:.1f} s",
            e.kind,
            e.camera,
            e.subject or "",
            e.direction or "",
            " ".join(str(i) for i in e.track_ids),
            e.id,
        )
    return table


def human_time(wall: str | None, t: float, tz: tzinfo | None = None) -> str:
    """``2024-05-01 10:00:03.5 UTC`` when the wall time is known, else ``12.35 s``; with
    ``tz`` the time is shown in that zone (``+0900``)."""
    if wall is None:
        return f"{t:.2f} s"
    dt = datetime.fromisoformat(wall)
    if tz is not None and dt.tzinfo is not None:
        dt = dt.astimezone(tz)
    text = dt.strftime("%Y-%m-%d %H:%M:%S.%f")[:-5]
    if dt.tzinfo is not None:
        offset = dt.utcoffset()
        text += " UTC" if offset is not None and not offset else dt.strftime(" %z")
    return text


def _csv(events: Sequence[StoredEvent]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for e in events:
        loc = e.location or ()
        prov = e.provenance
        writer.writerow(
            [
                e.id,
                e.kind,
                e.camera,
                ";".join(str(i) for i in e.track_ids),
                repr(e.t_start),
                repr(e.t_end),
                e.wall_start or "",
                e.wall_end or "",
                e.subject or "",
                e.direction or "",
                repr(loc[0]) if len(loc) > 0 else "",
                repr(loc[1]) if len(loc) > 1 else "",
                json.dumps(dict(e.attributes), sort_keys=True, ensure_ascii=False),
                "" if prov is None else str(prov.get("rule", "")),
                "" if prov is None else json.dumps(dict(prov), sort_keys=True, ensure_ascii=False),
            ]
        )
    return buf.getvalue()


def export_mot(tracklog: TrackLog, camera: str, path: str | Path, frame_offset: int = 1) -> int:
    """Write one camera's track points as MOTChallenge rows; returns the number of rows.

    ``frame`` is the source frame index + ``frame_offset`` (MOT frames start at 1). Rows are
    ordered by (frame, id); a (frame, id) pair seen twice is written once (the first).
    """
    if camera not in tracklog.cameras:
        known = ", ".join(tracklog.cameras) or "none"
        raise ValueError(f"camera {camera!r} is not in the track log (cameras: {known})")
    table = tracklog.camera_table(camera).sort_by(
        [("frame", "ascending"), ("track_id", "ascending")]
    )
    cols = table.select(["frame", "track_id", "x1", "y1", "x2", "y2", "score"]).to_pydict()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    seen: set[tuple[int, int]] = set()
    lines: list[str] = []
    for frame, tid, x1, y1, x2, y2, score in zip(*cols.values(), strict=True):
        key = (int(frame) + frame_offset, int(tid))
        if key in seen:
            continue
        seen.add(key)
        lines.append(
            f"{key[0]},{key[1]},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},{score:.4f},-1,-1,-1"
        )
    out.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return len(lines)
