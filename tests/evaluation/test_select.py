"""Frame selection (python -m utils.evaluation.select) with the session's tiny model on the sample: the ranking
against scores computed here from Predictor's probabilities, near-duplicates, the contact sheet, the link folder,
video frames, the Spearman figure on a labelled split, and the one-line errors."""

import csv
import json
import math
import os
import shutil

import cv2
import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from models.registry import build_model
from utils.config.cli import run_main
from utils.evaluation import select
from utils.evaluation.contact_sheet import BACKGROUND, CELL_H, CELL_W, MARGIN, THUMB_H, THUMB_W
from utils.evaluation.frame_features import PooledFeatures
from utils.evaluation.inference import ModelRunner
from utils.evaluation.predictor import Predictor
from utils.evaluation.selection import choose_frames
from utils.evaluation.tta import predict_with_tta, tta_views
from utils.evaluation.video import VideoWriter
from utils.labels import IGNORE_INDEX

EXIT_USER_ERROR = 2


def read_rows(path) -> list:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def val_image(sample_root, name: str):
    return sample_root / "cityscapes" / "leftImg8bit" / "val" / name.split("_")[0] / f"{name}_leftImg8bit.png"


def read_rgb(path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def split_selection(tiny_run, sample_root, tmp_path_factory):
    """One selection of 3 of the sample's 5 val frames, duplicates off, 2 columns, linked into to_label/."""
    out = tmp_path_factory.mktemp("select")
    argv = ["--checkpoint", str(tiny_run / "best.pth"), "--split", "val", "--root", str(sample_root / "cityscapes")]
    argv += ["--budget", "3", "--duplicate_distance", "0", "--columns", "2", "--device", "cpu"]
    assert select.main([*argv, "--out", str(out / "selection"), "--link_dir", str(out / "to_label")]) == 0
    return out


def test_ranks_follow_the_scores_computed_from_the_probabilities(split_selection, tiny_run, sample_root):
    rows = read_rows(split_selection / "selection" / "selection.csv")
    assert len(rows) == 5
    scores = [float(r["score"]) for r in rows]
    assert scores == sorted(scores, reverse=True)
    assert [r["rank"] for r in rows] == ["1", "2", "3", "", ""] and all(r["duplicate_of"] == "" for r in rows)
    with Predictor.from_checkpoint(tiny_run / "best.pth", device="cpu") as predictor:
        for row in rows:
            rgb = read_rgb(val_image(sample_root, row["frame"]))
            p = predictor.probabilities(rgb).astype(np.float64)
            q = p / p.sum(0)  # the sigmoid model's probabilities as a distribution
            entropy = -(q * np.log(np.maximum(q, 1e-12))).sum(0) / math.log(len(predictor.names))
            assert float(row["score"]) == pytest.approx(entropy.mean(), abs=2e-6)
            gt_file = str(val_image(sample_root, row["frame"])).replace("leftImg8bit", "gtFine")
            gt = predictor.labels.encode(cv2.imread(gt_file.replace(".png", "_labelIds.png"), cv2.IMREAD_UNCHANGED))
            miou, accuracy = image_scores(predictor(rgb), gt)
            assert float(row["error"]) == pytest.approx(1 - miou, abs=2e-6)
            assert float(row["pixel_error"]) == pytest.approx(1 - accuracy, abs=2e-6)


def image_scores(pred: np.ndarray, gt: np.ndarray) -> tuple:
    """(mean IoU over the classes in the labelled pixels' ground truth or prediction, pixel accuracy there)."""
    keep = gt != IGNORE_INDEX
    pred, gt = pred[keep], gt[keep]
    ious = [((pred == c) & (gt == c)).sum() / ((pred == c) | (gt == c)).sum() for c in np.union1d(pred, gt)]
    return float(np.mean(ious)), float((pred == gt).mean())


def test_spearman_figure_is_scipys_on_the_csv_columns(split_selection):
    rows = read_rows(split_selection / "selection" / "selection.csv")
    quality = json.loads((split_selection / "selection" / "selection_quality.json").read_text())
    scores = [float(r["score"]) for r in rows]
    assert quality["n"] == 5 and quality["split"] == "val" and quality["score"] == "entropy"
    for figure, column in ((quality, "error"), (quality["pixel_error"], "pixel_error")):
        expected = spearmanr(scores, [float(r[column]) for r in rows])
        assert figure["spearman"] == pytest.approx(expected.statistic, abs=1e-9)
        assert figure["p_value"] == pytest.approx(expected.pvalue, abs=1e-9)


def test_contact_sheet_is_a_grid_of_the_chosen_frames_and_their_maps(split_selection):
    sheet = cv2.imread(str(split_selection / "selection" / "contact_sheet.png"))
    assert sheet.shape == (2 * CELL_H + 3 * MARGIN, 2 * CELL_W + 3 * MARGIN, 3)  # 3 frames in 2 columns
    for y, x in ((MARGIN, MARGIN), (MARGIN, 2 * MARGIN + CELL_W), (2 * MARGIN + CELL_H, MARGIN)):
        frame, umap = sheet[y : y + THUMB_H, x : x + THUMB_W], sheet[y : y + THUMB_H, x + CELL_W - THUMB_W : x + CELL_W]
        assert frame.std() > 10 and (umap != BACKGROUND).any()  # a picture and a colour map in each cell
        assert (sheet[y + THUMB_H : y + CELL_H, x : x + CELL_W] < 128).any()  # its caption
    empty = sheet[2 * MARGIN + CELL_H :, 2 * MARGIN + CELL_W :]
    assert (empty == 255).all()  # the fourth place stays empty


def test_link_dir_holds_the_chosen_frames_in_rank_order(split_selection, sample_root):
    rows = read_rows(split_selection / "selection" / "selection.csv")
    chosen = [r["frame"] for r in sorted(rows, key=lambda r: int(r["rank"] or 10**6))[:3]]
    files = sorted(os.listdir(split_selection / "to_label"))
    assert files == [f"{k:04d}_{name}.png" for k, name in enumerate(chosen, 1)]
    for name, file in zip(chosen, files):
        assert os.path.samefile(split_selection / "to_label" / file, val_image(sample_root, name))


def test_greedy_choice_skips_frames_close_to_a_chosen_one():
    features = np.array([[1, 0, 0], [0.999, 0.0447, 0], [0, 1, 0], [0, 0.999, 0.0447]])
    features /= np.linalg.norm(features, axis=1, keepdims=True)
    picked = choose_frames(np.array([0.6, 0.9, 0.8, 0.7]), features, 2, duplicate_distance=0.01)
    # Rank order 1, 2, 3, 0: the first two are far apart and fill the budget; 3 and 0 are not looked at.
    assert picked.chosen == [1, 2] and list(picked.rank) == [0, 1, 2, 0]
    picked = choose_frames(np.array([0.6, 0.9, 0.8, 0.7]), features, 3, duplicate_distance=0.01)
    # 3 lies within 0.001 of 2 and 0 of 1: skipped, naming them; the budget stays one short.
    assert picked.chosen == [1, 2] and list(picked.duplicate_of) == [1, -1, -1, 2]
    assert np.isnan(picked.distance[1]) and np.allclose(
        picked.distance[[2, 3, 0]], [1 - 0.0447 / 1.0, 0.001, 0.001], atol=2e-4
    )


def test_distance_zero_keeps_even_identical_frames():
    features = np.full((2, 3), 1 / np.sqrt(3))  # 1 - f . f is -2.2e-16 here: below 0 by rounding
    assert 1 - features[0] @ features[1] < 0
    assert choose_frames(np.array([0.5, 0.4]), features, 2, duplicate_distance=0).chosen == [0, 1]


def test_the_same_image_twice_is_one_frame_and_its_copy_a_duplicate(tiny_run, sample_root, tmp_path):
    images = sorted((sample_root / "cityscapes" / "leftImg8bit" / "val").rglob("*.png"))
    frames = tmp_path / "frames"
    frames.mkdir()
    shutil.copy(images[0], frames / "a.png")
    shutil.copy(images[0], frames / "b.png")
    shutil.copy(images[1], frames / "c.png")
    argv = ["--checkpoint", str(tiny_run / "best.pth"), "--input", str(frames), "--budget", "3", "--device", "cpu"]
    assert select.main([*argv, "--out", str(tmp_path / "out")]) == 0
    rows = {r["frame"]: r for r in read_rows(tmp_path / "out" / "selection.csv")}
    assert rows["b"]["duplicate_of"] == "a" and rows["b"]["rank"] == "" and abs(float(rows["b"]["distance"])) < 1e-5
    assert {rows["a"]["rank"], rows["c"]["rank"]} == {"1", "2"} and rows["a"]["score"] == rows["b"]["score"]
    assert select.main([*argv, "--duplicate_distance", "0", "--out", str(tmp_path / "all")]) == 0
    assert sorted(r["rank"] for r in read_rows(tmp_path / "all" / "selection.csv")) == ["1", "2", "3"]


def test_video_frames_are_scored_and_written_for_labelling(tiny_run, sample_root, tmp_path, capsys):
    frames = sorted((sample_root / "cityscapes" / "leftImg8bit" / "demoVideo").rglob("*.png"))
    with VideoWriter(tmp_path / "drive.mp4", (256, 128), 10) as writer:
        for path in frames:
            writer.write(read_rgb(path))
    argv = ["--checkpoint", str(tiny_run / "best.pth"), "--input", str(tmp_path / "drive.mp4"), "--device", "cpu"]
    argv += ["--duplicate_distance", "0", "--out", str(tmp_path / "out")]
    assert select.main([*argv, "--budget", "2", "--link_dir", str(tmp_path / "to_label")]) == 0
    rows = read_rows(tmp_path / "out" / "selection.csv")
    assert sorted(r["frame"] for r in rows) == [f"drive_{k:06d}" for k in range(len(frames))]
    chosen = [r["frame"] for r in rows if r["rank"]]
    assert sorted(os.listdir(tmp_path / "to_label")) == [f"{k:04d}_{name}.png" for k, name in enumerate(chosen, 1)]
    assert cv2.imread(str(tmp_path / "to_label" / f"0001_{chosen[0]}.png")).shape == (128, 256, 3)
    capsys.readouterr()
    assert run_main(select.main, [*argv, "--budget", str(len(frames) + 1)]) == EXIT_USER_ERROR
    assert f"holds {len(frames)} frames" in capsys.readouterr().err  # known once the video is decoded


def test_mistakes_are_one_line_errors(tiny_run, sample_root, tmp_path, capsys):
    checkpoint = str(tiny_run / "best.pth")
    (tmp_path / "empty").mkdir()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "frame.png").write_bytes(b"not an image")
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    (tmp_path / "two").mkdir()
    for k, image in enumerate(sorted((sample_root / "cityscapes" / "leftImg8bit" / "val").rglob("*.png"))[:2]):
        shutil.copy(image, tmp_path / "two" / f"{k}.png")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "old.png").write_bytes(b"")
    two = ["--checkpoint", checkpoint, "--input", str(tmp_path / "two")]
    cases = [
        (["--checkpoint", checkpoint, "--budget", "1"], "Give either --input"),
        ([*two, "--split", "val", "--budget", "1"], "Give either --input"),
        ([*two, "--budget", "0"], "--budget is 0"),
        ([*two, "--budget", "3"], "holds 2 frames"),
        ([*two, "--budget", "1", "--confidence", "1.5"], "--confidence is 1.5"),
        ([*two, "--budget", "1", "--link_dir", str(tmp_path / "busy")], "is not an empty folder"),
        (
            ["--checkpoint", str(tmp_path / "missing.pth"), "--input", str(tmp_path / "two"), "--budget", "1"],
            "does not exist",
        ),
        (["--checkpoint", checkpoint, "--input", str(tmp_path / "empty"), "--budget", "1"], "holds no images"),
        (["--checkpoint", checkpoint, "--input", str(tmp_path / "broken"), "--budget", "1"], "Cannot read image"),
        (["--checkpoint", checkpoint, "--input", str(tmp_path / "broken.mp4"), "--budget", "1"], "Cannot read video"),
    ]
    for argv, expected in cases:
        assert run_main(select.main, [*argv, "--device", "cpu", "--out", str(tmp_path / "out")]) == EXIT_USER_ERROR
        err = capsys.readouterr().err  # after the progress bar, where the error came midway
        last = err.rstrip("\n").split("\n")[-1]
        assert last.startswith("error: ") and expected in last and "Traceback" not in err, (argv, err)
    assert not (tmp_path / "out" / "selection.csv").exists()


