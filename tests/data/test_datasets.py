import cv2
import numpy as np
import pytest
import torch
import torchvision
from cityscapesscripts.helpers.labels import name2label
from conftest import SMALL

from utils.config.errors import UserError
from utils.config.loading import config_from_dict
from utils.data.families import build_labels
from utils.data.families.kitti import decode_kitti_gt
from utils.data.kitti_calib import calib_path_for, read_calib, road_to_image_homography
from utils.data.loaders import build_dataset, build_loader, dataset_items
from utils.data.segmentation import read_rgb
from utils.data.transforms import prediction_batch, reseed, train_transform
from utils.labels import IGNORE_INDEX
from utils.sample_data.generate import _seed
from utils.sample_data.street import make_street


def cs_cfg(sample_root, *extra):
    return config_from_dict({}, [f"paths.root={sample_root / 'cityscapes'}", "dataset.size=[64,128]", *extra])


def kitti_cfg(sample_root, mode="road", *extra):
    return config_from_dict(
        {},
        [
            "target=kitti",
            f"paths.root={sample_root / 'kitti'}",
            f"dataset.labels={mode}",
            "dataset.size=[96,320]",
            *extra,
        ],
    )


def test_cityscapes_train_sample_matches_label_file(sample_root):
    cfg = cs_cfg(sample_root)
    labels = build_labels("cityscapes", "categories")
    ds = build_dataset(cfg, labels, "val", "eval")
    sample = ds[0]
    assert sample["image"].shape == (3, 64, 128) and sample["image"].dtype == torch.float32
    raw = cv2.imread(str(ds.items[0].label), cv2.IMREAD_UNCHANGED)
    assert sample["mask"].dtype == torch.uint8 and tuple(sample["mask"].shape) == raw.shape
    assert (sample["mask"].numpy() == labels.lut[raw]).all()
    train = build_dataset(cfg, labels, "train", "train")
    s = train[(1, 123)]
    assert s["image"].shape == (3, 64, 128) and s["mask"].shape == (64, 128)
    assert set(np.unique(s["mask"].numpy())) <= set(range(8)) | {IGNORE_INDEX}
    again = train[(1, 123)]
    assert torch.equal(s["image"], again["image"]) and torch.equal(s["mask"], again["mask"])


def test_a_prediction_batch_is_the_datasets_eval_and_predict_image(sample_root):
    """Predictor and videos prepare a picture as eval.py's dataset does: resized to dataset.size, normalised."""
    cfg = cs_cfg(sample_root)
    labels = build_labels("cityscapes", "categories")
    for split, purpose in (("val", "eval"), ("test", "predict")):
        ds = build_dataset(cfg, labels, split, purpose, use_cache=False)
        batch = prediction_batch([read_rgb(ds.items[k].image) for k in (0, 1)], cfg.dataset.size)
        assert batch.shape == (2, 3, 64, 128)
        assert torch.equal(batch[0], ds[0]["image"]) and torch.equal(batch[1], ds[1]["image"])


def test_sample_has_every_category_in_train_and_val(sample_root):
    labels = build_labels("cityscapes", "categories")
    for split in ("train", "val"):
        seen = set()
        for item in dataset_items(cs_cfg(sample_root), split):
            seen |= set(np.unique(labels.encode(cv2.imread(str(item.label), cv2.IMREAD_UNCHANGED))).tolist())
        assert seen == set(range(8)), split


def test_torchvision_cityscapes_reads_the_sample(sample_root):
    tv = torchvision.datasets.Cityscapes(
        str(sample_root / "cityscapes"),
        split="val",
        mode="fine",
        target_type=["semantic", "instance", "color", "polygon"],
    )
    assert len(tv) == 5
    image, (semantic, instance, color, polygon) = tv[0]
    ours = cv2.imread(tv.targets[0][0], cv2.IMREAD_UNCHANGED)
    assert image.size == (256, 128) and (np.array(semantic) == ours).all()
    assert np.array(instance).max() >= 24000  # person / car instances are id * 1000 + k
    assert polygon["imgWidth"] == 256 and len(polygon["objects"]) > 10
    assert np.array(color).shape[:2] == (128, 256)


