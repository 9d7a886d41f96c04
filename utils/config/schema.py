"""The configuration schema: every key once, with its default, its one-line meaning and its roles.

Sections mirror the original project's train_config.yaml: target, paths, dataset, model, training, eval (and
paint). Each key is declared with :func:`utils.config.declare.opt`, which also says what the key is for: whether
``--resume`` must find it unchanged, which dataset family reads it, whether eval takes it from the user's file, and
its allowed range. docs/configuration.md is generated from the help texts here; ``training`` lives in
:mod:`~utils.config.schema_training`, ``unlabeled`` in :mod:`~utils.config.schema_unlabeled`, ``eval`` and ``paint`` in
:mod:`~utils.config.schema_eval`.
"""

from dataclasses import dataclass, field
from typing import Literal, Optional, Union

from models.archs import ARCHITECTURES
from utils.config.declare import Rule, not_negative, opt, size_rule
from utils.config.schema_eval import EvalConfig, PaintConfig
from utils.config.schema_training import StageConfig, TrainingConfig
from utils.config.schema_unlabeled import UnlabeledConfig

__all__ = [
    "Config",
    "DatasetConfig",
    "SourceConfig",
    "EvalConfig",
    "ModelConfig",
    "PaintConfig",
    "PathsConfig",
    "StageConfig",
    "TrainingConfig",
    "UnlabeledConfig",
]


@dataclass(frozen=True)
class PathsConfig:
    root: str = opt(
        "data/cityscapes",
        "dataset root, as the target family lays it out: Cityscapes' leftImg8bit/ and gtFine/, KITTI's data_road/, "
        "bdd100k/, Vistas' config_v2.0.json, a folder's classes.yaml, KITTI semantics' training/ and testing/, CamVid's "
        "train/ and trainannot/ (SegNet's CamVid/)",
        in_eval="user",
    )
    output_dir: str = opt(
        "runs/cityscapes_fpn_categories",
        "run folder: config.yaml, checkpoints, tensorboard/, train.log, metrics.json, curves.png",
        in_eval="user",
    )


@dataclass(frozen=True)
class SourceConfig:
    target: str = opt("cityscapes", "this source's dataset family (a name in utils/data/families)")
    root: str = opt("", "this source's dataset folder, laid out as its target family expects (like paths.root)")
    weight: float = opt(
        1.0,
        "relative chance that a training sample is drawn from this source (weights are normalised over the sources)",
        rule=Rule(lambda v: v > 0, "must be positive"),
    )
    labels: Union[None, str, list[str]] = opt(
        None, "this source's label mode, as dataset.labels for its target (vistas: v2.0 or v1.2); null: the default"
    )
    name: Optional[str] = opt(
        None, "the name its validation figures are reported under (train.log, TensorBoard, metrics.json); null: target"
    )


