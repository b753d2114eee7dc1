"""Ground truth of a rendered scene: typed records, and reading/writing ``truth.json``.

``truth.json`` holds, per actor, its class and one row per frame it is present in (time,
frame index, exact site foot point, heading, speed, posture, pixel box, visibility), and the
``expected_events`` derived analytically from the actors' paths (see ``synth.events``).
Times are seconds from the video's first frame; site coordinates are metres; boxes are
``xyxy`` pixels clipped to the image.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class FrameTruth:
    """One actor in one frame."""

    t: float
    frame: int
    x: float  # site foot point, metres
    y: float
    heading: float  # compass degrees
    speed: float  # metres per second
    posture: str  # "upright" | "lying"
    visible: bool
    visibility: float  # fraction of the projected 3D box visible
    box: Box | None  # xyxy clipped to the image; None when outside it


@dataclass(frozen=True, slots=True)
class ActorTruth:
    id: str
    cls: str  # ObjectClass label: "person", "vehicle"
    size: tuple[float, float, float]  # upright length, width, height (m)
    frames: tuple[FrameTruth, ...]

    def at(self, frame: int) -> FrameTruth | None:
        """The actor's row for a frame index (None when it is not present then)."""
        if not self.frames:
            return None
        i = frame - self.frames[0].frame
        if 0 <= i < len(self.frames) and self.frames[i].frame == frame:
            return self.frames[i]
        return next((f for f in self.frames if f.frame == frame), None)


@dataclass(frozen=True, slots=True)
class CrossingTruth:
    actor: str
    line: str
    direction: str  # "north->south"
    t: float  # exact time the foot point is on the line
    x: float  # where, site metres
    y: float
    speed_kmh: float  # the actor's speed at that moment


@dataclass(frozen=True, slots=True)
class IncursionTruth:
    actor: str
    line: str
    side: str  # the side it went into and came back from
    t_cross: float
    t_return: float
    max_depth: float  # metres beyond the line, at most
    cross_point: tuple[float, float]
    return_point: tuple[float, float]

    @property
    def duration(self) -> float:
        return self.t_return - self.t_cross


@dataclass(frozen=True, slots=True)
class SpeedTruth:
    """A vehicle's mean speed over ``window`` seconds before it crossed a line."""

    actor: str
    line: str
    t: float  # the crossing time
    window: float
    speed_kmh: float


@dataclass(frozen=True, slots=True)
class PursuitTruth:
    leader: str
    followers: tuple[str, ...]
    t_start: float
    t_end: float


@dataclass(frozen=True, slots=True)
class PersonDownTruth:
    actor: str
    t_down: float
    x: float
    y: float
    radius: float  # assistance radius used (m)
    t_assist: float | None  # first time another person is within ``radius``; None: never
    assisted_by: str | None


@dataclass(frozen=True, slots=True)
class ExpectedEvents:
    crossings: tuple[CrossingTruth, ...] = ()
    incursions: tuple[IncursionTruth, ...] = ()
    speeds: tuple[SpeedTruth, ...] = ()
    pursuits: tuple[PursuitTruth, ...] = ()
    persons_down: tuple[PersonDownTruth, ...] = ()


@dataclass(frozen=True, slots=True)
class GroundTruth:
    name: str
    fps: float
    frame_count: int
    width: int
    height: int
    start_time: str  # ISO 8601 of frame 0
    camera: str  # camera id in site.yaml
    video: str  # file name of the video next to truth.json
    actors: dict[str, ActorTruth]
    expected: ExpectedEvents
    camera_model: dict[str, float] = field(default_factory=dict)

    def boxes(self, frame: int) -> dict[str, Box]:
        """Visible actors' boxes in one frame, by actor id."""
        out: dict[str, Box] = {}
        for a in self.actors.values():
            f = a.at(frame)
            if f is not None and f.visible and f.box is not None:
                out[a.id] = f.box
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "fps": self.fps,
            "frame_count": self.frame_count,
            "width": self.width,
            "height": self.height,
            "start_time": self.start_time,
            "camera": self.camera,
            "video": self.video,
            "camera_model": dict(self.camera_model),
            "actors": {
                k: {
                    "class": a.cls,
                    "size": list(a.size),
                    "frames": [_frame_dict(f) for f in a.frames],
                }
                for k, a in self.actors.items()
            },
            "expected_events": {
                "crossings": [asdict(c) for c in self.expected.crossings],
                "incursions": [
                    {**asdict(i), "duration": i.duration} for i in self.expected.incursions
                ],
                "speeds": [asdict(s) for s in self.expected.speeds],
                "pursuits": [asdict(p) for p in self.expected.pursuits],
                "persons_down": [asdict(p) for p in self.expected.persons_down],
            },
        }


def _frame_dict(f: FrameTruth) -> dict[str, Any]:
    d = asdict(f)
    d["box"] = None if f.box is None else list(f.box)
    return d


def save_truth(truth: GroundTruth, path: str | Path) -> None:
    Path(path).write_text(json.dumps(truth.to_dict(), indent=1), encoding="utf-8")


def load_truth(path: str | Path) -> GroundTruth:
    """Read a ``truth.json`` written by ``synth.render``."""
    d = json.loads(Path(path).read_text(encoding="utf-8"))
    return truth_from_dict(d)


def truth_from_dict(d: dict[str, Any]) -> GroundTruth:
    actors = {
        k: ActorTruth(
            id=k,
            cls=a["class"],
            size=_t3(a["size"]),
            frames=tuple(
                FrameTruth(
                    t=f["t"],
                    frame=f["frame"],
                    x=f["x"],
                    y=f["y"],
                    heading=f["heading"],
                    speed=f["speed"],
                    posture=f["posture"],
                    visible=f["visible"],
                    visibility=f["visibility"],
                    box=None if f["box"] is None else _t4(f["box"]),
                )
                for f in a["frames"]
            ),
        )
        for k, a in d["actors"].items()
    }
    e = d["expected_events"]
    expected = ExpectedEvents(
        crossings=tuple(CrossingTruth(**c) for c in e["crossings"]),
        incursions=tuple(
            IncursionTruth(
                **{
                    k: v
                    for k, v in i.items()
                    if k not in ("duration", "cross_point", "return_point")
                },
                cross_point=_t2(i["cross_point"]),
                return_point=_t2(i["return_point"]),
            )
            for i in e["incursions"]
        ),
        speeds=tuple(SpeedTruth(**s) for s in e["speeds"]),
        pursuits=tuple(
            PursuitTruth(p["leader"], tuple(p["followers"]), p["t_start"], p["t_end"])
            for p in e["pursuits"]
        ),
        persons_down=tuple(PersonDownTruth(**p) for p in e["persons_down"]),
    )
    return GroundTruth(
        name=d["name"],
        fps=d["fps"],
        frame_count=d["frame_count"],
        width=d["width"],
        height=d["height"],
        start_time=d["start_time"],
        camera=d["camera"],
        video=d["video"],
        actors=actors,
        expected=expected,
        camera_model=d.get("camera_model", {}),
    )


def _t2(v: Any) -> tuple[float, float]:
    return float(v[0]), float(v[1])


def _t3(v: Any) -> tuple[float, float, float]:
    return float(v[0]), float(v[1]), float(v[2])


def _t4(v: Any) -> Box:
    return float(v[0]), float(v[1]), float(v[2]), float(v[3])
