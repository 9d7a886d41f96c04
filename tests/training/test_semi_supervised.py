"""Semi-supervised training's parts on hand-made inputs: the weak and strong views of one geometry, the valid mask of a
padded crop, CutMix boxes and their mixing, threshold masking, the EMA teacher, the sharded unlabelled stream."""

import dataclasses

import cv2
import numpy as np
import pytest
import torch

from utils.config.schema import DatasetConfig
from utils.config.schema_unlabeled import UnlabeledConfig
from utils.data.families.base import Item
from utils.data.transforms import to_tensor
from utils.data.unlabeled_dataset import StreamSampler, UnlabeledDataset, cutmix_box
from utils.labels import IGNORE_INDEX
from utils.losses import CEDiceLoss
from utils.training.ema import EMATeacher
from utils.training.pseudo_labels import (
    class_counts,
    class_thresholds,
    confident_share,
    cutmix,
    pseudo_labels,
    split_outputs,
)

NO_COLOUR = UnlabeledConfig(color_jitter=0.0, grayscale_p=0.0, blur_p=0.0, cutmix_p=0.0)


@pytest.fixture(scope="module")
def image_item(tmp_path_factory) -> Item:
    """A 64x128 picture with structure everywhere, so any shift, flip or scale of it shows."""
    rng = np.random.default_rng(0)
    image = cv2.resize(rng.integers(0, 256, (16, 32, 3), dtype=np.uint8), (128, 64), interpolation=cv2.INTER_LINEAR)
    path = tmp_path_factory.mktemp("unlabeled") / "frame.png"
    cv2.imwrite(str(path), image)
    return Item(path, None, "frame")


def dataset(item, unlabeled=NO_COLOUR, **geometry) -> UnlabeledDataset:
    cfg = DatasetConfig(size=[64, 128], **{"scale_range": [0.5, 2.0], "crop_size": [48, 96], **geometry})
    return UnlabeledDataset([item], cfg, unlabeled, cfg.size)


def test_without_colour_operations_the_strong_view_is_the_weak_one(image_item):
    plain = dataset(image_item)
    coloured = dataset(image_item, UnlabeledConfig(cutmix_p=0.0))
    changed = 0
    for seed in range(8):
        a, b = plain[(0, seed)], coloured[(0, seed)]
        assert torch.equal(a["strong"], a["weak"]) and a["weak"].shape == (3, 48, 96)
        # The colour operations change the strong view only: the geometry (weak view, valid pixels) is the seed's.
        assert torch.equal(b["weak"], a["weak"]) and torch.equal(b["valid"], a["valid"])
        changed += not torch.equal(b["strong"], b["weak"])
    assert changed >= 6  # each image draws none of the three with probability 0.2 * 0.8 * 0.5
    assert not torch.equal(plain[(0, 0)]["weak"], plain[(0, 1)]["weak"])  # another seed, another scale and crop
    for key in ("weak", "strong", "valid", "cutmix_box"):
        assert torch.equal(coloured[(0, 3)][key], coloured[(0, 3)][key])  # a sample is its seed's, every time


def test_valid_is_false_exactly_where_the_crop_padded(image_item):
    # Scaled to half of 64x128 and cropped at 64x128: the image fills the top-left 32x64, the rest is padding.
    half = dataset(image_item, scale_range=[0.5, 0.5], crop_size=None, hflip=False)
    sample = half[(0, 7)]
    expected = torch.zeros(64, 128, dtype=torch.bool)
    expected[:32, :64] = True
    assert torch.equal(sample["valid"], expected)
    black = to_tensor(np.zeros((1, 1, 3), np.uint8))[:, 0, 0]
    assert (sample["weak"][:, ~expected] == black[:, None]).all()  # the padding is the crop's fill
    assert not (sample["weak"][:, expected] == black[:, None]).all(0).any()
    # Flipped, the image and its valid pixels move together.
    flipped = dataset(image_item, scale_range=[0.5, 0.5], crop_size=None, hflip=True)
    views = [flipped[(0, seed)] for seed in range(8)]
    mirrored = [v for v in views if v["valid"][:32, 64:].all()]
    assert mirrored and all(torch.equal(v["valid"], expected.flip(-1)) for v in mirrored)
    assert all(torch.equal(v["weak"], sample["weak"].flip(-1)) for v in mirrored)


def test_cutmix_boxes_follow_unimatchs_rule():
    rng = np.random.default_rng(0)
    assert not any(cutmix_box((48, 96), 0.0, rng).any() for _ in range(20))
    for _ in range(50):
        box = cutmix_box((48, 96), 1.0, rng)
        rows, cols = np.nonzero(box.any(1))[0], np.nonzero(box.any(0))[0]
        h, w = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
        assert box.sum() == h * w  # one rectangle
        assert 0.02 * 48 * 96 * 0.8 <= box.sum() <= 0.4 * 48 * 96  # its area, less int() truncation
        assert 0.3 * 0.8 <= h / w <= 1 / 0.3 * 1.25
    drawn = [cutmix_box((48, 96), 0.5, rng).any() for _ in range(400)]
    assert 0.4 < np.mean(drawn) < 0.6


