"""Site configuration: one YAML file describes the site, its cameras, lines, zones and rules.

Every model forbids unknown keys, every field has a description, and plug-in settings
(detectors) are discriminated unions on ``type``. Loading never touches the network,
hardware or files other than the YAML itself: sources and model paths are checked when
they are opened, not here.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from linewatch.configbase import Point, _Model
from linewatch.rule_config import (  # re-exported: the rules' settings
    CrossingRule,
    IncursionRule,
    PersonDownRule,
    PursuitRule,
    RulesConfig,
    SpeedRule,
    ZoneRule,
)

__all__ = [
    "Calibration",
    "CameraConfig",
    "ConfigError",
    "CrossingRule",
    "DetectorConfig",
    "FastestDetDetectorConfig",
    "IncursionRule",
    "LineConfig",
    "MotionDetectorConfig",
    "PersonDownRule",
    "Point",
    "PoseConfig",
    "PursuitRule",
    "RulesConfig",
    "Sides",
    "SiteConfig",
    "SiteInfo",
    "SpeedRule",
    "TrackerConfig",
    "UltralyticsDetectorConfig",
    "YoloxDetectorConfig",
    "ZoneConfig",
    "ZoneRule",
    "dump_config",
    "load_config",
    "parse_config",
]


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the field and what is allowed."""


# --------------------------------------------------------------------------- detectors
class MotionDetectorConfig(_Model):
    """Built-in background-subtraction detector: needs no weights."""

    type: Literal["motion"] = "motion"
    history: int = Field(300, ge=10, description="Frames of background history (MOG2).")
    var_threshold: float = Field(25.0, gt=0, description="MOG2 variance threshold.")
    min_area_px: float = Field(60.0, ge=1, description="Smallest blob area in pixels.")
    min_area_m2: float | None = Field(
        0.15, ge=0, description="Smallest blob footprint in square metres (calibrated cameras)."
    )
    max_area_m2: float | None = Field(
        60.0, gt=0, description="Largest blob footprint in square metres (calibrated cameras)."
    )
    downscale: int = Field(
        2, ge=1, le=8, description="Run background subtraction on an image this many times smaller."
    )
    separate_still: bool = Field(
        True,
        description="Report a still tracked object (a person lying) from its own box and find"
        " what moves beside it separately, so the two never merge into one blob.",
    )


class _OnnxDetectorBase(_Model):
    model: Path = Field(description="Path to the ONNX file (never downloaded).")
    input_size: int = Field(416, ge=32, description="Square network input size in pixels.")
    score_threshold: float = Field(0.3, ge=0, le=1, description="Default minimum score.")
    class_thresholds: dict[str, float] = Field(
        default_factory=dict,
        description="Per-class minimum score, e.g. {person: 0.25, vehicle: 0.4}.",
    )
    nms_iou: float = Field(0.45, gt=0, le=1, description="IoU above which NMS suppresses a box.")
    threads: int = Field(0, ge=0, description="onnxruntime intra-op threads (0: all cores).")
    provider: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="Execution provider: auto picks CUDA when onnxruntime has it."
    )
    motion_gating: bool = Field(
        True, description="Run the model only where/when there is motion (static scenes are cheap)."
    )
    recheck_seconds: float = Field(
        1.0,
        gt=0,
        description="With gating, re-run the model at least this often (stationary objects).",
    )


class YoloxDetectorConfig(_OnnxDetectorBase):
    """YOLOX exports (nano ... x): 1xNx85 grid output, BGR 0-255, letterbox top-left pad 114."""

    type: Literal["yolox"]


class UltralyticsDetectorConfig(_OnnxDetectorBase):
    """Ultralytics YOLOv8 / YOLO11 exports: 1x84xN output, RGB /255, centred letterbox."""

    type: Literal["ultralytics"]
    input_size: int = Field(640, ge=32, description="Square network input size in pixels.")


class FastestDetDetectorConfig(_OnnxDetectorBase):
    """FastestDet: 1x85xHxW output, BGR /255, plain resize."""

    type: Literal["fastestdet"]
    input_size: int = Field(352, ge=32, description="Square network input size in pixels.")


DetectorConfig = Annotated[
    MotionDetectorConfig
    | YoloxDetectorConfig
    | UltralyticsDetectorConfig
    | FastestDetDetectorConfig,
    Field(discriminator="type"),
]


class PoseConfig(_Model):
    """Optional pose plug-in (MoveNet MultiPose ONNX) giving keypoints for person tracks."""

    model: Path = Field(description="Path to movenet-multipose.onnx.")
    input_size: int = Field(256, ge=32, multiple_of=32, description="Square input size.")
    min_score: float = Field(0.2, ge=0, le=1, description="Minimum person score.")


