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
    "dwell": ("dwell", "dwells"),
    "loitering": ("case of loitering", "cases of loitering"),
    "speed": ("speed finding", "speed findings"),
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


def clock(ev: StoredEvent, timezone: str = "UTC", end: bool = False) -> str | None:
    """The event's wall time as ``HH:MM:SS.s`` in the site's time zone, or None."""
    wall = ev.wall_end if end else ev.wall_start
    if wall is None:
        return None
    return local_time(datetime.fromisoformat(wall), timezone).strftime("%H:%M:%S.%f")[:-5]


def full_time(ev: StoredEvent, timezone: str = "UTC") -> str:
    """``2024-05-01 15:31:07.4 CEST (t = 12.70 s, cam1)`` or ``t = 12.70 s, cam1``."""
    stream = f"t = {ev.t_start:.2f} s, {ev.camera}"
    if ev.wall_start is None:
        return stream
    dt = local_time(datetime.fromisoformat(ev.wall_start), timezone)
    zone = f" {dt.tzname()}" if dt.tzinfo is not None else ""
    return f"{dt.strftime('%Y-%m-%d %H:%M:%S.%f')[:-5]}{zone} ({stream})"


def frame_stamp(camera: str, start: datetime | None, t: float, timezone: str = "UTC") -> str:
    """Burnt into frames: ``cam1  t=12.70 s  2024-05-01 15:31:07.40 CEST`` (wall if known)."""
    text = f"{camera}  t={t:.2f} s"
    if start is not None:
        dt = local_time(start + timedelta(seconds=t), timezone)
        text += f"  {dt.strftime('%Y-%m-%d %H:%M:%S.%f')[:-4]} {dt.tzname() or ''}".rstrip()
    return text


def when(ev: StoredEvent, timezone: str = "UTC") -> str:
    """``15:31:07.4 (12.7 s into cam1)``, or ``12.7 s into cam1`` without a wall time."""
    stream = f"{ev.t_start:.1f} s into {ev.camera}"
    wall = clock(ev, timezone)
    return stream if wall is None else f"{wall} ({stream})"


def _tracks(ids: Sequence[int]) -> str:
    if len(ids) == 1:
        return f"track {ids[0]}"
    return "tracks " + ", ".join(str(i) for i in ids[:-1]) + f" and {ids[-1]}"


def sentence(ev: StoredEvent, classes: Classes | None = None, timezone: str = "UTC") -> str:
    """One plain-English sentence describing the finding."""
    a = ev.attributes
    who = f"{_a(class_of(ev, classes))} ({_tracks(ev.track_ids[:1])})" if ev.track_ids else "?"
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
        return f"{who} left zone {subject} at {at}."
    if ev.kind in ("dwell", "loitering"):
        secs = _num(a, "dwell_seconds", "seconds", "duration_seconds") or dur
        verb = "loitered in" if ev.kind == "loitering" else "stayed in"
        return f"{who} {verb} zone {subject} for {secs:.1f} s from {at}."
    if ev.kind == "speed":
        speed = _num(a, "speed_kmh", "max_speed_kmh", "kmh")
        limit = _num(a, "limit_kmh")
        lim = f" (limit {limit:.0f} km/h)" if limit is not None else ""
        v = f"{speed:.0f} km/h" if speed is not None else "an unknown speed"
        return f"{who} was measured at {v}{lim} at {at}."
    if ev.kind == "pursuit":
        followers = list(ev.track_ids[1:])
        by = _tracks(followers) if followers else "another track"
        secs = _num(a, "duration_seconds", "seconds") or dur
        gap = _num(a, "gap_seconds", "mean_gap_seconds")
        gap_s = f", about {gap:.1f} s behind" if gap is not None else ""
        return f"{who} was followed by {by} for {secs:.1f} s from {at}{gap_s}."
    if ev.kind == "person_down":
        down = _num(a, "time_down", "down_seconds", "seconds_down") or dur
        help_s = _num(a, "time_to_assistance", "time_to_assistance_seconds")
        if help_s is not None and a.get("assisted", True) is not False:
            helper = a.get("assisted_by")
            by = f" (track {helper})" if isinstance(helper, int) else ""
            tail = f"; assistance{by} came after {help_s:.1f} s"
        else:
            tail = "; nobody came to assist"
        person = f"A person ({_tracks(ev.track_ids[:1])})" if ev.track_ids else "A person"
        return f"{person} went down at {at} and was down for {down:.1f} s{tail}."
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


def key_findings(
    events: Sequence[StoredEvent],
    classes: Classes | None = None,
    timezone: str = "UTC",
    limit: int = 12,
) -> list[str]:
    """A summary sentence and the first ``limit`` findings, in time order."""
    if not events:
        return ["No findings: no event was detected in the footage analysed."]
    counts = Counter(e.kind for e in events)
    cams = sorted({e.camera for e in events})
    summary = ", ".join(kind_count(k, n) for k, n in sorted(counts.items()))
    where = f"camera {cams[0]}" if len(cams) == 1 else f"{len(cams)} cameras"
    out = [f"{len(events)} finding{'s' if len(events) != 1 else ''} on {where}: {summary}."]
    out.extend(sentence(e, classes, timezone) for e in events[:limit])
    if len(events) > limit:
        out.append(f"... and {len(events) - limit} more (see the event cards below).")
    return out
