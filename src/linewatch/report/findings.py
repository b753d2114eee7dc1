"""Findings in plain sentences, and the short captions drawn on evidence frames.

Every event kind renders (unknown kinds get a generic sentence naming the kind, camera,
tracks, subject and direction); the kinds linewatch's rules produce get sentences an
investigator can read out, e.g. ``A vehicle (track 3) crossed MDL north->south at
15:31:07.4 (12.7 s into cam1), 61 km/h.``

Times: the wall time when the camera's start time is known (shown in the site's time
zone), always followed by the stream time, which is what the footage itself says.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from linewatch.store import StoredEvent

#: (camera, track id) -> class label ("person", "vehicle", ...)
Classes = Mapping[tuple[str, int], str]

_KIND_NOUNS = {
    "crossing": ("line crossing", "line crossings"),
    "incursion": ("temporary incursion", "temporary incursions"),
    "zone_enter": ("zone entry", "zone entries"),
    "zone_exit": ("zone exit", "zone exits"),
    "loitering": ("case of loitering", "cases of loitering"),
    "speeding": ("speeding episode", "speeding episodes"),
    "track_speed": ("track speed summary", "track speed summaries"),
    "pursuit": ("pursuit", "pursuits"),
    "person_down": ("person down", "persons down"),
}
_ENDED_BY = {"track_end": "the track ended", "footage_end": "the footage ended"}


def _num(attrs: Mapping[str, Any], *keys: str) -> float | None:
    for k in keys:
        v = attrs.get(k)
        if isinstance(v, int | float) and not isinstance(v, bool):
            return float(v)
    return None


def class_of(ev: StoredEvent, classes: Classes | None = None, index: int = 0) -> str:
    """The class label of the event's ``index``-th track ("object" when unknown)."""
    if index == 0 and isinstance(ev.attributes.get("class"), str):
        return str(ev.attributes["class"])
    if classes is not None and index < len(ev.track_ids):
        return classes.get((ev.camera, ev.track_ids[index]), "object")
    return "object"


def _a(noun: str) -> str:
    return ("An " if noun[:1].lower() in "aeiou" else "A ") + noun


