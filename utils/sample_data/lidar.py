"""A 64-beam Velodyne (KITTI's HDL-64E geometry) scanning the sample's 3D street, vectorised over rays.

64 rings from +2 to -24.8 degrees, 0.08 degree azimuth steps over the full turn (288,000 rays), mounted
VELO_HEIGHT above the road and VELO_BEHIND behind the camera. The street is the one ``street.make_street``
lays out: the road plane with road, sidewalks, terrain and ground strips, and boxes for facades, the far
wall, vehicles, people, riders, poles, signs, lights, trunks, crowns and static things. Each ray returns
the nearest hit within MAX_RANGE; sky returns nothing. Every point keeps its Cityscapes label id and an
instance number (objects only), written as SemanticKITTI writes labels: uint32, label in the low 16 bits,
instance in the high 16.

Boxes are tested only against the rays inside their angular footprint from the sensor, so the cost
follows what a box covers, not rays x boxes.
"""

import numpy as np
from cityscapesscripts.helpers.labels import name2label

from utils.sample_data.calib import VELO_BEHIND, VELO_HEIGHT

ELEVATIONS = np.linspace(2.0, -24.8, 64)
AZIMUTH_STEP = 0.08
MAX_RANGE = 120.0
RANGE_NOISE = 0.01  # metres, one sigma
_REFLECTANCE = {
    "road": 0.25,
    "sidewalk": 0.3,
    "terrain": 0.2,
    "ground": 0.22,
    "building": 0.35,
    "vegetation": 0.45,
    "pole": 0.5,
    "traffic sign": 0.9,
    "traffic light": 0.4,
}


def _ids(*names):
    return [name2label[n].id for n in names]


def street_boxes(s: dict) -> list:
    """(x0, x1, y0, y1, z0, z1, label name, instance) world boxes of everything standing on the street."""
    boxes = []
    for fx, z0, z1, h, *_ in s["buildings"]:
        # A thin slab: the renderer draws facades as planes, so the gaps between them show what lies behind.
        x0, x1 = (fx - 0.3, fx) if fx < 0 else (fx, fx + 0.3)
        boxes.append((x0, x1, 0.0, h, z0, z1, "building", 0))
    if s["far_wall"] is not None:
        w, h, z = s["far_wall"]
        boxes.append((-w, w, 0.0, h, z, z + 1.0, "building", 0))
    instance = 0
    for obj in s["objects"]:
        kind, x, z = obj[0], obj[1], obj[2]
        if kind == "tree":
            crown, trunk = obj[3], obj[4]
            boxes.append((x - 0.18, x + 0.18, 0.0, trunk, z - 0.18, z + 0.18, "vegetation", 0))
            boxes.append(
                (
                    x - 1.2 * crown,
                    x + 1.2 * crown,
                    trunk + 0.1 * crown,
                    trunk + 1.8 * crown,
                    z - 0.3,
                    z + 0.3,
                    "vegetation",
                    0,
                )
            )
        elif kind == "pole":
            height, top = obj[3], obj[4]
            boxes.append((x - 0.1, x + 0.1, 0.0, height, z - 0.1, z + 0.1, "pole", 0))
            if top == "sign":
                boxes.append((x - 0.55, x + 0.55, height - 1.1, height, z - 0.12, z - 0.08, "traffic sign", 0))
            elif top == "light":
                boxes.append((x - 0.25, x + 0.25, height - 1.1, height, z - 0.3, z - 0.05, "traffic light", 0))
        elif kind == "person":
            instance += 1
            boxes.append((x - 0.24, x + 0.24, 0.0, obj[3], z - 0.15, z + 0.15, "person", instance))
        elif kind == "rider":
            instance += 1
            boxes.append((x - 0.05, x + 0.05, 0.0, 0.7, z - 0.8, z + 0.8, "bicycle", instance))
            instance += 1
            boxes.append((x - 0.24, x + 0.24, 0.7, 0.7 + 1.75 * 0.85, z - 0.2, z + 0.2, "rider", instance))
        elif kind == "static":
            boxes.append((x - 0.3, x + 0.3, 0.0, 1.0, z - 0.3, z + 0.3, "static", 0))
        elif kind == "vehicle":
            instance += 1
            w, h, length = {"car": (1.8, 1.5, 4.3), "truck": (2.5, 3.2, 8.0), "bus": (2.6, 3.1, 11.0)}[obj[3]]
            boxes.append((x - w / 2, x + w / 2, 0.0, h, z, z + length, obj[3], instance))
    return boxes


def _ground_label(s: dict, x: np.ndarray) -> np.ndarray:
    r0, r1 = s["road"]
    sw, tw = s["sidewalk"], s["terrain"]
    label = np.full(x.shape, name2label["ground"].id, np.uint16)
    label[(x >= r0 - sw - tw) & (x <= r1 + sw + tw)] = name2label["terrain"].id
    label[(x >= r0 - sw) & (x <= r1 + sw)] = name2label["sidewalk"].id
    label[(x >= r0) & (x <= r1)] = name2label["road"].id
    return label