def test_polygons_render_back_to_the_label_ids(sample_root):
    from cityscapesscripts.helpers.annotation import Annotation
    from cityscapesscripts.preparation.json2labelImg import createLabelImage

    item = dataset_items(cs_cfg(sample_root), "val")[0]
    ann = Annotation()
    ann.fromJsonFile(str(item.label).replace("_labelIds.png", "_polygons.json"))
    rendered = np.array(createLabelImage(ann, "ids"))
    ours = cv2.imread(str(item.label), cv2.IMREAD_UNCHANGED)
    assert (rendered == ours).mean() > 0.97  # PIL and OpenCV rasterise polygon edges slightly differently


def test_test_split_is_void_and_unlabelled(sample_root):
    items = dataset_items(cs_cfg(sample_root), "test", labelled=False)
    assert len(items) == 2 and all(i.label is None for i in items)
    gt = sample_root / "cityscapes" / "gtFine" / "test" / "berlin" / "berlin_000000_000019_gtFine_labelIds.png"
    assert cv2.imread(str(gt), cv2.IMREAD_UNCHANGED).max() == 0


def test_val_cities_and_coarse(sample_root):
    cfg = cs_cfg(sample_root, "dataset.val_cities=[bochum]", "dataset.coarse=true")
    train, val = dataset_items(cfg, "train"), dataset_items(cfg, "val")
    assert {i.name.split("_")[0] for i in val} == {"bochum"}
    assert {i.name.split("_")[0] for i in train} == {"aachen", "augsburg"}
    assert any("gtCoarse" in str(i.label) for i in train)
    with pytest.raises(UserError, match="not train cities"):
        dataset_items(cs_cfg(sample_root, "dataset.val_cities=[paris]"), "train")


def test_missing_dataset_says_where_to_get_it(tmp_path):
    cfg = config_from_dict({}, [f"paths.root={tmp_path / 'nothing'}"])
    with pytest.raises(UserError, match=r"cityscapes-dataset.com.*leftImg8bit.*quickstart"):
        dataset_items(cfg, "train")
    with pytest.raises(UserError, match="data_road"):
        dataset_items(config_from_dict({}, ["target=kitti", "dataset.labels=road", f"paths.root={tmp_path}"]), "train")


def test_kitti_gt_colors_decode_like_the_devkit(tmp_path):
    bgr = np.zeros((2, 3, 3), np.uint8)
    bgr[0, 0] = (255, 0, 255)  # magenta: road
    bgr[0, 1] = (0, 0, 255)  # red: not road
    bgr[0, 2] = (0, 0, 0)  # black: outside the valid area
    bgr[1, :] = (255, 0, 255)
    path = tmp_path / "um_road_000000.png"
    cv2.imwrite(str(path), bgr)
    assert decode_kitti_gt(path).tolist() == [[0, 1, IGNORE_INDEX], [0, 0, 0]]


@pytest.mark.parametrize("mode", ["road", "lane"])
def test_kitti_splits(sample_root, mode):
    cfg = kitti_cfg(sample_root, mode)
    train, val = dataset_items(cfg, "train"), dataset_items(cfg, "val")
    assert not {i.name for i in train} & {i.name for i in val}
    assert len(train) + len(val) == (9 if mode == "road" else 3)
    assert [i.name for i in val] == [i.name for i in dataset_items(cfg, "val")]  # deterministic
    if mode == "lane":
        assert all(i.name.startswith("um_") and "_lane_" in i.label.name for i in train + val)
    test = dataset_items(cfg, "test", labelled=False)
    assert len(test) == (3 if mode == "road" else 1) and all(i.label is None for i in test)
    if mode == "lane":  # the ego-lane benchmark defines um only, in testing/ as in training/
        assert all(i.name.startswith("um_") for i in test)
    every = dataset_items(cfg, "all")  # the whole of training/, what the devkit's evaluateRoad.py scores
    assert sorted(i.name for i in every) == sorted(i.name for i in train + val)


