"""eval.py's work on a split or a folder: predictions at ground-truth resolution, DropClusters, metrics, outputs."""

import torch
from tqdm import tqdm

from utils.data import build_dataset, build_loader, folder_items
from utils.data.checks import checked_items
from utils.data.transforms import denormalize
from utils.evaluation.drop_clusters import drop_clusters
from utils.evaluation.inference import upsample_to
from utils.evaluation.outputs import PredictionWriter
from utils.evaluation.tta import predict_with_tta
from utils.metrics import ConfusionMatrix, format_table
from utils.visualize import plot_confusion_matrix


def _loader(setup, split: str, items: list, folder: bool):
    """Images resized to dataset.size, the training scale, for whole-image and sliding-window inference alike."""
    cfg = setup.cfg
    purpose = "predict" if folder or split == "test" else "eval"
    dataset = build_dataset(cfg, setup.labels, split, purpose, size=cfg.dataset.size, items=items, use_cache=not folder)
    return build_loader(dataset, cfg.eval.batch_size, cfg.eval.num_workers, train=False)


def run_evaluation(setup, log, split: str = None, folder=None) -> dict:
    """Predicts every image of ``split`` (or of ``folder``) and writes pictures, the results in the dataset
    family's own encoding and the confusion-matrix plot.

    Returns the metrics dict (empty without labels); eval.py adds the official check and writes it.
    """
    cfg, labels = setup.cfg, setup.labels
    split = split or cfg.eval.split
    items = folder_items(folder) if folder is not None else checked_items(cfg, (split,), log)[split]
    loader = _loader(setup, split, items, folder is not None)
    n = labels.num_classes
    dropping = cfg.eval.drop_clusters > 0
    cm_raw = ConfusionMatrix(n, device=setup.device) if dropping else None
    cm_final = ConfusionMatrix(n, device=setup.device)
    results = setup.family.results(setup, log, None if folder is not None else split)
    writer = PredictionWriter(setup, video=folder is not None)
    labelled = False
    for batch in tqdm(loader, desc="eval", dynamic_ncols=True):
        probs = predict_with_tta(setup.predictor, batch["image"], setup.views, cfg.eval.merge, cfg.eval.tsharpen_t)
        pictures = denormalize(batch["image"])
        for k, name in enumerate(batch["name"]):
            item = loader.dataset.items[int(batch["index"][k])]
            size = batch["original_size"][k].tolist()
            p = upsample_to(probs[k], size)
            pred = p.argmax(0).byte().cpu().numpy()
            final = drop_clusters(pred, cfg.eval.drop_clusters, setup.drop_fill, n) if dropping else pred
            gt = None
            if "mask" in batch:
                labelled = True
                gt = batch["mask"][k]
                if dropping:
                    cm_raw.update(torch.from_numpy(pred), gt)
                cm_final.update(torch.from_numpy(final), gt)
            if results is not None:
                results.add(item, p, final, None if gt is None else gt.numpy())
            writer.write(name, pictures[k], final, None if gt is None else gt.numpy())
    writer.close()
    if results is not None:
        results.close()
    if not labelled:
        log.info(f"wrote predictions for {writer.count} images to {setup.output_dir}")
        return {}
    return _report(setup, log, split, cm_raw, cm_final, results, writer)


def _report(setup, log, split, cm_raw, cm_final, results, writer) -> dict:
    cfg, labels = setup.cfg, setup.labels
    metrics = cm_final.compute(labels.names, labels.void_classes)
    metrics.update(
        {
            "split": split,
            "images": writer.count,
            "checkpoint": str(setup.checkpoint),
            "tta": cfg.eval.tta,
            "merge": cfg.eval.merge,
            "inference": cfg.eval.inference,
            "input_size": list(cfg.dataset.size),
            "window": list(cfg.dataset.crop_size or cfg.dataset.size) if cfg.eval.inference == "slide" else None,
            "drop_clusters": cfg.eval.drop_clusters,
        }
    )
    if cm_raw is not None:
        metrics["without_drop_clusters"] = cm_raw.compute(labels.names, labels.void_classes)
    if results is not None:
        metrics.update(results.metrics())
    metrics["confusion_matrix"] = cm_final.matrix.cpu().tolist()
    plot_confusion_matrix(cm_final.matrix.cpu().numpy(), labels.names, setup.output_dir / "confusion_matrix.png")
    log.info(f"\n{split} split, {writer.count} images, at ground-truth resolution" + (f", DropClusters {cfg.eval.drop_clusters}" if cfg.eval.drop_clusters else "") + ":\n" + format_table(metrics))
    if "without_drop_clusters" in metrics:
        raw = metrics["without_drop_clusters"]
        log.info(f"without DropClusters: mIoU {raw['miou']:.4f}, mean dice {raw['mean_dice']:.4f}, pixel acc {raw['pixel_acc']:.4f}")
    if results is not None:
        results.report(metrics, split, log)
    log.info(f"metrics.json, confusion_matrix.png and pictures in {setup.output_dir}")
    return metrics
