"""The architectures ``model.arch`` picks from: one declaration module each, and the registry.

A declaration module says everything the rest of the toolkit needs to know about an architecture:

- ``SUMMARY``: one line for the configuration reference;
- ``Keys``: a frozen dataclass of its own config keys, declared with :func:`utils.config.declare.opt` (default,
  help, roles) and named ``<arch>_<key>``; the ``model`` config section is every architecture's keys together;
- ``OUTPUT_STRIDE``: the stride of its logits before the final upsampling;
- ``build(cfg, num_classes)``: the :class:`~models.base.SegmentationModel` for a ``model`` config section, with its
  padding multiple and, where the config asks for them, its auxiliary heads;
- ``aux_weights(cfg)``: the loss weight of each auxiliary output the built model returns in training;
- optionally ``training_loss(cfg, criterion)``: a loss of its own over the training outputs (PIDNet's boundary terms),
  and ``describe(cfg)``: its name in logs where ``<arch>/<encoder>`` would mislead (PIDNet has its own backbone).

Declaration modules import no torch at the top (their network lives in its own module, imported by ``build``), so
that loading a config stays light. Adding an architecture: one module here and one line in :data:`ARCHITECTURES`
(docs/models.md shows one).
"""

from models.archs import deeplabv3plus, fpn, pidnet, segformer, unet, upernet

ARCHITECTURES = {
    "fpn": fpn,
    "unet": unet,
    "deeplabv3plus": deeplabv3plus,
    "upernet": upernet,
    "segformer": segformer,
    "pidnet": pidnet,
}

__all__ = ["ARCHITECTURES"]
