"""Event store: the findings of runs in SQL (SQLite by default, PostgreSQL by URL).

``EventStore(url)`` takes any SQLAlchemy URL: ``sqlite:///RUN_DIR/events.db`` (what
``EventStore.for_run(run_dir)`` opens) or ``postgresql+psycopg://user@host:port/db`` (needs
the ``psycopg`` package). Events are keyed by their deterministic ``Event.id``: adding the
same findings again replaces them, it never duplicates them.

Times: ``t_start``/``t_end`` are seconds from the camera's start (as in ``Event``).
``wall_start``/``wall_end`` are ISO 8601 strings computed from the camera's ``start_time``
when it is known, else null. An aware start time gives UTC strings
(``2024-05-01T10:00:03.500000+00:00``); a naive one gives naive strings in the same
fixed-width form, so they order as text.

Query time filters (``since``/``until``, both inclusive, applied to the event's *start*):

- a number (or a string that parses as one) is seconds from the camera's start and is
  compared to ``t_start``;
- a ``datetime`` or an ISO string is compared to ``wall_start``. An aware value is
  converted to UTC first; a naive one is taken as it is (as UTC when the stored wall times
  carry an offset). Events without a wall time never match a wall-time filter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Double, String, Text, create_engine, delete, func, select
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from linewatch.records import Event
from linewatch.stored import (
    AnyEvent,
    EventDiff,
    StoredEvent,
    _jsonable,
    diff,
    subject_key,
    wall_time,
)

__all__ = [
    "AnyEvent",
    "EventDiff",
    "EventStore",
    "RunInfo",
    "StoreError",
    "StoredEvent",
    "diff",
    "subject_key",
    "wall_time",
]

TimeBound = float | int | str | datetime | None
_ISO_KEY_LEN = 26  # len("YYYY-MM-DDTHH:MM:SS.ffffff")


class StoreError(RuntimeError):
    """The store cannot be opened or used (bad URL, missing database driver, ...)."""


class Base(DeclarativeBase):
    pass


class RunRow(Base):
    """One analysis run; its metadata is given by the caller (never the store's clock)."""

    __tablename__ = "runs"

    run_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    created: Mapped[str | None] = mapped_column(String(40))  # ISO 8601, from the caller
    version: Mapped[str | None] = mapped_column(String(64))  # linewatch version
    config: Mapped[str | None] = mapped_column(Text)  # config snapshot (YAML text)


class EventRow(Base):
    __tablename__ = "events"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    camera: Mapped[str] = mapped_column(String(200), index=True)
    track_ids: Mapped[list[int]] = mapped_column(JSON)
    t_start: Mapped[float] = mapped_column(Double, index=True)
    t_end: Mapped[float] = mapped_column(Double)
    wall_start: Mapped[str | None] = mapped_column(String(40))
    wall_end: Mapped[str | None] = mapped_column(String(40))
    subject: Mapped[str | None] = mapped_column(String(200))
    direction: Mapped[str | None] = mapped_column(String(200))
    location: Mapped[list[float] | None] = mapped_column(JSON)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON)
    provenance: Mapped[dict[str, Any] | None] = mapped_column(JSON)


_EVENT_COLUMNS = tuple(c.name for c in EventRow.__table__.columns)


@dataclass(frozen=True, slots=True)
class RunInfo:
    run_id: str
    created: str | None
    version: str | None
    config: str | None


