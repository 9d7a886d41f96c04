"""Every family's split check runs, and two inputs that would share an output name are refused in one line."""

import numpy as np
import pytest
from PIL import Image

from utils.config.errors import UserError
from utils.config.loading import config_from_dict
from utils.data.families import FAMILIES, dataset_family
from utils.data.loaders import folder_items
from utils.sample_data.layouts import LAYOUTS


@pytest.mark.parametrize("target", sorted(FAMILIES))
def test_an_unknown_split_is_an_error_naming_the_allowed_ones(sample_root, target):
    family = dataset_family(config_from_dict({}, [f"target={target}", f"paths.root={sample_root / target}"]))
    splits = "train, val, test" + (", train_extra" if target == "cityscapes" else "")  # Cityscapes' coarse set
    with pytest.raises(UserError, match=rf"^{target} has no split 'tain'; it has {splits} and all\.$"):
        family.items("tain")
    assert family.items("train") and family.items("test", labelled=False)
    if target == "cityscapes":  # train_extra's labels are the coarse ones (unlabeled.split reads it without them)
        extra = family.items("train_extra")
        assert extra and all(item.label.parts[-4] == "gtCoarse" for item in extra)


def test_kitti_all_is_the_whole_of_training_and_train_val_split_it(sample_root):
    kitti = dataset_family(config_from_dict({}, ["target=kitti", f"paths.root={sample_root / 'kitti'}"]))
    everything = {item.name for item in kitti.items("all")}
    train, val = {item.name for item in kitti.items("train")}, {item.name for item in kitti.items("val")}
    assert train and val and not train & val and train | val == everything


def test_every_family_has_a_sample_layout():
    assert set(LAYOUTS) - {"kitti_object"} == set(FAMILIES)  # the object benchmark's folder is painting's alone


def test_two_inputs_with_one_output_name_are_refused_naming_both(tmp_path):
    (tmp_path / "drive").mkdir()
    for suffix in (".png", ".jpg"):
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "drive" / f"x{suffix}")
    with pytest.raises(UserError) as error:
        folder_items(tmp_path)
    message = str(error.value)
    assert "\n" not in message and str(tmp_path / "drive" / "x.png") in message
    assert str(tmp_path / "drive" / "x.jpg") in message and "share an output name" in message
    (tmp_path / "drive" / "x.jpg").rename(tmp_path / "drive" / "y.jpg")
    assert [item.name for item in folder_items(tmp_path)] == ["drive__x", "drive__y"]
