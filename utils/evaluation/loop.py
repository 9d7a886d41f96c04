"""eval.py's work on a split or a folder: predictions at ground-truth resolution, DropClusters, metrics, outputs."""

import torch
from tqdm import tqdm

from utils.data.checks import checked_items
from utils.data.loaders import build_dataset, build_loader, folder_items
from utils.data.transforms import denormalize, training_crop
from utils.evaluation.outputs import PredictionWriter
from utils.evaluation.per_image import PerImage
from utils.evaluation.predict import pipelined
from utils.evaluation.pseudo_labels import pseudo_label_writer
from utils.evaluation.results import results_writer
from utils.metrics import ConfusionMatrix, format_table
from utils.visualize import plot_confusion_matrix, save_rgb


def _loader(setup, split: str, items: list, folder: bool):
    """Images resized to dataset.size, the training scale, for whole-image and sliding-window inference alike."""
    cfg = setup.cfg
    purpose = "predict" if folder or not setup.family.has_labels(split) else "eval"
    dataset = build_dataset(cfg, setup.labels, split, purpose, size=cfg.dataset.size, items=items, use_cache=not folder)
    return build_loader(dataset, cfg.eval.batch_size, cfg.eval.num_workers, train=False)


def run_evaluation(setup, log, split: str = None, folder=None) -> dict:
    """Predicts every image of ``split`` (or of ``folder``) and writes pictures, the results in the dataset
    family's own encoding, per_image.csv, the worst images' panels and the confusion-matrix plot.

    The device predicts batch i + 1 while DropClusters runs on batch i (utils/evaluation/predict.py); only
    uint8 class maps come back to the CPU. Returns the metrics dict (empty without labels); eval.py adds
    the official check, writes metrics.json and the report.
    """
    cfg, labels = setup.cfg, setup.labels
    split = split or cfg.eval.split
    items = folder_items(folder) if folder is not None else checked_items(cfg, (split,), log)[split]
    loader = _loader(setup, split, items, folder is not None)
    n = labels.num_classes
    cm_raw = ConfusionMatrix(n, device=setup.device) if cfg.eval.drop_clusters > 0 else None
    cm_final = ConfusionMatrix(n, device=setup.device)
    results = results_writer(setup, log, None if folder is not None else split)
    pseudo = pseudo_label_writer(setup) if folder is not None else None
    # One reduce per batch: the pseudo-labels' confidence, else the results' (KITTI's road confidence; a KITTI
    # checkpoint writes no pseudo-labels, so the two never meet).
    reduce = pseudo.reduce if pseudo is not None else getattr(results, "reduce", None)
    writer = PredictionWriter(setup, video=folder is not None)
    per_image = PerImage(labels.names, labels.palette(), cfg.eval.report_worst)
    labelled = False

    def submit(batch):
        return setup.step.submit(batch["image"], batch["original_size"].tolist(), reduce)

    # On an error midway the pictures so far stay, predictions.mp4 is closed playable, DropClusters' threads end.
    try:
        for batch, predictions in pipelined(setup.step, tqdm(loader, desc="eval", dynamic_ncols=True), submit):
            pictures = denormalize(batch["image"])
            for k, (name, prediction) in enumerate(zip(batch["name"], predictions)):
                item = loader.dataset.items[int(batch["index"][k])]
                gt = None
                if "mask" in batch:
                    labelled = True
                    gt = batch["mask"][k]
                    if cm_raw is not None:
                        cm_raw.update(prediction.raw_on_device, gt)
                    final = (
                        prediction.raw_on_device
                        if prediction.final is prediction.raw
                        else torch.from_numpy(prediction.final)
                    )
                    per_image.add(name, cm_final.update(final, gt), pictures[k], prediction.final, gt.numpy())
                    gt = gt.numpy()
                if results is not None:
                    results.add(item, prediction.final, gt, prediction.extra)
                if pseudo is not None:
                    pseudo.add(item.image.relative_to(folder), item.image, prediction)
                writer.write(name, pictures[k], prediction.final, gt)
            per_image.flush()
    finally:
        setup.step.close()
        writer.close()
    setup.pictures = writer.overlays
    # Not in the finally: closing the results completes them (KITTI's submission zip of the test split), which a
    # run that stopped midway must not do; they hold no open file between images.
    if results is not None:
        results.close()
    if pseudo is not None:
        pseudo.report(log)
    if not labelled:
        log.info(f"wrote predictions for {writer.count} images to {setup.output_dir}")
        return {}
    return _report(setup, log, split, cm_raw, cm_final, results, writer, per_image)


def _report(setup, log, split, cm_raw, cm_final, results, writer, per_image) -> dict:
    cfg, labels = setup.cfg, setup.labels
    metrics = cm_final.compute(labels.names, labels.void_classes)
    metrics.update(
        {
            "split": split,
            "images": writer.count,
            "checkpoint": str(setup.checkpoint),
            "target": cfg.target,
            "tta": cfg.eval.tta,
            "merge": cfg.eval.merge,
            "inference": cfg.eval.inference,
            "input_size": list(cfg.dataset.size),
            "window": training_crop(cfg.dataset) if cfg.eval.inference == "slide" else None,
            "drop_clusters": cfg.eval.drop_clusters,
            "drop_clusters_fill": cfg.eval.drop_clusters_fill,
            "backend": cfg.eval.backend,
            "class_mapping": setup.mapping.to_dict(setup.checkpoint_names) if setup.mapping is not None else None,
        }
    )
    if cm_raw is not None:
        metrics["without_drop_clusters"] = cm_raw.compute(labels.names, labels.void_classes)
    if results is not None:
        metrics.update(results.metrics())
    metrics["confusion_matrix"] = cm_final.matrix.cpu().tolist()
    plot_confusion_matrix(cm_final.matrix.cpu().numpy(), labels.names, setup.output_dir / "confusion_matrix.png")
    per_image.write_csv(setup.output_dir / "per_image.csv")
    log.info(
        f"\n{split} split, {writer.count} images, at ground-truth resolution"
        + (f", DropClusters {cfg.eval.drop_clusters}" if cfg.eval.drop_clusters else "")
        + ":\n"
        + format_table(metrics)
    )
    if "without_drop_clusters" in metrics:
        raw = metrics["without_drop_clusters"]
        log.info(
            f"without DropClusters: mIoU {raw['miou']:.4f}, mean dice {raw['mean_dice']:.4f}, pixel acc "
            f"{raw['pixel_acc']:.4f}"
        )
    if results is not None:
        results.report(metrics, split, log)
    worst = per_image.lowest(5)
    if worst:
        log.info(
            "lowest per-image mIoU (per_image.csv has every image): "
            + ", ".join(f"{name} {miou:.4f}" for name, miou in worst)
        )
    _write_worst(setup.output_dir / "worst", per_image.worst_images())
    log.info(f"metrics.json, per_image.csv, confusion_matrix.png and pictures in {setup.output_dir}")
    return metrics


def _write_worst(folder, worst: list) -> None:
    """``worst/<rank>_<name>.png``: input | ground truth | prediction | error map, lowest per-image mIoU first."""
    if folder.is_dir():
        for old in folder.glob("*.png"):  # an earlier eval's panels would be read as this one's
            old.unlink()
    for rank, (name, _, panel) in enumerate(worst, 1):
        save_rgb(folder / f"{rank:02d}_{name}.png", panel)
