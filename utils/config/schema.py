"""The configuration schema: every key once, with its default and a one-line meaning.

Sections mirror the original project's train_config.yaml: target, paths, dataset, model, training, eval.
The README's configuration reference is generated from the help texts here.
"""

from dataclasses import dataclass, field
from typing import Literal, Optional, Union


def opt(default, help_text: str, free_on_resume: bool = False):
    """Declares a config key: its default and the one-line help shown in the README reference.

    ``free_on_resume`` marks a model key that ``--resume`` may change; every other model key must match last.pth.
    """
    metadata = {"help": help_text, "free_on_resume": free_on_resume}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class PathsConfig:
    root: str = opt(
        "data/cityscapes",
        "dataset root, as the target family lays it out: Cityscapes' leftImg8bit/ and gtFine/, KITTI's data_road/, "
        "bdd100k/, Vistas' config_v2.0.json, a folder's classes.yaml",
    )
    output_dir: str = opt(
        "runs/cityscapes_fpn_categories",
        "run folder: config.yaml, checkpoints, tensorboard/, train.log, metrics.json, curves.png",
    )


@dataclass(frozen=True)
class DatasetConfig:
    labels: Union[None, str, list[str]] = opt(
        None,
        "label mode, checked by the target's family; null is its default: cityscapes categories (default) | road | "
        "classes | a list of label names; "
        "kitti road (default) | lane; bdd100k classes (default) | categories; vistas v2.0 (default) | v1.2; folder "
        "classes (classes.yaml)",
    )
    unlabeled_class: bool = opt(
        False, "classes mode: train 'unlabeled' as a 20th class instead of ignoring void pixels"
    )
    size: list[int] = opt(
        [512, 1024], "[H, W] the images are resized to for training (the scale at ratio 1) and inference"
    )
    crop_size: Optional[list[int]] = opt(
        None,
        "training: [H, W] crops of the randomly scaled image, padded with ignore where it is smaller; null: the crop "
        "is dataset.size",
    )
    cat_max_ratio: float = opt(
        1.0,
        "training: re-draw a crop (up to 10 times, as mmseg) while one class fills more than this fraction of it; 1.0 "
        "turns it off",
    )
    val_cities: list[str] = opt(
        [],
        "cityscapes: validate on these train cities instead of the official val split (the original used [ulm, "
        "bremen, aachen])",
    )
    coarse: bool = opt(
        False, "cityscapes: add gtCoarse train and train_extra images to the training set (for pre-training)"
    )
    val_fraction: float = opt(
        0.2, "kitti: fraction of data_road/training held out for validation, chosen deterministically"
    )
    scale_range: list[float] = opt(
        [0.5, 2.0], "training: random scale range applied before the crop; [1, 1] turns scaling off"
    )
    hflip: bool = opt(True, "training: random horizontal flip")
    color_jitter: float = opt(0.2, "training: brightness, contrast and saturation jitter strength; 0 turns it off")
    hue_jitter: float = opt(0.02, "training: hue jitter, as a fraction of the hue circle")
    weather_aug: bool = opt(False, "training: the original's hard augmentations (rain, snow, fog, shadow, sun flare)")
    weather_p: float = opt(0.3, "training: probability of one weather effect per image when weather_aug is on")
    on_bad_file: Literal["stop", "skip"] = opt(
        "stop",
        "before training and eval every file is checked (decodes, sizes match, label values in the table): stop lists "
        "the bad files and stops; skip leaves them out",
    )
    cache: bool = opt(
        True,
        "read the prepared data cache (python -m utils.data.prepare) when one matches the split, size and files; a "
        "stale one is refused",
    )
    cache_dir: Optional[str] = opt(None, "folder of the prepared data cache; null means <paths.root>/prepared")