def local_time(dt: datetime, timezone: str) -> datetime:
    """An aware time in the site's time zone (naive times, unknown zones: unchanged)."""
    if dt.tzinfo is None:
        return dt
    try:
        return dt.astimezone(ZoneInfo(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        return dt


def stamp(dt: datetime, digits: int, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """``dt`` formatted with ``digits`` decimals of seconds, rounded like ``f"{t:.1f}"``."""
    whole = dt.replace(microsecond=0)
    frac = round(dt.microsecond / 1e6, digits)
    if frac >= 1.0:
        whole, frac = whole + timedelta(seconds=1), 0.0
    return whole.strftime(fmt) + f"{frac:.{digits}f}"[1:]


def clock(ev: StoredEvent, timezone: str = "UTC", end: bool = False) -> str | None:
    """The event's wall time as ``HH:MM:SS.s`` in the site's time zone, or None."""
    wall = ev.wall_end if end else ev.wall_start
    if wall is None:
        return None
    return stamp(local_time(datetime.fromisoformat(wall), timezone), 1, "%H:%M:%S")


def full_time(ev: StoredEvent, timezone: str = "UTC") -> str:
    """``2024-05-01 15:31:07.4 CEST (t = 12.70 s, cam1)`` or ``t = 12.70 s, cam1``."""
    stream = f"t = {ev.t_start:.2f} s, {ev.camera}"
    if ev.wall_start is None:
        return stream
    dt = local_time(datetime.fromisoformat(ev.wall_start), timezone)
    zone = f" {dt.tzname()}" if dt.tzinfo is not None else ""
    return f"{stamp(dt, 1)}{zone} ({stream})"


def frame_stamp(camera: str, start: datetime | None, t: float, timezone: str = "UTC") -> str:
    """Burnt into frames: ``cam1  t=12.70 s  2024-05-01 15:31:07.40 CEST`` (wall if known)."""
    text = f"{camera}  t={t:.2f} s"
    if start is not None:
        dt = local_time(start + timedelta(seconds=t), timezone)
        text += f"  {stamp(dt, 2)} {dt.tzname() or ''}".rstrip()
    return text


def event_time(ev: StoredEvent) -> float:
    """The moment that shows the finding best (the still's time): the exit of a zone exit,
    the peak of a speeding episode, else the start."""
    if ev.kind == "zone_exit":
        return ev.t_end
    t_max = _num(ev.attributes, "t_max")
    if ev.kind == "speeding" and t_max is not None and ev.t_start <= t_max <= ev.t_end:
        return t_max
    return ev.t_start


def when(ev: StoredEvent, timezone: str = "UTC", end: bool = False) -> str:
    """``15:31:07.4 (12.7 s into cam1)``, or ``12.7 s into cam1`` without a wall time."""
    stream = f"{ev.t_end if end else ev.t_start:.1f} s into {ev.camera}"
    wall = clock(ev, timezone, end)
    return stream if wall is None else f"{wall} ({stream})"


def _tracks(ids: Sequence[int]) -> str:
    if len(ids) == 1:
        return f"track {ids[0]}"
    return "tracks " + ", ".join(str(i) for i in ids[:-1]) + f" and {ids[-1]}"


def sentence(ev: StoredEvent, classes: Classes | None = None, timezone: str = "UTC") -> str:
    """One plain-English sentence describing the finding."""
    a = ev.attributes
    cls = class_of(ev, classes)
    if ev.kind == "pursuit" and isinstance(a.get("leader_class"), str):
        cls = str(a["leader_class"])
    who = f"{_a(cls)} ({_tracks(ev.track_ids[:1])})" if ev.track_ids else _a(cls)
    at = when(ev, timezone)
    dur = ev.t_end - ev.t_start
    subject = ev.subject or "?"
    units = str(a.get("units", "m"))
    if ev.kind == "crossing":
        speed = _num(a, "speed_kmh")
        tail = f", {speed:.0f} km/h" if speed is not None else ""
        return f"{who} crossed {subject} {ev.direction or ''} at {at}{tail}.".replace("  ", " ")
    if ev.kind == "incursion":
        into = a.get("side_into") or (ev.direction or "").split("->")[-1] or "other"
        depth = _num(a, "max_depth")
        secs = _num(a, "excursion_seconds") or dur
        deep = f", reaching {depth:.1f} {units} beyond the line" if depth is not None else ""
        if a.get("returned", True):
            return (
                f"{who} crossed {subject} into the {into} side at {at} and came back after "
                f"{secs:.1f} s{deep}."
            )
        ended = _ENDED_BY.get(str(a.get("ended_by")), str(a.get("ended_by", "it was lost")))
        return (
            f"{who} crossed {subject} into the {into} side at {at} and had not come back "
            f"{secs:.1f} s later, when {ended}{deep}."
        )
    if ev.kind == "zone_enter":
        return f"{who} entered zone {subject} at {at}."
    if ev.kind == "zone_exit":
        secs = _num(a, "dwell_seconds") or dur
        left = when(ev, timezone, end=True)
        return f"{who} left zone {subject} at {left} after {secs:.1f} s inside."
    if ev.kind in ("dwell", "loitering"):
        secs = _num(a, "dwell_seconds") or dur
        limit = _num(a, "limit_seconds")
        lim = f" (limit {limit:.0f} s)" if limit is not None else ""
        verb = "loitered in" if ev.kind == "loitering" else "stayed in"
        return f"{who} {verb} zone {subject}: inside {secs:.1f} s{lim} since {at}."
    if ev.kind in ("speeding", "speed"):
        top = _num(a, "max_kmh", "speed_kmh")
        limit = _num(a, "limit_kmh")
        lim = f" (limit {limit:.0f} km/h)" if limit is not None else ""
        v = f"up to {top:.0f} km/h" if top is not None else "too fast"
        return f"{who} was speeding, {v}{lim}, for {dur:.1f} s from {at}."
    if ev.kind == "track_speed":
        top, mean = _num(a, "max_kmh"), _num(a, "mean_kmh")
        v = f"up to {top:.0f} km/h" if top is not None else "at an unknown speed"
        m = f" (mean {mean:.0f} km/h)" if mean is not None else ""
        return f"{who} moved at {v}{m} over {dur:.1f} s from {at}."
    if ev.kind == "pursuit":
        followers = list(ev.track_ids[1:])
        by = _tracks(followers) if followers else "another track"
        info = a.get("followers")
        first = info[0] if isinstance(info, list) and info and isinstance(info[0], dict) else {}
        gap = _num(first, "median_gap_seconds")
        gap_s = f", about {gap:.1f} s behind" if gap is not None else ""
        return f"{who} was followed by {by} for {dur:.1f} s from {at}{gap_s}."
    if ev.kind == "person_down":
        down = _num(a, "duration_down_seconds") or dur
        helper = a.get("helper")
        help_s = _num(a, "time_to_assistance_seconds")
        if a.get("assisted") and help_s is not None:
            hid = helper.get("track_id") if isinstance(helper, dict) else None
            by = f" (track {hid})" if hid is not None else ""
            tail = f"; assistance{by} came after {help_s:.1f} s"
        else:
            tail = "; nobody came within the assistance radius"
        up = ", then got up" if a.get("got_up") else ""
        person = f"A person ({_tracks(ev.track_ids[:1])})" if ev.track_ids else "A person"
        seen = a.get("also_seen_by")
        if isinstance(seen, list) and seen:
            views = ", ".join(
                f"{v.get('camera')} track {v.get('track_id')}" for v in seen if isinstance(v, dict)
            )
            tail += f" (also seen by {views})"
        return f"{person} went down at {at} and stayed down {down:.1f} s{up}{tail}."
    bits = [f"{ev.kind.replace('_', ' ')} on {ev.camera}"]
    if ev.track_ids:
        bits.append(_tracks(ev.track_ids))
    if ev.subject:
        bits.append(f"about {ev.subject}")
    if ev.direction:
        bits.append(ev.direction)
    text = ", ".join(bits)
    return f"{text[:1].upper()}{text[1:]}, at {at}" + (f", lasting {dur:.1f} s." if dur else ".")


def caption(ev: StoredEvent, classes: Classes | None = None) -> str:
    """A short caption for frames: ``vehicle crosses MDL north->south, 61 km/h``."""
    a = ev.attributes
    who = class_of(ev, classes)
    if ev.track_ids:
        who += f" #{ev.track_ids[0]}"
    speed = _num(a, "speed_kmh")
    kmh = f", {speed:.0f} km/h" if speed is not None else ""
    if ev.kind == "crossing":
        return f"{who} crosses {ev.subject} {ev.direction or ''}{kmh}".replace("  ", " ")
    if ev.kind == "incursion":
        secs = _num(a, "excursion_seconds") or (ev.t_end - ev.t_start)
        return f"{who}: incursion across {ev.subject}, {secs:.1f} s"
    if ev.kind in ("zone_enter", "zone_exit"):
        verb = "enters" if ev.kind == "zone_enter" else "leaves"
        return f"{who} {verb} zone {ev.subject}"
    if ev.kind == "loitering":
        return f"{who} loitering in zone {ev.subject}"
    if ev.kind in ("speeding", "track_speed"):
        top = _num(a, "max_kmh")
        return f"{who}: {ev.kind.replace('_', ' ')}" + (f", up to {top:.0f} km/h" if top else "")
    if ev.kind == "pursuit":
        return f"{who} followed by " + ", ".join(f"#{i}" for i in ev.track_ids[1:])
    if ev.kind == "person_down":
        return f"{who} down"
    subject = f" {ev.subject}" if ev.subject else ""
    return f"{who}: {ev.kind.replace('_', ' ')}{subject}{kmh}"


def kind_count(kind: str, n: int) -> str:
    """``3 line crossings``, ``1 person down``, ``2 foo_bar events``."""
    one, many = _KIND_NOUNS.get(kind, (f"{kind} event", f"{kind} events"))
    return f"{n} {one if n == 1 else many}"


#: kinds in the order key findings keep them when there are more than the limit
PRIORITY = (
    "person_down",
    "pursuit",
    "incursion",
    "crossing",
    "speeding",
    "loitering",
    "zone_enter",
    "zone_exit",
    "track_speed",
)


def key_findings(
    events: Sequence[StoredEvent],
    classes: Classes | None = None,
    timezone: str = "UTC",
    limit: int = 12,
) -> list[str]:
    """A summary sentence, then up to ``limit`` findings in time order (the most serious
    kinds kept first when there are more; per-track speed summaries come last)."""
    if not events:
        return ["No findings: no event was detected in the footage analysed."]
    counts = Counter(e.kind for e in events)
    cams = sorted({e.camera for e in events})
    summary = ", ".join(kind_count(k, n) for k, n in sorted(counts.items()))
    where = f"camera {cams[0]}" if len(cams) == 1 else f"{len(cams)} cameras"
    out = [f"{len(events)} finding{'s' if len(events) != 1 else ''} on {where}: {summary}."]

    def rank(i: int) -> tuple[int, int]:
        k = events[i].kind
        return (PRIORITY.index(k) if k in PRIORITY else len(PRIORITY) - 1, i)

    chosen = sorted(range(len(events)), key=rank)[:limit]
    keep = sorted(chosen, key=lambda i: (event_time(events[i]), i))  # when it happened
    out.extend(sentence(events[i], classes, timezone) for i in keep)
    if len(events) > limit:
        out.append(f"... and {len(events) - limit} more (see the event cards below).")
    return out
