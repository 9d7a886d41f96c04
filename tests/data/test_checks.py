"""The data check before the first step: bad files are found in seconds, not after an epoch."""

import logging
import shutil

import cv2
import numpy as np
import pytest
from conftest import tiny_overrides

import eval as eval_script
import train
from utils.config.errors import EXIT_USER_ERROR, UserError
from utils.config.loading import config_from_dict
from utils.data.checks import checked_items


@pytest.fixture()
def dataset(sample_root, tmp_path):
    """A private copy of the sample's Cityscapes part, to damage."""
    root = tmp_path / "cityscapes"
    shutil.copytree(sample_root / "cityscapes", root)
    return root


def val_files(root, pattern="*_leftImg8bit.png"):
    return sorted((root / "leftImg8bit" / "val").glob(f"*/{pattern}"))


def label_of(image):
    return (
        image.parents[3]
        / "gtFine"
        / "val"
        / image.parent.name
        / image.name.replace("_leftImg8bit.png", "_gtFine_labelIds.png")
    )


def cfg_for(root, *extra):
    return config_from_dict({}, [f"paths.root={root}", *extra])


def damage(root):
    images = val_files(root)
    data = images[0].read_bytes()
    images[0].write_bytes(data[: len(data) // 2])  # truncated
    cv2.imwrite(str(label_of(images[1])), np.full((128, 256), 255, np.uint8))  # not label ids
    cv2.imwrite(str(label_of(images[2])), np.zeros((64, 64), np.uint8))  # wrong size
    return images[:3]


def test_stop_lists_every_bad_file_before_training(dataset, tmp_path, capsys):
    bad = damage(dataset)
    out = tmp_path / "run"
    argv = [
        "--config_path",
        "configs/quickstart.yaml",
        "--set",
        *tiny_overrides(dataset.parent, out),
        f"paths.root={dataset}",
    ]
    assert train.run_main(train.main, argv) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "3 bad file(s)" in err and all(str(p) in err for p in bad)
    assert (
        "does not decode" in err
        and "outside the Cityscapes label table" in err
        and "is 64x64 but the image is 256x128" in err
    )
    assert "dataset.on_bad_file: skip" in err and not (out / "last.pth").exists()


def test_skip_leaves_them_out_and_says_which(dataset, caplog):
    bad = damage(dataset)
    log = logging.getLogger("test-checks")
    with caplog.at_level(logging.INFO, logger="test-checks"):
        items = checked_items(cfg_for(dataset, "dataset.on_bad_file=skip"), ("train", "val"), log)
    assert len(items["val"]) == len(val_files(dataset)) - 3 and len(items["train"]) == 8
    assert not {i.image for i in items["val"]} & set(bad)
    assert "leaving out 3 bad file(s)" in caplog.text and str(bad[0]) in caplog.text
    assert "per 1000 files" in caplog.text


def test_the_second_check_reads_only_what_changed(dataset, caplog):
    log = logging.getLogger("test-checks")
    cfg = cfg_for(dataset)
    with caplog.at_level(logging.INFO, logger="test-checks"):
        checked_items(cfg, ("val",), log)
        assert "checked 5 val files" in caplog.text
        caplog.clear()
        checked_items(cfg, ("val",), log)
        assert "checked" not in caplog.text  # everything unchanged: nothing decoded
        image = val_files(dataset)[0]
        image.write_bytes(image.read_bytes()[:100])
        with pytest.raises(UserError, match="does not decode"):
            checked_items(cfg, ("val",), log)
        assert "checked 1 val files" in caplog.text


def test_label_files_without_an_image_are_a_warning(dataset, caplog):
    val_files(dataset)[0].unlink()
    with caplog.at_level(logging.INFO, logger="test-checks"):
        items = checked_items(cfg_for(dataset), ("val",), logging.getLogger("test-checks"))
    assert len(items["val"]) == 4 and "1 label file(s) of the val split have no image" in caplog.text


def test_kitti_all_black_ground_truth_and_a_misnamed_image(sample_root, tmp_path):
    root = tmp_path / "kitti"
    shutil.copytree(sample_root / "kitti", root)
    gt = sorted((root / "data_road" / "training" / "gt_image_2").glob("um_road_*.png"))[0]
    cv2.imwrite(str(gt), np.zeros((375, 1242, 3), np.uint8))
    cfg = config_from_dict({}, ["target=kitti", "dataset.labels=road", f"paths.root={root}"])
    with pytest.raises(UserError, match="black everywhere"):
        checked_items(cfg, ("train", "val"), logging.getLogger("test-checks"))
    cv2.imwrite(str(root / "data_road" / "training" / "image_2" / "foo.png"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(UserError, match=r"foo.png' is not named like data_road's <um\|umm\|uu>_<index>.png"):
        checked_items(cfg, ("train",), logging.getLogger("test-checks"))


def test_eval_checks_its_split_too(dataset, tmp_path, capsys, tiny_run):
    run = tiny_run  # trained on the undamaged sample
    damage(dataset)
    args = [
        "--checkpoint",
        str(run / "best.pth"),
        "--set",
        f"paths.root={dataset}",
        f"eval.output_dir={tmp_path / 'eval'}",  # not into the shared run
        "eval.num_workers=0",
        "eval.device=cpu",
    ]
    assert eval_script.run_main(eval_script.main, args) == EXIT_USER_ERROR
    assert "3 bad file(s)" in capsys.readouterr().err
