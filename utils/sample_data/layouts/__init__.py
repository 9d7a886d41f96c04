"""How the built-in sample draws each dataset family's layout: one module per family, each with ``jobs``.

``jobs(out, spec, seed)`` returns ``(function, args)`` pairs that write that family's part of the sample into
``out`` (``seed(*parts)`` gives each file its own random stream). The families (utils/data/families) say what a
layout holds; these modules write it.
"""

from utils.sample_data.layouts import bdd100k, camvid, cityscapes, folder, kitti, kitti_object, kitti_semantics, vistas

LAYOUTS = {
    "cityscapes": cityscapes.jobs,
    "kitti": kitti.jobs,
    "kitti_object": kitti_object.jobs,  # the object benchmark's layout, for paint_points.py (no training family)
    "bdd100k": bdd100k.jobs,
    "vistas": vistas.jobs,
    "folder": folder.jobs,
    "kitti_semantics": kitti_semantics.jobs,
    "camvid": camvid.jobs,
}

__all__ = ["LAYOUTS"]
