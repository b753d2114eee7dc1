"""The report's figures (matplotlib, Agg canvas, PNG): timeline, site map, image maps, speeds.

No pyplot: each figure is its own ``Figure`` on an Agg canvas, so nothing global changes and
nothing needs a display.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import date2num
from matplotlib.figure import Figure

from linewatch.annotate import CameraOverlay, Image
from linewatch.config import SiteConfig
from linewatch.geometry import Homography
from linewatch.report.findings import event_time
from linewatch.store import StoredEvent

F64 = npt.NDArray[np.float64]
#: colours, in the order lanes are listed on the timeline
KIND_COLOURS = {
    "person_down": "#000000",
    "pursuit": "#e377c2",
    "incursion": "#ff7f0e",
    "crossing": "#d62728",
    "speeding": "#8c564b",
    "loitering": "#9467bd",
    "zone_enter": "#2ca02c",
    "zone_exit": "#98df8a",
    "track_speed": "#bcbd22",
}
_OTHER = "#7f7f7f"
_DPI = 100


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=_DPI, bbox_inches="tight", metadata={"Software": None})
    return path


def _tracks(table: pa.Table, cols: Sequence[str]) -> dict[int, dict[str, F64]]:
    """Per track id, ``t`` and the requested columns as float arrays (null -> NaN), by time."""
    ids = np.asarray(table.column("track_id").to_numpy(), dtype=np.int64)
    t_all = np.asarray(table.column("t").to_numpy(), dtype=np.float64)
    values = {
        c: np.asarray(table.column(c).to_numpy(zero_copy_only=False), dtype=np.float64)
        for c in cols
    }
    order = np.lexsort((t_all, ids))  # by track, then time: one sort, then slices
    ids = ids[order]
    cuts = np.flatnonzero(np.diff(ids)) + 1
    out: dict[int, dict[str, F64]] = {}
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(ids)], strict=True):
        if hi <= lo:
            continue
        sel = order[lo:hi]
        arrays = {"t": t_all[sel]}
        arrays.update({c: v[sel] for c, v in values.items()})
        out[int(ids[lo])] = arrays
    return out


def timeline(
    events: Sequence[StoredEvent], cameras: Sequence[str], path: Path, timezone: str = "UTC"
) -> Path:
    """One lane per camera and event kind over time (wall time in the site's zone when every
    event has one, else stream seconds); instants as dots, durations as bars."""
    order = {c: i for i, c in enumerate(cameras)}
    kinds = list(KIND_COLOURS)
    lanes = sorted(
        {(e.camera, e.kind) for e in events},
        key=lambda ck: (order.get(ck[0], len(order)), ck[0], _kind_rank(ck[1], kinds), ck[1]),
    )
    if not lanes:
        lanes = [(c, "") for c in cameras]
    wall = bool(events) and all(e.wall_start is not None for e in events)
    fig = Figure(figsize=(10, 0.45 * len(lanes) + 1.6))
    ax = fig.add_subplot()
    for e in events:
        y = lanes.index((e.camera, e.kind))
        colour = KIND_COLOURS.get(e.kind, _OTHER)
        key = event_time(e) - e.t_start  # the dot marks the key moment (a zone's exit...)
        if wall:
            x0 = float(date2num(datetime.fromisoformat(str(e.wall_start))))
            x1 = float(date2num(datetime.fromisoformat(str(e.wall_end or e.wall_start))))
            xk = x0 + key / 86400.0  # matplotlib dates are days
        else:
            x0, x1, xk = e.t_start, e.t_end, e.t_start + key
        if x1 > x0:
            ax.plot([x0, x1], [y, y], color=colour, lw=7, solid_capstyle="butt", alpha=0.45)
        ax.plot([xk], [y], "o", color=colour, ms=7, mec="white", mew=0.8)
    labels = [f"{c} · {k.replace('_', ' ')}" if k else c for c, k in lanes]
    ax.set_yticks(range(len(lanes)), labels)
    ax.set_ylim(len(lanes) - 0.5, -0.5)  # first lane on top
    ax.set_xlabel(f"wall time ({timezone})" if wall else "stream time (s)")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title("Timeline of findings")
    if wall:
        try:
            ax.xaxis_date(tz=ZoneInfo(timezone))
        except (ZoneInfoNotFoundError, ValueError):
            ax.xaxis_date()
        fig.autofmt_xdate()
    return _save(fig, path)


def _kind_rank(kind: str, kinds: list[str]) -> int:
    return kinds.index(kind) if kind in kinds else len(kinds)


def _site_geometry(
    cfg: SiteConfig, hs: Mapping[str, Homography | None]
) -> tuple[list[tuple[str, F64]], list[tuple[str, F64]]]:
    """Lines and zones in site metres (image ones projected through their camera)."""

    def site(owner: str | None, pts: Sequence[tuple[float, float]]) -> F64 | None:
        arr = np.asarray(pts, dtype=np.float64)
        if owner is None:
            return arr
        h = hs.get(owner)
        return None if h is None else np.asarray(h.to_site(arr), dtype=np.float64)

    lines = [(ln.id, p) for ln in cfg.lines if (p := site(ln.camera, ln.points)) is not None]
    zones = [(z.id, p) for z in cfg.zones if (p := site(z.camera, z.points)) is not None]
    return lines, zones


def site_map(
    cfg: SiteConfig,
    hs: Mapping[str, Homography | None],
    tables: Mapping[str, pa.Table],
    events: Sequence[StoredEvent],
    path: Path,
    highlight: set[tuple[str, int]] | None = None,
) -> Path:
    """Trajectories of the calibrated cameras' tracks on the site map (metres, north up)."""
    fig = Figure(figsize=(8, 7))
    ax = fig.add_subplot()
    lines, zones = _site_geometry(cfg, hs)
    for zid, pts in zones:
        ax.fill(pts[:, 0], pts[:, 1], color="#ffa500", alpha=0.15)
        ax.plot(*np.vstack([pts, pts[:1]]).T, color="#ff8c00", lw=1.5)
        ax.annotate(zid, pts.mean(axis=0), color="#b35900", ha="center")
    for lid, pts in lines:
        ax.plot(pts[:, 0], pts[:, 1], color="#e6b800", lw=3)
        ax.annotate(lid, pts[0], color="#8a6d00", weight="bold")
    for cam, table in tables.items():
        if hs.get(cam) is None:
            continue
        for tid, tr in _tracks(table, ["site_x", "site_y"]).items():
            hot = highlight is None or (cam, tid) in highlight
            ax.plot(
                tr["site_x"],
                tr["site_y"],
                lw=1.8 if hot else 0.6,
                alpha=0.9 if hot else 0.35,
                color=None if hot else "#999999",
                label=f"{cam} #{tid}" if hot and highlight is not None else None,
            )
    for e in events:
        if e.location is None or hs.get(e.camera) is None or e.attributes.get("units") == "px":
            continue
        ax.plot(*e.location[:2], "X", color=KIND_COLOURS.get(e.kind, _OTHER), ms=9)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("x (m, east)")
    ax.set_ylabel("y (m, north)")
    ax.grid(alpha=0.3)
    if highlight:
        ax.legend(fontsize="small", loc="best", ncol=2)
    ax.set_title("Site map: trajectories, lines and zones (X: findings)")
    return _save(fig, path)


