"""Multi-object tracking: :class:`Tracker` (two-stage association, Kalman motion model)."""

from linewatch.track.tracker import Tracker, TrackUpdate

__all__ = ["TrackUpdate", "Tracker"]
