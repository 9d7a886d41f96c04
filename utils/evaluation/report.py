"""``report.html``: one self-contained page of an evaluation, opened from disk with no server or internet.

Plain HTML and CSS with every picture embedded as a data URI, and a few lines of inline script that sort a
table by the clicked column. It shows the run, the scores (with and without DropClusters, without void,
the official evaluator's and KITTI's where they ran), the per-class table, the confusion matrix, the
training curves when the run folder has curves.png, the worst images by per-image mIoU (from worst/) and
every image's scores (from per_image.csv). Without labels it shows the run and a few predictions.
"""

import base64
import csv
import html
import time
from pathlib import Path

from utils.data.transforms import training_crop
from utils.deployment.sidecar import resolve_onnx_path
from utils.files import atomic_write_text, format_number, is_missing

STYLE = """
body { font: 14px/1.45 -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #1d2330; margin: 0; background: #f4f5f7; }
main { max-width: 1180px; margin: 0 auto; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 10px; border-bottom: 1px solid #d5d8de; padding-bottom: 4px; }
.sub { color: #5b6474; margin-bottom: 18px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { background: #fff; border: 1px solid #d5d8de; border-radius: 6px; padding: 10px 16px; min-width: 140px; }
.card b { display: block; font-size: 24px; } .card span { color: #5b6474; font-size: 12px; }
table { border-collapse: collapse; background: #fff; border: 1px solid #d5d8de; }
th, td { padding: 4px 10px; border-bottom: 1px solid #eceef1; text-align: right; } th { background: #eceef1; }
th:first-child, td:first-child { text-align: left; } table.sortable th { cursor: pointer; user-select: none; }
table.kv td { text-align: left; } table.kv td:first-child { color: #5b6474; }
.swatch { display: inline-block; width: 11px; height: 11px; margin-right: 6px; border: 1px solid #0003; vertical-align: -1px; }
figure { margin: 0 0 16px; background: #fff; border: 1px solid #d5d8de; border-radius: 6px; padding: 8px; display: inline-block; }
figure img { max-width: 100%; display: block; } figcaption { color: #5b6474; margin-top: 4px; }
.na { color: #9aa1ad; } .scroll { max-height: 420px; overflow: auto; display: inline-block; }
"""

# Click a header to sort by it (numbers as numbers, empty cells last); click again to reverse.
SCRIPT = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, col) {
    th.addEventListener('click', function () {
      var body = table.tBodies[0], rows = Array.from(body.rows), asc = th.dataset.asc !== '1';
      rows.sort(function (a, b) {
        var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
        if (x === '' || y === '') return (x === '') - (y === '');
        var nx = parseFloat(x), ny = parseFloat(y), c = isNaN(nx) || isNaN(ny) ? x.localeCompare(y) : nx - ny;
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
      th.dataset.asc = asc ? '1' : '0';
    });
  });
});
"""


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


def _cell(value, digits: int = 4) -> str:
    if value == "" or is_missing(value):
        return '<td data-v="" class="na">n/a</td>'
    if isinstance(value, str):
        return f'<td data-v="{html.escape(value)}">{html.escape(value)}</td>'
    return f'<td data-v="{value}">{format_number(value, digits)}</td>'


def _table(head: list, rows: list, sortable: bool = True) -> str:
    cls = ' class="sortable"' if sortable else ""
    header = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    return (
        f"<table{cls}><thead><tr>{header}</tr></thead><tbody>"
        + "".join(f"<tr>{''.join(r)}</tr>" for r in rows)
        + "</tbody></table>"
    )


def _run_table(setup, metrics: dict) -> str:
    cfg, labels = setup.cfg, setup.labels
    window = f", windows of {training_crop(cfg.dataset)}" if cfg.eval.inference == "slide" else ""
    drop = f"{cfg.eval.drop_clusters} pixels, fill {cfg.eval.drop_clusters_fill}" if cfg.eval.drop_clusters else "off"
    rows = [
        ("checkpoint", str(setup.checkpoint)),
        (
            "dataset",
            f"{cfg.target} at {cfg.paths.root}, split {metrics.get('split', cfg.eval.input or cfg.eval.split)}",
        ),
        ("classes", f"{labels.num_classes}: {', '.join(labels.names)}"),
        (
            "input size",
            f"{cfg.dataset.size[0]}x{cfg.dataset.size[1]} (the training scale), {cfg.eval.inference}{window}",
        ),
        ("TTA", f"{cfg.eval.tta} (merge {cfg.eval.merge})"),
        ("DropClusters", drop),
        (
            "backend",
            cfg.eval.backend
            + (f" ({resolve_onnx_path(cfg.eval.onnx, setup.checkpoint)})" if cfg.eval.backend == "onnxruntime" else ""),
        ),
        ("written", time.strftime("%Y-%m-%d %H:%M")),
    ]
    return (
        '<table class="kv">'
        + "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in rows)
        + "</table>"
    )


def _cards(metrics: dict) -> str:
    cards = [("mIoU", metrics["miou"]), ("mean dice", metrics["mean_dice"]), ("pixel accuracy", metrics["pixel_acc"])]
    if "miou_no_void" in metrics:
        cards += [
            ("mIoU without void", metrics["miou_no_void"]),
            ("mean dice without void", metrics["mean_dice_no_void"]),
        ]
    raw = metrics.get("without_drop_clusters")
    if raw:
        cards += [("mIoU without DropClusters", raw["miou"]), ("mean dice without DropClusters", raw["mean_dice"])]
    official = metrics.get("official")
    if official:
        cards.append(("official evaluator mIoU", official["averageScoreClasses"]))
    return (
        '<div class="cards">'
        + "".join(f'<div class="card"><b>{format_number(v)}</b><span>{html.escape(k)}</span></div>' for k, v in cards)
        + "</div>"
    )


def _kitti(metrics: dict) -> str:
    if "kitti" not in metrics:
        return ""
    keys = ("max_f", "average_precision", "precision", "recall")
    head = ["category", "MaxF", "AP", "precision", "recall"]
    bev = metrics.get("kitti_bev") or {}
    if bev:
        head += ["BEV MaxF", "BEV AP", "BEV precision", "BEV recall"]
    rows = []
    for name, scores in metrics["kitti"].items():
        row = [_cell(name)] + [_cell(scores[k]) for k in keys]
        if bev:
            row += [_cell((bev.get(name) or {}).get(k)) for k in keys]
        rows.append(row)
    view = "perspective and bird's-eye view" if bev else "perspective (bird's-eye view needs calib/)"
    return f"<h2>KITTI devkit scores, {view}</h2>" + _table(head, rows, sortable=False)


def _per_class(setup, metrics: dict) -> str:
    labels = setup.labels
    no_void = "miou_no_void" in metrics
    head = ["class", "IoU", "dice"] + (["IoU without void", "dice without void"] if no_void else [])
    rows = []
    for c, (name, v) in enumerate(metrics["per_class"].items()):
        swatch = '<span class="swatch" style="background: rgb({},{},{})"></span>'.format(*labels.colors[c])
        row = [f'<td data-v="{html.escape(name)}">{swatch}{html.escape(name)}</td>', _cell(v["iou"]), _cell(v["dice"])]
        if no_void:
            row += [_cell(v.get("iou_no_void")), _cell(v.get("dice_no_void"))]
        rows.append(row)
    return _table(head, rows)


def _per_image(path: Path) -> tuple:
    """(rows of per_image.csv as dicts, the table of image, pixel acc and mIoU)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    table = [
        [
            _cell(r["image"]),
            _cell(float(r["pixel_acc"]) if r["pixel_acc"] else None),
            _cell(float(r["miou"]) if r["miou"] else None),
        ]
        for r in rows
    ]
    return rows, _table(["image", "pixel accuracy", "mIoU"], table)


