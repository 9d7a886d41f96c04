"""The labelled part of the train split: a seeded fraction or a list file, the same through the data check and the
prepared cache, and written back as a list that reproduces it."""

import logging
import random

import pytest

from utils.config.errors import UserError
from utils.config.loading import config_from_dict
from utils.data.checks import checked_items
from utils.data.families import dataset_family
from utils.data.subset import labelled_subset, write_train_list


def _cfg(sample_root, *overrides):
    return config_from_dict({}, [f"paths.root={sample_root / 'cityscapes'}", *overrides])


def test_a_fraction_is_a_seeded_draw_that_ignores_the_listing_order(sample_root):
    cfg = _cfg(sample_root, "dataset.train_fraction=0.25")
    items = dataset_family(cfg).items("train")
    subset = labelled_subset(cfg, items)
    assert len(subset) == round(0.25 * len(items)) == 2
    shuffled = random.Random(1).sample(items, len(items))
    assert {i.image for i in labelled_subset(cfg, shuffled)} == {i.image for i in subset}
    others = {
        frozenset(
            i.image
            for i in labelled_subset(
                _cfg(sample_root, "dataset.train_fraction=0.25", f"dataset.train_fraction_seed={s}"), items
            )
        )
        for s in range(6)
    }
    assert len(others) > 1  # the seed chooses
    assert labelled_subset(_cfg(sample_root), items) is items


def test_the_written_list_reads_back_as_the_same_subset_through_the_data_check(sample_root, tmp_path):
    cfg = _cfg(sample_root, "dataset.train_fraction=0.5", "dataset.train_fraction_seed=3")
    log = logging.getLogger("test_subset")
    subset = checked_items(cfg, ("train", "val"), log)
    assert len(subset["train"]) == 4 and len(subset["val"]) == 5  # val keeps all its labels
    write_train_list(subset["train"], cfg.paths.root, tmp_path / "list.txt")
    lines = (tmp_path / "list.txt").read_text().splitlines()
    assert all(line.startswith("leftImg8bit/train/") for line in lines)
    # UniMatch's lines carry the label path as a second column
    (tmp_path / "unimatch.txt").write_text("".join(f"{line} gtFine/x.png\n" for line in lines))
    again = checked_items(_cfg(sample_root, f"dataset.train_list={tmp_path / 'unimatch.txt'}"), ("train",), log)
    assert [i.image for i in again["train"]] == [i.image for i in subset["train"]]


def test_a_listed_image_outside_the_train_split_and_both_keys_are_one_line_errors(sample_root, tmp_path):
    (tmp_path / "list.txt").write_text("leftImg8bit/val/frankfurt/nothing_leftImg8bit.png\n")
    cfg = _cfg(sample_root, f"dataset.train_list={tmp_path / 'list.txt'}")
    items = dataset_family(cfg).items("train")
    with pytest.raises(UserError, match=r"names 1 image\(s\) that are not in the train split .*nothing_leftImg8bit"):
        labelled_subset(cfg, items)
    both = _cfg(sample_root, f"dataset.train_list={tmp_path / 'list.txt'}", "dataset.train_fraction=0.5")
    with pytest.raises(UserError, match="both choose the labelled images; set one of them"):
        labelled_subset(both, items)
    with pytest.raises(UserError, match=r"dataset.train_fraction.*must lie in \(0, 1\]"):
        _cfg(sample_root, "dataset.train_fraction=0")
