"""Settings of the rules (``rules:`` in the site config); re-exported by
:mod:`linewatch.config`."""

from __future__ import annotations

from pydantic import Field

from linewatch.configbase import _Model


class CrossingRule(_Model):
    enabled: bool = Field(True, description="Report line crossings.")
    margin: float = Field(
        0.5, ge=0, description="Hysteresis: distance beyond the line (m when calibrated, else px)."
    )
    classes: list[str] | None = Field(None, description="Only these classes (default: all).")
    min_hold: int = Field(
        2,
        ge=1,
        description="Observations beyond the margin on the new side before a crossing counts "
        "(2 ignores a one-frame jump).",
    )


class IncursionRule(_Model):
    enabled: bool = Field(True, description="Report temporary incursions.")
    max_seconds: float = Field(60.0, gt=0, description="Crossed and came back within this time.")
    report_open: bool = Field(
        False,
        description="Also report excursions whose track ended (or footage ended) still across "
        "the line, as returned: false. Off by default: a vehicle that crosses and drives out of "
        "view is a crossing, not an incursion.",
    )


class ZoneRule(_Model):
    enabled: bool = Field(True, description="Report zone enter/exit/dwell.")
    loiter_seconds: float = Field(60.0, gt=0, description="Inside longer than this: loitering.")
    min_inside_seconds: float = Field(
        0.3, ge=0, description="Hysteresis: inside at least this long before 'enter' is reported."
    )


class SpeedRule(_Model):
    enabled: bool = Field(True, description="Report speeds (needs calibration).")
    window_seconds: float = Field(1.0, gt=0, description="Smoothing window.")
    limits_kmh: dict[str, float] = Field(
        default_factory=dict, description="Per-class speed limits, e.g. {vehicle: 30}."
    )
    max_plausible_kmh: dict[str, float] = Field(
        default_factory=lambda: {
            "person": 45.0,
            "vehicle": 250.0,
            "bicycle": 80.0,
            "object": 250.0,
        },
        description="Speeds above these are measurement errors and are rejected.",
    )
    summaries: bool = Field(
        True, description="Report each track's max and mean speed when it ends (track_speed)."
    )


class PursuitRule(_Model):
    enabled: bool = Field(True, description="Report pursuits.")
    max_gap_seconds: float = Field(6.0, gt=0, description="Follower within this time behind.")
    max_path_distance: float = Field(
        5.0, gt=0, description="Follower's path within this distance of the leader's (m)."
    )
    min_duration_seconds: float = Field(3.0, gt=0, description="Following at least this long.")
    min_speed_kmh: float = Field(
        9.0, ge=0, description="Both moving at least this fast (running, not walking in file)."
    )
    min_gap_seconds: float = Field(
        0.5,
        ge=0,
        description="Follower at least this long behind (walking side by side is not following).",
    )


class PersonDownRule(_Model):
    enabled: bool = Field(True, description="Report persons down and time to assistance.")
    min_seconds: float = Field(5.0, gt=0, description="Lying and still at least this long.")
    assistance_radius: float = Field(
        2.0, gt=0, description="Another person within this distance (m) counts as assistance."
    )
    still_speed_kmh: float = Field(1.5, ge=0, description="Slower than this counts as still.")
    grace_seconds: float = Field(
        1.0, ge=0, description="Not lying or not still this long ends a down episode (got up)."
    )
    max_wait_seconds: float = Field(
        3600.0,
        gt=0,
        description="After the down person's track ends, wait this long for assistance.",
    )


class RulesConfig(_Model):
    crossing: CrossingRule = Field(default_factory=CrossingRule)
    incursion: IncursionRule = Field(default_factory=IncursionRule)
    zones: ZoneRule = Field(default_factory=ZoneRule)
    speed: SpeedRule = Field(default_factory=SpeedRule)
    pursuit: PursuitRule = Field(default_factory=PursuitRule)
    person_down: PersonDownRule = Field(default_factory=PersonDownRule)
