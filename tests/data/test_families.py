"""Dataset families on the sample's real layouts: the registry, items, label decoding, classes.yaml, the data check."""

import json
import logging
import shutil

import cv2
import numpy as np
import pytest
from conftest import SMALL
from PIL import Image

from utils.config.errors import UserError
from utils.config.loading import config_from_dict
from utils.data.checks import checked_items
from utils.data.families import FAMILIES, dataset_family
from utils.labels import IGNORE_INDEX
from utils.sample_data.layouts.vistas import SAMPLE_CONFIGS

LOG = logging.getLogger("test-families")


def family(root, target, *extra):
    return dataset_family(config_from_dict({}, [f"target={target}", f"paths.root={root}", *extra]))


def test_the_registry_names_every_family_and_refuses_others(sample_root):
    assert set(FAMILIES) == {"cityscapes", "kitti", "bdd100k", "vistas", "folder", "kitti_semantics", "camvid"}
    assert all((sample_root / name).is_dir() for name in FAMILIES)  # the sample has every layout
    with pytest.raises(
        UserError,
        match=r"'target' is 'bdd'.*Did you mean 'bdd100k'\?.*Registered: cityscapes, kitti, bdd100k, vistas, folder, kitti_semantics, camvid",
    ):
        family(sample_root, "bdd")


@pytest.mark.parametrize(
    "target, mode, allowed",
    [
        ("bdd100k", "road", "classes or categories"),
        ("vistas", "v3.0", "v2.0 or v1.2"),
        ("folder", "categories", "classes"),
        ("kitti", "classes", "road or lane"),
    ],
)
def test_each_family_checks_its_own_label_modes(sample_root, target, mode, allowed):
    with pytest.raises(UserError, match=rf"'dataset.labels' is '{mode}'; with target {target} it must be {allowed}\."):
        family(sample_root / target, target, f"dataset.labels={mode}")
    with pytest.raises(UserError, match=r"allowed: road \| categories \| classes \| a list of label names"):
        family(sample_root / "cityscapes", "cityscapes", "dataset.labels=v2.0")


def test_bdd100k_items_are_jpegs_with_train_id_masks(sample_root):
    for root in (sample_root / "bdd100k", sample_root / "bdd100k" / "bdd100k"):  # paths.root holds bdd100k/ or is it
        bdd = family(root, "bdd100k")
        assert [len(bdd.items(s, s != "test")) for s in ("train", "val", "test")] == [
            SMALL.bdd_splits[s] for s in ("train", "val", "test")
        ]
    item = bdd.items("val")[0]
    assert (
        item.image.suffix == ".jpg"
        and item.image.parent.name == "val"
        and item.label == root / "labels" / "sem_seg" / "masks" / "val" / f"{item.image.stem}.png"
    )
    labels = bdd.labels()
    assert (
        labels.num_classes == 19
        and labels.names[:3] == ("road", "sidewalk", "building")
        and labels.colors[0] == (128, 64, 128)
    )
    raw = cv2.imread(str(item.label), cv2.IMREAD_UNCHANGED)
    assert (
        set(np.unique(raw).tolist()) <= set(range(19)) | {255} and (labels.encode(raw) == raw).all()
    )  # train ids are the classes
    categories = family(root, "bdd100k", "dataset.labels=categories").labels()
    assert categories.names == ("flat", "construction", "object", "nature", "sky", "human", "vehicle")
    assert categories.encode(np.array([0, 1, 2, 11, 13, 255], np.uint8)).tolist() == [
        0,
        0,
        1,
        5,
        6,
        IGNORE_INDEX,
    ]  # road, sidewalk, building, person, car


def test_vistas_labels_are_palette_indices_into_the_versions_config(sample_root):
    root = sample_root / "vistas"
    v20, v12 = family(root, "vistas"), family(root, "vistas", "dataset.labels=v1.2")
    assert v20.mode == "v2.0"  # the default
    names20, names12 = v20.labels().names, v12.labels().names
    assert len(names20) == len(SAMPLE_CONFIGS["v2.0"]) and len(names12) == len(SAMPLE_CONFIGS["v1.2"])
    assert [names12[i] for i in v12.labels().void_classes] == [
        "void--ego-vehicle",
        "void--unlabeled",
    ]  # "evaluate": false
    item20, item12 = v20.items("train")[0], v12.items("train")[0]
    assert (
        item20.image == item12.image
        and item20.label.parent.parent.name == "v2.0"
        and item12.label.parent.parent.name == "v1.2"
    )
    a, b = v20.read_label(item20.label), v12.read_label(item12.label)
    assert Image.open(item20.label).mode == "P" and a.ndim == 2  # OpenCV would have turned the palette into colours
    # The same pixel, indexed into two configs, names the same class (v2.0's extra classes do not occur here).
    assert (np.array(names20)[a] == np.array(names12)[b]).all() and (a != b).any()
    sizes = {cv2.imread(str(i.image)).shape[:2] for i in v20.items("all")}
    assert len(sizes) > 1  # images of many sizes


