"""The input convention of every model here: RGB divided by 255, then (x - mean) / std with ImageNet's statistics.

A leaf with no imports: the transforms normalise with it, timm encoders trained with other statistics convert from
it, and model.json tells deployments about it.
"""

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
