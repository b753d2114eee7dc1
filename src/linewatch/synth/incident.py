"""The motivating incident, re-enacted (time compressed) for the demo and the rule tests.

A vehicle races south at 50-70 km/h and crosses the demarcation line ``mdl`` north->south;
two pursuers on foot follow 2-4 s behind at 15-20 km/h. The vehicle brakes hard and stops
beyond the line; the driver gets out and runs on south. Pursuer 1 crosses the line, runs a
few metres beyond it and runs back north across it within a few seconds (a temporary
incursion); pursuer 2 stops short of the line; both later walk back north out of view. The
driver is hit and lies still beyond the line; 20-30 s later (the real wait was far longer)
two people come from the south and reach him.

The seed varies speeds, timings, lateral offsets, colours and the lying orientation a little;
every seed gives the same set of findings (checked by the tests).
"""

from __future__ import annotations

import math

import numpy as np

from linewatch.config import LineConfig, ZoneConfig
from linewatch.records import ObjectClass
from linewatch.synth.camera import PinholeCamera
from linewatch.synth.scene import BGR, Actor, Layout, PostureChange, Scenario, Waypoint

#: the camera: 29 m north-east of the crossing point, 10 m up, looking south-west
INCIDENT_CAMERA = PinholeCamera(
    x=12.0, y=26.0, height=10.0, yaw=218.0, pitch=19.0, focal=500.0, width=640, height_px=360
)
REF_Y = 20.0  # people on the road are fully in view from here on south


