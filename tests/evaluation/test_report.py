"""report.html: one self-contained page, rendered in a real headless Chromium (Debian's package, which .ci/run installs)."""

import json
import os
import re
import shutil
import subprocess
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

import eval as eval_script
from utils.config.loading import config_from_dict
from utils.data.families import dataset_family
from utils.evaluation.report import write_report

BROWSERS = ("chromium", "chromium-headless-shell", "chromium-browser")


def browser() -> str:
    found = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if found is None:
        if os.environ.get("SEGTOOL_REQUIRE_BROWSER"):
            pytest.fail("SEGTOOL_REQUIRE_BROWSER is set but no chromium is installed (apt-get install chromium)")
        pytest.skip("no chromium: apt-get install chromium (CI does) to render report.html in a real browser")
    return found


def chromium(page, tmp_path, *mode) -> subprocess.CompletedProcess:
    """Headless Chromium on a file:// page, with no network and a fresh profile (as a root user in a container needs)."""
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
    ]
    flags += [
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1280,2000",
    ]
    return subprocess.run(
        [browser(), *flags, *mode, page.resolve().as_uri()], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("family_run", ["folder"], indirect=True)
def test_the_report_renders_in_a_browser_with_the_metrics(family_run, tmp_path):
    _, run, root = family_run
    out = tmp_path / "eval"
    argv = [
        "--checkpoint",
        str(run / "best.pth"),
        "--set",
        f"paths.root={root}",
        f"eval.output_dir={out}",
        "eval.num_workers=0",
        "eval.device=cpu",
    ]
    assert eval_script.main([*argv, "eval.drop_clusters=8", "eval.report_worst=2"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    page = out / "report.html"
    text = page.read_text()
    # Self-contained: no script, style, font or picture from anywhere but the page itself.
    assert (
        not re.search(r"""(src|href)=["']?(https?:|//|file:)""", text) and "@import" not in text and "url(" not in text
    )
    assert text.count("data:image/png;base64,") == 4  # the confusion matrix, the training curves and 2 worst images
    moved = tmp_path / "elsewhere" / "report.html"  # it still opens when copied away from the eval folder
    moved.parent.mkdir()
    shutil.copy(page, moved)
    shot = tmp_path / "report.png"
    chromium(moved, tmp_path, f"--screenshot={shot}")
    picture = cv2.imread(str(shot))
    assert picture is not None and picture.shape[:2] == (2000, 1280)
    assert (
        picture.std() > 20 and len(np.unique(picture.reshape(-1, 3), axis=0)) > 500
    )  # text, tables and pictures, not a blank page
    dom = chromium(moved, tmp_path, "--dump-dom").stdout
    assert f"{metrics['miou']:.4f}" in dom and f"{metrics['without_drop_clusters']['miou']:.4f}" in dom
    assert all(name in dom for name in metrics["per_class"]) and "lowest mIoU" in dom


def test_the_report_holds_the_official_and_kitti_figures(sample_root, tmp_path):
    """What eval adds for Cityscapes' official evaluator and KITTI's devkit reaches the page."""
    cfg = config_from_dict({}, [f"paths.root={sample_root / 'cityscapes'}", "dataset.labels=road"])
    labels = dataset_family(cfg).labels()
    setup = SimpleNamespace(
        cfg=cfg, labels=labels, checkpoint=tmp_path / "run" / "best.pth", output_dir=tmp_path, pictures=[]
    )
    per_class = {"road": {"iou": 0.9123, "dice": 0.95}, "rest": {"iou": float("nan"), "dice": float("nan")}}
    kitti = {"um_road": {"max_f": 0.8765, "average_precision": 0.81, "precision": 0.8, "recall": 0.9, "threshold": 0.5}}
    metrics = {
        "miou": 0.9123,
        "mean_dice": 0.95,
        "pixel_acc": 0.97,
        "per_class": per_class,
        "split": "val",
        "official": {"averageScoreClasses": 0.4321},
    }
    text = write_report(
        setup, {**metrics, "kitti": kitti, "kitti_bev": {"um_road": {**kitti["um_road"], "max_f": 0.7654}}}
    ).read_text()
    for figure in ("0.9123", "0.4321", "official evaluator mIoU", "0.8765", "BEV MaxF", "0.7654", "n/a"):
        assert figure in text, figure
    assert "Predictions (no labels" in write_report(setup, {}).read_text()
