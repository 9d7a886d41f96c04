"""Lays out a random street from a seed and renders it, optionally later in time (camera and cars moved on)."""

import numpy as np

from utils.sample_data import scene as sc
from utils.sample_data.canvas import Canvas

EGO_SPEED = 0.8  # metres per video frame, about 50 km/h at 17 fps


def make_street(rng: np.random.Generator, height: int, width: int, style: str) -> dict:
    """Chooses every part of one street; ``style`` is cityscapes or one of KITTI's um, umm, uu."""
    kitti = style != "cityscapes"
    lane = 3.3
    if style == "umm":
        lanes_left, lanes_right = int(rng.integers(1, 3)), int(rng.integers(1, 3))
    elif style == "uu":
        lanes_left, lanes_right = 0, 1
    else:
        lanes_left, lanes_right = int(rng.integers(0, 2)), 1
    ego_x0 = -lane / 2 + rng.uniform(-0.4, 0.4)
    road = (ego_x0 - lanes_left * lane, ego_x0 + lanes_right * lane)
    if style == "uu":
        road = (ego_x0 - rng.uniform(0.3, 1.2), ego_x0 + lane + rng.uniform(0.0, 1.0))
    marks = [] if style == "uu" else [(ego_x0 + k * lane, True) for k in range(-lanes_left + 1, lanes_right)]
    if style in ("um", "umm"):
        marks += [(road[0] + 0.2, False), (road[1] - 0.2, False)]
    s = {
        "style": style,
        "road": road,
        "ego_lane": (ego_x0, ego_x0 + lane),
        "lane_marks": marks,
        "dash_phase": rng.uniform(0, 9),
        "sidewalk": rng.uniform(2.0, 4.0),
        "terrain": rng.uniform(1.0, 4.0) if rng.random() < (0.8 if kitti else 0.4) else 0.0,
        "road_color": sc._jitter(rng, (95, 92, 98), 12),
        "sidewalk_color": sc._jitter(rng, (170, 150, 160), 20),
        "terrain_color": sc._jitter(rng, (120, 150, 70), 20),
        "ground_color": sc._jitter(rng, (110, 95, 80), 15),
        "sky_top": sc._jitter(rng, (70, 120, 190), 20),
        "sky_bottom": sc._jitter(rng, (185, 205, 225), 15),
        "horizon": height * rng.uniform(0.40, 0.47),
        "focal": width * (0.58 if kitti else 0.9) * rng.uniform(0.95, 1.05),
        "camera_height": 1.65 if kitti else 1.5,
        "lighting": (rng.uniform(0.8, 1.15), rng.uniform(0.85, 1.15), rng.uniform(0.92, 1.08, 3)),
        "hood": None if kitti else height * rng.uniform(0.12, 0.2),
        "border": (not kitti) and rng.random() < 0.3,
        "seed": int(rng.integers(1 << 31)),
    }
    s["facade_x"] = (road[0] - s["sidewalk"] - s["terrain"], road[1] + s["sidewalk"] + s["terrain"])
    s["buildings"] = []
    for fx in s["facade_x"]:
        z = rng.uniform(-5, 5)
        while z < 170:
            length = rng.uniform(8, 30)
            if rng.random() < (0.45 if kitti else 0.85):
                gray = rng.uniform(70, 170)
                color = sc._jitter(rng, (gray, gray * 0.95, gray * 0.9), 20)
                s["buildings"].append((fx, z, z + length, rng.uniform(6, 24), color, sc._jitter(rng, (45, 55, 70), 12)))
            z += length + (rng.uniform(3, 12) if rng.random() < 0.3 else 0)
    s["far_wall"] = (rng.uniform(20, 60), rng.uniform(8, 25), rng.uniform(120, 200)) if rng.random() < 0.6 else None
    objects = []
    for side, x_curb, x_wall in ((-1, road[0], s["facade_x"][0]), (1, road[1], s["facade_x"][1])):
        for z in rng.uniform(4, 80, int(rng.integers(2, 6))):
            objects.append(
                ("tree", x_curb + side * s["sidewalk"] * 0.6, z, rng.uniform(1.8, 3.0), rng.uniform(2.0, 3.5))
            )
        for z in rng.uniform(5, 60, int(rng.integers(1, 4))):
            objects.append(
                ("pole", x_curb + side * 0.5, z, rng.uniform(4.0, 7.0), rng.choice(["sign", "light", "sign", "none"]))
            )
        for z in rng.uniform(4, 40, int(rng.integers(1, 5))):
            objects.append(
                ("person", x_curb + side * rng.uniform(0.8, s["sidewalk"] - 0.3), z, rng.uniform(1.55, 1.95))
            )
        if rng.random() < 0.4:
            objects.append(("static", x_wall - side * 0.6, rng.uniform(5, 40)))
        for z in rng.uniform(6, 70, int(rng.integers(0, 3))):  # parked cars along the kerb
            objects.append(("vehicle", x_curb - side * 1.1, z, "car", sc._jitter(rng, rng.uniform(30, 220, 3), 0), 0.0))
    for z in rng.uniform(8, 90, int(rng.integers(1, 5))):
        kind = rng.choice(["car", "car", "car", "truck", "bus"])
        lane_center = rng.uniform(road[0] + 1.2, road[1] - 1.2)
        objects.append(
            ("vehicle", lane_center, z, kind, sc._jitter(rng, rng.uniform(30, 220, 3), 0), rng.uniform(-0.2, 0.6))
        )
    if rng.random() < 0.3:
        objects.append(("rider", road[1] - 0.8, rng.uniform(8, 30), 1.0, EGO_SPEED * 0.5))
    s["objects"] = objects
    return s


