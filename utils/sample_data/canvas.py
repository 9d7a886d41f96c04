"""A painter's-algorithm canvas that draws an RGB image, its Cityscapes label ids, instance ids and polygons at once."""

import cv2
import numpy as np
from cityscapesscripts.helpers.labels import name2label


class Canvas:
    """Paints labelled polygons far-to-near; later shapes occlude earlier ones, as in Cityscapes annotations.

    Attributes:
        image: (H, W, 3) float32 RGB in [0, 255] before :meth:`finish`.
        label_ids: (H, W) uint8 Cityscapes label ids.
        instance_ids: (H, W) int32; ``id * 1000 + k`` for instance classes, else the label id.
        objects: polygon records in the ``gtFine_polygons.json`` format.
    """

    def __init__(self, height: int, width: int, rng: np.random.Generator):
        self.height, self.width, self.rng = height, width, rng
        self.image = np.zeros((height, width, 3), np.float32)
        self.label_ids = np.zeros((height, width), np.uint8)
        self.instance_ids = np.zeros((height, width), np.int32)
        self.objects: list[dict] = []
        self._instance_count: dict[int, int] = {}
        # One field of fine grain shared by all textures keeps painting cheap.
        self._grain = rng.normal(0.0, 1.0, (height, width)).astype(np.float32)
        small = rng.normal(0.0, 1.0, (max(2, height // 16), max(2, width // 16))).astype(np.float32)
        self._blotches = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)

    def _clip(self, points) -> np.ndarray:
        pts = np.asarray(points, np.float64)
        limit = 8 * max(self.height, self.width)
        return np.clip(np.round(pts), -limit, limit).astype(np.int32)

    def new_instance(self, label: str) -> int:
        """Returns a fresh Cityscapes instance id (``label_id * 1000 + k``) for the parts of one object."""
        label_id = name2label[label].id
        k = self._instance_count.get(label_id, 0)
        self._instance_count[label_id] = k + 1
        return label_id * 1000 + k

    def polygon(self, points, label: str, color, grain: float = 6.0, blotch: float = 0.0, instance=None):
        """Fills a polygon with ``color`` plus texture and records it under ``label``.

        ``instance`` is an id from :meth:`new_instance`; without one the instance map gets the label id.
        """
        pts = self._clip(points)
        x0, y0 = np.maximum(pts.min(axis=0), 0)
        x1, y1 = np.minimum(pts.max(axis=0) + 1, (self.width, self.height))
        if x1 <= x0 or y1 <= y0:
            return
        # Painting only the polygon's bounding box keeps thousands of small windows cheap.
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(mask, [pts - np.array([x0, y0], np.int32)], 1)
        self._paint((slice(y0, y1), slice(x0, x1)), mask.astype(bool), label, color, grain, blotch, instance, [pts])

    def ellipse(self, center, axes, label: str, color, grain: float = 6.0, blotch: float = 0.0, instance=None):
        """Fills an axis-aligned ellipse; recorded as its polygon approximation."""
        limit = 8 * max(self.height, self.width)
        c = tuple(int(np.clip(round(v), -limit, limit)) for v in center)
        ax = tuple(int(np.clip(round(v), 1, limit)) for v in axes)
        pts = cv2.ellipse2Poly(c, ax, 0, 0, 360, 20)
        self.polygon(pts, label, color, grain, blotch, instance)

    def _paint(self, box, mask, label, color, grain, blotch, instance, polys):
        if not mask.any():
            return
        label_id = name2label[label].id
        self.label_ids[box][mask] = label_id
        self.instance_ids[box][mask] = label_id if instance is None else instance
        shade = grain * self._grain[box][mask] + blotch * self._blotches[box][mask]
        self.image[box][mask] = np.asarray(color, np.float32)[None, :] + shade[:, None]
        for pts in polys:
            self.objects.append({"label": label, "polygon": pts.tolist()})

    def gradient(self, mask, label: str, top_color, bottom_color):
        """Fills ``mask`` with a vertical colour gradient (the sky) and records its bounding polygon."""
        t = np.linspace(0.0, 1.0, self.height, dtype=np.float32)[:, None, None]
        grad = (1 - t) * np.asarray(top_color, np.float32) + t * np.asarray(bottom_color, np.float32)
        grad = np.broadcast_to(grad, (self.height, self.width, 3))
        self.label_ids[mask] = name2label[label].id
        self.instance_ids[mask] = name2label[label].id
        self.image[mask] = grad[mask] + 2.0 * self._grain[mask][:, None]
        ys, xs = np.nonzero(mask)
        if len(ys):
            box = [[xs.min(), ys.min()], [xs.max(), ys.min()], [xs.max(), ys.max()], [xs.min(), ys.max()]]
            self.objects.append({"label": label, "polygon": [[int(x), int(y)] for x, y in box]})

    def finish(self, brightness: float, contrast: float, tint) -> np.ndarray:
        """Applies global lighting and returns the uint8 RGB image."""
        img = (self.image - 128.0) * contrast + 128.0 * brightness
        img = img * np.asarray(tint, np.float32)[None, None, :]
        img = cv2.GaussianBlur(img, (3, 3), 0.6)
        return np.clip(img, 0, 255).astype(np.uint8)
