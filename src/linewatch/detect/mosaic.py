"""Pack several image crops into one network input (one model run for all of them).

Shelf packing: crops sorted by height, placed left to right in rows ("shelves") separated
by ``gap`` pixels of padding; the canvas width is chosen among multiples of ``multiple``
to minimise the canvas area. Canvas sides are multiples of ``multiple`` (32 for YOLO-style
strides).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Packing:
    width: int
    height: int
    positions: tuple[tuple[int, int], ...]  # (x, y) of each crop's top-left, input order

    @property
    def area(self) -> int:
        return self.width * self.height


def _shelves(
    sizes: Sequence[tuple[int, int]], order: list[int], width: int, gap: int
) -> tuple[int, list[tuple[int, int]]]:
    pos: list[tuple[int, int]] = [(0, 0)] * len(sizes)
    x = y = shelf_h = 0
    for i in order:
        w, h = sizes[i]
        if x > 0 and x + w > width:
            y += shelf_h + gap
            x = shelf_h = 0
        pos[i] = (x, y)
        x += w + gap
        shelf_h = max(shelf_h, h)
    return y + shelf_h, pos


def pack(sizes: Sequence[tuple[int, int]], gap: int = 16, multiple: int = 32) -> Packing:
    """Place crops of ``sizes`` (w, h) without overlap, at least ``gap`` apart."""
    if not sizes:
        return Packing(multiple, multiple, ())
    order = sorted(range(len(sizes)), key=lambda i: (-sizes[i][1], -sizes[i][0]))
    widest = max(w for w, _ in sizes)
    total = sum(w for w, _ in sizes) + gap * (len(sizes) - 1)
    lo = math.ceil(widest / multiple) * multiple
    hi = max(lo, math.ceil(total / multiple) * multiple)
    best: Packing | None = None
    for width in range(lo, hi + 1, multiple):
        used_h, pos = _shelves(sizes, order, width, gap)
        height = max(multiple, math.ceil(used_h / multiple) * multiple)
        cand = Packing(width, height, tuple(pos))
        # prefer the smaller area, then the squarer canvas
        if best is None or (cand.area, abs(width - height)) < (
            best.area,
            abs(best.width - best.height),
        ):
            best = cand
    assert best is not None
    return best