def test_kitti_sample_calib_puts_the_road_plane_on_the_rendered_road(sample_root):
    """Road-frame points between the street's kerbs project, through the written calib file, onto road gt."""
    for split in ("training", "testing"):
        images = sorted((sample_root / "kitti" / "data_road" / split / "image_2").glob("*.png"))
        assert [calib_path_for(p).is_file() for p in images] == [True] * len(images)
    for category, index in (("um", 0), ("umm", 1), ("uu", 2)):
        stem = f"{category}_{index:06d}"
        image = cv2.imread(str(sample_root / "kitti" / "data_road" / "training" / "image_2" / f"{stem}.png"))
        street = make_street(_seed(SMALL, "training", category, index), image.shape[0], image.shape[1], category)
        homography = road_to_image_homography(
            read_calib(calib_path_for(sample_root / "kitti" / "data_road" / "training" / "image_2" / f"{stem}.png"))
        )
        gt = decode_kitti_gt(
            sample_root / "kitti" / "data_road" / "training" / "gt_image_2" / f"{category}_road_{index:06d}.png"
        )
        left, right = street["road"]
        assert road_share(homography, gt, left + 0.15, right - 0.15) > 0.8, (
            stem
        )  # cars parked on the road may hide some of it
        assert (
            road_share(homography, gt, right + 0.15, right + 0.6) < 0.05
            and road_share(homography, gt, left - 0.6, left - 0.15) < 0.05
        ), stem  # sidewalks


def road_share(homography, gt, x0, x1) -> float:
    """Share of road gt at the pixels of road-plane points with X in [x0, x1] and Z from 6.5 to 15 m."""
    xx, zz = np.meshgrid(np.linspace(x0, x1, 20), np.linspace(6.5, 15.0, 30))
    uvw = homography @ np.stack([xx.ravel(), zz.ravel(), np.ones(xx.size)])
    u, v = np.round(uvw[:2] / uvw[2]).astype(int)
    keep = (u >= 0) & (u < gt.shape[1]) & (v >= 0) & (v < gt.shape[0])
    return (gt[v[keep], u[keep]] == 0).mean()


def test_kitti_full_resolution_375x1242_loads_and_batches(sample_root):
    cfg = kitti_cfg(sample_root)
    labels = build_labels("kitti", "road")
    ds = build_dataset(cfg, labels, "train", "eval")
    sizes = {tuple(ds[i]["mask"].shape) for i in range(len(ds))}
    assert (375, 1242) in sizes and len(sizes) > 1
    batch = next(iter(build_loader(ds, 3, 0, train=False)))
    assert batch["image"].shape == (3, 3, 96, 320) and isinstance(batch["mask"], list)
    values = set(np.unique(torch.cat([m.flatten() for m in batch["mask"]]).numpy()).tolist())
    assert values == {0, 1, IGNORE_INDEX}


def test_augmentations_keep_uint8_masks_and_pad_with_ignore():
    cfg = config_from_dict({}, ["dataset.scale_range=[0.5,0.5]", "dataset.weather_aug=true", "dataset.weather_p=1.0"])
    t = train_transform(cfg.dataset, (64, 128))
    t.set_random_seed(0)
    image = np.full((64, 128, 3), 120, np.uint8)
    mask = np.full((64, 128), name2label["road"].id, np.uint8)
    out = t(image=image, mask=mask)
    assert out["mask"].dtype == np.uint8 and out["mask"].shape == (64, 128) and out["image"].shape == (64, 128, 3)
    # Scaled to half, the image covers a quarter of the crop: the padding is IGNORE_INDEX, the rest the label.
    values, counts = np.unique(out["mask"], return_counts=True)
    assert set(values.tolist()) == {7, IGNORE_INDEX} and counts[values.tolist().index(7)] == 32 * 64


