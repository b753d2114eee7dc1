"""Track log: every ``TrackPoint`` of a run in Parquet, and the exact step sequence.

The pipeline calls ``writer.step(camera, t, points, ended)`` exactly as it calls
``RuleEngine.step``; ``replay(log)`` yields those same calls again, in the same order, with
equal ``TrackPoint``s (back-filled points older than the step time, steps with only ``ended``
ids and empty steps included), so re-running the rules reproduces the analysis' events.

Two files (``tracks.parquet`` is the run folder's name for the first):

- ``PATH``: one row per point: ``step, camera, track_id, t, frame, x1, y1, x2, y2, cls,
  score, site_x, site_y, keypoints`` (``site_*`` null when uncalibrated, ``keypoints`` a
  list of ``[x, y, score]`` or null; ``cls`` is the ``ObjectClass`` value). Rows are in
  write order: step by step, each step's points in the order given.
- ``PATH.stem + ".steps.parquet"`` beside it: one row per step: ``step, camera, t,
  n_points, ended`` (the ids whose tracks ended at that step; so a track's end time is the
  ``t`` of the step that lists it).

Both are written in row groups of at most ``row_group_size`` rows, so the writer holds at
most that many points (and steps) in memory however long the run. A log is only readable
once the writer is closed (Parquet writes its footer last).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from linewatch.records import ObjectClass, TrackPoint

POINTS_SCHEMA = pa.schema(
    [
        ("step", pa.int64()),
        ("camera", pa.string()),
        ("track_id", pa.int64()),
        ("t", pa.float64()),
        ("frame", pa.int64()),
        ("x1", pa.float64()),
        ("y1", pa.float64()),
        ("x2", pa.float64()),
        ("y2", pa.float64()),
        ("cls", pa.int16()),
        ("score", pa.float64()),
        ("site_x", pa.float64()),
        ("site_y", pa.float64()),
        ("keypoints", pa.list_(pa.list_(pa.float64(), 3))),
    ]
)
STEPS_SCHEMA = pa.schema(
    [
        ("step", pa.int64()),
        ("camera", pa.string()),
        ("t", pa.float64()),
        ("n_points", pa.int64()),
        ("ended", pa.list_(pa.int64())),
    ]
)
DEFAULT_ROW_GROUP = 65_536


class TrackLogError(ValueError):
    """A track log that cannot be written or read back as written."""


class Step(NamedTuple):
    """One call of the rule engine: ``RuleEngine.step(camera, t, points, ended)``."""

    camera: str
    t: float
    points: list[TrackPoint]
    ended: list[int]


def steps_path(path: str | Path) -> Path:
    """The step file beside a track log: ``tracks.parquet`` -> ``tracks.steps.parquet``."""
    p = Path(path)
    return p.with_name(p.stem + ".steps.parquet")


class TrackLogWriter:
    """Append the pipeline's steps to a track log in bounded memory; ``close()`` at the end."""

    def __init__(self, path: str | Path, row_group_size: int = DEFAULT_ROW_GROUP) -> None:
        if row_group_size < 1:
            raise ValueError(f"row_group_size must be >= 1, got {row_group_size}")
        self.path = Path(path)
        self.row_group_size = row_group_size
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._points = pq.ParquetWriter(self.path, POINTS_SCHEMA, compression="zstd")
        self._steps = pq.ParquetWriter(steps_path(self.path), STEPS_SCHEMA, compression="zstd")
        self._pbuf: dict[str, list[Any]] = {name: [] for name in POINTS_SCHEMA.names}
        self._sbuf: dict[str, list[Any]] = {name: [] for name in STEPS_SCHEMA.names}
        self._n_steps = 0
        self._n_points = 0
        self._closed = False

    @property
    def buffered(self) -> int:
        """Points held in memory, not yet written (always < ``row_group_size``)."""
        return len(self._pbuf["step"])

    @property
    def steps_written(self) -> int:
        return self._n_steps

    @property
    def points_written(self) -> int:
        return self._n_points

    def step(
        self, camera: str, t: float, points: Sequence[TrackPoint], ended: Sequence[int]
    ) -> None:
        """Record one rule-engine call (same arguments as ``RuleEngine.step``)."""
        if self._closed:
            raise TrackLogError(f"{self.path}: track log writer is closed")
        index = self._n_steps
        pb = self._pbuf
        for p in points:
            if p.camera != camera:
                raise TrackLogError(f"step for camera {camera!r} got a point of {p.camera!r}")
            pb["step"].append(index)
            pb["camera"].append(p.camera)
            pb["track_id"].append(int(p.track_id))
            pb["t"].append(float(p.t))
            pb["frame"].append(int(p.frame))
            for name, v in zip(("x1", "y1", "x2", "y2"), p.box, strict=True):
                pb[name].append(float(v))
            pb["cls"].append(int(p.cls))
            pb["score"].append(float(p.score))
            pb["site_x"].append(None if p.site is None else float(p.site[0]))
            pb["site_y"].append(None if p.site is None else float(p.site[1]))
            pb["keypoints"].append(
                None if p.keypoints is None else [[float(v) for v in k] for k in p.keypoints]
            )
            if self.buffered >= self.row_group_size:
                self._flush_points()
        sb = self._sbuf
        sb["step"].append(index)
        sb["camera"].append(camera)
        sb["t"].append(float(t))
        sb["n_points"].append(len(points))
        sb["ended"].append([int(i) for i in ended])
        self._n_steps += 1
        self._n_points += len(points)
        if len(sb["step"]) >= self.row_group_size:
            self._flush_steps()

    def close(self) -> None:
        """Write what is buffered and the Parquet footers. Safe to call twice."""
        if self._closed:
            return
        self._flush_points()
        self._flush_steps()
        self._points.close()
        self._steps.close()
        self._closed = True

    def __enter__(self) -> TrackLogWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _flush_points(self) -> None:
        if self._pbuf["step"]:
            table = pa.table(self._pbuf, schema=POINTS_SCHEMA)
            self._points.write_table(table, row_group_size=self.row_group_size)
            for column in self._pbuf.values():
                column.clear()

    def _flush_steps(self) -> None:
        if self._sbuf["step"]:
            table = pa.table(self._sbuf, schema=STEPS_SCHEMA)
            self._steps.write_table(table, row_group_size=self.row_group_size)
            for column in self._sbuf.values():
                column.clear()