@dataclass(frozen=True)
class DatasetConfig:
    labels: Union[None, str, list[str]] = opt(
        None,
        "label mode, checked by the target's family; null is its default: cityscapes categories (default) | road | "
        "classes | a list of label names; "
        "kitti road (default) | lane; bdd100k classes (default) | categories; vistas v2.0 (default) | v1.2; folder "
        "classes (classes.yaml); kitti_semantics classes (default) | categories | road | a list of label names; camvid "
        "classes (its 11)",
        on_resume="match",
    )
    sources: list[SourceConfig] = opt(
        [],
        "several datasets trained into one label space (dataset.taxonomy): a list of {target, root, weight, labels, "
        "name}; batches mix them by weight, validation reports each source's mIoU and their mean; empty: target and "
        "paths.root",
        on_resume="match",
    )
    taxonomy: str = opt(
        "cityscapes19",
        "the classes several sources train into: cityscapes19 (the 19 Cityscapes classes; each family maps its labels "
        "into them, docs/datasets.md), or the path of a YAML file of classes, each naming the Cityscapes classes it "
        "takes in maps_to (utils/data/taxonomy_file.py)",
        on_resume="match",
    )
    unlabeled_class: bool = opt(
        False,
        "classes mode: train 'unlabeled' as a 20th class instead of ignoring void pixels",
        on_resume="match",
        read_by=("cityscapes", "kitti_semantics"),
    )
    size: list[int] = opt(
        [512, 1024],
        "[H, W] the images are resized to for training (the scale at ratio 1) and inference",
        rule=size_rule(),
    )
    crop_size: Optional[list[int]] = opt(
        None,
        "training: [H, W] crops of the randomly scaled image, padded with ignore where it is smaller; null: the crop "
        "is dataset.size",
        rule=size_rule(),
    )
    cat_max_ratio: float = opt(
        1.0,
        "training: re-draw a crop (up to 10 times, as mmseg) while one class fills more than this fraction of it; 1.0 "
        "turns it off",
        rule=Rule(lambda v: 0 < v <= 1, "must lie in (0, 1]; 1.0 turns it off"),
    )
    val_cities: list[str] = opt(
        [],
        "cityscapes: validate on these train cities instead of the official val split (the original used [ulm, "
        "bremen, aachen])",
        read_by="cityscapes",
        in_eval="user",
    )
    coarse: bool = opt(
        False,
        "cityscapes: add gtCoarse train and train_extra images to the training set (for pre-training)",
        read_by="cityscapes",
    )
    val_fraction: float = opt(
        0.2,
        "kitti, kitti_semantics: fraction of training/ (data_road's, data_semantics') held out for validation, "
        "chosen deterministically",
        read_by=("kitti", "kitti_semantics"),
        in_eval="user",
        rule=Rule(lambda v: 0 < v < 1, "must lie strictly between 0 and 1"),
    )
    train_fraction: float = opt(
        1.0,
        "fraction of the train split that keeps its labels, drawn with train_fraction_seed (semi-supervised "
        "recipes: 0.125 is 1/8; the rest can be the unlabeled source with unlabeled.split: train)",
        on_resume="match",
        rule=Rule(lambda v: 0 < v <= 1, "must lie in (0, 1]"),
    )
    train_fraction_seed: int = opt(
        0, "seed of the train_fraction draw (independent of training.seed)", on_resume="match"
    )
    train_list: Optional[str] = opt(
        None,
        "a text file naming the train images that keep their labels, one per line relative to paths.root "
        "(UniMatch's 'image label' split lines work as they are); null: all, or train_fraction",
        on_resume="match",
    )
    scale_range: list[float] = opt(
        [0.5, 2.0],
        "training: random scale range applied before the crop; [1, 1] turns scaling off",
        rule=Rule(lambda v: len(v) == 2 and 0 < v[0] <= v[1], "must be [min, max] with 0 < min <= max"),
    )
    hflip: bool = opt(True, "training: random horizontal flip")
    color_jitter: float = opt(
        0.2, "training: brightness, contrast and saturation jitter strength; 0 turns it off", rule=not_negative()
    )
    hue_jitter: float = opt(
        0.02,
        "training: hue jitter, as a fraction of the hue circle",
        rule=Rule(lambda v: 0 <= v <= 0.5, "must lie in [0, 0.5]"),
    )
    weather_aug: bool = opt(False, "training: the original's hard augmentations (rain, snow, fog, shadow, sun flare)")
    weather_p: float = opt(
        0.3,
        "training: probability of one weather effect per image when weather_aug is on",
        rule=Rule(lambda v: 0 <= v <= 1, "must lie in [0, 1]"),
    )
    on_bad_file: Literal["stop", "skip"] = opt(
        "stop",
        "before training and eval every file is checked (decodes, sizes match, label values in the table): stop lists "
        "the bad files and stops; skip leaves them out",
    )
    cache: bool = opt(
        True,
        "read the prepared data cache (python -m utils.data.prepare) when one matches the split, size and files; a "
        "stale one is refused",
        in_eval="user",
    )
    cache_dir: Optional[str] = opt(
        None,
        "folder of the prepared data cache; null means <paths.root>/prepared",
        in_eval="user",
        rule=Rule(lambda v: v is None or v.strip() != "", "must be a folder path, or null for <paths.root>/prepared"),
    )


@dataclass(frozen=True)
class CommonModelKeys:
    arch: Literal[tuple(ARCHITECTURES)] = opt(
        "fpn",
        "the architecture, from the registry in models/archs: "
        + "; ".join(f"{name}: {module.SUMMARY}" for name, module in ARCHITECTURES.items()),
        on_resume="match",
    )
    encoder: str = opt(
        "resnext50_32x4d",
        "torchvision resnet18/34/50/101, resnext50_32x4d (alias resnext50), resnext101_32x8d, or tu-<timm name>, e.g. "
        "tu-convnext_tiny",
        on_resume="match",
    )
    encoder_weights: Optional[str] = opt(
        "imagenet",
        "imagenet (torchvision weights API, or timm's default pretrained weights for tu- encoders), the path of a "
        "local .pth/.pt/.bin/.safetensors file of the classification model's state dict, or null for random init",
        on_resume="free",
    )
    dropout: float = opt(
        0.2,
        "Dropout2d probability (FPN: before the head; UNET original preset: on encoder stages)",
        rule=Rule(lambda v: 0 <= v < 1, "must lie in [0, 1)"),
        on_resume="free",
    )


# The model section: the keys every architecture reads, then each architecture's own (models/archs/<arch>.py
# declares them), so that adding an architecture adds its keys without an edit here.
ModelConfig = dataclass(frozen=True)(
    type(
        "ModelConfig",
        (*reversed([module.Keys for module in ARCHITECTURES.values()]), CommonModelKeys),
        {"__doc__": "The ``model`` section: CommonModelKeys and every architecture's Keys.", "__module__": __name__},
    )
)


@dataclass(frozen=True)
class Config:
    target: str = opt(
        "cityscapes",
        "dataset family, a name in the registry utils/data/families: cityscapes, kitti, bdd100k, vistas, folder, "
        "kitti_semantics or camvid",
        on_resume="match",
    )
    paths: PathsConfig = field(default_factory=PathsConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    unlabeled: UnlabeledConfig = field(default_factory=UnlabeledConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    paint: PaintConfig = field(default_factory=PaintConfig)
