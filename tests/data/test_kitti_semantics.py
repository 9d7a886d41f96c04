"""KITTI semantics (data_semantics) and BDD100K's colormaps on the sample's files: items, the seeded val split, label
modes, the data check's rules and orphans, the download help."""

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
from utils.labels import IGNORE_INDEX

LOG = logging.getLogger("test-kitti-semantics")


def family(root, *extra, target="kitti_semantics"):
    return dataset_family(config_from_dict({}, [f"target={target}", f"paths.root={root}", *extra]))


def names(items) -> list:
    return [item.name for item in items]


def test_items_are_the_training_frames_with_their_label_ids(sample_root):
    root = sample_root / "kitti_semantics"
    fam = family(root)
    everything = fam.items("all")
    assert names(everything) == [f"{i:06d}_10" for i in range(SMALL.kitti_semantics_train)]  # file order
    item = everything[0]
    assert item.image == root / "training" / "image_2" / "000000_10.png"
    assert item.label == root / "training" / "semantic" / "000000_10.png"
    test = fam.items("test", labelled=False)
    assert len(test) == SMALL.kitti_semantics_test and test[0].image.parent == root / "testing" / "image_2"
    assert test[0].label is None
    ids = fam.read_label(item.label)
    assert ids.shape == cv2.imread(str(item.image)).shape[:2] and set(np.unique(ids).tolist()) <= set(range(34))
    labels = fam.labels()  # classes by default: label id -> train id, as Cityscapes
    assert fam.mode == "classes" and labels.num_classes == 19 and labels.names[:2] == ("road", "sidewalk")
    assert labels.encode(np.array([7, 8, 26, 0, 1], np.uint8)).tolist() == [0, 1, 13, IGNORE_INDEX, IGNORE_INDEX]
    assert (fam.to_cityscapes19() == labels.lut).all()
    assert {s.shape[:2] for s in (cv2.imread(str(i.image)) for i in everything)} == set(SMALL.kitti_semantics_sizes)


def test_the_cityscapes_label_modes_apply(sample_root):
    root = sample_root / "kitti_semantics"
    assert family(root, "dataset.labels=categories").labels().names[:2] == ("void", "flat")
    assert family(root, "dataset.labels=road").labels().names == ("road", "rest")
    assert family(root, "dataset.labels=[car,person]").labels().names == ("car", "person", "rest")
    unlabeled = family(root, "dataset.labels=classes", "dataset.unlabeled_class=true").labels()
    assert unlabeled.num_classes == 20 and unlabeled.names[-1] == "unlabeled"
    with pytest.raises(UserError, match=r"'dataset.labels' lists 'cars'.*Did you mean 'car'\?"):
        family(root, "dataset.labels=[cars]")
    with pytest.raises(UserError, match=r"'dataset.val_cities' is \['ulm'\], but only target cityscapes reads it"):
        family(root, "dataset.val_cities=[ulm]")


def test_the_val_fraction_split_is_seeded_disjoint_and_covers_training(sample_root, tmp_path):
    root = sample_root / "kitti_semantics"
    train, val = names(family(root).items("train")), names(family(root).items("val"))
    assert train and val and not set(train) & set(val) and sorted(train + val) == names(family(root).items("all"))
    assert (train, val) == (names(family(root).items("train")), names(family(root).items("val")))  # the same again
    larger = family(root, "dataset.val_fraction=0.6")
    assert len(names(larger.items("val"))) == round(0.6 * SMALL.kitti_semantics_train) > len(val)
    # The draw depends on the files only: a copy elsewhere splits the same way.
    shutil.copytree(root, tmp_path / "copy")
    assert names(family(tmp_path / "copy").items("val")) == val


def test_the_data_check_refuses_values_outside_the_label_table_and_warns_of_orphans(sample_root, tmp_path, caplog):
    root = tmp_path / "kitti_semantics"
    shutil.copytree(sample_root / "kitti_semantics", root)
    label = root / "training" / "semantic" / "000001_10.png"
    ids = cv2.imread(str(label), cv2.IMREAD_UNCHANGED)
    ids[:3] = 40
    cv2.imwrite(str(label), ids)
    with pytest.raises(UserError, match=rf"{label}' holds values outside the Cityscapes label table \(40; ids are"):
        checked_items(config_from_dict({}, ["target=kitti_semantics", f"paths.root={root}"]), ("all",), LOG)
    label.unlink()  # now its image has no label, and a label without an image is an orphan
    shutil.copy(root / "training" / "semantic" / "000000_10.png", root / "training" / "semantic" / "000099_10.png")
    with pytest.raises(UserError, match=rf"Label file '{label}' for image .*000001_10.png' is missing\."):
        family(root).items("all")
    (root / "training" / "image_2" / "000001_10.png").unlink()
    with caplog.at_level(logging.INFO, logger="test-kitti-semantics"):
        items = checked_items(config_from_dict({}, ["target=kitti_semantics", f"paths.root={root}"]), ("all",), LOG)
    assert len(items["all"]) == SMALL.kitti_semantics_train - 1
    assert "1 label file(s) of the all split have no image" in caplog.text and "000099_10.png" in caplog.text


def test_a_missing_dataset_names_the_kitti_download(tmp_path):
    with pytest.raises(UserError, match=r"Dataset folder .* does not exist.*data_semantics.zip from https://www.cvlib"):
        family(tmp_path / "nothing").items("train")
    with pytest.raises(UserError, match=r"No train images found for target kitti_semantics.*data_semantics.zip"):
        family(tmp_path).items("train")


def test_bdd100k_reads_the_colormaps_without_masks_and_says_so(sample_root, tmp_path, caplog):
    masks = family(sample_root / "bdd100k", target="bdd100k")
    root = tmp_path / "bdd100k"
    shutil.copytree(sample_root / "bdd100k", root)
    shutil.rmtree(root / "bdd100k" / "labels" / "sem_seg" / "masks")
    colormaps = family(root, target="bdd100k")
    item = colormaps.items("val")[0]
    assert item.label == root / "bdd100k" / "labels" / "sem_seg" / "colormaps" / "val" / f"{item.image.stem}.png"
    assert cv2.imread(str(item.label), cv2.IMREAD_UNCHANGED).ndim == 3  # OpenCV reads the palette as colours
    same = next(i for i in masks.items("val") if i.name == item.name)
    assert (colormaps.read_label(item.label) == masks.read_label(same.label)).all()  # indices = the masks' train ids
    assert colormaps.results == "palette_png" and masks.results == "label_png"
    for fam_root, kind in ((sample_root / "bdd100k", "masks"), (root, "colormaps")):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="test-kitti-semantics"):
            checked_items(config_from_dict({}, ["target=bdd100k", f"paths.root={fam_root}"]), ("val",), LOG)
        assert f"labels: {fam_root / 'bdd100k' / 'labels' / 'sem_seg' / kind} (" in caplog.text
    cv2.imwrite(str(item.label), cv2.imread(str(item.label)))  # an RGB rendering instead of the palette
    with pytest.raises(UserError, match=r"is a RGB picture, not a palette PNG whose indices are train ids"):
        checked_items(config_from_dict({}, ["target=bdd100k", f"paths.root={root}"]), ("val",), LOG)
