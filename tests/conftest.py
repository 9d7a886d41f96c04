"""Shared fixtures: one small built-in sample per test session, and a tiny training config."""

import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from utils.sample_data import SampleSpec, generate_sample  # noqa: E402

# The data check remembers files that passed; tests keep that memory to themselves (subprocesses inherit it).
os.environ["SEGTOOL_CACHE"] = tempfile.mkdtemp(prefix="segtool-cache-")

SMALL = SampleSpec(
    cityscapes_size=(128, 256),
    train_cities={"aachen": 4, "bochum": 4},
    val_cities={"frankfurt": 3, "lindau": 2},
    test_cities={"berlin": 2},
    coarse_cities={"augsburg": 2},
    video_frames=6,
    kitti_train_per_category=3,
    kitti_test_per_category=1,
    bdd_size=(72, 128),
    bdd_splits={"train": 4, "val": 3, "test": 1},
    vistas_sizes=((96, 128), (72, 128), (90, 120)),
    vistas_splits={"train": 4, "val": 3, "test": 1},
    folder_size=(72, 96),
    folder_splits={"train": 4, "val": 3, "test": 1},
)


@pytest.fixture(scope="session")
def sample_root(tmp_path_factory) -> Path:
    return generate_sample(tmp_path_factory.mktemp("sample"), SMALL)


def tiny_overrides(sample_root: Path, out: Path, *extra) -> list:
    """A training run that takes seconds on a CPU: FPN-resnet18 at 64x128."""
    return [
        f"paths.root={sample_root / 'cityscapes'}",
        f"paths.output_dir={out}",
        "model.encoder=resnet18",
        "model.encoder_weights=null",
        "dataset.size=[64,128]",
        "training.device=cpu",
        "training.num_workers=0",
        "training.batch_size=2",
        "training.epochs=1",
        "training.iters_per_epoch=2",
        "training.tb_images=2",
        "training.log_every_iters=1",
        "eval.num_workers=0",
        *extra,
    ]


def assert_same_training(straight: Path, resumed: Path, steps: int, key: str = "miou") -> None:
    """Two runs' last.pth hold the same step count, bit-identical weights and the same metric history."""
    import torch

    from utils.checkpoint import load_checkpoint

    a, b = load_checkpoint(straight / "last.pth"), load_checkpoint(resumed / "last.pth")
    assert a["global_step"] == b["global_step"] == steps
    for name, value in a["model"].items():
        assert torch.equal(value, b["model"][name]), name
    assert [r[key] for r in a["history"]] == [r[key] for r in b["history"]]


def checkpoint_with_class_names(path) -> dict:
    """A checkpoint file's dict with the ``class_names`` and ``palette`` its record derives from ``labels``: format 3
    stores the classes once, in ``labels``; the tests that read those two keys were written for format 2's copies."""
    from utils.checkpoint import Checkpoint, load_checkpoint

    ckpt = load_checkpoint(path)
    record = Checkpoint.from_dict(ckpt)
    return {**ckpt, "class_names": record.class_names, "palette": record.palette}


FAMILY_CONFIGS = {
    "bdd100k": "configs/bdd100k_classes_fpn.yaml",
    "vistas": "configs/vistas_v20_fpn.yaml",
    "folder": "configs/folder_fpn.yaml",
}
# The recipes' crops, slide inference and schedules are for GPUs; the tiny runs take whole images at 64x128.
TINY = [
    "dataset.crop_size=null",
    "dataset.cat_max_ratio=1.0",
    "training.warmup_iters=0",
    "training.max_iters=0",
    "training.val_every_iters=0",
    "training.checkpoint_every_iters=0",
    "eval.inference=resize",
]


@pytest.fixture(scope="session", params=sorted(FAMILY_CONFIGS))
def family_run(request, sample_root, tmp_path_factory):
    """(target, run folder, dataset root) of a tiny model trained on the sample's BDD100K, Vistas or folder layout."""
    import train

    target = request.param
    out = tmp_path_factory.mktemp(f"{target}_run")
    extra = [*TINY, f"paths.root={sample_root / target}", "training.optimizer=adam", "training.lr=0.003"]
    assert (
        train.main(["--config_path", FAMILY_CONFIGS[target], "--set", *tiny_overrides(sample_root, out, *extra)]) == 0
    )
    return target, out, sample_root / target
