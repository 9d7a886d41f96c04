"""Data: what each dataset holds and how it reaches the model.

- :mod:`utils.data.families`: one module per dataset layout (Cityscapes, KITTI road, BDD100K, Vistas, folder):
  splits, label files and their decoding, label modes, data-check rules. Families hold data only; evaluation
  decides how results are written and scored, the sample generator how each layout is drawn.
- :mod:`utils.data.loaders`: ``build_dataset`` / ``build_loader`` from a config; :mod:`~utils.data.segmentation`,
  :mod:`~utils.data.transforms` and :mod:`~utils.data.sampler` behind them.
- :mod:`~utils.data.checks`, :mod:`~utils.data.cache`, :mod:`~utils.data.prepare`, :mod:`~utils.data.inspect`: the
  data check, the prepared cache and its builder, the dataset statistics tool.
- :mod:`~utils.data.kitti_layout` and :mod:`~utils.data.kitti_calib`: KITTI's file names (road, object benchmark,
  raw recordings), the road gt colours and the calibration files of all three; :mod:`~utils.data.normalization`: the input convention (ImageNet mean and std).

Importing this package imports nothing else, so a light module here (KITTI names) stays light.
"""
