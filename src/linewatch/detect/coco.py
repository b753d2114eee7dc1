"""COCO class ids (80-class detectors) -> linewatch object classes."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from linewatch.records import ObjectClass

#: COCO 80-class ids kept by linewatch; every other COCO class is dropped.
COCO_TO_CLASS: Mapping[int, ObjectClass] = {
    0: ObjectClass.PERSON,
    1: ObjectClass.BICYCLE,
    2: ObjectClass.VEHICLE,  # car
    3: ObjectClass.VEHICLE,  # motorcycle
    5: ObjectClass.VEHICLE,  # bus
    7: ObjectClass.VEHICLE,  # truck
}

NUM_COCO = 80


def coco_lookup(num_classes: int = NUM_COCO) -> npt.NDArray[np.int16]:
    """Array ``lut[coco_id]`` = linewatch class value, or -1 for a dropped class."""
    lut = np.full(num_classes, -1, dtype=np.int16)
    for k, v in COCO_TO_CLASS.items():
        if k < num_classes:
            lut[k] = int(v)
    return lut


def class_threshold_table(
    default: float, per_class: Mapping[str, float]
) -> npt.NDArray[np.float32]:
    """``table[ObjectClass value]`` = minimum score; unknown class names raise ValueError."""
    table = np.full(max(int(c) for c in ObjectClass) + 1, default, dtype=np.float32)
    for name, thr in per_class.items():
        table[int(ObjectClass.parse(name))] = thr
    return table
