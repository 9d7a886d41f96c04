"""PIDNet-S/M/L: the real-time three-branch network (P: details, I: context, D: boundaries), layer for layer as the
authors' ``models/pidnet.py`` (github XuJiacong/PIDNet), inside the toolkit's padding and upsampling.

Our state-dict keys are the authors' under ``pidnet.`` (``pidnet.conv1.0.weight`` is their ``conv1.0.weight``);
tests/test_pidnet.py compares keys, shapes and logits with recorded outputs of their code.
"""

import torch
import torch.nn.functional as F
from torch import nn

from models.base import pad_to_multiple
from models.pidnet_blocks import (
    DAPPM,
    PAPPM,
    Bag,
    BasicBlock,
    Bottleneck,
    LightBag,
    PagFM,
    SegmentHead,
    conv_bn,
    make_single,
    make_stage,
    resize_like,
)

# The authors' get_seg_model: (m, n, planes, ppm_planes, head_planes) per size.
SIZES = {
    "s": dict(m=2, n=3, planes=32, ppm_planes=96, head_planes=128),
    "m": dict(m=2, n=3, planes=64, ppm_planes=96, head_planes=128),
    "l": dict(m=3, n=4, planes=64, ppm_planes=112, head_planes=256),
}
TRAINING_HEADS = ("seghead_p", "seghead_d")  # used in training only; the authors' augment=False model lacks them
STRIDE = 8  # the logits' stride
PAD_MULTIPLE = 64  # the deepest stage's stride (module doc of PIDNetModel)


class PIDNet(nn.Module):
    """The network: (N, 3, H, W) -> logits (N, num_classes, ceil(H/8), ceil(W/8)) in eval mode; in training mode
    (P-branch logits, those logits, D-branch boundary logits (N, 1, ...)), all at 1/8.

    Args:
        num_classes: output channels.
        m, n: blocks per stage (the shallow and deep stages of the I branch).
        planes: the base width; ppm_planes: the pyramid pooling's branch width; head_planes: the heads' width.
    """

    def __init__(self, num_classes: int, m: int, n: int, planes: int, ppm_planes: int, head_planes: int):
        super().__init__()
        c = planes
        # I branch: stem to 1/4, stages to 1/8, 1/16, 1/32 and 1/64.
        self.conv1 = nn.Sequential(
            nn.Conv2d(3, c, 3, stride=2, padding=1),
            nn.BatchNorm2d(c),
            nn.ReLU(inplace=True),
            nn.Conv2d(c, c, 3, stride=2, padding=1),
            nn.BatchNorm2d(c),
            nn.ReLU(inplace=True),
        )
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = make_stage(BasicBlock, c, c, m)
        self.layer2 = make_stage(BasicBlock, c, c * 2, m, stride=2)
        self.layer3 = make_stage(BasicBlock, c * 2, c * 4, n, stride=2)
        self.layer4 = make_stage(BasicBlock, c * 4, c * 8, n, stride=2)
        self.layer5 = make_stage(Bottleneck, c * 8, c * 8, 2, stride=2)
        # P branch: stays at 1/8 and takes the I branch in through PagFM.
        self.compression3 = conv_bn(c * 4, c * 2)
        self.compression4 = conv_bn(c * 8, c * 2)
        self.pag3 = PagFM(c * 2, c)
        self.pag4 = PagFM(c * 2, c)
        self.layer3_ = make_stage(BasicBlock, c * 2, c * 2, m)
        self.layer4_ = make_stage(BasicBlock, c * 2, c * 2, m)
        self.layer5_ = make_stage(Bottleneck, c * 2, c * 2, 1)
        # D branch: stays at 1/8 and adds the I branch's differences (diff3, diff4); S and M are the lighter form.
        light = m == 2
        d3 = c if light else c * 2
        self.layer3_d = make_single(BasicBlock, c * 2, d3)
        self.layer4_d = make_stage(Bottleneck, c, c, 1) if light else make_single(BasicBlock, c * 2, c * 2)
        self.diff3 = conv_bn(c * 4, d3, 3)
        self.diff4 = conv_bn(c * 8, c * 2, 3)
        self.spp = PAPPM(c * 16, ppm_planes, c * 4) if light else DAPPM(c * 16, ppm_planes, c * 4)
        self.dfm = LightBag(c * 4, c * 4) if light else Bag(c * 4, c * 4)
        self.layer5_d = make_stage(Bottleneck, c * 2, c * 2, 1)
        # Heads: the training-only P and D heads, then the main head.
        self.seghead_p = SegmentHead(c * 2, head_planes, num_classes)
        self.seghead_d = SegmentHead(c * 2, c, 1)
        self.final_layer = SegmentHead(c * 4, head_planes, num_classes)
        for module in self.modules():  # the authors' initialisation
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor):
        x = self.relu(self.layer2(self.relu(self.layer1(self.conv1(x)))))  # 1/8
        p, d = self.layer3_(x), self.layer3_d(x)
        x = self.relu(self.layer3(x))  # 1/16
        p = self.pag3(p, self.compression3(x))
        d = d + resize_like(self.diff3(x), d)
        # The authors' in-place ReLU before layer4_ also rectifies the tensor their P head reads: so does ours.
        p_head = self.relu(p)
        x = self.relu(self.layer4(x))  # 1/32
        p = self.pag4(self.layer4_(p_head), self.compression4(x))
        d = self.layer4_d(self.relu(d))
        d = d + resize_like(self.diff4(x), d)
        d_head = self.relu(d)  # likewise for the D head
        p, d = self.layer5_(self.relu(p)), self.layer5_d(d_head)
        i = resize_like(self.spp(self.layer5(x)), d)  # 1/64 -> 1/8
        logits = self.final_layer(self.dfm(p, i, d))
        if not self.training:
            return logits
        return self.seghead_p(p_head), logits, self.seghead_d(d_head)


