"""Synthetic fixed-camera scenes with exact ground truth (the demo footage and test data).

    >>> from linewatch.synth import incident_scenario, render
    >>> result = render(incident_scenario(seed=1), "out/")   # doctest: +SKIP

``render`` writes ``<name>.mp4``, ``site.yaml`` and ``truth.json``; ``load_truth`` reads the
latter back. Build your own scenes with ``Scenario``, ``Actor``, ``Waypoint`` and
``PinholeCamera``.
"""

from linewatch.synth.camera import PinholeCamera
from linewatch.synth.events import (
    expected_crossings,
    expected_events,
    expected_incursions,
    expected_persons_down,
    expected_pursuits,
    expected_speeds,
)
from linewatch.synth.incident import INCIDENT_CAMERA, incident_scenario
from linewatch.synth.render import SynthResult, render, site_config
from linewatch.synth.renderer import RenderedFrame, SceneRenderer
from linewatch.synth.scene import (
    Actor,
    ActorState,
    Building,
    Layout,
    PostureChange,
    Scenario,
    Waypoint,
)
from linewatch.synth.truth import (
    ActorTruth,
    CrossingTruth,
    ExpectedEvents,
    FrameTruth,
    GroundTruth,
    IncursionTruth,
    PersonDownTruth,
    PursuitTruth,
    SpeedTruth,
    load_truth,
)

__all__ = [
    "INCIDENT_CAMERA",
    "Actor",
    "ActorState",
    "ActorTruth",
    "Building",
    "CrossingTruth",
    "ExpectedEvents",
    "FrameTruth",
    "GroundTruth",
    "IncursionTruth",
    "Layout",
    "PersonDownTruth",
    "PinholeCamera",
    "PostureChange",
    "PursuitTruth",
    "RenderedFrame",
    "Scenario",
    "SceneRenderer",
    "SpeedTruth",
    "SynthResult",
    "Waypoint",
    "expected_crossings",
    "expected_events",
    "expected_incursions",
    "expected_persons_down",
    "expected_pursuits",
    "expected_speeds",
    "incident_scenario",
    "load_truth",
    "render",
    "site_config",
]
