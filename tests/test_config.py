"""Site config: validation errors name the field and say what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from linewatch.config import (
    ConfigError,
    MotionDetectorConfig,
    YoloxDetectorConfig,
    dump_config,
    load_config,
    parse_config,
)

GOOD = """
site: {name: bridge-72, timezone: Asia/Seoul}
cameras:
  - id: cam1
    source: footage/cam1.mp4
    start_time: 2017-11-13T15:11:00+09:00
    fps: 7
    detector: {type: motion}
    calibration:
      image: [[0, 0], [100, 0], [100, 100], [0, 100]]
      site: [[0, 0], [10, 0], [10, 10], [0, 10]]
lines:
  - id: mdl
    camera: cam1
    points: [[0, 50], [100, 50]]
    sides: {left: north, right: south}
  - id: site-line
    points: [[0, 5], [10, 5]]
rules:
  crossing: {margin: 0.5}
"""


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "site.yaml"
    p.write_text(text)
    return p


def test_good_config_loads_and_resolves_relative_sources(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, GOOD))
    cam = cfg.camera("cam1")
    assert isinstance(cam.detector, MotionDetectorConfig)
    assert cam.fps == 7
    assert cam.start_time is not None and cam.start_time.utcoffset() is not None
    assert cfg.resolve(cam.source) == tmp_path / "footage/cam1.mp4"
    assert cfg.lines[0].sides.left == "north"
    assert cfg.rules.crossing.margin == 0.5
    # the dump round-trips through the parser
    again = parse_config(__import__("yaml").safe_load(dump_config(cfg)))
    assert again.lines == cfg.lines and again.cameras == cfg.cameras


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        (("    fps: 7", "    fps: 7\n    fsp: 3"), "cameras.0.fsp: unknown field"),
        (("{type: motion}", "{type: yolo9}"), "unknown type 'yolo9'"),
        (("{type: motion}", "{history: 3}"), "missing `type`"),
        (("camera: cam1\n    points", "camera: cam9\n    points"), "camera 'cam9'"),
        (("points: [[0, 50], [100, 50]]", "points: [[0, 50]]"), "lines.0.points"),
        (("{left: north, right: south}", "{left: north, right: north}"), "different names"),
        (("margin: 0.5", "margin: -1"), "rules.crossing.margin"),
        (("site: [[0, 0], [10, 0], [10, 10], [0, 10]]",
          "site: [[0, 0], [10, 0], [10, 10], [5, 5], [1, 1]]"),
         "calibration"),
    ],
)
def test_config_errors_name_the_field(
    tmp_path: Path, mutation: tuple[str, str], expected: str
) -> None:
    old, new = mutation
    assert old in GOOD
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, GOOD.replace(old, new, 1)))
    assert expected in str(info.value)
    assert str(tmp_path / "site.yaml") in str(info.value)


def test_site_line_needs_a_calibrated_camera(tmp_path: Path) -> None:
    text = GOOD.replace("    calibration:\n", "    calibration_removed:\n")
    start = text.index("    calibration_removed:")
    end = text.index("lines:")
    text = text[:start] + text[end:]
    with pytest.raises(ConfigError, match="no camera has a calibration"):
        load_config(_write(tmp_path, text))


def test_missing_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(_write(tmp_path, "cameras: [\n"))
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(_write(tmp_path, "- 1\n- 2\n"))


def test_onnx_detector_config_is_a_discriminated_union(tmp_path: Path) -> None:
    text = GOOD.replace("{type: motion}", "{type: yolox, model: models/x.onnx}")
    cfg = load_config(_write(tmp_path, text))
    det = cfg.camera("cam1").detector
    assert isinstance(det, YoloxDetectorConfig)
    assert det.input_size == 416
    # the model path is not checked (or opened) at validation time
    assert not (tmp_path / "models/x.onnx").exists()
