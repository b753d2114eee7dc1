"""Ground-truth events derived from ground-truth tracks (MOT format) by the project's rules.

The rules are run, unchanged, on the annotated tracks instead of the tracker's: a gt row
becomes a :class:`~linewatch.records.TrackPoint` (``t = (frame - 1) / fps``, the box from
left/top/width/height, the site point from the camera's calibration or, with
``world=True``, from the row's worldX/worldY), the :class:`RuleEngine` is stepped once per
frame and a track ends right after its last row.

This is not circular for event evaluation: the events of an analysed run come from the
detector and the tracker, these from the annotation, through the same rules. Comparing
them measures perception (detection, tracking, projection). It cannot reveal a mistake
of a rule itself: that is what the rules' own tests (against independent derivations) do.

Rows with ``conf`` 0 (MOTChallenge's "do not evaluate" boxes, e.g. PETS09-S2L1 ids 11, 12
and 16 near the image border) are people on the ground: they are kept by default (a
detector sees them, and dropping them would cut holes in their tracks);
``evaluated_only=True`` drops them.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from linewatch.config import CameraConfig, SiteConfig
from linewatch.eval.mot import read_mot_rows
from linewatch.geometry import Homography
from linewatch.records import Event, ObjectClass, TrackPoint
from linewatch.rules.engine import RuleEngine

#: the event kinds derived by default (the ones the rules decide from positions alone)
DERIVED_KINDS: tuple[str, ...] = ("crossing", "incursion", "zone_enter", "zone_exit", "loitering")


#: which rule produces each event kind (rules producing none of the wanted kinds are off)
_RULE_OF_KIND: dict[str, str] = {
    "crossing": "crossing",
    "incursion": "incursion",
    "zone_enter": "zones",
    "zone_exit": "zones",
    "loitering": "zones",
    "speeding": "speed",
    "track_speed": "speed",
    "pursuit": "pursuit",
    "person_down": "person_down",
}


def only_rules_for(cfg: SiteConfig, kinds: Iterable[str]) -> SiteConfig:
    """``cfg`` with the rules that produce none of ``kinds`` switched off (faster, same
    events of those kinds: the rules are independent of one another)."""
    wanted = {_RULE_OF_KIND.get(k) for k in kinds}
    updates = {}
    for name in set(_RULE_OF_KIND.values()):
        rule = getattr(cfg.rules, name)
        if name not in wanted and rule.enabled:
            updates[name] = rule.model_copy(update={"enabled": False})
    return cfg.model_copy(update={"rules": cfg.rules.model_copy(update=updates)})


def load_mot_rows(path: str | Path) -> npt.NDArray[np.float64]:
    """MOT rows ``frame,id,left,top,width,height,conf[,x,y,z]`` as an ``(N, >=7)`` array."""
    return read_mot_rows(path)


def pick_camera(cfg: SiteConfig, camera: str | None) -> CameraConfig:
    """The named camera, or the config's only camera."""
    if camera is not None:
        try:
            return cfg.camera(camera)
        except KeyError:
            names = ", ".join(c.id for c in cfg.cameras)
            raise ValueError(f"camera {camera!r} is not in the config (cameras: {names})") from None
    if len(cfg.cameras) != 1:
        names = ", ".join(c.id for c in cfg.cameras)
        raise ValueError(f"the config has several cameras ({names}); name one")
    return cfg.cameras[0]


