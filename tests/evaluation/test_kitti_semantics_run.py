"""KITTI semantics end to end on the sample: a tiny run started from a Cityscapes-classes checkpoint, eval's results/
in label ids at the ground truth's resolution (scored here by hand against semantic/), and BDD100K trained from its
colormaps alone."""

import json
import shutil

import cv2
import numpy as np
import pytest
from conftest import FAMILY_CONFIGS, TINY, tiny_overrides

import eval as eval_script
import train
from utils.config.loading import config_from_dict
from utils.data.families import dataset_family
from utils.labels import IGNORE_INDEX

FAST = [*TINY, "dataset.size=[32,96]", "training.optimizer=adam", "training.lr=0.003"]


@pytest.fixture(scope="module")
def kitti_run(sample_root, tmp_path_factory, cityscapes19_run):
    """(run folder, the Cityscapes run it started from): a tiny KITTI-semantics training from the shared Cityscapes
    classes checkpoint."""
    cityscapes = cityscapes19_run
    run = tmp_path_factory.mktemp("kitti_semantics") / "kitti"
    overrides = tiny_overrides(
        sample_root,
        run,
        *FAST,
        "target=kitti_semantics",
        "dataset.labels=classes",
        f"paths.root={sample_root / 'kitti_semantics'}",
        f"training.init_from={cityscapes / 'best.pth'}",
    )
    assert train.main(["--config_path", "configs/quickstart.yaml", "--set", *overrides]) == 0
    return run, cityscapes


def test_init_from_a_cityscapes_classes_checkpoint_loads_every_tensor(kitti_run):
    log = (kitti_run[0] / "train.log").read_text()
    assert f"init_from {kitti_run[1] / 'best.pth'}: loaded " in log and "; re-initialised 0" in log


def test_eval_writes_label_ids_at_the_ground_truths_resolution_that_score_as_metrics_json(kitti_run, sample_root):
    run, root = kitti_run[0], sample_root / "kitti_semantics"
    out = run / "eval_all"
    argv = ["--checkpoint", str(run / "best.pth"), "--set", f"paths.root={root}", f"eval.output_dir={out}"]
    argv += ["eval.split=all", "eval.device=cpu", "eval.num_workers=0", "eval.tta=none", "eval.drop_clusters=0"]
    assert eval_script.main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    fam = dataset_family(config_from_dict({}, ["target=kitti_semantics", f"paths.root={root}"]))
    labels, items = fam.labels(), fam.items("all")
    n = labels.num_classes
    matrix = np.zeros((n, n), np.int64)
    for item in items:
        result = out / "results" / "training" / "semantic" / item.image.name  # named like the input frame
        pred_ids = cv2.imread(str(result), cv2.IMREAD_UNCHANGED)
        gt_ids = cv2.imread(str(item.label), cv2.IMREAD_UNCHANGED)
        assert pred_ids.dtype == np.uint8 and pred_ids.shape == gt_ids.shape  # one channel, the gt's own size
        assert set(np.unique(pred_ids).tolist()) <= set(labels.to_label_id)  # label ids, not train ids
        pred, true = labels.lut[pred_ids].ravel().astype(np.int64), labels.lut[gt_ids].ravel().astype(np.int64)
        keep = true != IGNORE_INDEX
        matrix += np.bincount(true[keep] * n + pred[keep], minlength=n * n).reshape(n, n)
    assert len(list((out / "results").rglob("*.png"))) == len(items) and metrics["images"] == len(items)
    tp = np.diag(matrix)
    union = matrix.sum(0) + matrix.sum(1) - tp
    for c, name in enumerate(labels.names):
        expected = tp[c] / union[c] if union[c] else None
        assert metrics["per_class"][name]["iou"] == (None if expected is None else pytest.approx(expected)), name
    assert metrics["miou"] == pytest.approx(np.mean([tp[c] / union[c] for c in range(n) if union[c]]))


def test_eval_on_the_test_split_writes_the_submission_files(kitti_run, sample_root):
    run, root = kitti_run[0], sample_root / "kitti_semantics"
    out = run / "eval_test"
    argv = ["--checkpoint", str(run / "best.pth"), "--set", f"paths.root={root}", f"eval.output_dir={out}"]
    assert eval_script.main([*argv, "eval.split=test", "eval.device=cpu", "eval.num_workers=0"]) == 0
    images = sorted((root / "testing" / "image_2").glob("*.png"))
    written = sorted((out / "results").glob("*.png"))
    assert [p.name for p in written] == [p.name for p in images]
    assert cv2.imread(str(written[0]), cv2.IMREAD_UNCHANGED).shape == cv2.imread(str(images[0])).shape[:2]


def test_bdd100k_trains_from_colormaps_alone_and_the_check_names_them(sample_root, tmp_path, log):
    root = tmp_path / "bdd100k"
    shutil.copytree(sample_root / "bdd100k", root)
    shutil.rmtree(root / "bdd100k" / "labels" / "sem_seg" / "masks")
    run = tmp_path / "run"
    overrides = tiny_overrides(sample_root, run, *FAST, f"paths.root={root}")
    assert train.main(["--config_path", FAMILY_CONFIGS["bdd100k"], "--set", *overrides]) == 0
    # The data check runs before train.log opens: its lines go to the console log.
    assert f"labels: {root / 'bdd100k' / 'labels' / 'sem_seg' / 'colormaps'} (palette PNGs of train ids" in log.text
    history = json.loads((run / "metrics.json").read_text())
    assert history and (run / "best.pth").is_file()