class EventStore:
    """Findings of one or more runs in a SQL database (tables ``events`` and ``runs``)."""

    def __init__(self, url: str) -> None:
        try:
            self.engine = create_engine(url)
        except ModuleNotFoundError as e:
            hint = " (install psycopg[binary])" if url.startswith("postgresql") else ""
            raise StoreError(f"no database driver for {url.split(':')[0]!r}: {e}{hint}") from e
        except ArgumentError as e:
            raise StoreError(f"not a database URL: {url!r} ({e})") from e
        try:
            Base.metadata.create_all(self.engine)
        except Exception as e:
            self.engine.dispose()
            raise StoreError(f"cannot open event store {self.url}: {e}") from e
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def for_run(cls, run_dir: str | Path) -> EventStore:
        """The run folder's SQLite store, ``RUN_DIR/events.db`` (folder created if needed)."""
        d = Path(run_dir).expanduser().resolve()
        d.mkdir(parents=True, exist_ok=True)
        return cls(f"sqlite:///{d / 'events.db'}")

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"EventStore({self.url!r})"

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ runs
    def register_run(
        self,
        run_id: str,
        *,
        created: datetime | str | None = None,
        version: str | None = None,
        config: str | None = None,
    ) -> None:
        """Create or update a run's metadata (``created`` comes from the caller)."""
        created_s = created.isoformat() if isinstance(created, datetime) else created
        with self._sessions.begin() as s:
            row = s.get(RunRow, run_id)
            if row is None:
                s.add(RunRow(run_id=run_id, created=created_s, version=version, config=config))
            else:
                row.created = created_s if created_s is not None else row.created
                row.version = version if version is not None else row.version
                row.config = config if config is not None else row.config

    def runs(self) -> list[RunInfo]:
        with self._sessions() as s:
            rows = s.scalars(select(RunRow).order_by(RunRow.run_id)).all()
            return [RunInfo(r.run_id, r.created, r.version, r.config) for r in rows]

    # ------------------------------------------------------------------ events
    def add(
        self,
        events: Iterable[Event],
        run_id: str,
        start_times: Mapping[str, datetime | None] | None = None,
    ) -> int:
        """Upsert events of a run (same id -> replaced); returns how many were written."""
        rows = _rows(events, run_id, start_times or {})
        with self._sessions.begin() as s:
            self._ensure_run(s, run_id)
            self._upsert(s, rows)
        return len(rows)

    def replace_run(
        self,
        run_id: str,
        events: Iterable[Event],
        start_times: Mapping[str, datetime | None] | None = None,
    ) -> int:
        """Delete the run's events and write these, in one transaction (rules re-runs)."""
        rows = _rows(events, run_id, start_times or {})
        with self._sessions.begin() as s:
            s.execute(delete(EventRow).where(EventRow.run_id == run_id))
            self._ensure_run(s, run_id)
            self._upsert(s, rows)
        return len(rows)

    def query(
        self,
        kind: str | None = None,
        camera: str | None = None,
        since: TimeBound = None,
        until: TimeBound = None,
        subject: str | None = None,
        run_id: str | None = None,
    ) -> list[StoredEvent]:
        """Events matching every given filter, ordered by (t_start, camera, id).

        ``since``/``until`` bound the event's start, inclusive: seconds (number) against
        ``t_start``, or ISO datetimes against ``wall_start`` (see the module docstring).
        """
        conds: list[ColumnElement[bool]] = []
        if kind is not None:
            conds.append(EventRow.kind == kind)
        if camera is not None:
            conds.append(EventRow.camera == camera)
        if subject is not None:
            conds.append(EventRow.subject == subject)
        if run_id is not None:
            conds.append(EventRow.run_id == run_id)
        for bound, lower in ((since, True), (until, False)):
            if bound is not None:
                conds.append(_time_condition(bound, lower))
        stmt = (
            select(EventRow).where(*conds).order_by(EventRow.t_start, EventRow.camera, EventRow.id)
        )
        with self._sessions() as s:
            return [StoredEvent.from_row(r) for r in s.scalars(stmt)]

    def count(self) -> int:
        with self._sessions() as s:
            return int(s.scalar(select(func.count()).select_from(EventRow)) or 0)

    # ------------------------------------------------------------------ internals
    @staticmethod
    def _ensure_run(s: Session, run_id: str) -> None:
        if s.get(RunRow, run_id) is None:
            s.add(RunRow(run_id=run_id))
            s.flush()

    def _upsert(self, s: Session, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        dialect = self.engine.dialect.name
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            stmt = sqlite_insert(EventRow)
            update = {c: stmt.excluded[c] for c in _EVENT_COLUMNS if c != "id"}
            s.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=update), rows)
        elif dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            pstmt = pg_insert(EventRow)
            update = {c: pstmt.excluded[c] for c in _EVENT_COLUMNS if c != "id"}
            s.execute(pstmt.on_conflict_do_update(index_elements=["id"], set_=update), rows)
        else:  # any other SQLAlchemy backend: portable, slower
            for r in rows:
                s.merge(EventRow(**r))


# ---------------------------------------------------------------------- helpers
def _rows(
    events: Iterable[Event], run_id: str, start_times: Mapping[str, datetime | None]
) -> list[dict[str, Any]]:
    by_id: dict[str, dict[str, Any]] = {}  # last one wins (one statement must not hit an id twice)
    for e in events:
        start = start_times.get(e.camera)
        by_id[e.id] = {
            "id": e.id,
            "run_id": run_id,
            "kind": e.kind,
            "camera": e.camera,
            "track_ids": [int(i) for i in e.track_ids],
            "t_start": float(e.t_start),
            "t_end": float(e.t_end),
            "wall_start": wall_time(start, e.t_start),
            "wall_end": wall_time(start, e.t_end),
            "subject": e.subject,
            "direction": e.direction,
            "location": None if e.location is None else [float(v) for v in e.location],
            "attributes": _jsonable(dict(e.attributes)),
            "provenance": None if e.provenance is None else _jsonable(e.provenance.to_dict()),
        }
    return list(by_id.values())


def _iso_key(value: str | datetime) -> str:
    """Fixed-width naive ISO text of a datetime (aware values converted to UTC)."""
    dt = datetime.fromisoformat(value) if isinstance(value, str) else value
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt.isoformat(timespec="microseconds")


def _time_condition(bound: float | int | str | datetime, lower: bool) -> ColumnElement[bool]:
    seconds: float | None = None
    if isinstance(bound, bool):
        raise TypeError("time bound must be seconds or an ISO datetime, not bool")
    if isinstance(bound, int | float):
        seconds = float(bound)
    elif isinstance(bound, str):
        try:
            seconds = float(bound)
        except ValueError:
            seconds = None
    if seconds is not None:
        return EventRow.t_start >= seconds if lower else EventRow.t_start <= seconds
    try:
        key = _iso_key(bound)  # type: ignore[arg-type]
    except ValueError as e:
        raise ValueError(f"not seconds nor an ISO datetime: {bound!r}") from e
    wall = func.substr(EventRow.wall_start, 1, _ISO_KEY_LEN)
    cond = wall >= key if lower else wall <= key
    return EventRow.wall_start.is_not(None) & cond
