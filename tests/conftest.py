"""Shared fixtures: one small built-in sample per test session, a tiny training config, and one tiny model trained
with it that every test reading a default run shares."""

import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Before torch loads (OpenMP reads it once), and inherited by every subprocess: OpenMP threads that spin while they
# wait for each other burn the cores that other processes (test runs of other checkouts on this 2-core machine, a
# second training, the DataLoader workers) need; under that load a tiny training took 20 s instead of 4 s.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# The suite runs in pytest-xdist workers, one per core (pyproject.toml's addopts): each computes on one thread, so
# two workers share two cores instead of four threads fighting over them (the tracing of ONNX exports and most
# of a tiny test's time is single-threaded Python anyway).
if "PYTEST_XDIST_WORKER" in os.environ:
    os.environ.setdefault("OMP_NUM_THREADS", "1")

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
    kitti_semantics_sizes=((48, 160), (46, 152)),
    kitti_semantics_train=5,
    kitti_semantics_test=1,
    camvid_size=(48, 64),
    camvid_splits={"train": 4, "val": 3, "test": 3},
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


def train_quickstart(sample_root: Path, out: Path, *extra) -> int:
    """train.py's exit code for configs/quickstart.yaml with ``tiny_overrides`` and ``extra``."""
    import train

    return train.main(["--config_path", "configs/quickstart.yaml", "--set", *tiny_overrides(sample_root, out, *extra)])


@pytest.fixture(scope="session")
def tiny_run(sample_root, tmp_path_factory) -> Path:
    """The run folder of ``tiny_overrides`` with configs/quickstart.yaml: 2 steps, 1 epoch, trained once a session.

    Tests only read it. A test that writes into a run folder (a resume, an export beside best.pth, a lock, eval's
    default output folder) works on a ``copy_run`` of it; at the end of the session it must be as trained, so a
    test that wrote into it by mistake fails here instead of changing what later tests see.
    """
    import train

    out = tmp_path_factory.mktemp("tiny") / "run"
    assert train.main(["--config_path", "configs/quickstart.yaml", "--set", *tiny_overrides(sample_root, out)]) == 0
    trained = folder_state(out)
    yield out
    now = folder_state(out)
    changed = sorted(name for name in {*trained, *now} if trained.get(name, 0) != now.get(name, 0))
    assert not changed, f"tests changed the shared run {out} ({', '.join(changed)}): copy_run it before writing"


def folder_state(folder: Path) -> dict:
    """Every path under ``folder`` with its file's inode, size and modification time (None for a folder)."""
    state = {}
    for path in sorted(folder.rglob("*")):
        st = path.stat()
        state[str(path.relative_to(folder))] = (st.st_ino, st.st_size, st.st_mtime_ns) if path.is_file() else None
    return state


def copy_run(run: Path, target: Path) -> Path:
    """A copy of ``run`` at ``target`` whose config.yaml names ``target`` as its folder, as if it had trained there.

    The checkpoints are hard links: the toolkit replaces a checkpoint (a new file renamed over it) and never
    writes into one, so a copy costs no disk; a write into one would show in the shared run's end-of-session check.
    The config inside them still names ``run``: give eval or paint_points an output folder (or paths.output_dir)
    where they would otherwise default to the checkpoint's run folder.
    """
    import yaml

    shutil.copytree(run, target, copy_function=_link_checkpoints)
    own = yaml.safe_load((target / "config.yaml").read_text())
    own["paths"]["output_dir"] = str(target)
    (target / "config.yaml").write_text(yaml.safe_dump(own, sort_keys=False))
    return target


def _link_checkpoints(src: str, dst: str) -> None:
    (os.link if src.endswith(".pth") else shutil.copy2)(src, dst)


def free_port() -> int:
    """A TCP port nothing on this machine listens on now (the OS picks it), for a rendezvous."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


@pytest.fixture(scope="session")
def cityscapes19_run(sample_root, tmp_path_factory) -> Path:
    """One training step of a model of the 19 Cityscapes classes at 32x64: what cross-dataset scoring and init_from
    into another family of the same classes start from. Tests only read it."""

    out = tmp_path_factory.mktemp("cityscapes19_run")
    extra = ["dataset.labels=classes", "dataset.size=[32,64]", "training.iters_per_epoch=1"]
    assert train_quickstart(sample_root, out, *extra) == 0
    return out


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


def assert_onnxruntime_eval_and_predictor_agree(run, sample_root, tmp_path) -> None:
    """eval.py on onnxruntime (the exported graph) scores as on PyTorch, and Predictor gives a class map per image."""
    import json

    import cv2

    import eval as eval_script
    from utils.evaluation.predictor import Predictor

    def run_eval(out, *extra) -> dict:
        argv = ["--checkpoint", str(run / "best.pth"), "--set", f"paths.root={sample_root / 'cityscapes'}"]
        argv += [f"eval.output_dir={out}", "eval.device=cpu", "eval.max_images=0", "eval.num_workers=0", *extra]
        assert eval_script.main(argv) == 0
        return json.loads((out / "metrics.json").read_text())

    torch_metrics = run_eval(tmp_path / "eval_torch")
    ort_metrics = run_eval(tmp_path / "eval_ort", "eval.backend=onnxruntime")
    assert ort_metrics["backend"] == "onnxruntime" and abs(ort_metrics["miou"] - torch_metrics["miou"]) < 2e-3
    image = next((sample_root / "cityscapes" / "leftImg8bit" / "val").rglob("*.png"))
    rgb = cv2.cvtColor(cv2.imread(str(image)), cv2.COLOR_BGR2RGB)
    with Predictor.from_checkpoint(run / "best.pth", device="cpu", tta="hflip") as predictor:
        classes = predictor(rgb)
    assert classes.shape == rgb.shape[:2] and classes.max() < len(predictor.names)


@pytest.fixture
def log(caplog):
    """The toolkit's log, also when an earlier test pointed it at the console only."""
    import logging

    from utils.runtime import get_logger

    logger, level = get_logger(), get_logger().level
    logger.addHandler(caplog.handler)
    logger.setLevel(logging.INFO)
    yield caplog
    logger.removeHandler(caplog.handler)
    logger.setLevel(level)