# --------------------------------------------------------------------------- tracking
class TrackerConfig(_Model):
    """Multi-object tracker settings (times in seconds, so low analysis rates work)."""

    high_score: float = Field(0.5, ge=0, le=1, description="Detections above: first-stage matches.")
    low_score: float = Field(0.1, ge=0, le=1, description="Detections above: second-stage only.")
    new_track_score: float = Field(
        0.7,
        ge=0,
        le=1,
        description="A track is confirmed only once one of its detections scores this much "
        "(tracks start tentatively from high-score detections).",
    )
    match_iou: float = Field(0.2, ge=0, le=1, description="Minimum IoU for an association.")
    confirm_hits: int = Field(3, ge=1, description="Matched frames before a track is confirmed.")
    max_lost_seconds: float = Field(
        3.0, gt=0, description="Keep a lost track this long for re-association."
    )
    max_lost_stationary_seconds: float = Field(
        900.0,
        gt=0,
        description="Keep a lost track this long when it was stationary (a person lying still).",
    )
    low_match_iou: float = Field(
        0.4, ge=0, le=1, description="Minimum IoU for a second-stage (low-score) association."
    )
    gate_sigmas: float = Field(
        3.0,
        gt=0,
        description="Motion gate: a detection whose centre is within this many standard "
        "deviations of a track's predicted centre may be associated even without IoU "
        "(the gate widens while the track is lost).",
    )
    max_gate_distance: float = Field(
        2.0, ge=0, description="The motion gate never reaches further (in box heights)."
    )
    stationary_gate_distance: float = Field(
        0.5, ge=0, description="Motion gate of a stationary track (in box heights)."
    )
    stationary_speed: float = Field(
        0.1,
        ge=0,
        description="A track slower than this (box heights per second) is stationary: it "
        "is kept max_lost_stationary_seconds and not extrapolated while lost.",
    )
    stationary_window_seconds: float = Field(
        2.0, gt=0, description="Time window over which a track's speed is measured."
    )
    tentative_max_lost_seconds: float = Field(
        0.5,
        ge=0,
        description="A tentative (unconfirmed) track missed longer than this is dropped.",
    )
    exit_lost_seconds: float = Field(
        0.5,
        gt=0,
        description="A lost track last seen at the image border moving outward has left: "
        "it ends after this long instead of max_lost_seconds.",
    )
    edge_margin: float = Field(
        0.1, ge=0, description="'At the border': within this fraction of the box height."
    )


# --------------------------------------------------------------------------- cameras
class Calibration(_Model):
    """Image pixels -> site metres, from >= 4 point pairs (a homography)."""

    image: list[Point] = Field(min_length=4, description="Points in image pixels.")
    site: list[Point] = Field(min_length=4, description="The same points on the site, metres.")

    @model_validator(mode="after")
    def _same_length(self) -> Calibration:
        if len(self.image) != len(self.site):
            raise ValueError(
                f"calibration needs as many image points as site points "
                f"(got {len(self.image)} image, {len(self.site)} site)"
            )
        return self


class CameraConfig(_Model):
    """One fixed camera and its footage."""

    id: str = Field(min_length=1, description="Camera id used in events.")
    source: str = Field(description="Video file path (relative to the config file) or rtsp:// URL.")
    start_time: datetime | None = Field(
        None, description="Wall-clock time of the first frame (ISO 8601 with offset)."
    )
    fps: float | None = Field(
        None, gt=0, description="Override the container's frame rate (times = index / fps)."
    )
    analysis_fps: float | None = Field(
        None, gt=0, description="Analyse at most this many frames per second (stride)."
    )
    detector: DetectorConfig = Field(
        default_factory=MotionDetectorConfig, description="Detector plug-in."
    )
    pose: PoseConfig | None = Field(None, description="Optional pose plug-in.")
    tracker: TrackerConfig = Field(default_factory=TrackerConfig, description="Tracker settings.")
    calibration: Calibration | None = Field(
        None, description="Homography to the site map; without it rules work in pixels."
    )


# --------------------------------------------------------------------------- geometry
class Sides(_Model):
    """Names of the two sides of a line, seen from its first point toward its second."""

    left: str = Field(min_length=1, description="Name of the side on the left.")
    right: str = Field(min_length=1, description="Name of the side on the right.")

    @model_validator(mode="after")
    def _distinct(self) -> Sides:
        if self.left == self.right:
            raise ValueError(f"the two sides need different names (both are {self.left!r})")
        return self


