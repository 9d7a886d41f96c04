import numpy as np
import pytest
from cityscapesscripts.helpers.labels import labels as CS_LABELS
from cityscapesscripts.helpers.labels import name2label

from utils.config.errors import UserError
from utils.data.families import build_labels
from utils.labels import IGNORE_INDEX

REAL = [lab for lab in CS_LABELS if lab.id >= 0]


def test_categories_follow_category_ids():
    ls = build_labels("cityscapes", "categories")
    assert ls.names == ("void", "flat", "construction", "object", "nature", "sky", "human", "vehicle")
    for lab in REAL:
        assert ls.lut[lab.id] == lab.categoryId, lab.name
        assert ls.names[lab.categoryId] == lab.category
    assert ls.void_classes == (0,)


def test_classes_follow_train_ids_with_void_ignored():
    ls = build_labels("cityscapes", "classes")
    assert ls.num_classes == 19
    for lab in REAL:
        expected = IGNORE_INDEX if lab.trainId in (255, -1) else lab.trainId
        assert ls.lut[lab.id] == expected, lab.name
    for i, name in enumerate(ls.names):
        assert name2label[name].trainId == i
        assert ls.to_label_id[i] == name2label[name].id
        assert tuple(ls.colors[i]) == name2label[name].color


def test_classes_with_unlabeled_as_twentieth():
    ls = build_labels("cityscapes", "classes", unlabeled_class=True)
    assert ls.num_classes == 20 and ls.names[19] == "unlabeled"
    assert ls.lut[name2label["ego vehicle"].id] == 19 and ls.lut[name2label["road"].id] == 0
    assert ls.to_label_id[19] == 0 and ls.void_classes == (19,)


def test_road_mode():
    ls = build_labels("cityscapes", "road")
    assert ls.names == ("road", "rest")
    ids = np.array([lab.id for lab in REAL], np.uint8)
    assert (ls.lut[ids] == np.where(ids == name2label["road"].id, 0, 1)).all()


def test_custom_list_and_its_errors():
    ls = build_labels("cityscapes", ["car", "person", "road"])
    assert ls.names == ("car", "person", "road", "rest")
    assert (
        ls.lut[name2label["car"].id] == 0 and ls.lut[name2label["road"].id] == 2 and ls.lut[name2label["sky"].id] == 3
    )
    with pytest.raises(UserError, match="Did you mean 'person'"):
        build_labels("cityscapes", ["persn"])
    with pytest.raises(UserError, match="each label name once"):
        build_labels("cityscapes", ["car", "car"])


def test_encode_maps_a_label_image():
    ls = build_labels("cityscapes", "categories")
    ids = np.array([[0, 7, 11], [17, 21, 23], [24, 26, 33]], np.uint8)
    assert (ls.encode(ids) == [[0, 1, 2], [3, 4, 5], [6, 7, 7]]).all()
