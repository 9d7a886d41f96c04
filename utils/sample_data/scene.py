"""Procedural street scenes seen through a pinhole camera: road, sidewalks, facades, trees, poles, signs, cars, people.

World coordinates are metres: X to the right, Y up from the road, Z forward from the camera. A
scene is a list of world-space parts laid out once from a seed; :func:`render` projects and paints
them far-to-near, so the same scene can be rendered again with the camera moved forward (video frames).
"""

from dataclasses import dataclass, field

import numpy as np

from utils.sample_data.canvas import Canvas

Z_NEAR, Z_FAR = 0.6, 220.0


@dataclass
class Camera:
    height: int
    width: int
    focal: float
    horizon: float
    center_x: float
    camera_height: float = 1.5
    z_offset: float = 0.0

    def project(self, x, y, z):
        z = np.maximum(np.asarray(z, np.float64) - self.z_offset, Z_NEAR)
        u = self.center_x + self.focal * np.asarray(x) / z
        v = self.horizon + self.focal * (self.camera_height - np.asarray(y)) / z
        return np.stack([u, v], axis=-1)


@dataclass
class Part:
    """One thing in the world. ``depth`` orders painting (far first); ``draw`` paints it."""

    depth: float
    draw: object
    args: tuple = field(default_factory=tuple)


def _quad_xz(cam, x0, x1, z0, z1, y=0.0):
    """A horizontal rectangle on the plane Y=y between X in [x0, x1] and Z in [z0, z1]."""
    return cam.project(np.array([x0, x1, x1, x0]), np.full(4, y), np.array([z0, z0, z1, z1]))


def _quad_yz(cam, x, y0, y1, z0, z1):
    """A vertical rectangle on the plane X=x (a facade or a car's side)."""
    return cam.project(np.full(4, x), np.array([y0, y0, y1, y1]), np.array([z0, z1, z1, z0]))


def _quad_xy(cam, x0, x1, y0, y1, z):
    """A vertical rectangle facing the camera at depth z (a car's back, a sign)."""
    return cam.project(np.array([x0, x1, x1, x0]), np.array([y0, y0, y1, y1]), np.full(4, z))


def _jitter(rng, color, amount=18):
    return np.clip(np.asarray(color, np.float32) + rng.uniform(-amount, amount, 3), 0, 255)


def _draw_ground(cv: Canvas, cam, s):
    """The ground plane: void ground, terrain, sidewalks, road and its lane markings."""
    x0, x1 = s["road"]
    sw, tw = s["sidewalk"], s["terrain"]
    cv.polygon(_quad_xz(cam, x0 - 500, x1 + 500, Z_NEAR, Z_FAR), "ground", s["ground_color"], grain=5)
    if tw > 0:
        for a, b in ((x0 - sw - tw, x0 - sw), (x1 + sw, x1 + sw + tw)):
            cv.polygon(_quad_xz(cam, a, b, Z_NEAR, Z_FAR), "terrain", s["terrain_color"], grain=14, blotch=10)
    for a, b in ((x0 - sw, x0), (x1, x1 + sw)):
        cv.polygon(_quad_xz(cam, a, b, Z_NEAR, Z_FAR), "sidewalk", s["sidewalk_color"], grain=7, blotch=6)
    cv.polygon(_quad_xz(cam, x0, x1, Z_NEAR, Z_FAR), "road", s["road_color"], grain=6, blotch=8)
    phase = s["dash_phase"] - cam.z_offset % 9.0
    for lane_x, dashed in s["lane_marks"]:
        if dashed:
            for z in np.arange(cam.z_offset + phase, cam.z_offset + 90.0, 9.0):
                cv.polygon(_quad_xz(cam, lane_x - 0.08, lane_x + 0.08, z, z + 3.0), "road", (225, 225, 220), grain=4)
        else:
            cv.polygon(_quad_xz(cam, lane_x - 0.08, lane_x + 0.08, Z_NEAR, 120.0), "road", (225, 225, 220), grain=4)


def _draw_facade(cv: Canvas, cam, x, z0, z1, height, color, window_color):
    rng = cv.rng
    cv.polygon(_quad_yz(cam, x, 0.0, height, z0, z1), "building", color, grain=5, blotch=6)
    for wz in np.arange(z0 + 1.0, z1 - 1.5, 3.0):
        for wy in np.arange(3.0, height - 1.5, 3.2):
            if rng.random() < 0.85:
                cv.polygon(_quad_yz(cam, x, wy, wy + 1.6, wz, wz + 1.3), "building", window_color, grain=3)


def _draw_far_wall(cv: Canvas, cam, width, height, z, color):
    cv.polygon(_quad_xy(cam, -width, width, 0.0, height, z), "building", color, grain=4, blotch=5)


def _draw_tree(cv: Canvas, cam, x, z, crown, trunk_h):
    rng = cv.rng
    base = cam.project(x, 0.0, z)
    top = cam.project(x, trunk_h, z)
    half = cam.project(x + 0.18, 0.0, z)[0] - base[0]
    cv.polygon(
        [[base[0] - half, base[1]], [base[0] + half, base[1]], [top[0] + half, top[1]], [top[0] - half, top[1]]],
        "vegetation",
        (80, 62, 40),
        grain=6,
    )
    green = _jitter(rng, (70, 110, 45), 15)
    for _ in range(4):
        cx, cy = x + rng.uniform(-0.6, 0.6) * crown, trunk_h + crown * rng.uniform(0.6, 1.1)
        c = cam.project(cx, cy, z)
        r = cam.project(cx + crown * rng.uniform(0.6, 0.9), cy, z)[0] - c[0]
        cv.ellipse(c, (r, r * 0.85), "vegetation", green, grain=22, blotch=12)