def test_crop_size_crops_the_scaled_image_and_pads_bottom_right_with_ignore():
    cfg = config_from_dict(
        {},
        [
            "dataset.size=[64,128]",
            "dataset.crop_size=[48,96]",
            "dataset.scale_range=[0.5,0.5]",
            "dataset.hflip=false",
            "dataset.color_jitter=0",
            "dataset.hue_jitter=0",
        ],
    )
    t = train_transform(cfg.dataset, cfg.dataset.size)
    image = np.full((128, 256, 3), 120, np.uint8)
    mask = np.full((128, 256), 7, np.uint8)
    out = t(image=image, mask=mask)
    # 128x256 -> 64x128 (size) -> 32x64 (scale 0.5), smaller than the 48x96 crop: padded at the bottom and right, as mmseg pads.
    assert out["image"].shape == (48, 96, 3) and out["mask"].shape == (48, 96) and out["mask"].dtype == np.uint8
    assert (
        (out["mask"][:32, :64] == 7).all()
        and (out["mask"][32:] == IGNORE_INDEX).all()
        and (out["mask"][:, 64:] == IGNORE_INDEX).all()
    )
    assert (out["image"][32:] == 0).all()


def test_cat_max_ratio_redraws_crops_one_class_fills():
    """Class 1 fills the left three quarters: only crops near the border hold both classes below 75%."""
    mask = np.zeros((64, 256), np.uint8)
    mask[:, 192:] = 2
    mask[:, :192] = 1
    image = np.zeros((64, 256, 3), np.uint8)

    def share_of_varied_crops(ratio):
        cfg = config_from_dict(
            {},
            [
                "dataset.size=[64,256]",
                "dataset.crop_size=[64,64]",
                "dataset.scale_range=[1,1]",
                "dataset.hflip=false",
                f"dataset.cat_max_ratio={ratio}",
            ],
        )
        t = train_transform(cfg.dataset, cfg.dataset.size)
        good = 0
        for seed in range(200):
            reseed(t, seed)
            counts = np.bincount(t(image=image, mask=mask)["mask"].ravel(), minlength=3)[1:]
            good += counts.min() > 0 and counts.max() / counts.sum() < 0.75
        return good / 200

    # One draw in six lands on the border; mmseg's ten re-draws make that 1 - (5/6) ** 11, about 0.87.
    assert share_of_varied_crops(1.0) < 0.3 and share_of_varied_crops(0.75) > 0.75


def test_crops_at_training_and_whole_images_at_validation(sample_root):
    """The sample's 128x256 images at scale [256, 512], 128x256 crops; validation sees the whole image at 256x512."""
    cfg = cs_cfg(sample_root, "dataset.size=[256,512]", "dataset.crop_size=[128,256]", "dataset.cat_max_ratio=0.75")
    labels = build_labels("cityscapes", "categories")
    train = build_dataset(cfg, labels, "train", "train", cfg.dataset.size)
    s = train[(2, 77)]
    assert s["image"].shape == (3, 128, 256) and s["mask"].shape == (128, 256)
    again = train[(2, 77)]  # the per-sample seed fixes scale, crop, re-draws and flip: resumes stay exact
    assert torch.equal(s["image"], again["image"]) and torch.equal(s["mask"], again["mask"])
    assert not torch.equal(s["image"], train[(2, 78)]["image"])
    val = build_dataset(cfg, labels, "val", "val", cfg.dataset.size)
    assert val[0]["image"].shape == (3, 256, 512) and val[0]["mask"].shape == (256, 512)


def test_crop_keys_are_checked():
    with pytest.raises(UserError, match=r"'dataset.crop_size'"):
        config_from_dict({}, ["dataset.crop_size=[16,512]"])
    with pytest.raises(UserError, match=r"'dataset.cat_max_ratio'.*\(0, 1\]"):
        config_from_dict({}, ["dataset.cat_max_ratio=0"])
    with pytest.raises(UserError, match="takes no crops"):
        config_from_dict({}, ["dataset.cat_max_ratio=0.75", "dataset.scale_range=[1,1]"])