def scan(s: dict, rng: np.random.Generator) -> tuple:
    """One revolution over street ``s``.

    Returns:
        points: (N, 4) float32 x forward, y left, z up (metres, Velodyne frame), reflectance in [0, 1].
        labels: (N,) uint32, Cityscapes label id | instance << 16.
    """
    azimuths = np.radians(np.arange(-180.0, 180.0, AZIMUTH_STEP))
    elev = np.radians(ELEVATIONS)[:, None]
    # Ray directions in world axes (X right, Y up, Z forward) = Velodyne (-y, z, x).
    dx = -np.cos(elev) * np.sin(azimuths)[None, :]
    dy = np.sin(elev) * np.ones_like(azimuths)[None, :]
    dz = np.cos(elev) * np.cos(azimuths)[None, :]
    origin = np.array([0.0, VELO_HEIGHT, -VELO_BEHIND])
    best = np.full(dx.shape, np.inf)
    label = np.zeros(dx.shape, np.uint16)
    inst = np.zeros(dx.shape, np.uint16)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_ground = np.where(dy < 0, -origin[1] / dy, np.inf)
    best = np.minimum(best, t_ground)
    down = np.isfinite(t_ground)
    label[down] = _ground_label(s, origin[0] + t_ground[down] * dx[down])
    for x0, x1, y0, y1, z0, z1, name, k in street_boxes(s):
        rows, cols = _footprint(origin, (x0, x1, y0, y1, z0, z1), azimuths)
        if rows.stop <= rows.start or len(cols) == 0:
            continue
        sub = (rows, cols)
        t = _ray_box(origin, dx[sub], dy[sub], dz[sub], (x0, x1, y0, y1, z0, z1))
        closer = t < best[sub]
        best[sub] = np.where(closer, t, best[sub])
        label[sub] = np.where(closer, name2label[name].id, label[sub])
        inst[sub] = np.where(closer, k, inst[sub])
    keep = best < MAX_RANGE
    t = best[keep] + rng.normal(0.0, RANGE_NOISE, keep.sum())
    x, y, z = origin[0] + t * dx[keep], origin[1] + t * dy[keep], origin[2] + t * dz[keep]
    lab = label[keep]
    reflect = np.full(lab.shape, 0.3)
    for name, value in _REFLECTANCE.items():
        reflect[lab == name2label[name].id] = value
    reflect = np.clip(reflect + rng.normal(0.0, 0.05, lab.shape), 0.0, 1.0)
    points = np.stack([z - origin[2], -(x - origin[0]), y - origin[1], reflect], 1).astype(np.float32)
    return points, lab.astype(np.uint32) | (inst[keep].astype(np.uint32) << 16)


def _footprint(origin, box, azimuths) -> tuple:
    """(ring slice, azimuth index array) that can see ``box``: its angular hull from the sensor."""
    x0, x1, y0, y1, z0, z1 = box
    cx = np.array([x0, x1, x0, x1]) - origin[0]  # the footprint's corners, seen from the sensor
    cz = np.array([z0, z0, z1, z1]) - origin[2]
    if x0 <= origin[0] <= x1 and z0 <= origin[2] <= z1:
        return slice(0, len(ELEVATIONS)), np.arange(len(azimuths))  # the sensor is above or inside it
    az = np.arctan2(-cx, cz)  # Velodyne azimuth: x forward, y left
    # The steepest views of the top and bottom faces are at the footprint's nearest or farthest point,
    # which need not be a corner (a long wall passing beside the car).
    near = np.hypot(max(x0 - origin[0], 0.0, origin[0] - x1), max(z0 - origin[2], 0.0, origin[2] - z1))
    far = np.hypot(cx, cz).max()
    top, bottom = y1 - origin[1], y0 - origin[1]
    hi = np.degrees(max(np.arctan2(top, near), np.arctan2(top, far)))
    lo = np.degrees(min(np.arctan2(bottom, near), np.arctan2(bottom, far)))
    rows = slice(int(np.searchsorted(-ELEVATIONS, -hi - 0.5)), int(np.searchsorted(-ELEVATIONS, -lo + 0.5)))
    span = np.ptp(az)
    if span > np.pi:  # straddles the +-180 degree seam behind the car
        az = np.where(az < 0, az + 2 * np.pi, az)
    a0, a1 = az.min() - 0.01, az.max() + 0.01
    wrapped = np.where(azimuths < a0, azimuths + 2 * np.pi, azimuths)
    return rows, np.flatnonzero((wrapped >= a0) & (wrapped <= a1))


def _ray_box(origin, dx, dy, dz, box) -> np.ndarray:
    """Distance along each ray to an axis-aligned box (slab method); inf where it misses."""
    x0, x1, y0, y1, z0, z1 = box
    t_near = np.zeros(dx.shape)
    t_far = np.full(dx.shape, np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        for o, d, lo, hi in ((origin[0], dx, x0, x1), (origin[1], dy, y0, y1), (origin[2], dz, z0, z1)):
            a, b = (lo - o) / d, (hi - o) / d
            t_near = np.maximum(t_near, np.fmin(a, b))
            t_far = np.minimum(t_far, np.fmax(a, b))
    return np.where((t_near <= t_far) & (t_near > 0), t_near, np.inf)