def _draw_pole(cv: Canvas, cam, x, z, height, kind):
    rng = cv.rng
    cv.polygon(_quad_xy(cam, x - 0.18, x + 0.18, 0.0, height, z), "pole", (150, 150, 150), grain=4)
    if kind == "sign":
        color = [(200, 30, 30), (30, 70, 200), (230, 200, 20)][rng.integers(3)]
        c = cam.project(x, height - 0.4, z - 0.05)
        r = cam.project(x + 0.55, height - 0.4, z)[0] - c[0]
        if rng.random() < 0.5:
            cv.ellipse(c, (r, r), "traffic sign", color, grain=3)
        else:
            cv.polygon(
                _quad_xy(cam, x - 0.55, x + 0.55, height - 1.1, height, z - 0.05), "traffic sign", color, grain=3
            )
    elif kind == "light":
        cv.polygon(
            _quad_xy(cam, x - 0.25, x + 0.25, height - 1.1, height, z - 0.05), "traffic light", (35, 35, 30), grain=3
        )
        lit = rng.integers(3)
        for i, col in enumerate([(230, 40, 30), (240, 190, 30), (40, 220, 80)]):
            c = cam.project(x, height - 0.22 - 0.33 * i, z - 0.06)
            r = cam.project(x + 0.11, height, z)[0] - cam.project(x, height, z)[0]
            cv.ellipse(c, (r, r), "traffic light", col if i == lit else (60, 60, 55), grain=2)


def _draw_vehicle(cv: Canvas, cam, x, z, kind, color):
    w, h, length = {"car": (1.8, 1.5, 4.3), "truck": (2.5, 3.2, 8.0), "bus": (2.6, 3.1, 11.0)}[kind]
    inst = cv.new_instance(kind)
    color = np.asarray(color, np.float32)
    side_x = x - w / 2 if x > 0 else x + w / 2
    cv.polygon(_quad_yz(cam, side_x, 0.25, h * 0.95, z, z + length), kind, color * 0.8, grain=4, instance=inst)
    cv.polygon(_quad_xy(cam, x - w / 2, x + w / 2, 0.3, h * 0.62, z), kind, color, grain=4, instance=inst)
    cv.polygon(
        _quad_xy(cam, x - w * 0.42, x + w * 0.42, h * 0.62, h, z + 0.4), kind, color * 0.9, grain=4, instance=inst
    )
    cv.polygon(
        _quad_xy(cam, x - w * 0.35, x + w * 0.35, h * 0.66, h * 0.94, z + 0.39),
        kind,
        (40, 50, 60),
        grain=3,
        instance=inst,
    )
    for wx in (x - w * 0.38, x + w * 0.38):
        cv.polygon(_quad_xy(cam, wx - 0.16, wx + 0.16, 0.0, 0.4, z + 0.05), kind, (20, 20, 20), grain=2, instance=inst)


def _draw_person(cv: Canvas, cam, x, z, height, rider=False):
    rng = cv.rng
    label = "rider" if rider else "person"
    coat = _jitter(rng, rng.choice([(160, 40, 40), (40, 60, 140), (60, 60, 60), (200, 180, 60)]), 25)
    inst = cv.new_instance(label)
    base = 0.0
    if rider:
        bike = cv.new_instance("bicycle")
        cv.polygon(_quad_xy(cam, x - 0.05, x + 0.05, 0.0, 0.7, z), "bicycle", (30, 30, 30), grain=2, instance=bike)
        for dz in (-0.5, 0.5):
            c = cam.project(x, 0.33, z + dz)
            r = cam.project(x + 0.33, 0.33, z + dz)[0] - c[0]
            cv.ellipse(c, (r * 0.25, r), "bicycle", (25, 25, 25), grain=2, instance=bike)
        base = 0.7
    else:
        for dx in (-0.12, 0.12):
            cv.polygon(
                _quad_xy(cam, x + dx - 0.08, x + dx + 0.08, 0.0, height * 0.47, z),
                label,
                (40, 40, 50),
                grain=4,
                instance=inst,
            )
    cv.polygon(
        _quad_xy(cam, x - 0.24, x + 0.24, base + height * 0.45, base + height * 0.85, z),
        label,
        coat,
        grain=5,
        instance=inst,
    )
    head = cam.project(x, base + height * 0.92, z)
    r = cam.project(x + 0.11, 0, z)[0] - cam.project(x, 0, z)[0]
    cv.ellipse(head, (r, r * 1.2), label, _jitter(rng, (205, 160, 130), 30), grain=3, instance=inst)


def _draw_static(cv: Canvas, cam, x, z):
    cv.polygon(_quad_xy(cam, x - 0.3, x + 0.3, 0.0, 1.0, z), "static", _jitter(cv.rng, (90, 110, 80), 30), grain=5)
