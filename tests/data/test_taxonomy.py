"""The label-space tables: Vistas -> Cityscapes 19 by name, a folder's maps_to, the Cityscapes 19 -> CamVid 11 names,
and how utils/data/taxonomy.py relates a checkpoint's classes to a dataset's."""

import shutil

import numpy as np
import pytest
import torch
import yaml
from cityscapesscripts.helpers.labels import name2label

from utils.config.errors import UserError
from utils.config.loading import config_from_dict
from utils.data.families import dataset_family
from utils.data.families.vistas_to_cityscapes import VISTAS_TO_CITYSCAPES, VISTAS_V12, VISTAS_V20, cityscapes_class
from utils.data.taxonomy import CAMVID11, CITYSCAPES19, relate
from utils.evaluation.mapped_runner import MappedRunner
from utils.labels import IGNORE_INDEX, LabelSet
from utils.sample_data.layouts.vistas import SAMPLE_CONFIGS


def family(target, root, labels=None):
    return dataset_family(
        config_from_dict({"target": target, "paths": {"root": str(root)}, "dataset": {"labels": labels}})
    )


def names_only(names) -> LabelSet:
    return LabelSet(tuple(names), tuple((0, 0, 0) for _ in names), np.full(256, IGNORE_INDEX, np.uint8))


def test_every_vistas_name_of_both_releases_maps_to_a_cityscapes_class_or_ignore():
    assert len(VISTAS_V12) == len(set(VISTAS_V12)) == 66 and len(VISTAS_V20) == len(set(VISTAS_V20)) == 124
    assert set(VISTAS_TO_CITYSCAPES) == set(VISTAS_V12) | set(VISTAS_V20)
    targets = {target for target, _ in VISTAS_TO_CITYSCAPES.values()}
    assert targets - {None} == set(CITYSCAPES19)  # every Cityscapes class has a Vistas source


@pytest.mark.parametrize(
    "name, expected",
    [
        ("construction--flat--road", "road"),
        ("marking--general", "road"),  # v1.2's markings
        ("marking--discrete--stop-line", "road"),
        ("marking-only--discrete--crosswalk-zebra", "road"),
        ("marking--crosswalk-zebra", "road"),
        ("construction--flat--crosswalk-plain", "road"),
        ("construction--flat--bike-lane", "road"),
        ("construction--flat--service-lane", "road"),
        ("construction--barrier--curb", "sidewalk"),
        ("construction--flat--curb-cut", "sidewalk"),
        ("human--rider--bicyclist", "rider"),
        ("human--rider--motorcyclist", "rider"),
        ("human--rider--other-rider", "rider"),
        ("human--person", "person"),
        ("human--person--individual", "person"),
        ("object--traffic-sign--front", "traffic sign"),
        ("object--traffic-sign--direction-front", "traffic sign"),
        ("object--traffic-sign--back", None),
        ("object--traffic-sign--direction-back", None),
        ("object--traffic-light--pedestrians", "traffic light"),
        ("object--vehicle--on-rails", "train"),
        ("void--ego-vehicle", None),
        ("void--car-mount", None),
        ("construction--flat--parking", None),
        ("animal--bird", None),
        ("a--later--release", None),  # not in the table: ignored
    ],
)
def test_chosen_vistas_rows(name, expected):
    assert cityscapes_class(name) == expected


@pytest.mark.parametrize("version", ["v1.2", "v2.0"])
def test_the_samples_vistas_classes_map_as_the_cityscapes_labels_they_were_drawn_from(sample_root, version):
    lut = family("vistas", sample_root / "vistas", version).to_cityscapes19()
    checked = 0
    for index, (name, *_, drawn) in enumerate(SAMPLE_CONFIGS[version]):
        train_ids = {name2label[label].trainId for label in drawn}
        if len(train_ids) == 1:  # the renderer paints this class with Cityscapes labels of one train id
            expected = train_ids.pop()
            assert lut[index] == (IGNORE_INDEX if expected in (255, -1) else expected), name
            checked += 1
    assert checked >= 15 and (lut[len(SAMPLE_CONFIGS[version]) :] == IGNORE_INDEX).all()