def test_cutmix_mixes_images_and_pseudo_labels_with_the_same_box():
    images = torch.arange(3, dtype=torch.float32).view(3, 1, 1, 1).expand(3, 3, 4, 5).clone()
    labels = torch.arange(3).view(3, 1, 1).expand(3, 4, 5).clone()
    boxes = torch.zeros(3, 4, 5, dtype=torch.bool)
    boxes[0, 1:3, 2:4] = True  # image 0 takes this box from image 1
    boxes[2, 0, 0] = True  # image 2 takes a pixel from image 0 (the batch wraps)
    mixed_images, mixed_labels = cutmix(images, boxes), cutmix(labels, boxes)
    assert (mixed_images[0, :, 1:3, 2:4] == 1).all() and mixed_images[0].sum() == 3 * 4  # the rest of image 0 is 0
    assert mixed_images[2, :, 0, 0].eq(0).all() and torch.equal(mixed_images[1], images[1])
    assert torch.equal(mixed_labels, mixed_images[:, 0].long())  # the labels moved exactly as the pixels did


def test_pseudo_labels_keep_only_confident_valid_pixels():
    probs = torch.tensor([[0.96, 0.95, 0.20], [0.04, 0.05, 0.80]]).view(1, 2, 1, 3)  # (N=1, C=2, H=1, W=3)
    valid = torch.tensor([[[True, True, True]]])
    boxes = torch.zeros(1, 1, 3, dtype=torch.bool)
    targets, confident, _ = pseudo_labels(probs, valid, boxes, threshold=0.95)
    assert targets.tolist() == [[[0, 0, IGNORE_INDEX]]]  # at the threshold counts; 0.8 of class 1 does not
    assert confident.tolist() == [[[True, True, False]]]
    targets, _, _ = pseudo_labels(probs, ~valid, boxes, threshold=0.5)
    assert (targets == IGNORE_INDEX).all()  # padding never gets a label, however confident
    targets, _, _ = pseudo_labels(probs, valid, boxes, threshold=0.5)
    assert targets.tolist() == [[[0, 0, 1]]]
    assert class_counts(targets, targets != IGNORE_INDEX, 2).tolist() == [2.0, 1.0]


def test_each_class_keeps_its_surest_share_besides_the_global_threshold():
    # One image of 8 pixels, 3 classes: class 0 sure (0.99, 0.97), class 1 never sure (0.9, 0.6, 0.7, 0.8), class 2
    # once (0.55); the last pixel is padding, of class 1 at 0.95.
    top = torch.tensor([0, 0, 1, 1, 1, 1, 2, 1])
    confidence = torch.tensor([0.99, 0.97, 0.9, 0.6, 0.7, 0.8, 0.55, 0.95])
    probs = torch.full((1, 3, 1, 8), 0.0)
    probs[0, top, 0, torch.arange(8)] = confidence
    probs[0, (top + 1) % 3, 0, torch.arange(8)] = 1 - confidence
    valid = torch.ones(1, 1, 8, dtype=torch.bool)
    valid[0, 0, 7] = False
    no_box = torch.zeros_like(valid)
    thresholds = class_thresholds(confidence.view(1, 1, 8), top.view(1, 1, 8), valid, keep=0.5, num_classes=3)
    # class 1's valid confidences 0.6 0.7 0.8 0.9: its surest half from 0.8 (the padding's 0.95 does not count);
    # class 0's surest half is its 0.99, and its 0.97 keeps its label by the global threshold
    assert thresholds.flatten().tolist() == pytest.approx([0.99, 0.99, 0.8, 0.8, 0.8, 0.8, 0.55, 0.8])
    targets, confident, _ = pseudo_labels(probs, valid, no_box, threshold=0.95, keep_per_class=0.5)
    assert targets.flatten().tolist() == [0, 0, 1, IGNORE_INDEX, IGNORE_INDEX, 1, 2, IGNORE_INDEX]
    targets, _, _ = pseudo_labels(probs, valid, no_box, threshold=0.95)  # off: the global threshold alone
    assert targets.flatten().tolist() == [0, 0] + [IGNORE_INDEX] * 6
    # keep 0.2 of 4 pixels rounds up to 1: class 1 keeps its 0.9 alone
    targets, _, _ = pseudo_labels(probs, valid, no_box, threshold=0.95, keep_per_class=0.2)
    assert targets.flatten().tolist() == [0, 0, 1, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX, 2, IGNORE_INDEX]


