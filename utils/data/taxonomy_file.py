"""A taxonomy of one's own for ``dataset.sources``: a YAML file whose classes name the Cityscapes classes they take.

Format (a folder dataset's classes.yaml works too: ``value`` and ``ignore`` are not read here)::

    classes:                                   # in class-index order
      - {name: drivable, maps_to: road, color: [128, 64, 128]}
      - {name: vehicle, maps_to: [car, truck, bus, train]}
      - {name: vulnerable, maps_to: [person, rider, bicycle, motorcycle]}

Every source reaches the 19 Cityscapes classes through its family (``to_cityscapes19``), then this file's classes
through ``maps_to``: each of the 19 belongs to at most one class here, and the 19 that none names are ignored.
"""

from pathlib import Path

import numpy as np
import yaml

from utils.config.errors import UserError
from utils.data.families.base import closest
from utils.data.families.cityscapes import CITYSCAPES19
from utils.data.families.folder import default_color
from utils.labels import IGNORE_INDEX, LabelSet

FORMAT = "expected 'classes: [{name: vehicle, maps_to: [car, truck, bus]}, {name: drivable, maps_to: road}]'"


def read_taxonomy(path) -> tuple:
    """(LabelSet of the file's classes, whose ``lut`` is the (256,) uint8 table from the 19 train ids to them, and that
    table); each mistake is one UserError."""
    path = Path(path)
    where = f"dataset.taxonomy file '{path}'"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(
            f"Config key 'dataset.taxonomy' is '{path}', which is neither cityscapes19 nor an existing file; {FORMAT}."
        ) from None
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UserError(f"{where} cannot be read as YAML ({str(exc).splitlines()[0]}); {FORMAT}.") from None
    classes = data.get("classes") if isinstance(data, dict) else None
    if not isinstance(classes, list) or not 0 < len(classes) < IGNORE_INDEX:
        raise UserError(f"{where} must hold a list 'classes' of 1 to 254 classes; {FORMAT}.")
    names, colors = [], []
    from19 = np.full(256, IGNORE_INDEX, np.uint8)
    for i, entry in enumerate(classes):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or entry["name"] in names:
            raise UserError(f"{where}: classes[{i}] is {entry!r}; each class is a mapping with its own name; {FORMAT}.")
        targets = entry.get("maps_to") or []
        targets = [targets] if isinstance(targets, str) else targets
        if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
            raise UserError(
                f"{where}: classes[{i}] ('{entry['name']}') has maps_to {entry.get('maps_to')!r}; it must be a "
                f"Cityscapes class name or a list of them; {FORMAT}."
            )
        for target in targets:
            if target not in CITYSCAPES19:
                hint = closest(str(target), CITYSCAPES19) or f" The 19 are: {', '.join(CITYSCAPES19)}."
                raise UserError(
                    f"{where}: classes[{i}] ('{entry['name']}') maps_to {target!r}, which is not one of the 19 "
                    f"Cityscapes classes.{hint}"
                )
            train_id = CITYSCAPES19.index(target)
            if from19[train_id] != IGNORE_INDEX:
                raise UserError(
                    f"{where}: '{target}' is in the maps_to of both '{names[from19[train_id]]}' and '{entry['name']}'; "
                    "each Cityscapes class belongs to one class."
                )
            from19[train_id] = len(names)
        color = entry.get("color")
        if color is not None and not (
            isinstance(color, list)
            and len(color) == 3
            and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in color)
        ):
            raise UserError(f"{where}: classes[{i}].color is {color!r}; it must be [R, G, B] with 0-255 each.")
        names.append(entry["name"])
        colors.append(tuple(color) if color is not None else default_color(i))
    if (from19 == IGNORE_INDEX).all():
        raise UserError(f"{where}: no class has a maps_to, so no source's labels would reach it; {FORMAT}.")
    # The classes' lut reads a Cityscapes train id (what every source reaches first), so a checkpoint carries the
    # table and eval.py scores it on any family that maps into the 19 classes (utils/data/taxonomy.py).
    return LabelSet(tuple(names), tuple(colors), from19), from19


__all__ = ["read_taxonomy"]
