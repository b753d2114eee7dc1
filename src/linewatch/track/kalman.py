"""Constant-velocity Kalman filter on a box (centre x, centre y, width, height), in seconds.

The time step comes from the stream (``dt`` seconds between two updates), so irregular
frame rates, strides and dropped frames need no special case. Noise scales with the box
height (as in SORT/ByteTrack): a person near the camera moves more pixels per second than
one far away.

    >>> kf = BoxKalman(np.array([100.0, 50.0, 20.0, 40.0]))
    >>> for k in range(1, 8):
    ...     kf.predict(1 / 7)
    ...     kf.update(np.array([100.0 + 10 * k, 50.0, 20.0, 40.0]))
    >>> kf.predict(1.0)
    >>> round(float(kf.mean[0]))  # about 70 px/s, extrapolated one second ahead
    240
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Vec = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class KalmanNoise:
    """Noise model, all as fractions of the box height.

    ``pos``/``vel``: process noise std per sqrt(second) on position and velocity;
    ``meas``: measurement std of one detection; ``init_vel``: initial velocity std (1/s).
    """

    pos: float = 0.05
    vel: float = 0.35
    meas: float = 0.05
    init_vel: float = 0.8


def xyxy_to_cxcywh(box: npt.ArrayLike) -> Vec:
    b = np.asarray(box, dtype=np.float64).reshape(-1, 4)
    out = np.empty_like(b)
    out[:, 0] = (b[:, 0] + b[:, 2]) / 2
    out[:, 1] = (b[:, 1] + b[:, 3]) / 2
    out[:, 2] = b[:, 2] - b[:, 0]
    out[:, 3] = b[:, 3] - b[:, 1]
    return out


def cxcywh_to_xyxy(box: npt.ArrayLike) -> Vec:
    b = np.asarray(box, dtype=np.float64).reshape(-1, 4)
    half = b[:, 2:] / 2
    return np.concatenate([b[:, :2] - half, b[:, :2] + half], axis=1)


class BoxKalman:
    """State ``[cx, cy, w, h, vcx, vcy, vw, vh]`` (pixels and pixels per second).

    With a diagonal noise model the four coordinates are independent (position, velocity)
    filters, so the covariance is kept as three length-4 arrays: ``pp`` (position
    variance), ``pv`` (covariance) and ``vv`` (velocity variance). Exactly the 8x8 filter,
    without the matrix algebra.
    """

    __slots__ = ("mean", "noise", "pp", "pv", "vv")

    def __init__(self, z: Vec, noise: KalmanNoise | None = None) -> None:
        self.noise = noise or KalmanNoise()
        h = max(float(z[3]), 1.0)
        self.mean: Vec = np.concatenate([np.asarray(z, dtype=np.float64), np.zeros(4)])
        self.pp: Vec = np.full(4, (self.noise.meas * h) ** 2)
        self.pv: Vec = np.zeros(4)
        self.vv: Vec = np.full(4, (self.noise.init_vel * h) ** 2)

    @property
    def height(self) -> float:
        return max(float(self.mean[3]), 1.0)

    def predict(self, dt: float) -> None:
        """Advance the state by ``dt`` seconds (``dt = 0`` leaves it unchanged)."""
        if dt <= 0:
            return
        h = self.height
        self.mean[:4] += dt * self.mean[4:]
        self.mean[2:4] = np.maximum(self.mean[2:4], 1.0)
        self.pp = self.pp + 2 * dt * self.pv + dt * dt * self.vv + (self.noise.pos * h) ** 2 * dt
        self.pv = self.pv + dt * self.vv
        self.vv = self.vv + (self.noise.vel * h) ** 2 * dt

    def innovation_var(self, meas_scale: float = 1.0) -> Vec:
        """Variance of the predicted measurement ``(cx, cy, w, h)`` (diagonal of ``S``)."""
        return self.pp + (self.noise.meas * meas_scale * self.height) ** 2

    def update(self, z: Vec, meas_scale: float = 1.0) -> None:
        """Correct the state with a measured box ``(cx, cy, w, h)``."""
        s = self.innovation_var(meas_scale)
        kp = self.pp / s
        kv = self.pv / s
        y = np.asarray(z, dtype=np.float64) - self.mean[:4]
        self.mean[:4] += kp * y
        self.mean[4:] += kv * y
        self.vv = self.vv - kv * self.pv
        self.pv = (1 - kp) * self.pv
        self.pp = (1 - kp) * self.pp

    def freeze(self) -> None:
        """Stop the motion (a stationary object: its prediction must not drift away)."""
        self.mean[4:] = 0.0

    def box_xyxy(self) -> Vec:
        return cxcywh_to_xyxy(self.mean[:4])[0]