def _worst(out: Path, rows: list) -> str:
    panels = (
        sorted((out / "worst").glob("*.png"), key=lambda p: int(p.stem.split("_", 1)[0]))
        if (out / "worst").is_dir()
        else []
    )
    if not panels:
        return ""
    miou = {r["image"]: r["miou"] for r in rows}
    figures = []
    for path in panels:
        rank, name = path.stem.split("_", 1)
        score = float(miou[name]) if miou.get(name) else None
        figures.append(
            f"<figure>{_img(path, name)}<figcaption>#{int(rank)} {html.escape(name)}: mIoU "
            f"{format_number(score)}</figcaption></figure>"
        )
    legend = (
        "input | ground truth | prediction | error map (red: wrong, dark: right, grey: ignored in the ground truth)"
    )
    return f"<h2>The {len(panels)} images with the lowest mIoU</h2><p class='sub'>{legend}</p>" + "".join(figures)


def write_report(setup, metrics: dict) -> Path:
    """Writes ``<eval.output_dir>/report.html`` from ``metrics`` and the files eval wrote beside it; returns its path."""
    out = Path(setup.output_dir)
    title = f"Evaluation of {Path(setup.checkpoint).parent.name}/{Path(setup.checkpoint).name}"
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f"<div class='sub'>{html.escape(setup.cfg.target)}, {setup.labels.num_classes} classes</div>",
        "<h2>Run</h2>",
        _run_table(setup, metrics),
    ]
    if metrics:
        parts += ["<h2>Scores</h2>", _cards(metrics), _kitti(metrics), "<h2>Per class</h2>", _per_class(setup, metrics)]
        if (out / "confusion_matrix.png").is_file():
            parts += [
                "<h2>Confusion matrix</h2>",
                f"<figure>{_img(out / 'confusion_matrix.png', 'confusion matrix')}<figcaption>rows: ground truth, "
                "normalised</figcaption></figure>",
            ]
        curves = Path(setup.checkpoint).parent / "curves.png"
        if curves.is_file():
            parts += [
                "<h2>Training curves</h2>",
                f"<figure>{_img(curves, 'training curves')}<figcaption>{html.escape(str(curves))}</figcaption></figure>",
            ]
        rows, table = _per_image(out / "per_image.csv") if (out / "per_image.csv").is_file() else ([], "")
        parts.append(_worst(out, rows))
        if table:
            parts += [
                f"<h2>Every image ({len(rows)}; per_image.csv has each class's IoU)</h2>",
                f"<div class='scroll'>{table}</div>",
            ]
    else:
        overlays = [p for p in setup.pictures[:6] if p.is_file()]  # this eval's own, not an earlier one's
        parts += ["<h2>Predictions (no labels, so no scores)</h2>"] + [
            f"<figure>{_img(p, p.stem)}<figcaption>{html.escape(p.stem)}</figcaption></figure>" for p in overlays
        ]
    page = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta "
        f"charset='utf-8'><title>{html.escape(title)}</title><style>{STYLE}</style></head>"
    )
    page += f"<body><main>{''.join(parts)}</main><script>{SCRIPT}</script></body></html>\n"
    path = out / "report.html"
    atomic_write_text(path, page)
    return path