def test_cross_entropy_times_the_confident_share_is_fixmatchs_mean_over_all_valid_pixels():
    torch.manual_seed(0)
    logits, probs = torch.randn(2, 3, 4, 5), torch.softmax(torch.randn(2, 3, 4, 5) * 3, dim=1)
    valid = torch.ones(2, 4, 5, dtype=torch.bool)
    valid[1, :, :2] = False  # padding
    targets, confident, valid = pseudo_labels(probs, valid, torch.zeros_like(valid), threshold=0.8)
    assert 0 < confident.sum() < valid.sum()
    ours = CEDiceLoss(3, bce_weight=1.0)(logits, targets) * confident_share(confident, valid)
    # UniMatch's fixmatch.py: loss_u = (criterion_u(pred_u_s, mask_u_w) * confident).sum() / valid.sum()
    per_pixel = torch.nn.functional.cross_entropy(logits, targets.clamp(max=2), reduction="none")
    assert ours.item() == pytest.approx((per_pixel * confident).sum().item() / valid.sum().item(), rel=1e-6)
    assert confident_share(confident[:0], valid[:0]).item() == 0  # nothing valid: 0, not 0/0


def test_pseudo_labels_move_with_the_cutmix_box():
    # Image 0 predicts class 0 everywhere, image 1 class 1 (its last pixel unconfident, its first one padding).
    probs = torch.zeros(2, 2, 1, 4)
    probs[0, 0], probs[1, 1] = 0.99, torch.tensor([0.99, 0.99, 0.99, 0.6])
    valid = torch.ones(2, 1, 4, dtype=torch.bool)
    valid[1, 0, 0] = False
    boxes = torch.zeros(2, 1, 4, dtype=torch.bool)
    boxes[0, 0, :2] = True  # image 0 takes its first two pixels from image 1
    boxes[1, 0, 3] = True  # image 1 takes its last pixel from image 0
    targets, confident, mixed_valid = pseudo_labels(probs, valid, boxes, threshold=0.9)
    assert targets.tolist() == [[[IGNORE_INDEX, 1, 0, 0]], [[IGNORE_INDEX, 1, 1, 0]]]
    assert mixed_valid.tolist() == [[[False, True, True, True]], [[False, True, True, True]]]
    assert confident.sum() == 6


def test_outputs_split_back_per_key():
    logits, aux = torch.randn(5, 3, 2, 2), torch.randn(5, 3, 2, 2)
    first, rest = split_outputs({"out": logits, "aux": aux}, 2)
    assert torch.equal(first["aux"], aux[:2]) and torch.equal(rest["out"], logits[2:])
    first, rest = split_outputs(logits, 4)
    assert first.shape[0] == 4 and rest.shape[0] == 1


def test_the_ema_teacher_warms_up_then_trails_with_its_decay():
    student = torch.nn.Sequential(torch.nn.Conv2d(1, 1, 1), torch.nn.BatchNorm2d(1))
    teacher = EMATeacher(student, decay=0.9)
    assert not teacher.model.training and not any(p.requires_grad for p in teacher.model.parameters())
    start = {k: v.clone() for k, v in teacher.state_dict().items()}
    with torch.no_grad():
        for p in student.parameters():
            p.add_(1.0)
        student[1].running_mean.fill_(2.0)
        student[1].num_batches_tracked.fill_(7)
    teacher.update(student, step=1)  # Mean Teacher's warm-up: min(0.9, 1 - 1/2) = 0.5
    now = teacher.state_dict()
    assert torch.allclose(now["0.weight"], 0.5 * start["0.weight"] + 0.5 * student[0].weight)
    assert torch.allclose(now["1.running_mean"], torch.tensor([1.0]))  # batch-norm statistics are averaged too
    assert now["1.num_batches_tracked"].item() == 7  # counts are copied
    before = now["0.weight"].clone()
    teacher.update(student, step=100)  # decay 0.9 from step 9 on
    assert torch.allclose(teacher.state_dict()["0.weight"], 0.9 * before + 0.1 * student[0].weight)
    assert teacher.decay_at(1) == 0.5 and teacher.decay_at(9) == 0.9 and teacher.decay_at(1000) == 0.9


def test_the_stream_is_sharded_and_the_same_on_any_number_of_processes():
    single = StreamSampler(5, seed=3)
    stream = [single.at(p) for p in range(12)]
    assert sorted(i for i, _ in stream[:5]) == list(range(5)) and sorted(i for i, _ in stream[5:10]) == list(range(5))
    assert stream[:5] != stream[5:10]  # every pass is reshuffled, with fresh seeds
    iterators = [iter(StreamSampler(5, seed=3, rank=r, world_size=3)) for r in range(3)]
    shards = [[next(it) for _ in range(4)] for it in iterators]
    assert [s[k] for k in range(4) for s in shards] == stream  # rank r takes positions r, r + 3, ...
    resumed = iter(StreamSampler(5, seed=3, start=6, rank=1, world_size=3))
    assert [next(resumed) for _ in range(2)] == [stream[7], stream[10]]
    labelled_seed_stream = [single.at(p)[1] for p in range(5)]
    assert labelled_seed_stream != np.random.SeedSequence([3, 0]).generate_state(5).tolist()


def test_the_schema_declares_every_key_to_match_on_resume():
    fields = dataclasses.fields(UnlabeledConfig)
    assert {f.name for f in fields} >= {"source", "split", "ratio", "teacher", "threshold", "weight", "cutmix_p"}
    assert all(f.metadata["on_resume"] == "match" for f in fields)
