"""Per-frame compositing: background copy, actors, lighting drift, sensor noise.

The background is rendered once. Each frame copies it, draws the actors present, applies a
slow global gain drift (a few percent over tens of seconds) and adds gaussian sensor noise
taken at a random offset from a pre-drawn pool. Frame ``i``'s noise depends only on the
scenario seed and ``i``, so frames can be rendered in any order (and re-rendered without an
actor to see exactly which pixels it changed).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from linewatch.synth.actors import ActorPainter, ActorView
from linewatch.synth.background import render_background
from linewatch.synth.draw import Image
from linewatch.synth.scene import ActorState, Scenario


@dataclass(frozen=True, slots=True)
class RenderedFrame:
    index: int
    t: float
    image: Image  # H x W x 3 BGR
    states: dict[str, ActorState]  # actors present at t
    views: dict[str, ActorView]  # how each present actor appears


class SceneRenderer:
    """Renders the frames of one scenario (deterministic given its seed)."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        cam = scenario.camera
        self.background = render_background(cam, scenario.layout, scenario.seed)
        self._painter = ActorPainter(cam)
        w, h = cam.size
        self._n = h * w * 3
        rng = np.random.default_rng([scenario.seed, 1])
        pool = rng.normal(0.0, scenario.noise_sigma, size=2 * self._n)
        self._noise: npt.NDArray[np.int16] = np.round(pool).astype(np.int16)
        self._phase = float(rng.uniform(0, 2 * math.pi))

    def gain(self, t: float) -> float:
        """Global lighting gain at ``t``: a slow drift around 1."""
        s = self.scenario
        return 1.0 + s.drift * math.sin(2 * math.pi * t / s.drift_period + self._phase)

    def frame(
        self, index: int, *, exclude: Collection[str] = (), noise: bool = True
    ) -> RenderedFrame:
        """Frame ``index`` (actors in ``exclude`` left out)."""
        s = self.scenario
        t = s.time(index)
        present = [(a, a.state(t)) for a in s.actors if a.present(t) and a.id not in exclude]
        img = self.background.copy()
        views = self._painter.paint(img, present)
        img = np.asarray(cv2.convertScaleAbs(img, alpha=self.gain(t)), dtype=np.uint8)
        if noise and s.noise_sigma > 0:
            off = int(np.random.default_rng([s.seed, 2, index]).integers(0, self._n))
            n = self._noise[off : off + self._n].reshape(img.shape)
            img = np.asarray(cv2.add(img, n, dtype=cv2.CV_8U), dtype=np.uint8)
        return RenderedFrame(index, t, img, {a.id: st for a, st in present}, views)
