"""The ``eval`` and ``paint`` sections of the schema: what eval.py and paint_points.py do with a checkpoint.

Every key here is the user's to set for an evaluation (``in_eval="user"``): the checkpoint decides the model.
"""

from dataclasses import dataclass
from typing import Literal, Optional

from utils.config.declare import Rule, at_least, not_negative, opt, positive


@dataclass(frozen=True)
class EvalConfig:
    checkpoint: Optional[str] = opt(
        None, "checkpoint to evaluate; null takes best.pth in paths.output_dir", in_eval="user"
    )
    output_dir: Optional[str] = opt(
        None, "where metrics, pictures and videos go; null means <paths.output_dir>/eval", in_eval="user"
    )
    split: Literal["val", "test", "train", "all"] = opt(
        "val",
        "split to score (all: every labelled image, e.g. KITTI's whole training/ as the devkit scores it); test is "
        "scored like val where the dataset labels it (camvid's testannot/, a folder's labels/test/), else predicted "
        "without labels (the original's test_mode)",
        in_eval="user",
    )
    input: Optional[str] = opt(
        None, "a folder of images or a video file to predict on instead of a split", in_eval="user"
    )
    pseudo_label_threshold: Optional[float] = opt(
        None,
        "with eval.input: also write <eval output>/pseudo_labels/ (images, label files in the checkpoint's dataset "
        "encoding, classes.yaml: the folder family's layout) for review; pixels whose confidence (the max merged "
        "probability) is below this, or that DropClusters changed, get the ignore value; null writes none",
        in_eval="user",
        rule=Rule(lambda v: v is None or 0 < v <= 1, "must be null (off) or lie in (0, 1], e.g. 0.9"),
    )
    tta: Literal["none", "hflip", "vflip", "hvflip", "multiscale"] = opt(
        "none", "test-time augmentation (the original's apply_tta)", in_eval="user"
    )
    tta_scales: list[float] = opt(
        [0.75, 1.0, 1.25],
        "multiscale: input scales relative to dataset.size",
        in_eval="user",
        rule=Rule(lambda v: len(v) > 0 and min(v) > 0, "must be a non-empty list of positive scales"),
    )
    tta_flip: bool = opt(True, "multiscale: add a horizontal flip at each scale", in_eval="user")
    merge: Literal["mean", "gmean", "tsharpen"] = opt("mean", "how TTA probabilities are merged", in_eval="user")
    tsharpen_t: float = opt(0.5, "tsharpen: the power t in (p_1^t + ... + p_N^t) / N", in_eval="user", rule=positive())
    drop_clusters: int = opt(
        0,
        "DropClusters: replace connected components smaller than this many pixels; 0 turns it off",
        in_eval="user",
        rule=Rule(lambda v: v >= 0, "must be 0 (off) or a positive pixel count"),
    )
    drop_clusters_fill: str = opt(
        "majority",
        "what replaces a dropped cluster: majority (surrounding class), ignore, or a class name",
        in_eval="user",
    )
    inference: Literal["resize", "slide"] = opt(
        "resize",
        "resize: the whole image at dataset.size; slide: dataset.crop_size windows over the image at dataset.size",
        in_eval="user",
    )
    slide_overlap: float = opt(
        0.33,
        "slide: overlap between neighbouring windows",
        in_eval="user",
        rule=Rule(lambda v: 0 <= v <= 0.9, "must lie in [0, 0.9] (higher means thousands of windows per image)"),
    )
    batch_size: int = opt(4, "images per inference batch", in_eval="user", rule=at_least(1))
    num_workers: int = opt(2, "data-loading worker processes", in_eval="user", rule=not_negative())
    device: Literal["auto", "cpu", "cuda"] = opt("auto", "auto picks cuda when available", in_eval="user")
    backend: Literal["pytorch", "onnxruntime"] = opt(
        "pytorch",
        "pytorch runs the checkpoint; onnxruntime runs eval.onnx (written by export.py) through the same TTA, "
        "DropClusters and metrics",
        in_eval="user",
    )
    onnx: Optional[str] = opt(
        None,
        "onnxruntime backend: the exported model; null takes model.onnx beside the checkpoint (export.py's default)",
        in_eval="user",
    )
    amp: bool = opt(True, "bf16 autocast on CUDA (pytorch backend)", in_eval="user")
    overlay: bool = opt(True, "save prediction overlays on the input (the original's images_morphing)", in_eval="user")
    overlay_alpha: float = opt(
        0.5,
        "opacity of the colorized prediction in overlays",
        in_eval="user",
        rule=Rule(lambda v: 0 <= v <= 1, "must lie in [0, 1]"),
    )
    max_images: int = opt(
        20, "prediction pictures saved; -1 saves all (official-format PNGs are always all)", in_eval="user"
    )
    report_worst: int = opt(
        12,
        "report.html and worst/: the images with the lowest per-image mIoU, drawn as input | ground truth | "
        "prediction | error map; 0 draws none",
        in_eval="user",
        rule=Rule(lambda v: v >= 0, "must be 0 (no panels) or a number of images"),
    )
    video_fps: float = opt(17.0, "frame rate of videos made from frame folders", in_eval="user", rule=positive())
    official: bool = opt(
        True,
        "cityscapes classes mode on val: also run cityscapesscripts' official evaluator on the exports and print its "
        "mIoU",
        in_eval="user",
    )


@dataclass(frozen=True)
class PaintConfig:
    root: Optional[str] = opt(
        None,
        "folder of KITTI frames paint_points.py paints, its layout recognised: the road benchmark (holding "
        "data_road/), the object benchmark (holding training/ and testing/) or raw recordings (a drive, a date "
        "folder or the folder of dates); null takes paths.root",
        in_eval="user",
    )
    split: Literal["training", "testing"] = opt(
        "training", "which split of the road or object benchmark to paint (a raw recording has none)", in_eval="user"
    )
    output_dir: Optional[str] = opt(
        None,
        "where painted/, labels/, ply/, clusters/, pictures and paint_metrics.json go; null means "
        "<paths.output_dir>/paint",
        in_eval="user",
    )
    object_classes: Optional[list[str]] = opt(
        None, "classes clustered into objects; null takes the model's vehicle and human classes", in_eval="user"
    )
    eps: float = opt(
        0.5,
        "DBSCAN eps: the largest gap in metres between two points of one object",
        in_eval="user",
        rule=Rule(lambda v: v > 0, "must be a positive distance in metres, e.g. 0.5"),
    )
    min_samples: int = opt(
        5, "DBSCAN min_samples: points within eps that make a point a core point", in_eval="user", rule=at_least(1)
    )
    max_pictures: int = opt(20, "frames that get the camera and bird's-eye-view pictures; -1 draws all", in_eval="user")
    video: bool = opt(
        False, "also write painted_points.mp4 of the camera pictures, one frame per scan in name order", in_eval="user"
    )