def render(s: dict, height: int, width: int, frame: int = 0) -> Canvas:
    """Paints the street far-to-near at video frame ``frame`` (0 for a still image)."""
    cam = sc.Camera(height, width, s["focal"], s["horizon"], width / 2, s["camera_height"], z_offset=frame * EGO_SPEED)
    cv = Canvas(height, width, np.random.default_rng(s["seed"] + 7919 * frame))
    rows = np.arange(height)[:, None] < s["horizon"] + 1
    cv.gradient(np.broadcast_to(rows, (height, width)), "sky", s["sky_top"], s["sky_bottom"])
    sc._draw_ground(cv, cam, s)
    if s["far_wall"] is not None:
        w, h, z = s["far_wall"]
        sc._draw_far_wall(cv, cam, w, h, z, (150, 145, 140))
    for fx, z0, z1, h, color, window in sorted(s["buildings"], key=lambda b: -b[2]):
        if z1 > cam.z_offset + 1:
            sc._draw_facade(cv, cam, fx, max(z0, cam.z_offset + 0.8), z1, h, color, window)
    placed = []
    for obj in s["objects"]:
        z = obj[2] + (obj[5] * frame if obj[0] == "vehicle" else 0.0)
        if obj[0] == "rider":
            z = obj[2] + obj[4] * frame
        placed.append((z, obj))
    for z, obj in sorted(placed, key=lambda p: -p[0]):
        if z - cam.z_offset < 2.0:
            continue
        kind = obj[0]
        if kind == "tree":
            sc._draw_tree(cv, cam, obj[1], z, obj[3], obj[4])
        elif kind == "pole":
            sc._draw_pole(cv, cam, obj[1], z, obj[3], obj[4])
        elif kind == "person":
            sc._draw_person(cv, cam, obj[1], z, obj[3])
        elif kind == "rider":
            sc._draw_person(cv, cam, obj[1], z, 1.75, rider=True)
        elif kind == "static":
            sc._draw_static(cv, cam, obj[1], z)
        else:
            sc._draw_vehicle(cv, cam, obj[1], z, obj[3], obj[4])
    if s["hood"] is not None:
        xs = np.linspace(0, width, 24)
        top = height - s["hood"] + (s["hood"] * 0.6) * ((xs - width / 2) / (width / 2)) ** 2
        cv.polygon(
            np.concatenate([np.stack([xs, top], 1), [[width, height], [0, height]]]),
            "ego vehicle",
            (35, 38, 45),
            grain=3,
            blotch=8,
        )
    if s["border"]:
        b = max(2, height // 64)
        cv.polygon(
            [[0, height - b], [width, height - b], [width, height], [0, height]],
            "rectification border",
            (0, 0, 0),
            grain=0,
        )
    return cv


def ground_lateral_x(s: dict, height: int, width: int, frame: int = 0) -> np.ndarray:
    """World X of the ground point seen at each pixel (NaN above the horizon), for KITTI's ego-lane mask."""
    v, u = np.mgrid[0:height, 0:width].astype(np.float64)
    dv = v - s["horizon"]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(dv > 0, s["focal"] * s["camera_height"] / dv, np.nan)
    return (u - width / 2) * z / s["focal"]


def render_frame(rng, size, style: str = "cityscapes") -> tuple:
    """One street at ``size`` (H, W): (H, W, 3) uint8 RGB and (H, W) uint8 Cityscapes label ids."""
    street = make_street(rng, size[0], size[1], style)
    canvas = render(street, size[0], size[1])
    return canvas.finish(*street["lighting"]), canvas.label_ids
