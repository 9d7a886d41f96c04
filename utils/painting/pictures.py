"""The two pictures of a painted frame: the camera image with its points, and a bird's-eye view with the cluster boxes."""

import cv2
import numpy as np

BEV_RES = 0.1  # metres per pixel
BEV_FORWARD = (0.0, 50.0)
BEV_LEFT = (-25.0, 25.0)


def camera_picture(image: np.ndarray, pixels: np.ndarray, depth: np.ndarray, colors: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB image with each painted point as a 2x2 dot in its class colour, near points on top."""
    out = (image * 0.6).astype(np.uint8)  # dimmed, so the dots stand out
    order = np.argsort(-depth)
    rows, cols, rgb = pixels[order, 0], pixels[order, 1], colors[order]
    for dr, dc in ((0, 0), (0, 1), (1, 0), (1, 1)):
        out[np.minimum(rows + dr, out.shape[0] - 1), np.minimum(cols + dc, out.shape[1] - 1)] = rgb
    return out


def bev_picture(scan: np.ndarray, index: np.ndarray, colors: np.ndarray, clusters: list) -> np.ndarray:
    """Top-down view at 0.1 m a pixel, 50 m ahead and 25 m to each side, forward up: unpainted points
    grey, painted ones in class colours, each cluster's box in white."""
    height = round((BEV_FORWARD[1] - BEV_FORWARD[0]) / BEV_RES)
    width = round((BEV_LEFT[1] - BEV_LEFT[0]) / BEV_RES)
    out = np.zeros((height, width, 3), np.uint8)

    def to_pixels(x, y):
        return ((BEV_FORWARD[1] - x) / BEV_RES).astype(np.int64), ((BEV_LEFT[1] - y) / BEV_RES).astype(np.int64)

    rows, cols = to_pixels(scan[:, 0], scan[:, 1])
    inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
    out[rows[inside], cols[inside]] = 70
    rows, cols = to_pixels(scan[index, 0], scan[index, 1])
    inside = (rows >= 0) & (rows < height - 1) & (cols >= 0) & (cols < width - 1)
    for dr, dc in ((0, 0), (0, 1), (1, 0), (1, 1)):  # painted points as 2x2 dots
        out[rows[inside] + dr, cols[inside] + dc] = colors[inside]
    for c in clusters:
        (r0, r1), (c0, c1) = to_pixels(
            np.array([c["box_max"][0], c["box_min"][0]]), np.array([c["box_max"][1], c["box_min"][1]])
        )
        cv2.rectangle(out, (int(c0), int(r0)), (int(c1), int(r1)), (255, 255, 255), 1)
    return out
