"""The prepared data cache: samples equal the PNG path's bit for bit, training uses it and says so, stale caches are refused."""

import os
import shutil

import pytest
import torch
from conftest import tiny_overrides

from utils.config.errors import UserError
from utils.config.loading import config_from_dict
from utils.data.families import build_labels
from utils.data.loaders import build_dataset, dataset_items
from utils.data.prepare import main as prepare_main


def _config(root, cache_dir, *extra):
    return config_from_dict(
        {}, [f"paths.root={root}", "dataset.size=[64,128]", f"dataset.cache_dir={cache_dir}", *extra]
    )


def _prepare(root, cache_dir, *extra):
    assert (
        prepare_main(
            [
                "--config_path",
                "configs/quickstart.yaml",
                "--workers",
                "2",
                "--set",
                f"paths.root={root}",
                "dataset.size=[64,128]",
                f"dataset.cache_dir={cache_dir}",
                *extra,
            ]
        )
        == 0
    )


def _same(a: dict, b: dict) -> None:
    assert a["name"] == b["name"] and torch.equal(a["original_size"], b["original_size"])
    assert torch.equal(a["image"], b["image"])
    assert ("mask" in a) == ("mask" in b) and ("mask" not in a or torch.equal(a["mask"], b["mask"]))


@pytest.mark.parametrize("target", ["cityscapes", "kitti"])
def test_cached_samples_equal_decoded_ones(sample_root, tmp_path, target):
    if target == "kitti":
        root, extra, labels = (
            sample_root / "kitti",
            ["target=kitti", "dataset.labels=road"],
            build_labels("kitti", "road"),
        )
    else:
        root, extra, labels = sample_root / "cityscapes", [], build_labels("cityscapes", "classes")
    _prepare(root, tmp_path / "cache", *extra, "--splits", "train", "val", "test")
    cached, plain = (
        _config(root, tmp_path / "cache", *extra),
        _config(root, tmp_path / "cache", *extra, "dataset.cache=false"),
    )
    for split, purpose in (("train", "train"), ("val", "val"), ("val", "eval"), ("test", "predict")):
        a, b = build_dataset(cached, labels, split, purpose), build_dataset(plain, labels, split, purpose)
        assert a.cache is not None and b.cache is None and len(a) == len(b)
        for i in range(len(a)):
            key = (i, 7 * i + 1) if purpose == "train" else i  # train samples carry their augmentation seed
            _same(a[key], b[key])
    # Files handed over explicitly (checked first, say) find the cache by their list; sliding windows read full resolution, which no cache holds.
    assert build_dataset(cached, labels, "train", "train", items=dataset_items(cached, "train")).cache is not None
    assert build_dataset(cached, labels, "val", "eval", use_cache=False).cache is None


def test_training_reads_the_cache_and_says_so(sample_root, tmp_path):
    from train import main as train_main

    cache, out = tmp_path / "cache", tmp_path / "run"
    _prepare(sample_root / "cityscapes", cache)
    assert (
        train_main(
            [
                "--config_path",
                "configs/quickstart.yaml",
                "--set",
                *tiny_overrides(sample_root, out, f"dataset.cache_dir={cache}"),
            ]
        )
        == 0
    )
    log = (out / "train.log").read_text()
    assert f"train: reading the prepared cache {cache}" in log and f"val: reading the prepared cache {cache}" in log


def test_stale_or_interrupted_cache_is_refused_then_rebuilt(sample_root, tmp_path):
    root = tmp_path / "cityscapes"
    shutil.copytree(sample_root / "cityscapes", root)
    cache = tmp_path / "cache"
    _prepare(root, cache)
    cfg, labels = _config(root, cache), build_labels("cityscapes", "categories")
    dataset = build_dataset(cfg, labels, "train", "train")
    changed = dataset.items[2].label
    stat = os.stat(changed)
    os.utime(changed, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # re-saved label file: same name, new time
    with pytest.raises(UserError, match=r"stale.*" + changed.name + r".*utils\.data\.prepare"):
        build_dataset(cfg, labels, "train", "train")
    assert build_dataset(cfg, labels, "val", "val").cache is not None  # the val cache is untouched
    _prepare(root, cache)  # rebuilds the stale one
    assert build_dataset(cfg, labels, "train", "train").cache is not None

    folder = build_dataset(cfg, labels, "val", "val").cache.folder
    (folder / "index.json").unlink()  # as if the build had been killed before its last step
    with pytest.raises(UserError, match="interrupted"):
        build_dataset(cfg, labels, "val", "val")

    # A file that cannot be decoded stops the build with its name; no half-written folder is left behind.
    dataset.items[0].image.write_bytes(b"not a png")
    with pytest.raises(UserError, match="Cannot read image .*" + dataset.items[0].image.name):
        _prepare(root, cache)
    assert not list(cache.glob("*.tmp*"))