class PIDNetModel(nn.Module):
    """PIDNet for any input size: logits (N, num_classes, H, W) for (N, 3, H, W) inputs.

    The input is replicate-padded at the bottom and right to a multiple of 64, the deepest stage's stride, so that
    every branch's grid halves exactly as on the authors' 1024x1024 crops (the network runs on any size, but off the
    multiple its 1/16..1/64 maps meet the 1/8 grid a fraction of a pixel apart). The 1/8 logits are upsampled
    bilinearly with align_corners=True, as the authors' training and evaluation do, then cropped back.

    In training mode it returns ``{"out": logits, "p": P-branch logits, "d": boundary logits (N, 1, H, W)}``, every
    map at the input size (:class:`models.pidnet_loss.PIDNetLoss` reads them); in eval mode (inference, TTA,
    export) the logits only.

    Args:
        num_classes: output channels; size: "s", "m" or "l".
    """

    def __init__(self, num_classes: int, size: str = "s"):
        super().__init__()
        self.pidnet = PIDNet(num_classes, **SIZES[size])
        self.size, self.pad_multiple = size, PAD_MULTIPLE

    def forward(self, x: torch.Tensor):
        h, w = x.shape[-2:]
        padded = pad_to_multiple(x, self.pad_multiple)
        out = self.pidnet(padded)
        if not self.training:
            return self.upsample(out, padded)[..., :h, :w]
        p, logits, d = (self.upsample(o, padded)[..., :h, :w] for o in out)
        return {"out": logits, "p": p, "d": d}

    @staticmethod
    def upsample(logits: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """(N, C, h, w) -> (N, C, H, W) of ``like``, bilinear with align_corners=True (the authors' ALIGN_CORNERS)."""
        return F.interpolate(logits, size=like.shape[-2:], mode="bilinear", align_corners=True)


def inference_parameters(model: nn.Module) -> int:
    """Parameters the eval-mode forward uses: all but the training heads' (the authors' ``augment=False`` count)."""
    return sum(p.numel() for n, p in model.named_parameters() if not any(f".{h}." in f".{n}" for h in TRAINING_HEADS))