class ImageAsFeatures(torch.nn.Module):
    def forward(self, x):
        return [x[:, :, ::2, ::2], x]  # the encoders' list of maps, deepest last


class ColourModel(torch.nn.Module):
    """An encoder whose deepest map is the image itself, so an image's pooled feature is its mean colour."""

    def __init__(self):
        super().__init__()
        self.encoder = ImageAsFeatures()

    def forward(self, x):
        return torch.zeros(x.shape[0], 2, *x.shape[2:]) + 0 * self.encoder(x)[-1][:, :1]


def test_features_pool_each_images_windows_and_views_apart():
    images = torch.stack(
        [torch.tensor(c, dtype=torch.float32).view(3, 1, 1).expand(3, 64, 96) for c in [(1, 2, 2), (3, 0, 4)]]
    )
    model = ColourModel()
    runner = ModelRunner(model, "ce_dice", 2, torch.device("cpu"), mode="slide", window=(32, 32), overlap=0.5)
    with PooledFeatures(model) as features:
        assert features.description == "the encoder's deepest feature map"
        predict_with_tta(runner, images, tta_views("hflip"))  # 2 views x 15 windows, in calls of 4 windows
        pooled = features.take(2)
    assert torch.allclose(pooled, torch.tensor([[1 / 3, 2 / 3, 2 / 3], [0.6, 0.0, 0.8]]), atol=1e-6)


def test_pidnet_features_come_from_its_deepest_backbone_stage():
    model = build_model(arch="pidnet", num_classes=3).eval()
    with PooledFeatures(model) as features, torch.no_grad():
        model(torch.rand(2, 3, 64, 64))
        pooled = features.take(2)
    assert features.module is model.pidnet.layer5 and features.description.startswith("PIDNet's deepest backbone")
    assert pooled.shape[0] == 2 and torch.allclose(pooled.norm(dim=1), torch.ones(2))
    with PooledFeatures(torch.nn.Conv2d(3, 4, 1)) as features:
        assert features.description.startswith("the logits")
