"""Events as read back from the store (``StoredEvent``), their JSON shape, and diffs
between two sets of findings (what ``linewatch rules`` reports as changed)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from linewatch.records import Event, Provenance

if TYPE_CHECKING:
    from linewatch.store import EventRow


def subject_key(kind: str) -> str | None:
    """The extra JSON key naming an event's subject: ``line`` or ``zone`` (else None)."""
    if kind in ("crossing", "incursion"):
        return "line"
    if kind.startswith("zone_"):
        return "zone"
    return None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as stored: every column of the ``events`` table."""

    id: str
    run_id: str
    kind: str
    camera: str
    track_ids: tuple[int, ...]
    t_start: float
    t_end: float
    wall_start: str | None
    wall_end: str | None
    subject: str | None
    direction: str | None
    location: tuple[float, ...] | None
    attributes: Mapping[str, Any]
    provenance: Mapping[str, Any] | None

    @classmethod
    def from_row(cls, row: EventRow) -> StoredEvent:
        return cls(
            id=row.id,
            run_id=row.run_id,
            kind=row.kind,
            camera=row.camera,
            track_ids=tuple(int(i) for i in row.track_ids),
            t_start=float(row.t_start),
            t_end=float(row.t_end),
            wall_start=row.wall_start,
            wall_end=row.wall_end,
            subject=row.subject,
            direction=row.direction,
            location=None if row.location is None else tuple(float(v) for v in row.location),
            attributes=dict(row.attributes or {}),
            provenance=None if row.provenance is None else dict(row.provenance),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of a finding (``line``/``zone`` repeats ``subject`` by kind)."""
        d: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "camera": self.camera,
            "track_ids": list(self.track_ids),
            "t_start": self.t_start,
            "t_end": self.t_end,
            "wall_start": self.wall_start,
            "wall_end": self.wall_end,
            "subject": self.subject,
        }
        key = subject_key(self.kind)
        if key is not None:
            d[key] = self.subject
        d.update(
            direction=self.direction,
            location=None if self.location is None else list(self.location),
            attributes=dict(self.attributes),
            provenance=None if self.provenance is None else dict(self.provenance),
        )
        return d

    def to_event(self) -> Event:
        """Back to a core ``Event`` (same id)."""
        prov = None
        if self.provenance is not None:
            prov = Provenance(
                rule=str(self.provenance.get("rule", "")),
                params=dict(self.provenance.get("params") or {}),
                observations=tuple(self.provenance.get("observations") or ()),
            )
        loc = None
        if self.location is not None and len(self.location) >= 2:
            loc = (self.location[0], self.location[1])
        return Event(
            kind=self.kind,
            camera=self.camera,
            track_ids=self.track_ids,
            t_start=self.t_start,
            t_end=self.t_end,
            subject=self.subject,
            direction=self.direction,
            location=loc,
            attributes=dict(self.attributes),
            provenance=prov,
        )


AnyEvent = Event | StoredEvent


@dataclass(frozen=True, slots=True)
class EventDiff:
    """What changed between two sets of findings, matched by event id."""

    added: list[AnyEvent]
    removed: list[AnyEvent]
    changed: list[tuple[AnyEvent, AnyEvent]]  # (old, new): same id, different content

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def diff(old_events: Iterable[AnyEvent], new_events: Iterable[AnyEvent]) -> EventDiff:
    """Added, removed and changed events by id; each list ordered by (t_start, camera, id).

    Content is compared on what the rules produced (kind, camera, tracks, times, subject,
    direction, location, attributes, provenance); wall times and run ids are ignored, so an
    ``Event`` and its ``StoredEvent`` compare equal.
    """
    old = {e.id: e for e in old_events}
    new = {e.id: e for e in new_events}
    added = sorted((new[i] for i in new.keys() - old.keys()), key=_order_key)
    removed = sorted((old[i] for i in old.keys() - new.keys()), key=_order_key)
    changed = [
        (old[i], new[i]) for i in old.keys() & new.keys() if _content(old[i]) != _content(new[i])
    ]
    changed.sort(key=lambda pair: _order_key(pair[1]))
    return EventDiff(added=added, removed=removed, changed=changed)


def wall_time(start: datetime | None, t: float) -> str | None:
    """ISO wall time of stream time ``t`` (UTC when ``start`` is aware), or None."""
    if start is None or not math.isfinite(t):
        return None
    w = start + timedelta(seconds=float(t))
    if w.tzinfo is not None:
        w = w.astimezone(UTC)
    return w.isoformat(timespec="microseconds")


def _jsonable(value: Any) -> Any:
    """Plain JSON data: numpy scalars/arrays unwrapped, tuples as lists, NaN/inf as null."""
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, Enum):
        return _jsonable(value.value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays
    if callable(tolist):
        return _jsonable(tolist())
    raise TypeError(f"cannot store {type(value).__name__} in an event's JSON: {value!r}")


def _content(e: AnyEvent) -> str:
    d = e.to_dict()
    for key in ("id", "wall_start", "wall_end", "line", "zone", "run_id"):
        d.pop(key, None)
    return json.dumps(_jsonable(d), sort_keys=True)


def _order_key(e: AnyEvent) -> tuple[float, str, str]:
    return (e.t_start, e.camera, e.id)
