"""MOTChallenge text format: read ground truth / results, write results.

One line per box: ``frame,id,left,top,width,height,conf,x,y,z`` (MOT15; MOT16/17 put the
class and visibility in the last columns). Frames are the file's own numbers (MOTChallenge
counts from 1; for PETS09-S2L1 gt frame N is video frame index N-1).

    >>> rows = parse_mot("1,7,10,20,5,10,1,-1,-1,-1\\n1,8,0,0,2,2,0,-1,-1,-1\\n"
    ...                  "3,7,11,20,5,10,1,-1,-1,-1")
    >>> sorted(rows), rows[1].ids.tolist(), rows[1].xyxy[0].tolist(), rows[1].conf.tolist()
    ([1, 3], [7, 8], [10.0, 20.0, 15.0, 30.0], [1.0, 0.0])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class MotFrame:
    """The rows of one frame: ids (N,), xyxy boxes (N, 4), conf (N,), extra columns (N, K)."""

    ids: npt.NDArray[np.int64]
    xyxy: npt.NDArray[np.float64]
    conf: npt.NDArray[np.float64]
    extra: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @property
    def xywh(self) -> npt.NDArray[np.float64]:
        return np.concatenate([self.xyxy[:, :2], self.xyxy[:, 2:] - self.xyxy[:, :2]], axis=1)


MotRows = Mapping[int, MotFrame]


def parse_mot_rows(text: str, origin: str = "MOT text") -> npt.NDArray[np.float64]:
    """MOT-format text (comma or whitespace separated, ``#`` comments) as an ``(N, >=7)``
    array of rows, every column kept (MOT15's world x, y, z included); a missing ``conf``
    column (6-column files) reads as 1."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        return np.zeros((0, 7))
    try:
        data = np.array(
            [[float(v) for v in ln.replace(",", " ").split()] for ln in lines], dtype=np.float64
        )
    except ValueError as e:
        raise ValueError(f"{origin}: not MOT format ({e})") from None
    if data.ndim != 2 or data.shape[1] < 6:
        raise ValueError(
            f"{origin}: MOT rows need at least 6 columns (frame,id,l,t,w,h), usually "
            "7 columns with conf"
        )
    if data.shape[1] == 6:
        data = np.concatenate([data, np.ones((len(data), 1))], axis=1)
    return data


def parse_mot(text: str, origin: str = "MOT text") -> dict[int, MotFrame]:
    """Parse MOT-format text into frames."""
    return from_array(parse_mot_rows(text, origin))


def from_array(data: npt.ArrayLike) -> dict[int, MotFrame]:
    """Frames from an (N, >=7) array of MOT rows (frame, id, l, t, w, h, conf, ...)."""
    arr = np.asarray(data, dtype=np.float64)
    if arr.size == 0:
        return {}
    if arr.ndim != 2 or arr.shape[1] < 7:
        raise ValueError(f"MOT rows must be (N, >=7), got {arr.shape}")
    order = np.argsort(arr[:, 0], kind="stable")
    arr = arr[order]
    frames = arr[:, 0].astype(np.int64)
    out: dict[int, MotFrame] = {}
    starts = np.flatnonzero(np.diff(frames, prepend=frames[0] - 1))
    for a, b in zip(starts, [*starts[1:], len(arr)], strict=True):
        block = arr[a:b]
        xyxy = np.concatenate([block[:, 2:4], block[:, 2:4] + block[:, 4:6]], axis=1)
        out[int(frames[a])] = MotFrame(
            ids=block[:, 1].astype(np.int64),
            xyxy=xyxy,
            conf=block[:, 6].copy(),
            extra=block[:, 7:].copy(),
        )
    return out


def read_mot_rows(path: str | Path) -> npt.NDArray[np.float64]:
    """Read a MOT-format file as an ``(N, >=7)`` array of rows (see :func:`parse_mot_rows`)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: MOT file not found")
    return parse_mot_rows(p.read_text(encoding="utf-8"), origin=str(p))


def read_mot(path: str | Path) -> dict[int, MotFrame]:
    """Read a MOT-format file (ground truth or tracker output): ``{frame: MotFrame}``."""
    return from_array(read_mot_rows(path))


def format_mot(rows: Iterable[tuple[int, int, Iterable[float], float]]) -> str:
    """MOT lines from ``(frame, id, xyxy, conf)`` tuples (world columns set to -1)."""
    out = []
    for frame, tid, box, conf in rows:
        x1, y1, x2, y2 = (float(v) for v in box)
        out.append(
            f"{int(frame)},{int(tid)},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},"
            f"{float(conf):.4f},-1,-1,-1"
        )
    return "\n".join(out) + ("\n" if out else "")


def write_mot(path: str | Path, rows: Iterable[tuple[int, int, Iterable[float], float]]) -> Path:
    """Write ``(frame, id, xyxy, conf)`` tuples as a MOT results file."""
    p = Path(path)
    p.write_text(format_mot(rows), encoding="utf-8")
    return p