def test_vistas_older_releases_config_json_and_split_labels(sample_root, tmp_path):
    root = tmp_path / "vistas"
    shutil.copytree(sample_root / "vistas", root)
    (root / "config_v2.0.json").unlink()
    (root / "config_v1.2.json").rename(root / "config.json")
    for split in ("training", "validation"):
        (root / split / "v1.2" / "labels").rename(root / split / "labels")
    old = family(root, "vistas", "dataset.labels=v1.2")
    assert (
        len(old.items("train")) == SMALL.vistas_splits["train"]
        and old.items("val")[0].label.parent == root / "validation" / "labels"
    )
    with pytest.raises(
        UserError,
        match=(
            r"No Vistas config .*config_v2.0.json' for dataset.labels: v2.0\. The folder has config.json "
            r"\(dataset.labels: v1.2"
        ),
    ):
        family(root, "vistas").labels()


def test_folder_items_recurse_into_subfolders_and_read_jpeg_and_png(sample_root):
    fam = family(sample_root / "folder", "folder")
    items = fam.items("train")
    assert {i.image.suffix for i in items} == {".png", ".jpg"} and {i.image.parent.name for i in items} == {
        "drive_a",
        "drive_b",
    }
    assert all(
        i.label == sample_root / "folder" / "labels" / "train" / i.image.parent.name / f"{i.image.stem}.png"
        for i in items
    )
    assert (
        len({i.name for i in fam.items("all")}) == SMALL.folder_splits["train"] + SMALL.folder_splits["val"]
    )  # names unique over splits
    labels = fam.labels()
    assert labels.names == ("drivable", "sidewalk", "agent", "scenery") and labels.colors[0] == (128, 64, 128)
    assert labels.to_label_id == (10, 20, 50, 100) and labels.encode(
        np.array([10, 20, 50, 100, 0], np.uint8)
    ).tolist() == [0, 1, 2, 3, IGNORE_INDEX]
    assert fam.items("test", labelled=False)[0].label is None


@pytest.mark.parametrize(
    "text, message",
    [
        (None, r"No '.*classes.yaml': target folder reads its classes"),
        ("classes: drivable", r"must be a mapping with a non-empty list 'classes'"),
        (
            "classes:\n  - {name: a, value: 10}\n  - {name: b, value: 10}",
            r"the value 10 of classes\[1\] \('b'\) is also in classes\[0\]",
        ),
        ("classes:\n  - {name: a, value: 10}\n  - {name: a, value: 20}", r"the class name 'a' appears twice"),
        ("ignore: [0]\nclasses:\n  - {name: a, value: 0}", r"the value 0 of classes\[0\] \('a'\) is also in ignore"),
        ("classes:\n  - {name: a, value: 300}", r"classes\[0\].value is 300; it must be a label pixel value 0-255"),
        (
            "classes:\n  - {name: a, value: 1, colour: [1, 2, 3]}",
            r"classes\[0\] is .*each class is a mapping of name, value and optional color",
        ),
        ("classes:\n  - {name: a, value: 1, color: [1, 2]}", r"classes\[0\].color is \[1, 2\]; it must be \[R, G, B\]"),
        ("ignore: 0\nclasses:\n  - {name: a, value: 1}", r"ignore is 0; it must be a list of label values"),
        ("classes: [{name: a, value: 1}", r"is not valid YAML"),
    ],
)
def test_classes_yaml_mistakes_are_one_line_with_the_format(tmp_path, text, message):
    if text is not None:
        (tmp_path / "classes.yaml").write_text(text)
    with pytest.raises(UserError, match=message) as info:
        family(tmp_path, "folder").labels()
    assert "\n" not in str(
        info.value
    ) and "expected e.g. 'ignore: [0]' and 'classes: [{name: drivable, value: 10" in str(info.value)


def _copy(sample_root, tmp_path, target):
    root = tmp_path / target
    shutil.copytree(sample_root / target, root)
    return root