@dataclass(frozen=True)
class ModelConfig:
    arch: Literal["fpn", "unet"] = opt("fpn", "fpn (Panoptic-FPN semantic head) or unet")
    encoder: str = opt(
        "resnext50_32x4d",
        "torchvision resnet18/34/50/101, resnext50_32x4d (alias resnext50), resnext101_32x8d, or tu-<timm name>, e.g. "
        "tu-convnext_tiny",
    )
    encoder_weights: Optional[str] = opt(
        "imagenet",
        "imagenet (torchvision weights API, or timm's default pretrained weights for tu- encoders), the path of a "
        "local .pth/.pt/.bin/.safetensors file of the classification model's state dict, or null for random init",
        free_on_resume=True,
    )
    dropout: float = opt(
        0.2,
        "Dropout2d probability (FPN: before the head; UNET original preset: on encoder stages)",
        free_on_resume=True,
    )
    fpn_merge: Literal["add", "cat"] = opt("add", "fpn: how the four upsampled pyramid levels are merged")
    fpn_pyramid_channels: int = opt(256, "fpn: channels of the feature pyramid")
    fpn_segmentation_channels: int = opt(128, "fpn: channels of the segmentation branches")
    unet_preset: Literal["light", "original"] = opt(
        "light",
        "unet: light (smp-style decoder) or original (the original project's TernausNet decoder: 58.1M params with "
        "resnext50, printed as 81.1M by the original)",
    )
    unet_decoder_channels: list[int] = opt(
        [256, 128, 64, 32, 16], "unet light: widths of the five decoder blocks, deepest first"
    )
    unet_num_filters: int = opt(32, "unet original: num_filters of the TernausNet decoder")
    unet_res_blocks: bool = opt(
        False,
        "unet original: residual blocks inside the decoder blocks (69.0M params with resnext50, printed as 92.0M by "
        "the original)",
    )


@dataclass(frozen=True)
class StageConfig:
    epochs: int = opt(1, "epochs of this stage")
    size: Optional[list[int]] = opt(None, "[H, W] for this stage; null keeps dataset.size")
    batch_size: Optional[int] = opt(None, "batch size for this stage; null keeps training.batch_size")
    lr: Optional[float] = opt(None, "learning rate for this stage; null keeps training.lr")


