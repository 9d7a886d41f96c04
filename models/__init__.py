"""Models: the architecture registry and the networks.

- :mod:`models.registry`: ``build_model``, ``build_model_from_config``, ``aux_weights``, ``count_parameters``;
- :mod:`models.archs`: one declaration module per architecture (its config keys, build, output stride, auxiliary
  outputs) and the registry ``model.arch`` picks from;
- :mod:`models.encoders` (torchvision ResNet/ResNeXt) and :mod:`models.timm_encoder` (``tu-``), with local weight
  files (:mod:`models.local_weights`);
- the networks: :mod:`models.base` (pad, encoder -> decoder -> head, auxiliary heads), :mod:`models.fpn`,
  :mod:`models.unet`, :mod:`models.unet_original`, :mod:`models.deeplabv3plus`, :mod:`models.upernet`,
  :mod:`models.segformer`, and mmseg's FCN auxiliary head, :mod:`models.fcn_head`;
- :mod:`models.smp_keys`: segmentation_models_pytorch state dicts renamed to ours for the networks built as smp's.

Importing this package imports nothing else: the config schema reads the architectures' key declarations without
loading torch.
"""
