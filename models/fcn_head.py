"""The FCN auxiliary head mmseg's recipes put on the encoder's stride-16 stage (DeepLabV3+, UPerNet)."""

import torch
from torch import nn


class FCNHead(nn.Module):
    """mmseg's ``FCNHead(num_convs=1, concat_input=False)``: conv3x3-BN-ReLU, Dropout2d, 1x1 conv to classes.

    Trained with a weighted loss (0.4 in mmseg's recipes) and used in training only: the extra gradient reaches
    the encoder's middle stage directly; :class:`~models.base.SegmentationModel` skips it in eval mode and export.

    Args:
        in_channels: channels of the encoder map it reads.
        num_classes: output channels.
        index: which of the encoder's five maps (strides 2, 4, 8, 16, 32) it reads; 3 is the stride-16 stage
            (mmseg's ``in_index=2``, which counts from stride 4), at stride 8 in an output-stride-8 encoder.
        channels: width of its conv (mmseg: 256 for ResNet-50/101, ConvNeXt and Swin).
        dropout: Dropout2d probability before the classifier (mmseg's ``dropout_ratio``).
    """

    def __init__(self, in_channels: int, num_classes: int, index: int = 3, channels: int = 256, dropout: float = 0.1):
        super().__init__()
        self.index = index
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
        )
        self.dropout = nn.Dropout2d(dropout)
        self.classifier = nn.Conv2d(channels, num_classes, kernel_size=1)

    def forward(self, features: list) -> torch.Tensor:
        """The encoder's maps -> (N, num_classes, h, w) logits at the stride of map ``index``."""
        return self.classifier(self.dropout(self.conv(features[self.index])))