def track_points(
    rows: npt.ArrayLike,
    camera: str,
    fps: float,
    homography: Homography | None = None,
    world: bool = False,
) -> list[tuple[float, list[TrackPoint], list[int]]]:
    """Per gt frame, in order: ``(t, points, ended ids)``; a track ends at its last row.

    The site point is worldX/worldY with ``world``, else the foot point projected through
    ``homography`` (None without one).
    """
    r = np.asarray(rows, dtype=np.float64)
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if world and (r.ndim != 2 or r.shape[1] < 9):
        raise ValueError("world positions need MOT15 rows with worldX, worldY columns")
    if len(r) == 0:
        return []
    r = r[np.lexsort((r[:, 1], r[:, 0]))]
    frames = r[:, 0].astype(np.int64)
    ids = r[:, 1].astype(np.int64)
    boxes = np.stack([r[:, 2], r[:, 3], r[:, 2] + r[:, 4], r[:, 3] + r[:, 5]], axis=1)
    if world:
        site: npt.NDArray[np.float64] | None = r[:, 7:9]
    elif homography is not None:
        foot = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 3]], axis=1)
        site = np.asarray(homography.to_site(foot), dtype=np.float64)
    else:
        site = None
    last_frame: dict[int, int] = {}
    for f, i in zip(frames.tolist(), ids.tolist(), strict=True):
        last_frame[i] = f  # rows are sorted by frame
    ends: dict[int, list[int]] = {}
    for i, f in last_frame.items():
        ends.setdefault(f, []).append(i)
    steps: list[tuple[float, list[TrackPoint], list[int]]] = []
    starts = np.flatnonzero(np.diff(frames, prepend=frames[0] - 1))
    for a, b in zip(starts.tolist(), [*starts[1:].tolist(), len(r)], strict=True):
        frame = int(frames[a])
        t = (frame - 1) / fps
        pts = [
            TrackPoint(
                camera=camera,
                track_id=int(ids[k]),
                t=t,
                frame=frame - 1,
                box=(
                    float(boxes[k, 0]),
                    float(boxes[k, 1]),
                    float(boxes[k, 2]),
                    float(boxes[k, 3]),
                ),
                cls=ObjectClass.PERSON,
                score=1.0,
                site=None if site is None else (float(site[k, 0]), float(site[k, 1])),
            )
            for k in range(a, b)
        ]
        steps.append((t, pts, sorted(ends.get(frame, []))))
    return steps


def derive_events(
    gt_rows: npt.ArrayLike | str | Path,
    cfg: SiteConfig,
    camera: str | None = None,
    fps: float | None = None,
    world: bool = False,
    evaluated_only: bool = False,
    kinds: Iterable[str] | None = DERIVED_KINDS,
) -> list[Event]:
    """Events of ``cfg``'s rules on ground-truth tracks of one camera (see the module doc).

    ``fps`` defaults to the camera's configured ``fps``. With ``world`` the gt's worldX/Y are
    the site points; an uncalibrated camera then gets a homography fitted from the gt itself
    (so its image lines and the site lines apply). ``kinds=None`` keeps every kind.
    """
    src = load_mot_rows(gt_rows) if isinstance(gt_rows, str | Path) else gt_rows
    rows = np.asarray(src, dtype=np.float64)
    if rows.ndim == 1:
        rows = rows.reshape(1, -1) if rows.size else np.zeros((0, 7))
    cam = pick_camera(cfg, camera)
    rate = fps if fps is not None else cam.fps
    if rate is None:
        raise ValueError(
            f"camera {cam.id!r} sets no fps: give the ground truth's frame rate (--fps)"
        )
    if evaluated_only:
        rows = rows[rows[:, 6] != 0]
    h: Homography | None = None
    if cam.calibration is not None:
        h = Homography.fit(cam.calibration.image, cam.calibration.site)
    elif world:
        from linewatch.calibrate import mot_foot_world

        foot, ground = mot_foot_world(rows)
        h = Homography.fit(foot, ground)
    homographies: dict[str, Homography | None] = {c.id: None for c in cfg.cameras}
    homographies[cam.id] = h
    keep = None if kinds is None else set(kinds)
    engine = RuleEngine(cfg if keep is None else only_rules_for(cfg, keep), homographies)
    events: list[Event] = []
    for t, pts, ended in track_points(rows, cam.id, rate, h, world):
        events.extend(engine.step(cam.id, t, pts, ended))
    events.extend(engine.finish())
    out = [e for e in events if keep is None or e.kind in keep]
    out.sort(key=lambda e: (e.t_start, e.camera, e.id))
    return out
