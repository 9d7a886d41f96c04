"""The benchmark suite's plumbing and the fairness of its peers (the timed runs themselves are `python -m benchmarks`)."""

import json

import numpy as np
import torch

from benchmarks.__main__ import main as bench_main
from benchmarks.__main__ import run_entry, table
from benchmarks.common import result
from benchmarks.registry import BENCHMARKS, Entry
from utils.config.loading import config_from_dict
from utils.data.families import build_labels
from utils.data.loaders import build_dataset
from utils.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from utils.evaluation.drop_clusters import drop_clusters
from utils.labels import IGNORE_INDEX


def test_cuda_only_and_absent_entries_are_skipped_and_json_is_written(tmp_path):
    out = tmp_path / "bench.json"
    assert bench_main(["--device", "cpu", "--only", "gpu", "--json", str(out)]) == 0
    written = json.loads(out.read_text())
    assert written["machine"]["device"] == "cpu" and written["machine"]["torch"] == torch.__version__
    assert written["benchmarks"] == {"gpu": {"skipped": "runs with --device cuda only"}}
    assert (
        "not in this checkout"
        in run_entry(Entry("later", "benchmarks.not_written_yet", optional=True), "cpu", True)["skipped"]
    )
    assert {e.name for e in BENCHMARKS} >= {
        "train_step",
        "data_pipeline",
        "tta",
        "drop_clusters",
        "inference",
        "gpu",
        "latency",
    }


def test_table_shows_every_contender_and_the_headline_ratio():
    r = result(
        "image", {"ours": 50.0, "theirs": 100.0}, {"ours / theirs": 0.5, "other": 2.0}, "ours / theirs", "peer", {}
    )
    text = table({"demo": r, "missing": {"error": "boom"}})
    assert "| demo | ours | 50.0 / image | 20.0 | |" in text
    assert "| demo | **ours / theirs** | | | **0.50** |" in text and "| demo | other | | | 2.00 |" in text
    assert "error: boom" in text


def test_drop_clusters_peer_gives_our_map_with_fill_ignore():
    from benchmarks.drop_clusters import skimage_drop

    rng = np.random.default_rng(0)
    pred = np.repeat(np.repeat(rng.integers(0, 5, (16, 32)), 8, 0), 8, 1).astype(
        np.uint8
    )  # 8x8 blocks merge into regions
    pred[rng.integers(0, 128, 300), rng.integers(0, 256, 300)] = rng.integers(0, 5, 300)  # single-pixel specks
    ours = drop_clusters(pred, 20, "ignore", 5)
    assert (ours == IGNORE_INDEX).sum() > 100  # the specks were found
    assert (ours == skimage_drop(pred, 20, 5)).all()


def test_torchvision_peer_does_the_same_work_at_the_same_size(sample_root):
    from benchmarks.data_pipeline import torchvision_dataset

    labels = build_labels("cityscapes", "categories")
    root = sample_root / "cityscapes"
    theirs = torchvision_dataset(root, (64, 128), labels)
    ours = build_dataset(
        config_from_dict({}, [f"paths.root={root}", "dataset.size=[64,128]"]), labels, "train", "train"
    )
    assert len(theirs) == len(ours)
    image, mask = theirs[0]
    sample = ours[(0, 0)]
    assert image.shape == sample["image"].shape and image.dtype == sample["image"].dtype
    assert mask.shape == sample["mask"].shape and set(torch.unique(mask).tolist()) <= set(range(8)) | {IGNORE_INDEX}
    # Both ImageNet-normalised: every channel lies in [(0 - mean) / std, (1 - mean) / std], and the pictures are not blank.
    lo = (0 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    hi = (1 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    for x in (torch.as_tensor(image), sample["image"]):
        per_channel = x.reshape(3, -1)
        assert (
            (per_channel.min(1).values >= lo - 1e-4).all()
            and (per_channel.max(1).values <= hi + 1e-4).all()
            and per_channel.std() > 0.05
        )


def test_the_model_table_counts_and_times_an_architecture():
    from torch.utils.flop_counter import FlopCounterMode

    from benchmarks import model_table
    from models.registry import build_model

    model = build_model("fpn", "resnet18", 19).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, 3, 64, 128))  # on real tensors, as model_summary.py counts
    assert model_table.gflops(model, (64, 128)) == counter.get_total_flops() / 1e9  # counted on the meta device
    tiny = torch.nn.Sequential(torch.nn.Conv2d(3, 19, 3, padding=1))
    latency = model_table.latency(tiny, (32, 64), repeats=2, device="cpu")  # exported and run in onnxruntime too
    assert set(latency) == {"pytorch", "onnxruntime"} and min(latency.values()) > 0
    record = {"row": "FPN R18", "encoder": "resnet18", "parameters": 1234567, "gflops": 4.25, "latency_ms": latency}
    table = model_table.format_table([record, {**record, "train_ratio": 0.98}], model_table.QUICK)
    assert "| FPN R18 | resnet18 | 1,234,567 | 4.2 |" in table and "GFLOPs 128x256" in table
    assert table.endswith("| 0.98 |") and "n/a (smp has none)" in table