def test_the_data_check_names_a_label_value_outside_the_family_table(sample_root, tmp_path):
    root = _copy(sample_root, tmp_path, "folder")
    label = sorted((root / "labels" / "val").rglob("*.png"))[0]
    values = cv2.imread(str(label), cv2.IMREAD_UNCHANGED)
    values[0, :5] = 77
    cv2.imwrite(str(label), values)
    with pytest.raises(
        UserError,
        match=(
            rf"{label}' holds values outside the classes and ignore values of .*classes.yaml \(77; allowed 0, 10, 20, "
            r"50, 100\)"
        ),
    ):
        checked_items(config_from_dict({}, ["target=folder", f"paths.root={root}"]), ("train", "val"), LOG)
    # classes.yaml now names 77: the file passes (the check's memory depends on the allowed values).
    (root / "classes.yaml").write_text((root / "classes.yaml").read_text() + "  - {name: cone, value: 77}\n")
    assert (
        len(checked_items(config_from_dict({}, ["target=folder", f"paths.root={root}"]), ("val",), LOG)["val"])
        == SMALL.folder_splits["val"]
    )


def test_the_data_check_on_bdd100k_and_vistas_files(sample_root, tmp_path):
    bdd = _copy(sample_root, tmp_path, "bdd100k")
    mask = sorted((bdd / "bdd100k" / "labels" / "sem_seg" / "masks" / "train").glob("*.png"))[0]
    values = cv2.imread(str(mask), cv2.IMREAD_UNCHANGED)
    values[:2] = 40
    cv2.imwrite(str(mask), values)
    with pytest.raises(UserError, match=rf"{mask}' holds values outside BDD100K's train ids \(40;"):
        checked_items(config_from_dict({}, ["target=bdd100k", f"paths.root={bdd}"]), ("train",), LOG)
    vistas = _copy(sample_root, tmp_path, "vistas")
    label = sorted((vistas / "validation" / "v2.0" / "labels").glob("*.png"))[0]
    colours = np.array(Image.open(label).convert("RGB"))
    Image.fromarray(colours).save(label)  # a colour rendering instead of the palette indices
    cfg = config_from_dict({}, ["target=vistas", f"paths.root={vistas}", "dataset.on_bad_file=skip"])
    items = checked_items(cfg, ("val",), LOG)["val"]
    assert len(items) == SMALL.vistas_splits["val"] - 1 and label not in {i.label for i in items}
    cfg = config_from_dict({}, ["target=vistas", f"paths.root={vistas}"])
    with pytest.raises(UserError, match=r"is a RGB picture, not an 8-bit palette PNG of config indices"):
        checked_items(cfg, ("val",), LOG)


def test_orphan_labels_of_the_new_families_are_a_warning(sample_root, tmp_path, caplog):
    for target, image_glob in (
        ("folder", "images/val/*/*.*"),
        ("bdd100k", "bdd100k/images/10k/val/*.jpg"),
        ("vistas", "validation/images/*.jpg"),
    ):
        root = _copy(sample_root, tmp_path, target)
        sorted(root.glob(image_glob))[0].unlink()
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="test-families"):
            checked_items(config_from_dict({}, [f"target={target}", f"paths.root={root}"]), ("val",), LOG)
        assert "1 label file(s) of the val split have no image" in caplog.text, target


def test_a_missing_dataset_names_the_family_download(tmp_path):
    with pytest.raises(UserError, match=r"Dataset folder .* does not exist.*bdd100k_images_10k.zip"):
        family(tmp_path / "nothing", "bdd100k").items("train")
    (tmp_path / "classes.yaml").write_text(json.dumps({"classes": [{"name": "a", "value": 1}]}))
    with pytest.raises(UserError, match=r"No train images found for target folder .*paths.root/images/<split>/"):
        family(tmp_path, "folder").items("train")


