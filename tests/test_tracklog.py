"""Track log: exact replay of the rule-engine calls, ordering, track ends, bounded memory."""

from __future__ import annotations

import math
import random
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linewatch.records import ObjectClass, TrackPoint
from linewatch.tracklog import (
    Step,
    TrackLogError,
    TrackLogWriter,
    read_tracklog,
    replay,
    steps_path,
)


def _point(rng: random.Random, camera: str, tid: int, t: float, frame: int) -> TrackPoint:
    x, y = rng.uniform(0, 600), rng.uniform(0, 400)
    w, h = rng.uniform(5, 60), rng.uniform(10, 120)
    calibrated = camera == "cam1"
    kps = None
    if rng.random() < 0.3:
        kps = tuple((rng.uniform(0, 640), rng.uniform(0, 480), rng.random()) for _ in range(17))
    return TrackPoint(
        camera=camera,
        track_id=tid,
        t=t,
        frame=frame,
        box=(x, y, x + w, y + h),
        cls=rng.choice(list(ObjectClass)),
        score=rng.random(),
        site=(rng.uniform(-50, 50), rng.uniform(-50, 50)) if calibrated else None,
        keypoints=kps,
    )


def make_steps(seed: int = 0, n_frames: int = 60) -> list[Step]:
    """Two cameras interleaved, as the pipeline feeds the engine: normal steps, back-filled
    points (older than the step), ended-only steps and empty steps."""
    rng = random.Random(seed)
    steps: list[Step] = []
    live: dict[str, list[int]] = {"cam1": [], "cam2": []}
    next_id = {"cam1": 1, "cam2": 1}
    for frame in range(n_frames):
        for cam in ("cam1", "cam2"):
            t = frame / 5.0 + (0.013 if cam == "cam2" else 0.0)
            points: list[TrackPoint] = []
            ended: list[int] = []
            roll = rng.random()
            if roll < 0.15 and live[cam]:  # a track ends
                ended.append(live[cam].pop(rng.randrange(len(live[cam]))))
            elif roll < 0.3:  # a track is confirmed: its tentative points are back-filled
                tid = next_id[cam]
                next_id[cam] += 1
                live[cam].append(tid)
                for back in (3, 2, 1):
                    points.append(_point(rng, cam, tid, t - back / 5.0, frame - back))
            if roll > 0.9:  # nothing observed at all: an empty step
                points = []
            else:
                points.extend(_point(rng, cam, tid, t, frame) for tid in live[cam])
            steps.append(Step(cam, t, points, ended))
    for cam in ("cam1", "cam2"):  # Tracker.finish(): ended-only steps at the end
        steps.append(Step(cam, n_frames / 5.0, [], sorted(live[cam])))
    return steps


def write(path: Path, steps: list[Step], row_group_size: int = 64) -> None:
    with TrackLogWriter(path, row_group_size=row_group_size) as w:
        for s in steps:
            w.step(s.camera, s.t, s.points, s.ended)


def test_replay_equals_the_written_steps_exactly(tmp_path: Path) -> None:
    steps = make_steps()
    assert any(p.t < s.t for s in steps for p in s.points), "need back-filled points"
    assert any(not s.points and s.ended for s in steps), "need ended-only steps"
    assert any(not s.points and not s.ended for s in steps), "need empty steps"
    path = tmp_path / "tracks.parquet"
    write(path, steps, row_group_size=7)
    log = read_tracklog(path)
    got = list(replay(log, batch_size=5))
    assert got == steps
    assert list(replay(path)) == steps  # from a path too


def test_points_are_ordered_by_camera_time_track(tmp_path: Path) -> None:
    steps = make_steps(seed=1)
    path = tmp_path / "tracks.parquet"
    write(path, steps)
    log = read_tracklog(path)
    everything = [p for s in steps for p in s.points]
    assert len(log) == len(everything)
    assert list(log.points()) == sorted(everything, key=lambda p: (p.camera, p.t, p.track_id))
    assert list(log.points("cam2")) == sorted(
        (p for p in everything if p.camera == "cam2"), key=lambda p: (p.t, p.track_id)
    )
    assert log.cameras == ["cam1", "cam2"]
    assert set(log.table.column_names) >= {
        "camera", "track_id", "t", "frame", "x1", "y1", "x2", "y2", "cls", "score",
        "site_x", "site_y", "keypoints",
    }  # fmt: skip
    cam2 = log.camera_table("cam2")
    assert cam2["site_x"].null_count == cam2.num_rows  # uncalibrated: null site


def test_track_ends_are_recorded(tmp_path: Path) -> None:
    steps = make_steps(seed=2)
    path = tmp_path / "tracks.parquet"
    write(path, steps)
    want = {(s.camera, tid): s.t for s in steps for tid in s.ended}
    assert want
    assert read_tracklog(path).track_ends() == want


def test_writer_memory_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "tracks.parquet"
    size = 50
    rng = random.Random(3)
    n_steps, per_step = 400, 3
    with TrackLogWriter(path, row_group_size=size) as w:
        for i in range(n_steps):
            pts = [_point(rng, "cam1", k, i / 25.0, i) for k in range(per_step)]
            w.step("cam1", i / 25.0, pts, [])
            assert w.buffered < size
        assert w.points_written == n_steps * per_step
    meta = pq.ParquetFile(path).metadata
    assert meta.num_rows == n_steps * per_step
    assert meta.num_row_groups == math.ceil(n_steps * per_step / size)
    assert all(meta.row_group(i).num_rows <= size for i in range(meta.num_row_groups))
    steps_meta = pq.ParquetFile(steps_path(path)).metadata
    assert steps_meta.num_rows == n_steps
    assert all(steps_meta.row_group(i).num_rows <= size for i in range(steps_meta.num_row_groups))


def test_empty_log_is_readable(tmp_path: Path) -> None:
    path = tmp_path / "tracks.parquet"
    TrackLogWriter(path).close()
    log = read_tracklog(path)
    assert len(log) == 0 and log.cameras == [] and list(replay(log)) == []


def test_errors(tmp_path: Path) -> None:
    rng = random.Random(4)
    with TrackLogWriter(tmp_path / "a.parquet") as w, pytest.raises(TrackLogError, match="cam2"):
        w.step("cam1", 0.0, [_point(rng, "cam2", 1, 0.0, 0)], [])
    w.close()
    with pytest.raises(TrackLogError, match="closed"):
        w.step("cam1", 0.0, [], [])
    with pytest.raises(TrackLogError, match="not found"):
        read_tracklog(tmp_path / "missing.parquet")
    path = tmp_path / "b.parquet"
    write(path, make_steps(seed=5, n_frames=10))
    steps_path(path).unlink()
    log = read_tracklog(path)  # points still readable without the step file
    assert len(log) > 0
    with pytest.raises(TrackLogError, match="cannot be replayed"):
        list(replay(log))
    (tmp_path / "junk.parquet").write_bytes(b"not parquet")
    with pytest.raises(TrackLogError, match="not a readable"):
        read_tracklog(tmp_path / "junk.parquet")


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n_frames=st.integers(0, 25), group=st.integers(1, 40))
def test_replay_round_trip_property(seed: int, n_frames: int, group: int) -> None:
    steps = make_steps(seed, n_frames)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "tracks.parquet"
        write(path, steps, row_group_size=group)
        assert list(replay(path, batch_size=group)) == steps
