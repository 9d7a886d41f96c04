"""The clustering prior: DBSCAN (scikit-learn) over the painted points of each object class."""

import numpy as np
from sklearn.cluster import DBSCAN

# Model classes that are objects by default: the Cityscapes vehicle and human labels, and the
# categories holding them.
DEFAULT_OBJECTS = (
    "human",
    "vehicle",
    "person",
    "rider",
    "car",
    "truck",
    "bus",
    "caravan",
    "trailer",
    "train",
    "motorcycle",
    "bicycle",
)
GROUND = ("road", "flat", "lane")


def object_class_indices(names, configured=None) -> list:
    """Indices of the classes to cluster: ``configured`` names, else every default object class present."""
    wanted = configured if configured is not None else DEFAULT_OBJECTS
    return [i for i, name in enumerate(names) if name in wanted]


def cluster_objects(xyz: np.ndarray, classes: np.ndarray, object_classes, names, eps: float, min_samples: int) -> list:
    """Clusters each object class's points on their 3D positions.

    Args:
        xyz: (M, 3) painted point positions (Velodyne frame, metres).
        classes: (M,) predicted class per point.
        object_classes: class indices to cluster.
        names: class names.
        eps, min_samples: DBSCAN's parameters.
    Returns:
        one dict per cluster: class, class_index, points, centroid, box_min and box_max (an axis-aligned
        box in the Velodyne frame), with the indices of its points under ``members`` (not written to JSON).
    """
    clusters = []
    for c in object_classes:
        idx = np.flatnonzero(classes == c)
        if len(idx) < min_samples:
            continue
        found = DBSCAN(eps=eps, min_samples=min_samples).fit(xyz[idx]).labels_
        for k in range(found.max() + 1):
            members = idx[found == k]
            pts = xyz[members]
            clusters.append(
                {
                    "class": names[c],
                    "class_index": int(c),
                    "points": int(len(members)),
                    "centroid": [round(float(v), 4) for v in pts.mean(0)],
                    "box_min": [round(float(v), 4) for v in pts.min(0)],
                    "box_max": [round(float(v), 4) for v in pts.max(0)],
                    "members": members,
                }
            )
    return clusters


def ground_count(classes: np.ndarray, names) -> int:
    """Points on the ground classes (road, or flat in category mode): the ground points of the prior."""
    ground = [i for i, n in enumerate(names) if n in GROUND]
    return int(np.isin(classes, ground).sum())