def incident_scenario(
    seed: int = 0,
    *,
    fps: float = 10.0,
    width: int = 640,
    height: int = 360,
    name: str = "incident",
) -> Scenario:
    """The incident scene (deterministic for a seed); ``width``/``height`` scale the view."""
    rng = np.random.default_rng([seed, 2017])
    layout = Layout()
    scale = width / 640.0
    cam = PinholeCamera(
        INCIDENT_CAMERA.x,
        INCIDENT_CAMERA.y,
        INCIDENT_CAMERA.height,
        INCIDENT_CAMERA.yaw,
        INCIDENT_CAMERA.pitch,
        INCIDENT_CAMERA.focal * scale,
        width,
        height,
    )
    y_line = layout.line_y

    # --- the vehicle: full speed through the line, hard braking from 1 m beyond it
    v = rng.uniform(50.0, 70.0) / 3.6
    t_cross = rng.uniform(6.0, 7.5)
    x_v = rng.uniform(-2.6, -2.1)
    brake_y = y_line - 1.0
    brake_dist = rng.uniform(9.0, 12.0)  # a crash stop: 1-2 g
    decel = v * v / (2 * brake_dist)
    start_y = 60.0
    t0 = t_cross - (start_y - y_line) / v
    t_brake = t_cross + (y_line - brake_y) / v
    t_stop = t_brake + v / decel
    y_stop = brake_y - brake_dist
    vehicle_path = [Waypoint(t0, x_v, start_y)]
    for tau in np.linspace(0.0, t_stop - t_brake, 13):
        vehicle_path.append(Waypoint(t_brake + tau, x_v, brake_y - v * tau + decel * tau**2 / 2))

    # --- the driver: out of the car, runs south-east, is hit and lies still
    t_out = t_stop + rng.uniform(0.8, 1.4)
    x_d0, y_d0 = x_v + 1.4, y_stop + 0.4
    x_d, y_d = rng.uniform(1.5, 2.4), y_stop - rng.uniform(3.5, 5.0)
    run = rng.uniform(18.0, 22.0) / 3.6
    t_hit = t_out + math.hypot(x_d - x_d0, y_d - y_d0) / run
    lying = rng.uniform(110.0, 140.0)  # across the camera's view

    # --- the pursuers: 2-2.6 s behind the vehicle where they come into view; they started
    # running from a guard post just out of view, north, shortly after it passed them
    lag = rng.uniform(2.0, 2.6)
    t_ref = t_cross - (REF_Y - y_line) / v + lag
    u1, u2 = rng.uniform(15.0, 18.0, size=2) / 3.6
    # pursuer 1 runs well east of the vehicle so that, seen from the camera, he does not
    # pass behind the stopped vehicle during his excursion
    x1, x2 = x_v + rng.uniform(4.4, 4.8), x_v - rng.uniform(1.2, 1.5)
    p_start = REF_Y + 8.0
    depth = rng.uniform(3.0, 5.0)
    t1_line = t_ref + (REF_Y - y_line) / u1
    t1_turn = t1_line + depth / u1
    stand1 = y_line + rng.uniform(3.0, 4.5)
    t1_back = t1_turn + 0.3 + (depth + stand1) / u1
    t2_ref = t_ref + rng.uniform(0.0, 0.4)
    stop2 = y_line + rng.uniform(1.5, 2.5)
    t2_stop = t2_ref + (REF_Y - stop2) / u2
    t_leave = t1_back + rng.uniform(4.0, 6.0)
    walk = rng.uniform(5.5, 6.5) / 3.6
    p_exit = REF_Y + 16.0

    # --- the rescuers: appear far south after the shooting, jog north, then crawl the last
    # metres to the driver, one at each end of his body (beside him as the camera sees it)
    t_assist_goal = t_hit + rng.uniform(22.0, 30.0)
    e = np.array([math.sin(math.radians(lying)), math.cos(math.radians(lying))])
    n = np.array([e[1], -e[0]]) if e[0] > 0 else np.array([-e[1], e[0]])  # points south
    rescuers = []
    deck = layout.road_x + layout.bridge_half_width - 0.6  # stay inside the railings
    for k, along in enumerate((-1.0, 1.0)):
        reach = min(1.45, abs((deck - abs(x_d)) / e[0])) if along * e[0] > 0 else 1.45
        fx, fy = np.array([x_d, y_d]) + reach * along * e + 0.3 * n
        crawl = rng.uniform(2.0, 2.8) / 3.6
        jog = rng.uniform(6.0, 8.0) / 3.6
        t_final = t_assist_goal + 0.8 * k
        # where the crawl starts: from the camera, seen beside him rather than behind him
        side = 0.6 if along > 0 else 0.2
        cx, cy = np.array([fx, fy]) + 3.0 * n + side * along * e
        cx = float(np.clip(cx, -deck, deck))
        t_crawl = t_final - math.hypot(fx - cx, fy - cy) / crawl
        t_appear = t_hit + rng.uniform(7.0, 10.0) + 1.5 * k
        sx, sy = cx + 1.5 * along, cy - jog * max(2.0, t_crawl - t_appear)
        t_appear = t_crawl - math.hypot(cx - sx, cy - sy) / jog
        rescuers.append((sx, sy, t_appear, cx, cy, t_crawl, fx, fy, t_final))
    duration = max(r[8] for r in rescuers) + rng.uniform(10.0, 14.0)
    duration = math.ceil(duration * fps) / fps

    def color(base: BGR) -> BGR:
        j = rng.integers(-12, 13, size=3)
        return (
            int(np.clip(base[0] + j[0], 0, 255)),
            int(np.clip(base[1] + j[1], 0, 255)),
            int(np.clip(base[2] + j[2], 0, 255)),
        )

    khaki: BGR = (70, 104, 124)
    end = duration
    actors = [
        Actor(
            "vehicle",
            ObjectClass.VEHICLE,
            (*vehicle_path, Waypoint(end, x_v, y_stop)),
            color((58, 96, 84)),
        ),
        Actor(
            "driver",
            ObjectClass.PERSON,
            (Waypoint(t_out, x_d0, y_d0), Waypoint(t_hit, x_d, y_d), Waypoint(end, x_d, y_d)),
            color((52, 64, 84)),
            postures=(PostureChange(t_hit, "lying", lying),),
        ),
        Actor(
            "pursuer1",
            ObjectClass.PERSON,
            (
                Waypoint(t_ref - (p_start - REF_Y) / u1, x1, p_start),
                Waypoint(t_ref, x1, REF_Y),
                Waypoint(t1_turn, x1, y_line - depth),
                Waypoint(t1_turn + 0.3, x1 + 0.3, y_line - depth),
                Waypoint(t1_back, x1 + 0.3, stand1),
                Waypoint(t_leave, x1 + 0.3, stand1),
                Waypoint(t_leave + (p_exit - stand1) / walk, x1 + 0.3, p_exit),
            ),
            color(khaki),
        ),
        Actor(
            "pursuer2",
            ObjectClass.PERSON,
            (
                Waypoint(t2_ref - (p_start - REF_Y) / u2, x2, p_start),
                Waypoint(t2_ref, x2, REF_Y),
                Waypoint(t2_stop, x2, stop2),
                Waypoint(t_leave + 0.4, x2, stop2),
                Waypoint(t_leave + 0.4 + (p_exit - stop2) / walk, x2, p_exit),
            ),
            color(khaki),
        ),
    ]
    for k, (sx, sy, ta, cx, cy, tc, fx, fy, tf) in enumerate(rescuers, start=1):
        actors.append(
            Actor(
                f"rescuer{k}",
                ObjectClass.PERSON,
                (
                    Waypoint(ta, sx, sy),
                    Waypoint(tc, cx, cy),
                    Waypoint(tf, fx, fy),
                    Waypoint(end, fx, fy),
                ),
                color((78, 98, 80)),
            )
        )
    half = layout.line_half_length
    return Scenario(
        camera=cam,
        actors=tuple(actors),
        duration=duration,
        fps=fps,
        lines=(
            LineConfig.model_validate(
                {
                    "id": "mdl",
                    "points": [(-half, y_line), (half, y_line)],
                    "sides": {"left": "north", "right": "south"},
                }
            ),
        ),
        zones=(
            ZoneConfig.model_validate(
                {
                    "id": "bridge",
                    "points": [
                        (layout.road_x - layout.bridge_half_width, layout.bridge_y0),
                        (layout.road_x + layout.bridge_half_width, layout.bridge_y0),
                        (layout.road_x + layout.bridge_half_width, layout.bridge_y1),
                        (layout.road_x - layout.bridge_half_width, layout.bridge_y1),
                    ],
                }
            ),
        ),
        name=name,
        seed=seed,
        layout=layout,
    )
