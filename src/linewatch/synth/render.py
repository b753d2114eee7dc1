"""Render a scenario to disk: ``<name>.mp4``, ``site.yaml`` and ``truth.json``.

The video is H.264 (libx264, yuv420p, crf 20) with one pts per frame in a ``1/fps`` time
base; ``site.yaml`` is a linewatch config for it (camera calibrated from the camera model's
ground points, the scenario's lines and zones, the motion detector); ``truth.json`` holds
the per-frame truth and the expected events (see ``synth.truth``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import yaml

from linewatch.config import load_config
from linewatch.synth.events import expected_events
from linewatch.synth.renderer import SceneRenderer
from linewatch.synth.scene import Scenario
from linewatch.synth.truth import ActorTruth, FrameTruth, GroundTruth, save_truth


@dataclass(frozen=True, slots=True)
class SynthResult:
    video: Path
    config: Path
    truth: Path
    frame_count: int
    ground_truth: GroundTruth


def render(
    scenario: Scenario,
    out_dir: str | Path,
    *,
    crf: int = 20,
    preset: str = "veryfast",
    progress: Callable[[int, int], None] | None = None,
) -> SynthResult:
    """Render every frame, encode the video and write the config and the truth.

    ``crf``/``preset`` are libx264's quality and speed settings; ``progress(done, total)``
    is called after each frame.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    video = out / f"{scenario.name}.mp4"
    renderer = SceneRenderer(scenario)
    rows: dict[str, list[FrameTruth]] = {a.id: [] for a in scenario.actors}
    n = scenario.frame_count
    w, h = scenario.camera.size
    rate = Fraction(scenario.fps).limit_denominator(1001)
    with av.open(str(video), mode="w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuv420p"
        stream.time_base = 1 / rate
        stream.codec_context.time_base = 1 / rate
        stream.options = {"crf": str(crf), "preset": preset}
        for i in range(n):
            f = renderer.frame(i)
            for actor_id, st in f.states.items():
                v = f.views[actor_id]
                rows[actor_id].append(
                    FrameTruth(
                        t=f.t,
                        frame=i,
                        x=st.x,
                        y=st.y,
                        heading=st.heading,
                        speed=st.speed,
                        posture=st.posture,
                        visible=v.visible,
                        visibility=v.visibility,
                        box=v.box,
                    )
                )
            frame = av.VideoFrame.from_ndarray(f.image, format="bgr24")
            frame.pts = i
            frame.time_base = 1 / rate
            for packet in stream.encode(frame):
                container.mux(packet)
            if progress is not None:
                progress(i + 1, n)
        for packet in stream.encode():
            container.mux(packet)
    truth = GroundTruth(
        name=scenario.name,
        fps=scenario.fps,
        frame_count=n,
        width=w,
        height=h,
        start_time=scenario.start_time.isoformat(),
        camera=scenario.camera_id,
        video=video.name,
        actors={
            a.id: ActorTruth(a.id, a.cls.label, a.upright_size, tuple(rows[a.id]))
            for a in scenario.actors
        },
        expected=expected_events(scenario),
        camera_model=_camera_dict(scenario),
    )
    truth_path = out / "truth.json"
    save_truth(truth, truth_path)
    config_path = out / "site.yaml"
    config_path.write_text(
        yaml.safe_dump(site_config(scenario, video.name), sort_keys=False), encoding="utf-8"
    )
    load_config(config_path)  # the config we write must be valid
    return SynthResult(video, config_path, truth_path, n, truth)


def _camera_dict(scenario: Scenario) -> dict[str, float]:
    c = scenario.camera
    return {
        "x": c.x,
        "y": c.y,
        "height": c.height,
        "yaw": c.yaw,
        "pitch": c.pitch,
        "focal": c.focal,
        "width": c.width,
        "height_px": c.height_px,
    }


def site_config(scenario: Scenario, video_name: str) -> dict[str, Any]:
    """The linewatch site config (as a mapping) for a rendered scenario."""
    image, site = scenario.camera.calibration_pairs()
    return {
        "site": {"name": scenario.name, "timezone": "Asia/Seoul"},
        "cameras": [
            {
                "id": scenario.camera_id,
                "source": video_name,
                "start_time": scenario.start_time.isoformat(),
                # downscale 1: the synthetic camera is 640x360 and a person lying far from
                # it is about 25 x 6 px; at the default downscale 2 he is 3 working pixels
                # tall and the motion detector's 3x3 opening erased him on 5 of 21 demo
                # seeds (docs/detectors.md, "Small people")
                "detector": {"type": "motion", "downscale": 1},
                "calibration": {
                    "image": [list(p) for p in image],
                    "site": [list(p) for p in site],
                },
            }
        ],
        "lines": [ln.model_dump(mode="json", exclude_none=True) for ln in scenario.lines],
        "zones": [z.model_dump(mode="json", exclude_none=True) for z in scenario.zones],
    }
