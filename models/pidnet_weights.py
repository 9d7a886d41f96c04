"""The authors' PIDNet weight files (``model.encoder_weights: <path>`` with ``model.arch: pidnet``).

torchvision and timm publish no PIDNet: the ImageNet-pretrained files (``PIDNet_S_ImageNet.pth.tar`` etc.) are Google
Drive links in the authors' README. Loaded as their ``get_seg_model`` does: the file's ``state_dict``, then every
tensor whose key the network has, with the same shape; the log counts what was loaded and what was not.
"""

from torch import nn

from models.local_weights import few, read_tensors
from utils.config.errors import UserError
from utils.runtime import get_logger

README = "https://github.com/XuJiacong/PIDNet#models"
IMAGENET_FILES = {
    "s": ("PIDNet_S_ImageNet.pth.tar", "https://drive.google.com/file/d/1hIBp_8maRr60-B3PF0NVtaA6TYBvO4y-/view"),
    "m": ("PIDNet_M_ImageNet.pth.tar", "https://drive.google.com/file/d/1gB9RxYVbdwi9eO5lbT073q-vRoncpYT1/view"),
    "l": ("PIDNet_L_ImageNet.pth.tar", "https://drive.google.com/file/d/1Eg6BwEsnu3AkKLO8lrKsoZ8AOEb2KZHY/view"),
}


def imagenet_error(size: str) -> UserError:
    """What ``encoder_weights: imagenet`` means for PIDNet: a file to download by hand."""
    name, url = IMAGENET_FILES[size]
    return UserError(
        f"model.encoder_weights: imagenet has no download for PIDNet (torchvision and timm do not publish it). The "
        f"authors' ImageNet weights for model.pidnet_size '{size}' are {name}, a Google Drive link in their README "
        f"({README}): {url}. Download it and set model.encoder_weights to the file's path, or set "
        "model.encoder_weights: null to train from scratch."
    )


def read_weights_file(path: str, size: str) -> dict:
    """The tensors of one of the authors' files, by their key: the ``state_dict`` of a ``.pth.tar``, or a plain
    state dict; their Cityscapes checkpoints' ``model.`` prefix (FullModel) and DDP's ``module.`` are dropped."""
    name, url = IMAGENET_FILES[size]
    tensors = read_tensors(
        path,
        "a PIDNet state dict",
        f"PIDNet-{size.upper()}'s ImageNet weights are the authors' {name}: {url} ({README}).",
    )
    return {key.removeprefix("model."): value for key, value in tensors.items()}


def load_pidnet_weights(net: nn.Module, path: str, size: str) -> None:
    """Copies the tensors of ``path`` whose key ``net`` (a :class:`models.pidnet.PIDNet`) has with the same shape.

    A file of which most tensors do not fit is refused: it is another size's (or another network's), which the
    authors' loader would have skipped in silence.
    """
    file = read_weights_file(path, size)
    own = net.state_dict()
    fitting = {k: v for k, v in file.items() if k in own and v.shape == own[k].shape}
    if len(fitting) * 2 < len(file):
        other = [k for k in file if k not in fitting]
        raise UserError(
            f"model.encoder_weights file '{path}' does not hold PIDNet-{size.upper()} weights: {len(other)} of its "
            f"{len(file)} tensors are not in the network or have other shapes ({few(other)}). Use "
            f"{IMAGENET_FILES[size][0]} ({README}), or set model.pidnet_size to the file's size."
        )
    net.load_state_dict(fitting, strict=False)
    fresh = [k for k in own if k not in fitting]
    unused = [k for k in file if k not in fitting]
    get_logger().info(
        f"encoder weights from {path}: loaded {len(fitting)} of {len(own)} tensors of PIDNet-{size.upper()}"
        + (f"; {len(fresh)} keep their initialisation ({few(fresh)})" if fresh else "")
        + (f"; {len(unused)} tensors of the file unused ({few(unused)})" if unused else "")
    )