@dataclass(frozen=True, eq=False)
class TrackLog:
    """A track log read back: ``table`` holds the points ordered by (camera, t, track_id)."""

    path: Path
    table: pa.Table
    steps: pa.Table | None  # None when the step file is missing (then no replay)

    def __len__(self) -> int:
        return int(self.table.num_rows)

    @property
    def cameras(self) -> list[str]:
        return sorted(str(c) for c in pc.unique(self.table["camera"]).to_pylist())

    def points(self, camera: str | None = None) -> Iterator[TrackPoint]:
        """The points, ordered by (camera, t, track_id); only one camera's if given."""
        table = self.camera_table(camera) if camera is not None else self.table
        for batch in table.to_batches():
            for _, point in _points_of(batch):
                yield point

    def camera_table(self, camera: str) -> pa.Table:
        return self.table.filter(pc.equal(self.table["camera"], camera))

    def track_ends(self) -> dict[tuple[str, int], float]:
        """(camera, track_id) -> stream time of the step that ended the track."""
        if self.steps is None:
            return {}
        ends: dict[tuple[str, int], float] = {}
        cols = self.steps.select(["camera", "t", "ended"]).to_pydict()
        for cam, t, ended in zip(cols["camera"], cols["t"], cols["ended"], strict=True):
            for tid in ended or ():
                ends[(cam, int(tid))] = float(t)
        return ends


def read_tracklog(path: str | Path) -> TrackLog:
    """Read a closed track log (and its step file when present)."""
    p = Path(path)
    if not p.is_file():
        raise TrackLogError(f"{p}: track log not found")
    try:
        table = pq.read_table(p, schema=POINTS_SCHEMA)
        sp = steps_path(p)
        steps = pq.read_table(sp, schema=STEPS_SCHEMA) if sp.is_file() else None
    except (pa.ArrowInvalid, OSError) as e:
        raise TrackLogError(f"{p}: not a readable linewatch track log: {e}") from e
    table = table.sort_by([("camera", "ascending"), ("t", "ascending"), ("track_id", "ascending")])
    return TrackLog(path=p, table=table, steps=steps)


def replay(log: TrackLog | str | Path, batch_size: int = DEFAULT_ROW_GROUP) -> Iterator[Step]:
    """The rule-engine calls recorded in a track log, in their original order.

    Streams both files in batches, so memory stays bounded however long the log.
    """
    path = log.path if isinstance(log, TrackLog) else Path(log)
    sp = steps_path(path)
    if not path.is_file():
        raise TrackLogError(f"{path}: track log not found")
    if not sp.is_file():
        raise TrackLogError(f"{path}: no step file {sp.name}; this log cannot be replayed")
    point_file, step_file = _open(path, POINTS_SCHEMA), _open(sp, STEPS_SCHEMA)
    rows = _iter_points(point_file, batch_size)
    pending = next(rows, None)
    for batch in step_file.iter_batches(batch_size=batch_size):
        cols = batch.to_pydict()
        for index, camera, t, n, ended in zip(
            cols["step"], cols["camera"], cols["t"], cols["n_points"], cols["ended"], strict=True
        ):
            points: list[TrackPoint] = []
            for _ in range(n):
                if pending is None or pending[0] != index:
                    raise TrackLogError(f"{path}: points of step {index} missing or out of order")
                points.append(pending[1])
                pending = next(rows, None)
            yield Step(camera, float(t), points, [int(i) for i in ended or ()])
    if pending is not None:
        raise TrackLogError(f"{path}: points of step {pending[0]} have no step record")


def _open(path: Path, schema: pa.Schema) -> pq.ParquetFile:
    """A Parquet file of the track log, checked to hold the columns of ``schema``."""
    try:
        f = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise TrackLogError(f"{path}: not a readable linewatch track log: {e}") from e
    missing = [n for n in schema.names if n not in f.schema_arrow.names]
    if missing:
        raise TrackLogError(f"{path}: not a linewatch track log (no {', '.join(missing)})")
    return f


def _iter_points(points: pq.ParquetFile, batch_size: int) -> Iterator[tuple[int, TrackPoint]]:
    for batch in points.iter_batches(batch_size=batch_size, columns=POINTS_SCHEMA.names):
        yield from _points_of(batch)


def _points_of(batch: pa.RecordBatch) -> Iterator[tuple[int, TrackPoint]]:
    c = batch.to_pydict()
    classes = {int(k): k for k in ObjectClass}
    boxes = zip(c["x1"], c["y1"], c["x2"], c["y2"], strict=True)
    for step, camera, tid, t, frame, box, cls, score, sx, sy, kps in zip(
        c["step"], c["camera"], c["track_id"], c["t"], c["frame"], boxes, c["cls"], c["score"],
        c["site_x"], c["site_y"], c["keypoints"], strict=True,
    ):  # fmt: skip
        point = TrackPoint(
            camera,
            tid,
            t,
            frame,
            box,
            classes[cls] if cls in classes else ObjectClass(cls),
            score,
            None if sx is None or sy is None else (sx, sy),
            None if kps is None else tuple((k[0], k[1], k[2]) for k in kps),
        )
        yield step, point
