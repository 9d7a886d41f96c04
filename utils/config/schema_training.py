"""The ``training`` section of the schema: stages, the schedule, the optimizer, the loss, checkpoints and logging."""

from dataclasses import dataclass
from typing import Literal, Optional

from utils.config.declare import Rule, at_least, not_negative, opt, positive, size_rule


@dataclass(frozen=True)
class StageConfig:
    epochs: int = opt(1, "epochs of this stage", rule=at_least(1))
    size: Optional[list[int]] = opt(None, "[H, W] for this stage; null keeps dataset.size", rule=size_rule())
    batch_size: Optional[int] = opt(
        None,
        "batch size for this stage; null keeps training.batch_size",
        rule=Rule(lambda v: v is None or v >= 1, "must be at least 1 (or null)"),
    )
    lr: Optional[float] = opt(
        None,
        "learning rate for this stage; null keeps training.lr",
        rule=Rule(lambda v: v is None or v > 0, "must be positive (or null)"),
    )


@dataclass(frozen=True)
class TrainingConfig:
    epochs: int = opt(40, "number of epochs (ignored when stages or max_iters is set)", rule=at_least(1))
    max_iters: int = opt(
        0,
        "train for this many optimizer steps instead of epochs (mmseg's unit); validation every val_every_iters and "
        "at the end; 0 uses epochs",
        rule=Rule(lambda v: v >= 0, "must be 0 (use epochs) or positive"),
    )
    batch_size: int = opt(8, "images per step on each process", rule=at_least(1))
    device: Literal["auto", "cpu", "cuda"] = opt("auto", "auto picks cuda when available")
    num_workers: int = opt(4, "data-loading worker processes per training process", rule=not_negative())
    optimizer: Literal["adam", "adamw", "sgd"] = opt(
        "adam", "adam (the original's), adamw, or sgd with momentum", on_resume="match"
    )
    lr: float = opt(1e-3, "peak learning rate", rule=positive())
    weight_decay: float = opt(0.0, "weight decay", rule=not_negative())
    momentum: float = opt(0.9, "sgd momentum", rule=Rule(lambda v: 0 <= v < 1, "must lie in [0, 1)"))
    scheduler: Literal["plateau", "poly", "cosine", "none"] = opt(
        "plateau", "plateau (ReduceLROnPlateau on the key metric, the original's), poly, cosine or none"
    )
    plateau_patience: int = opt(3, "plateau: validations without improvement before the lr drops", rule=not_negative())
    plateau_factor: float = opt(
        0.1,
        "plateau: factor the lr is multiplied by",
        rule=Rule(lambda v: 0 < v < 1, "must lie strictly between 0 and 1"),
    )
    poly_power: float = opt(0.9, "poly: lr = (lr0 - min_lr) * (1 - it / total) ** power + min_lr", rule=positive())
    min_lr: float = opt(0.0, "poly and cosine: the lr the schedule decays to (mmseg's recipes use 1e-4)")
    warmup_iters: int = opt(0, "poly and cosine: linear warmup iterations", rule=not_negative())
    accumulation_steps: int = opt(1, "batches whose gradients are summed before an optimizer step", rule=at_least(1))
    freeze_encoder_iters: int = opt(
        0, "keep the encoder frozen for this many optimizer steps (the original's freeze_n_iters)", rule=not_negative()
    )
    clip_grad_norm: Optional[float] = opt(
        None,
        "clip the gradient norm to this value; null turns clipping off",
        rule=Rule(lambda v: v is None or v > 0, "must be positive, or null to turn clipping off"),
    )
    nonfinite: Literal["stop", "skip"] = opt(
        "stop",
        "a NaN or infinite loss or gradient norm: stop (exit 3, checkpoints untouched) or skip that optimizer step",
    )
    max_nonfinite_steps: int = opt(10, "skip: stop after this many skipped steps", rule=not_negative())
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
    bce_weight: float = opt(
        0.8,
        "weight of the pixel term (BCE or CE); the dice term gets 1 - bce_weight",
        rule=Rule(lambda v: 0 <= v <= 1, "must lie in [0, 1]"),
    )
    class_weights: Optional[list[float]] = opt(
        None,
        "one weight per class for both loss terms; null weighs classes equally",
        rule=Rule(
            lambda v: v is None or (min(v, default=0) >= 0 and max(v, default=0) > 0),
            "must hold non-negative weights, at least one positive",
        ),
    )
    ohem_thresh: Optional[float] = opt(
        None,
        "OHEM on the pixel term, e.g. 0.7: only pixels whose true-class probability is below max(this, the "
        "min_kept-th lowest) count; null: off",
        rule=Rule(lambda v: v is None or 0 < v <= 1, "must lie in (0, 1], or null to turn OHEM off"),
    )
    ohem_min_kept: int = opt(
        100000,
        "OHEM: at least this many of the hardest pixels of each process's batch are kept, when it has more (HRNet's "
        "rule; mmseg counts per image)",
        rule=at_least(1),
    )
    key_metric: Literal["miou", "mean_dice", "loss"] = opt(
        "miou", "validation metric that picks best.pth and drives the plateau scheduler"
    )
    val_every_iters: int = opt(
        0,
        "validate every N optimizer steps as well; 0 validates once per epoch only",
        rule=Rule(lambda v: v >= 0, "must be 0 (per epoch) or positive"),
    )
    iters_per_epoch: int = opt(
        0,
        "cap on training steps per epoch; 0 runs the whole training set",
        rule=Rule(lambda v: v >= 0, "must be 0 (whole epochs) or positive"),
    )
    checkpoint_every_iters: int = opt(
        0,
        "also write last.pth every N optimizer steps, inside an epoch; --resume continues from that exact step; 0 "
        "writes it once per epoch",
        rule=Rule(lambda v: v >= 0, "must be 0 (once per epoch) or positive"),
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