@dataclass(frozen=True)
class TrainingConfig:
    epochs: int = opt(40, "number of epochs (ignored when stages or max_iters is set)")
    max_iters: int = opt(
        0,
        "train for this many optimizer steps instead of epochs (mmseg's unit); validation every val_every_iters and "
        "at the end; 0 uses epochs",
    )
    batch_size: int = opt(8, "images per step on each process")
    device: Literal["auto", "cpu", "cuda"] = opt("auto", "auto picks cuda when available")
    num_workers: int = opt(4, "data-loading worker processes per training process")
    optimizer: Literal["adam", "adamw", "sgd"] = opt("adam", "adam (the original's), adamw, or sgd with momentum")
    lr: float = opt(1e-3, "peak learning rate")
    weight_decay: float = opt(0.0, "weight decay")
    momentum: float = opt(0.9, "sgd momentum")
    scheduler: Literal["plateau", "poly", "cosine", "none"] = opt(
        "plateau", "plateau (ReduceLROnPlateau on the key metric, the original's), poly, cosine or none"
    )
    plateau_patience: int = opt(3, "plateau: validations without improvement before the lr drops")
    plateau_factor: float = opt(0.1, "plateau: factor the lr is multiplied by")
    poly_power: float = opt(0.9, "poly: lr = (lr0 - min_lr) * (1 - it / total) ** power + min_lr")
    min_lr: float = opt(0.0, "poly and cosine: the lr the schedule decays to (mmseg's recipes use 1e-4)")
    warmup_iters: int = opt(0, "poly and cosine: linear warmup iterations")
    accumulation_steps: int = opt(1, "batches whose gradients are summed before an optimizer step")
    freeze_encoder_iters: int = opt(
        0, "keep the encoder frozen for this many optimizer steps (the original's freeze_n_iters)"
    )
    clip_grad_norm: Optional[float] = opt(None, "clip the gradient norm to this value; null turns clipping off")
    nonfinite: Literal["stop", "skip"] = opt(
        "stop",
        "a NaN or infinite loss or gradient norm: stop (exit 3, checkpoints untouched) or skip that optimizer step",
    )
    max_nonfinite_steps: int = opt(10, "skip: stop after this many skipped steps")
    amp: Literal["none", "bf16", "fp16"] = opt(
        "bf16", "mixed precision on CUDA (ignored on CPU); fp16 uses a gradient scaler"
    )
    channels_last: bool = opt(True, "channels_last memory format on CUDA")
    cudnn_benchmark: bool = opt(True, "let cuDNN pick the fastest kernels (off in deterministic mode)")
    compile: bool = opt(False, "torch.compile the model")
    sync_bn: bool = opt(True, "multi-GPU: convert BatchNorm to SyncBatchNorm")
    seed: int = opt(42, "seed for weights, sampling and augmentation")
    deterministic: bool = opt(
        False,
        "deterministic algorithms: bit-exact runs and resumes on CPU; on CUDA, deterministic kernels where PyTorch "
        "has them (a warning names the others)",
    )
    loss: Literal["bce_dice", "ce_dice"] = opt(
        "bce_dice", "bce_dice (per-class BCE + soft dice, the original's) or ce_dice (softmax CE + soft dice)"
    )
    bce_weight: float = opt(0.8, "weight of the pixel term (BCE or CE); the dice term gets 1 - bce_weight")
    class_weights: Optional[list[float]] = opt(
        None, "one weight per class for both loss terms; null weighs classes equally"
    )
    ohem_thresh: Optional[float] = opt(
        None,
        "OHEM on the pixel term, e.g. 0.7: only pixels whose true-class probability is below max(this, the "
        "min_kept-th lowest) count; null: off",
    )
    ohem_min_kept: int = opt(
        100000,
        "OHEM: at least this many of the hardest pixels of each process's batch are kept, when it has more (HRNet's "
        "rule; mmseg counts per image)",
    )
    key_metric: Literal["miou", "mean_dice", "loss"] = opt(
        "miou", "validation metric that picks best.pth and drives the plateau scheduler"
    )
    val_every_iters: int = opt(0, "validate every N optimizer steps as well; 0 validates once per epoch only")
    iters_per_epoch: int = opt(0, "cap on training steps per epoch; 0 runs the whole training set")
    checkpoint_every_iters: int = opt(
        0,
        "also write last.pth every N optimizer steps, inside an epoch; --resume continues from that exact step; 0 "
        "writes it once per epoch",
    )
    log_every_iters: int = opt(20, "steps between TensorBoard scalar writes")
    tb_images: int = opt(4, "fixed val images drawn into TensorBoard each validation")
    init_from: Optional[str] = opt(
        None, "checkpoint whose weights start this run; a head of another class count is re-initialised"
    )
    stages: list[StageConfig] = opt(
        [],
        "multi-stage training: a list of {epochs, size, batch_size, lr}, each starting from the previous stage's "
        "weights",
    )