def folder_with(tmp_path, sample_root, edit):
    root = tmp_path / "folder"
    shutil.copytree(sample_root / "folder", root)
    data = yaml.safe_load((root / "classes.yaml").read_text())
    edit(data["classes"])
    (root / "classes.yaml").write_text(yaml.safe_dump(data))
    return root


def test_maps_to_gives_the_folders_values_cityscapes_train_ids(sample_root, tmp_path):
    assert family("folder", sample_root / "folder").to_cityscapes19() is None  # no class has maps_to

    def edit(classes):
        classes[0]["maps_to"], classes[1]["maps_to"], classes[2]["maps_to"] = "road", "sidewalk", None

    lut = family("folder", folder_with(tmp_path, sample_root, edit)).to_cityscapes19()
    expected = np.full(256, IGNORE_INDEX, np.uint8)
    expected[10], expected[20] = name2label["road"].trainId, name2label["sidewalk"].trainId
    assert np.array_equal(lut, expected)


def test_a_wrong_maps_to_names_classes_yaml_the_class_and_the_closest_name(sample_root, tmp_path):
    root = folder_with(tmp_path, sample_root, lambda classes: classes[2].update(maps_to="trafic sign"))
    with pytest.raises(UserError) as err:
        family("folder", root).labels()
    text = str(err.value)
    assert "classes.yaml" in text and "'agent'" in text and "Did you mean 'traffic sign'?" in text


def test_cityscapes19_predictions_sum_into_camvids_11_by_name():
    camvid = names_only(reversed(CAMVID11))  # matched by name, in the dataset's own order
    mapping = relate(names_only(CITYSCAPES19), None, camvid, "the checkpoint", "the dataset")
    assert mapping.kind == "predictions" and "camvid11" in mapping.description
    got = {src: (camvid.names[i] if i >= 0 else None) for src, i in zip(CITYSCAPES19, mapping.prediction_table)}
    assert got["wall"] == got["building"] == "Building" and got["terrain"] == got["vegetation"] == "Tree"
    assert got["traffic light"] == got["traffic sign"] == "SignSymbol" and got["train"] is None
    assert got["car"] == got["truck"] == got["bus"] == "Car" and got["person"] == "Pedestrian"
    assert got["rider"] == got["bicycle"] == got["motorcycle"] == "Bicyclist" and got["sidewalk"] == "Pavement"
    assert got["road"] == "Road" and got["sky"] == "Sky" and got["pole"] == "Pole" and got["fence"] == "Fence"

    class Runner:  # a ModelRunner's interface: (N, 3, H, W) -> (N, 19, H, W) probabilities
        model, device = None, torch.device("cpu")

        def __call__(self, images):
            return torch.softmax(torch.arange(19.0).reshape(1, 19, 1, 1).expand(1, 19, 2, 2) / 7, 1)

    probs = Runner()(None)[0, :, 0, 0]
    mapped = MappedRunner(Runner(), mapping.prediction_table, 11)(None)[0, :, 0, 0]
    index = CITYSCAPES19.index
    assert torch.isclose(mapped[camvid.names.index("Car")], probs[[index("car"), index("truck"), index("bus")]].sum())
    assert torch.isclose(mapped.sum(), 1 - probs[index("train")])  # train's share drops out


def test_no_mapping_names_both_class_lists(sample_root):
    folder = family("folder", sample_root / "folder")
    with pytest.raises(UserError) as err:
        relate(names_only(CITYSCAPES19), folder, folder.labels(), "checkpoint 'x.pth'", "target folder (classes)")
    text = str(err.value)
    assert "checkpoint 'x.pth' (19: road," in text and "target folder (classes) (4: drivable," in text
    assert "maps_to" in text