def image_map(
    overlay: CameraOverlay,
    table: pa.Table | None,
    events: Sequence[StoredEvent],
    background: Image | None,
    size: tuple[int, int] | None,
    path: Path,
    highlight: set[int] | None = None,
) -> Path:
    """An uncalibrated camera's trajectories (foot points) in image pixels over a frame."""
    fig = Figure(figsize=(8, 6))
    ax = fig.add_subplot()
    if background is not None:
        ax.imshow(background[:, :, ::-1], alpha=0.6)
    for z in overlay.zones:
        pts = np.vstack([z.points, z.points[:1]])
        ax.plot(pts[:, 0], pts[:, 1], color="#ff8c00", lw=1.5)
        ax.annotate(z.id, z.points.mean(axis=0), color="#b35900", ha="center")
    for ln in overlay.lines:
        ax.plot(ln.points[:, 0], ln.points[:, 1], color="#e6b800", lw=3)
        ax.annotate(ln.id, ln.points[0], color="#8a6d00", weight="bold")
    if table is not None:
        for tid, tr in _tracks(table, ["x1", "x2", "y2"]).items():
            hot = highlight is None or tid in highlight
            ax.plot(
                (tr["x1"] + tr["x2"]) / 2,
                tr["y2"],
                lw=1.8 if hot else 0.6,
                alpha=0.9 if hot else 0.4,
                color=None if hot else "#999999",
            )
    for e in events:
        if e.location is not None and e.attributes.get("units") == "px":
            ax.plot(*e.location[:2], "X", color=KIND_COLOURS.get(e.kind, _OTHER), ms=9)
    if size is not None:
        ax.set_xlim(0, size[0])
        ax.set_ylim(size[1], 0)
    else:
        ax.invert_yaxis()
    ax.set_aspect("equal")
    ax.set_xlabel("x (image px)")
    ax.set_ylabel("y (image px)")
    ax.set_title(f"{overlay.camera}: trajectories in image pixels (uncalibrated)")
    return _save(fig, path)


def speeds(table: pa.Table, window: float = 1.0) -> dict[int, tuple[F64, F64]]:
    """Per track, (t, km/h): site displacement over the last ``window`` seconds / time."""
    out: dict[int, tuple[F64, F64]] = {}
    for tid, tr in _tracks(table, ["site_x", "site_y"]).items():
        t, x, y = tr["t"], tr["site_x"], tr["site_y"]
        ok = np.isfinite(x) & np.isfinite(y)
        t, x, y = t[ok], x[ok], y[ok]
        if len(t) < 2:
            continue
        j = np.searchsorted(t, t - window, side="left")
        dt = t - t[j]
        keep = dt > 0.5 * window
        if not np.any(keep):
            keep = dt > 0
        dist = np.hypot(x - x[j], y - y[j])
        kmh = np.where(dt > 0, dist / np.where(dt > 0, dt, 1.0) * 3.6, np.nan)
        t, kmh = t[keep], kmh[keep]
        gaps = np.flatnonzero(np.diff(t) > max(1.0, window))  # lost: break the line there
        out[tid] = (np.insert(t, gaps + 1, np.nan), np.insert(kmh, gaps + 1, np.nan))
    return out


def speed_profiles(
    tables: Mapping[str, pa.Table],
    tracks: Mapping[str, Sequence[int]],
    path: Path,
    window: float = 1.0,
) -> Path | None:
    """km/h over stream time for the given tracks of each calibrated camera (None if none)."""
    series = []
    for cam, ids in tracks.items():
        if cam not in tables or not ids:
            continue
        sp = speeds(tables[cam], window)
        series += [(cam, tid, *sp[tid]) for tid in ids if tid in sp]
    if not series:
        return None
    fig = Figure(figsize=(10, 4))
    ax = fig.add_subplot()
    for cam, tid, t, kmh in series:
        ax.plot(t, kmh, lw=1.5, label=f"{cam} #{tid}")
    ax.set_xlabel("stream time (s)")
    ax.set_ylabel("speed (km/h)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", ncol=3)
    ax.set_title(f"Speed profiles ({window:g} s smoothing)")
    return _save(fig, path)