def test_the_add_your_own_family_example_of_the_docs_works(tmp_path, monkeypatch, caplog):
    """docs/datasets.md's example, run as written: one module (here exec'd from the docs) and one registry line."""
    import re
    from pathlib import Path

    from utils.data import families

    text = (Path(__file__).resolve().parents[2] / "docs" / "datasets.md").read_text()
    code = re.search(r"```python\n# utils/data/families/acme.py\n(.*?)```", text, re.S).group(1)
    namespace = {}
    exec(compile(code, "acme.py", "exec"), namespace)
    monkeypatch.setitem(families.FAMILIES, "acme", namespace["Acme"])
    rng = np.random.default_rng(0)
    for split, drive in (("train", "d1"), ("train", "d2"), ("val", "d3")):
        for k in range(2):
            (tmp_path / split / drive / "cam_front").mkdir(parents=True, exist_ok=True)
            (tmp_path / split / drive / "seg").mkdir(exist_ok=True)
            cv2.imwrite(
                str(tmp_path / split / drive / "cam_front" / f"{k}.jpg"), rng.integers(0, 255, (32, 48, 3), np.uint8)
            )
            cv2.imwrite(str(tmp_path / split / drive / "seg" / f"{k}.png"), rng.integers(0, 5, (32, 48), np.uint8))
    bad = tmp_path / "val" / "d3" / "seg" / "1.png"
    cv2.imwrite(str(bad), np.full((32, 48), 9, np.uint8))
    cfg = config_from_dict({}, ["target=acme", f"paths.root={tmp_path}", "dataset.on_bad_file=skip"])
    fam = dataset_family(cfg)
    assert fam.mode == "classes" and fam.labels().num_classes == 5 and len(fam.items("train")) == 4
    with caplog.at_level(logging.INFO, logger="test-families"):
        items = checked_items(cfg, ("train", "val"), LOG)
    assert (
        len(items["val"]) == 1
        and f"every pixel of its label '{bad}' is outside the acme label values (values 9" in caplog.text
    )


def test_keys_of_another_family_are_refused_and_null_labels_resume_as_the_default(sample_root):
    with pytest.raises(
        UserError, match=r"'dataset.coarse' is True, but only target cityscapes reads it; with target bdd100k remove it"
    ):
        family(sample_root / "bdd100k", "bdd100k", "dataset.coarse=true")
    with pytest.raises(
        UserError, match=r"'dataset.val_fraction' is 0.5, but only target kitti or kitti_semantics reads it"
    ):
        family(sample_root / "folder", "folder", "dataset.val_fraction=0.5")
    with pytest.raises(
        UserError, match=r"lists 'persn', which is not a Cityscapes label name"
    ):  # when the family is asked, before any work
        family(sample_root / "cityscapes", "cityscapes", "dataset.labels=[persn]")
    from utils.config.loading import config_to_dict
    from utils.training.resume import config_differences

    explicit = config_to_dict(config_from_dict({}, ["dataset.labels=categories"]))
    default = config_to_dict(config_from_dict({}))
    assert (
        default["dataset"]["labels"] is None
        and config_differences(explicit, default) == config_differences(default, explicit) == []
    )
    assert config_differences(explicit, config_to_dict(config_from_dict({}, ["dataset.labels=road"])))[0][:2] == (
        "dataset.labels",
        "categories",
    )


def test_folder_names_with_dots_twin_suffixes_and_a_class_at_255(tmp_path, caplog):
    (tmp_path / "classes.yaml").write_text("classes:\n  - {name: road, value: 255}\n  - {name: rest, value: 1}\n")
    for split in ("train", "val"):
        (tmp_path / "images" / split).mkdir(parents=True)
        (tmp_path / "labels" / split).mkdir(parents=True)
        cv2.imwrite(str(tmp_path / "images" / split / "1583.123.png"), np.zeros((8, 8, 3), np.uint8))
        cv2.imwrite(str(tmp_path / "labels" / split / "1583.123.png"), np.full((8, 8), 255, np.uint8))
    fam = family(tmp_path, "folder")
    assert fam.items("val")[0].name == "val__1583.123" and fam.labels().ignore_value == 254  # no class holds 254
    with caplog.at_level(logging.INFO, logger="test-families"):
        checked_items(config_from_dict({}, ["target=folder", f"paths.root={tmp_path}"]), ("val",), LOG)
    assert "have no image" not in caplog.text  # 1583.123.png's image is 1583.123.png, not 1583.png
    cv2.imwrite(str(tmp_path / "images" / "val" / "1583.123.jpg"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(UserError, match=r"have the same name apart from the suffix, so they share a label file"):
        fam.items("val")


def test_a_cityscapes_colour_label_keeps_its_data_check_sentence(sample_root, tmp_path):
    root = _copy(sample_root, tmp_path, "cityscapes")
    label = sorted((root / "gtFine" / "val").glob("*/*_gtFine_labelIds.png"))[0]
    cv2.imwrite(str(label), np.zeros((128, 256, 3), np.uint8))
    with pytest.raises(
        UserError,
        match=rf"{label}' is not a single-channel 8-bit PNG of label ids \(got shape \(128, 256, 3\), uint8\)",
    ):
        checked_items(config_from_dict({}, [f"paths.root={root}"]), ("val",), LOG)
