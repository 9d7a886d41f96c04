"""Builds what a training run needs from its config: device, labels, model (with init_from), loss, and the unlabelled
images of semi-supervised training."""

from dataclasses import dataclass, replace
from typing import Optional

import torch

from models.registry import build_model_from_config, count_parameters, describe, training_loss
from utils.checkpoint import Checkpoint, transfer_weights
from utils.data.loaders import build_dataset, build_loader
from utils.data.source_mix import MixedSourceDataset
from utils.data.sources import has_sources, run_labels, training_sources
from utils.data.unlabeled import describe_source, unlabeled_batch_size, unlabeled_items
from utils.distributed import get_rank, get_world_size
from utils.labels import LabelSet
from utils.losses import build_loss
from utils.runtime import amp_dtype, memory_format, seed_everything
from utils.training.stages import plan_stages


@dataclass
class TrainingParts:
    device: torch.device
    labels: LabelSet
    model: torch.nn.Module
    criterion: torch.nn.Module
    amp_dtype: object
    # split -> the checked files to train and validate on; with dataset.sources, split -> {source name: files}
    items: dict
    config_saved: bool  # False on a resume: config.yaml is rewritten with the first last.pth
    unlabeled: Optional[list] = None  # the unlabelled images of semi-supervised training (utils.data.unlabeled)


def build_training_parts(cfg, device: torch.device, log, items: dict, resume: bool = False) -> TrainingParts:
    """``items``: the checked files per split; ``resume``: last.pth will overwrite the weights, so init_from is not read."""
    t = cfg.training
    seed_everything(t.seed, t.deterministic, t.cudnn_benchmark)
    labels = run_labels(cfg)
    # A resume overwrites every weight: no ImageNet download, so an offline machine can continue its run.
    model = build_model_from_config(
        replace(cfg.model, encoder_weights=None) if resume else cfg.model, labels.num_classes
    )
    if t.init_from and not resume:
        start = Checkpoint.load(t.init_from)
        fresh = transfer_weights(model, start.model)
        log.info(
            f"init_from {t.init_from}: loaded {len(model.state_dict()) - len(fresh)} tensors; re-initialised "
            f"{len(fresh)}" + (f" ({', '.join(fresh[:4])}{', ...' if len(fresh) > 4 else ''})" if fresh else "")
        )
        names = start.class_names
        if names is not None and len(names) == labels.num_classes and list(names) != list(labels.names):
            log.warning(
                f"warning: init_from's {len(names)} classes ({', '.join(names[:4])}, ...) are not this run's "
                f"({', '.join(labels.names[:4])}, ...), but as many: the head's weights were copied class by position. "
                "Fine when the classes correspond in order; otherwise the head starts from the wrong classes."
            )
    # Weights start equal everywhere (DDP broadcasts rank 0's anyway); dropout must differ per process.
    torch.manual_seed(t.seed + get_rank())
    if get_world_size() > 1 and t.sync_bn and device.type == "cuda":
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model = model.to(device, memory_format=memory_format(device, t.channels_last))
    pixel_loss = build_loss(t.loss, labels.num_classes, t.bce_weight, t.class_weights, t.ohem_thresh, t.ohem_min_kept)
    criterion = training_loss(cfg.model, pixel_loss).to(device)  # plus the architecture's auxiliary outputs
    dtype = amp_dtype(device, t.amp)
    log.info(
        f"model {describe(cfg.model)} ({cfg.model.encoder_weights or 'random init'}): "
        f"{count_parameters(model):,} parameters, "
        f"{labels.num_classes} classes ({', '.join(labels.names)}); device {device}, amp {dtype or 'off'}, loss "
        f"{t.loss}"
        + (
            f" with OHEM (thresh {t.ohem_thresh:g}, min_kept {t.ohem_min_kept} per process)"
            if t.ohem_thresh is not None
            else ""
        )
    )
    if t.freeze_encoder_iters and cfg.model.encoder_weights is None:
        log.warning(
            f"warning: training.freeze_encoder_iters={t.freeze_encoder_iters} with model.encoder_weights: null "
            "freezes random weights; set freeze_encoder_iters: 0 or use imagenet weights."
        )
    unlabeled = None
    if cfg.unlabeled.enabled:
        batch = max(unlabeled_batch_size(cfg.unlabeled.ratio, stage.batch_size) for stage in plan_stages(cfg))
        labelled = items.get("train", [])
        labelled = [item for part in labelled.values() for item in part] if isinstance(labelled, dict) else labelled
        unlabeled = unlabeled_items(cfg, labelled, batch * get_world_size(), log)
        log.info(describe_source(cfg, len(unlabeled)))
    return TrainingParts(device, labels, model, criterion, dtype, items, config_saved=not resume, unlabeled=unlabeled)


def build_stage_loaders(cfg, labels: LabelSet, items: dict, size, batch_size: int, device: torch.device) -> tuple:
    """(train loader, {source name: val loader}) at a stage's size and batch size, sharded over the processes.

    Without ``dataset.sources`` the one val loader's name is None; with them, the train loader mixes the sources by
    weight (utils/data/source_mix.py) and each source is validated on its own val split.
    """
    rank, world, pin = get_rank(), get_world_size(), device.type == "cuda"
    t = cfg.training

    def loader(dataset, train: bool):
        return build_loader(dataset, batch_size, t.num_workers, train, t.seed, rank, world, pin)

    if not has_sources(cfg):
        train_set = build_dataset(cfg, labels, "train", "train", size, items=items.get("train"))
        val_set = build_dataset(cfg, labels, "val", "val", size, items=items.get("val"))
        return loader(train_set, True), {None: loader(val_set, False)}
    sources = training_sources(cfg)
    train_sets = [build_dataset(s.cfg, s.labels, "train", "train", size, items=items["train"][s.name]) for s in sources]
    mixed = MixedSourceDataset(train_sets, [s.name for s in sources], [s.weight for s in sources])
    val_loaders = {
        s.name: loader(build_dataset(s.cfg, s.labels, "val", "val", size, items=items["val"][s.name]), False)
        for s in sources
    }
    return loader(mixed, True), val_loaders