@dataclass(frozen=True)
class EvalConfig:
    checkpoint: Optional[str] = opt(None, "checkpoint to evaluate; null takes best.pth in paths.output_dir")
    output_dir: Optional[str] = opt(None, "where metrics, pictures and videos go; null means <paths.output_dir>/eval")
    split: Literal["val", "test", "train", "all"] = opt(
        "val",
        "labelled split for metrics (all: every labelled image, e.g. KITTI's whole training/ as the devkit scores "
        "it), or test to predict without labels (the original's test_mode)",
    )
    input: Optional[str] = opt(None, "a folder of images or a video file to predict on instead of a split")
    tta: Literal["none", "hflip", "vflip", "hvflip", "multiscale"] = opt(
        "none", "test-time augmentation (the original's apply_tta)"
    )
    tta_scales: list[float] = opt([0.75, 1.0, 1.25], "multiscale: input scales relative to dataset.size")
    tta_flip: bool = opt(True, "multiscale: add a horizontal flip at each scale")
    merge: Literal["mean", "gmean", "tsharpen"] = opt("mean", "how TTA probabilities are merged")
    tsharpen_t: float = opt(0.5, "tsharpen: the power t in (p_1^t + ... + p_N^t) / N")
    drop_clusters: int = opt(
        0, "DropClusters: replace connected components smaller than this many pixels; 0 turns it off"
    )
    drop_clusters_fill: str = opt(
        "majority", "what replaces a dropped cluster: majority (surrounding class), ignore, or a class name"
    )
    inference: Literal["resize", "slide"] = opt(
        "resize",
        "resize: the whole image at dataset.size; slide: dataset.crop_size windows over the image at dataset.size",
    )
    slide_overlap: float = opt(0.33, "slide: overlap between neighbouring windows")
    batch_size: int = opt(4, "images per inference batch")
    num_workers: int = opt(2, "data-loading worker processes")
    device: Literal["auto", "cpu", "cuda"] = opt("auto", "auto picks cuda when available")
    backend: Literal["pytorch", "onnxruntime"] = opt(
        "pytorch",
        "pytorch runs the checkpoint; onnxruntime runs eval.onnx (written by export.py) through the same TTA, "
        "DropClusters and metrics",
    )
    onnx: Optional[str] = opt(
        None,
        "onnxruntime backend: the exported model; null takes model.onnx beside the checkpoint (export.py's default)",
    )
    amp: bool = opt(True, "bf16 autocast on CUDA (pytorch backend)")
    overlay: bool = opt(True, "save prediction overlays on the input (the original's images_morphing)")
    overlay_alpha: float = opt(0.5, "opacity of the colorized prediction in overlays")
    max_images: int = opt(20, "prediction pictures saved; -1 saves all (official-format PNGs are always all)")
    report_worst: int = opt(
        12,
        "report.html and worst/: the images with the lowest per-image mIoU, drawn as input | ground truth | "
        "prediction | error map; 0 draws none",
    )
    video_fps: float = opt(17.0, "frame rate of videos made from frame folders")
    official: bool = opt(
        True,
        "cityscapes classes mode on val: also run cityscapesscripts' official evaluator on the exports and print its "
        "mIoU",
    )


@dataclass(frozen=True)
class PaintConfig:
    root: Optional[str] = opt(
        None,
        "folder holding data_road/ (image_2, calib, velodyne) whose frames paint_points.py paints; null takes "
        "paths.root",
    )
    split: Literal["training", "testing"] = opt("training", "which data_road split to paint")
    output_dir: Optional[str] = opt(
        None,
        "where painted/, labels/, ply/, clusters/, pictures and paint_metrics.json go; null means "
        "<paths.output_dir>/paint",
    )
    object_classes: Optional[list[str]] = opt(
        None, "classes clustered into objects; null takes the model's vehicle and human classes"
    )
    eps: float = opt(0.5, "DBSCAN eps: the largest gap in metres between two points of one object")
    min_samples: int = opt(5, "DBSCAN min_samples: points within eps that make a point a core point")
    max_pictures: int = opt(20, "frames that get the camera and bird's-eye-view pictures; -1 draws all")
    video: bool = opt(False, "also write painted_points.mp4 of the camera pictures, one frame per scan in name order")


@dataclass(frozen=True)
class Config:
    target: str = opt(
        "cityscapes",
        "dataset family, a name in the registry utils/data/families: cityscapes, kitti, bdd100k, vistas or folder",
    )
    paths: PathsConfig = field(default_factory=PathsConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    paint: PaintConfig = field(default_factory=PaintConfig)