class LineConfig(_Model):
    """A polyline with named sides: image pixels of one camera, or site metres."""

    id: str = Field(min_length=1, description="Line id used in events.")
    camera: str | None = Field(
        None, description="Camera whose image the points are in; omit for site coordinates."
    )
    points: list[Point] = Field(min_length=2, description="Polyline vertices.")
    sides: Sides = Field(
        default_factory=lambda: Sides(left="left", right="right"),
        description="Side names: left/right when walking from the first point to the second "
        "as drawn (on the image as displayed, or on the site map with Y up).",
    )


class ZoneConfig(_Model):
    """A polygon: image pixels of one camera, or site metres."""

    id: str = Field(min_length=1, description="Zone id used in events.")
    camera: str | None = Field(
        None, description="Camera whose image the points are in; omit for site coordinates."
    )
    points: list[Point] = Field(min_length=3, description="Polygon vertices.")


class SiteInfo(_Model):
    name: str = Field("site", description="Site name shown in reports.")
    timezone: str = Field("UTC", description="IANA timezone for wall-clock times in reports.")


class SiteConfig(_Model):
    """The whole configuration of one analysis."""

    site: SiteInfo = Field(default_factory=SiteInfo, description="Site name and timezone.")
    cameras: list[CameraConfig] = Field(min_length=1, description="At least one camera.")
    lines: list[LineConfig] = Field(default_factory=list, description="Lines with named sides.")
    zones: list[ZoneConfig] = Field(default_factory=list, description="Zones (polygons).")
    rules: RulesConfig = Field(default_factory=RulesConfig, description="Rule settings.")
    #: directory relative sources/models are resolved against (set by load_config)
    base_dir: Path | None = Field(None, exclude=True, description="Internal.")

    @field_validator("cameras")
    @classmethod
    def _unique_cameras(cls, cams: list[CameraConfig]) -> list[CameraConfig]:
        _unique([c.id for c in cams], "camera")
        return cams

    @model_validator(mode="after")
    def _references(self) -> SiteConfig:
        cams = {c.id: c for c in self.cameras}
        _unique([ln.id for ln in self.lines], "line")
        _unique([z.id for z in self.zones], "zone")
        for kind, items in (("line", self.lines), ("zone", self.zones)):
            for item in items:
                if item.camera is not None and item.camera not in cams:
                    raise ValueError(
                        f"{kind} {item.id!r} names camera {item.camera!r}, which is not defined "
                        f"(cameras: {', '.join(cams)})"
                    )
                if item.camera is None and not any(c.calibration for c in self.cameras):
                    raise ValueError(
                        f"{kind} {item.id!r} is in site coordinates (no camera) but no camera "
                        f"has a calibration; give it `camera:` or calibrate a camera"
                    )
        return self

    def camera(self, camera_id: str) -> CameraConfig:
        for c in self.cameras:
            if c.id == camera_id:
                return c
        raise KeyError(camera_id)

    def resolve(self, path: str | Path) -> Path:
        """A path from the config, made absolute against the config file's folder."""
        p = Path(path).expanduser()
        if p.is_absolute() or self.base_dir is None:
            return p
        return self.base_dir / p


def _unique(ids: list[str], what: str) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise ValueError(f"duplicate {what} id {i!r}")
        seen.add(i)


def _format_error(err: ValidationError, origin: str) -> str:
    lines = [f"{origin}: invalid config"]
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling; see docs/config.md for allowed fields)"
        elif e["type"] == "union_tag_invalid":
            ctx = e.get("ctx") or {}
            msg = f"unknown type {ctx.get('tag')!r}; allowed: {ctx.get('expected_tags')}"
        elif e["type"] == "union_tag_not_found":
            msg = "missing `type` (allowed: motion, yolox, ultralytics, fastestdet)"
        lines.append(f"  {loc}: {msg}")
    return "\n".join(lines)


def parse_config(data: Any, origin: str = "config", base_dir: Path | None = None) -> SiteConfig:
    """Validate a config mapping; raise ConfigError with one line per problem."""
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: the top level must be a mapping with `cameras:` etc.")
    try:
        cfg = SiteConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_error(e, origin)) from None
    return cfg.model_copy(update={"base_dir": base_dir})


def load_config(path: str | Path) -> SiteConfig:
    """Read and validate a YAML site config."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: config file not found")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML: {e}") from None
    return parse_config(data, origin=str(p), base_dir=p.resolve().parent)


def dump_config(cfg: SiteConfig) -> str:
    """The config as YAML (for the run folder's snapshot)."""
    data = cfg.model_dump(mode="json", exclude={"base_dir"}, exclude_none=True)
    return yaml.safe_dump(data, sort_keys=False)
