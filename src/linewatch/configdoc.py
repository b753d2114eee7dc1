"""Render the config reference (docs/config.md) from the pydantic models themselves, so
the documentation cannot drift from the code (a test compares the two)."""

from __future__ import annotations

import types
import typing
from typing import Any, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from linewatch import config as c

HEADER = """# Configuration reference

Generated from `src/linewatch/config.py` by `python -m linewatch.configdoc > docs/config.md`
(a test fails when this file and the code disagree). Unknown keys are errors; relative
paths are resolved against the config file's folder. Distances are metres when the camera
is calibrated, else pixels, unless the field says otherwise.
"""

SECTIONS: list[tuple[str, type[BaseModel]]] = [
    ("Top level", c.SiteConfig),
    ("site", c.SiteInfo),
    ("cameras[]", c.CameraConfig),
    ("cameras[].calibration", c.Calibration),
    ("cameras[].detector (type: motion)", c.MotionDetectorConfig),
    ("cameras[].detector (type: yolox)", c.YoloxDetectorConfig),
    ("cameras[].detector (type: ultralytics)", c.UltralyticsDetectorConfig),
    ("cameras[].detector (type: fastestdet)", c.FastestDetDetectorConfig),
    ("cameras[].pose", c.PoseConfig),
    ("cameras[].tracker", c.TrackerConfig),
    ("lines[]", c.LineConfig),
    ("lines[].sides", c.Sides),
    ("zones[]", c.ZoneConfig),
    ("rules.crossing", c.CrossingRule),
    ("rules.incursion", c.IncursionRule),
    ("rules.zones", c.ZoneRule),
    ("rules.speed", c.SpeedRule),
    ("rules.pursuit", c.PursuitRule),
    ("rules.person_down", c.PersonDownRule),
]


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is typing.Annotated:
        return _type_name(get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        names = dict.fromkeys(_type_name(a) for a in get_args(tp))
        return " or ".join(names)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    if origin is not None:
        args = ", ".join(_type_name(a) for a in get_args(tp))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if tp is type(None):
        return "null"
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return "mapping"
    return getattr(tp, "__name__", str(tp))


def _default(field: Any) -> str:
    if field.default is not PydanticUndefined:
        return f"`{field.default!r}`" if field.default is not None else "null"
    if field.default_factory is not None:
        try:
            value = field.default_factory()
        except TypeError:
            return "(default)"
        if isinstance(value, BaseModel):
            return "(defaults below)"
        return f"`{value!r}`"
    return "**required**"


def render() -> str:
    parts = [HEADER]
    for title, model in SECTIONS:
        parts.append(f"\n## {title}\n")
        if model.__doc__:
            parts.append(" ".join(model.__doc__.split()) + "\n")
        parts.append("| field | type | default | description |\n|---|---|---|---|")
        for name, field in model.model_fields.items():
            if field.exclude:
                continue
            desc = (field.description or "").replace("|", "\\|")
            tname = _type_name(field.annotation).replace("|", "\\|")
            parts.append(f"| `{name}` | {tname} | {_default(field)} | {desc} |")
    return "\n".join(parts) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(render(), end="")
