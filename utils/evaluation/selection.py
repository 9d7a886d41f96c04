"""Which frames to label: the most uncertain first, skipping near-duplicates of frames already chosen; the
selection's CSV, and on a labelled split how well the uncertainty ranks the frames by their real error."""

import csv
import io
import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import spearmanr

from utils.files import atomic_write_text, to_json


@dataclass
class Selection:
    """The frames in rank order of score (highest first), as indices into the scored frames.

    Attributes:
        order: every frame, highest score first (ties: first seen first).
        rank: per frame, its rank among the chosen (1 = label first), 0 when not chosen.
        duplicate_of: per frame, the index of the chosen frame it was skipped for, -1 when not skipped.
        distance: per frame, its cosine distance to the closest frame chosen before it was looked at; NaN for the
            first frame and for frames not looked at (the budget was full). What --duplicate_distance is compared to.
    """

    order: np.ndarray
    rank: np.ndarray
    duplicate_of: np.ndarray
    distance: np.ndarray

    @property
    def chosen(self) -> list:
        """Indices of the chosen frames in rank order."""
        return [int(i) for i in self.order if self.rank[i] > 0]


def choose_frames(scores: np.ndarray, features: np.ndarray, budget: int, duplicate_distance: float) -> Selection:
    """Greedy in rank order: a frame whose cosine distance to a chosen frame is below ``duplicate_distance`` is
    skipped (recording the closest chosen frame), any other is chosen, until ``budget`` frames are chosen.

    Args:
        scores: (N,) uncertainty per frame.
        features: (N, D) L2-normalised features.
        budget: how many frames to choose; frames after the last chosen one are neither chosen nor skipped.
        duplicate_distance: 0 turns the skipping off.
    """
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    rank = np.zeros(len(scores), np.int64)
    duplicate_of = np.full(len(scores), -1, np.int64)
    nearest = np.full(len(scores), np.nan)
    chosen = []
    for i in order:
        if len(chosen) == budget:
            break
        if chosen:
            distance = 1.0 - features[chosen] @ features[i]
            closest = int(np.argmin(distance))
            nearest[i] = distance[closest]
            if duplicate_distance > 0 and distance[closest] < duplicate_distance:
                duplicate_of[i] = chosen[closest]
                continue
        chosen.append(int(i))
        rank[i] = len(chosen)
    return Selection(order, rank, duplicate_of, nearest)


def selection_csv(names: list, scores: np.ndarray, selection: Selection, errors: dict = None) -> str:
    """``selection.csv``: frame, score, rank (empty when not chosen), duplicate_of (empty unless skipped), distance
    (to the closest frame chosen before it; empty where none was, or the frame was not looked at), and on a labelled
    split one column per entry of ``errors`` (per frame; empty where NaN), in rank order of score."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    columns = list(errors or {})
    writer.writerow(["frame", "score", "rank", "duplicate_of", "distance", *columns])
    for i in selection.order:
        row = [
            names[i],
            f"{scores[i]:.6f}",
            selection.rank[i] or "",
            names[selection.duplicate_of[i]] if selection.duplicate_of[i] >= 0 else "",
            "" if math.isnan(selection.distance[i]) else f"{selection.distance[i]:.6f}",
        ]
        row += ["" if math.isnan(errors[c][i]) else f"{errors[c][i]:.6f}" for c in columns]
        writer.writerow(row)
    return out.getvalue()


def selection_quality(scores: np.ndarray, errors: np.ndarray) -> dict:
    """Spearman's rank correlation between the scores and the errors of the frames that have an error:
    ``n``, ``spearman`` and ``p_value`` (None where it is undefined: fewer than 3 frames, or a constant column)."""
    scores, errors = np.asarray(scores, np.float64), np.asarray(errors, np.float64)
    keep = ~np.isnan(errors)
    n = int(keep.sum())
    rho = p = None
    if n >= 3 and np.ptp(scores[keep]) > 0 and np.ptp(errors[keep]) > 0:
        result = spearmanr(scores[keep], errors[keep])
        rho, p = float(result.statistic), float(result.pvalue)
    return {"n": n, "spearman": rho, "p_value": p}


def write_quality(path, quality: dict) -> None:
    atomic_write_text(path, to_json(quality) + "\n")
