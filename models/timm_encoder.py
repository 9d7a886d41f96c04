"""Encoders from timm (``model.encoder: tu-<timm name>``): any hierarchical model that supports ``features_only``.

The decoders take five maps at strides 2, 4, 8, 16 and 32. Encoders whose first map is at stride 4
(ConvNeXt, PVTv2, Swin) return ``None`` in the stride-2 slot with 0 channels: FPN never reads it and the
light UNET's stride-2 block then upsamples without a skip.
"""

import difflib

import huggingface_hub.constants
import timm
import torch
from torch import nn

from models.local_weights import is_weights_file, load_encoder_weights
from utils.config.errors import UserError
from utils.data.normalization import IMAGENET_MEAN, IMAGENET_STD

PREFIX = "tu-"
STRIDES = (2, 4, 8, 16, 32)
SUGGEST = (
    "Pick a CNN or a hierarchical transformer, e.g. tu-convnext_tiny, tu-efficientnet_b0, tu-regnety_040, "
    "tu-resnest50d or tu-pvt_v2_b2."
)
DILATABLE = (
    "Use a torchvision ResNet/ResNeXt (resnet50, resnext50_32x4d, ...) or a timm CNN that takes output_stride, e.g. "
    "tu-resnet50d, tu-convnext_tiny, tu-efficientnet_b3 or tu-regnety_040 (transformers such as pvt_v2 do not)."
)


def is_timm_encoder(name: str) -> bool:
    return name.startswith(PREFIX)


def _timm_name(name: str) -> str:
    model_name = name[len(PREFIX) :]
    if not timm.is_model(model_name):
        match = difflib.get_close_matches(model_name, timm.list_models(), n=3)
        hint = f" Close timm names: {', '.join(PREFIX + m for m in match)}." if match else ""
        raise UserError(
            f"Unknown timm encoder '{name}' (model.encoder).{hint} List them with python -c \"import timm; "
            "print(timm.list_models('convnext*'))\"."
        )
    return model_name


def _offline_message(name: str, model_name: str, exc: Exception) -> str:
    cfg = timm.models.get_pretrained_cfg(model_name)
    ways = []
    if cfg and cfg.hf_hub_id:
        folder = f"{huggingface_hub.constants.HF_HUB_CACHE}/models--{cfg.hf_hub_id.replace('/', '--')}"
        ways.append(
            f"run `huggingface-cli download {cfg.hf_hub_id}` where there is internet and copy the folder it fills, "
            f"{folder}, to the same path here (or point HF_HOME at a copy), or point model.encoder_weights at the "
            "model.safetensors it fetches"
        )
    if cfg and cfg.url:
        ways.append(f"download {cfg.url} into {torch.hub.get_dir()}/checkpoints/ and set TIMM_USE_OLD_CACHE=1")
    reason = str(exc).splitlines()[0] if str(exc) else ""
    how = "; or ".join(ways) if ways else f"timm has no pretrained weights for '{model_name}'"
    return (
        f"Could not load ImageNet weights for encoder '{name}' from timm ({type(exc).__name__}: {reason}). Offline, "
        f"{how}; or set model.encoder_weights: null to train from scratch."
    )


def _full_names(features, full) -> dict:
    """Each features_only key -> the whole model's key for that tensor.

    timm's feature wrappers rename what they keep: FeatureListNet flattens ``stages.0`` to ``stages_0``,
    FeatureGetterNet nests the model under ``model.``; with dots as underscores both name the same tensor.
    """
    by_flat = {k.replace(".", "_"): k for k in full}
    out = {}
    for key in features:
        flat = key.replace(".", "_")
        out[key] = by_flat.get(flat) or by_flat.get(flat.removeprefix("model_"), key)
    return out


def _load_file(model_name: str, features: nn.Module, path: str) -> None:
    """A local file of the whole model's state dict; what features_only lacks (head, classifier) is skipped."""
    full = timm.create_model(model_name, pretrained=False).state_dict()
    cfg = timm.models.get_pretrained_cfg(model_name)
    source = (
        f"the model.safetensors of {cfg.hf_hub_id} (`hf download {cfg.hf_hub_id} model.safetensors`)"
        if cfg and cfg.hf_hub_id
        else f"a state dict of timm.create_model('{model_name}')"
    )
    load_encoder_weights(features, path, full, _full_names(features.state_dict(), full), f"timm's {model_name}", source)


def _create(name: str, model_name: str, pretrained: bool, output_stride: int = 32) -> nn.Module:
    # timm takes output_stride only where the model can dilate its stages; 32 is every model's default.
    dilation = {} if output_stride == 32 else {"output_stride": output_stride}
    try:
        return timm.create_model(model_name, features_only=True, pretrained=pretrained, **dilation)
    except OSError as exc:  # hub, HTTP, SSL and socket errors (all OSErrors) mean the same thing to the user
        if not pretrained:
            raise
        raise UserError(_offline_message(name, model_name, exc)) from None
    except Exception as exc:
        if dilation:
            raise UserError(
                f"timm model '{model_name}' (model.encoder '{name}') cannot run at output stride {output_stride} "
                f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}): DeepLabV3+ needs a "
                f"dilated encoder. {DILATABLE}"
            ) from None
        raise UserError(
            f"timm model '{model_name}' (model.encoder '{name}') cannot return feature maps ({type(exc).__name__}: "
            f"{exc}). {SUGGEST}"
        ) from None


def _nominal_reductions(model_name: str, dilated: nn.Module, output_stride: int) -> list:
    """The strides each map would have undilated: timm reports a dilated model's real ones (2, 4, 8, 16, 16),
    which no longer say which map is the stride-32 stage. An undilated model on the meta device tells (no memory;
    a model that cannot be built there is built on the CPU, as smp does)."""
    if output_stride == 32:
        return dilated.feature_info.reduction()
    try:
        with torch.device("meta"):
            return timm.create_model(model_name, features_only=True).feature_info.reduction()
    except Exception:
        return timm.create_model(model_name, features_only=True).feature_info.reduction()


class TimmEncoder(nn.Module):
    """``[c1 or None, c2, c3, c4, c5]`` at strides 2..32, as :class:`models.encoders.ResNetEncoder` returns.

    Inputs arrive normalised with ImageNet mean and std; a model pretrained with other statistics gets its
    own normalisation through a per-channel affine, so its weights see what they were trained on.

    Args:
        name: ``tu-<timm model name>``.
        weights: imagenet (timm's default pretrained tag), a local file of the whole timm model's state dict, or None.
        output_stride: 32, or 16 / 8 (DeepLabV3+) for models timm can dilate: the maps past it keep its resolution.
    """

    def __init__(self, name: str, weights: str = None, output_stride: int = 32):
        super().__init__()
        if output_stride not in (8, 16, 32):
            raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride}")
        model_name = _timm_name(name)
        self.model = _create(name, model_name, weights == "imagenet", output_stride)
        if is_weights_file(weights):
            _load_file(model_name, self.model, weights)
        reductions = _nominal_reductions(model_name, self.model, output_stride)
        channels = self.model.feature_info.channels()
        # The last map at each stride is the deepest one there; earlier maps at that stride are skipped.
        pick = {r: i for i, r in enumerate(reductions)}
        if not {4, 8, 16, 32} <= set(pick) or max(reductions) != 32:
            raise UserError(
                f"Encoder '{name}' gives feature maps at strides {reductions}; the decoders need maps at strides 4, "
                f"8, 16 and 32. {SUGGEST}"
            )
        self.name, self.output_stride = name, output_stride
        self.indices = [pick.get(s) for s in STRIDES]
        self.out_channels = [channels[i] if i is not None else 0 for i in self.indices]
        self.channels_last_output = str(getattr(self.model, "output_fmt", "NCHW")).endswith("NHWC")
        cfg = self.model.pretrained_cfg or {}
        mean, std = tuple(cfg.get("mean", IMAGENET_MEAN)), tuple(cfg.get("std", IMAGENET_STD))
        self.renormalize = len(mean) == 3 and (mean, std) != (IMAGENET_MEAN, IMAGENET_STD)
        if self.renormalize:  # x_model = (x * std_in + mean_in - mean) / std
            scale = torch.tensor(IMAGENET_STD) / torch.tensor(std)
            shift = (torch.tensor(IMAGENET_MEAN) - torch.tensor(mean)) / torch.tensor(std)
            self.register_buffer("scale", scale.view(1, 3, 1, 1), persistent=False)
            self.register_buffer("shift", shift.view(1, 3, 1, 1), persistent=False)
        self._check_shapes()

    @torch.no_grad()
    def _check_shapes(self) -> None:
        """One small forward pass: the decoders need every map at exactly input size / stride."""
        size, training = 64, self.training
        self.eval()  # no BatchNorm statistics change
        try:
            feats = self.forward(torch.zeros(1, 3, size, size))
            error = None
        except Exception as exc:  # fixed-input-size models (Swin, ViT) fail here
            feats, error = None, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        finally:
            self.train(training)
        if feats is not None:
            got = [tuple(f.shape[-2:]) if f is not None else None for f in feats]
            strides = [min(s, self.output_stride) for s in STRIDES]
            want = [(size // s, size // s) if f is not None else None for s, f in zip(strides, feats)]
            if got != want:
                error = f"at {size}x{size} its maps are {got}, not {want}"
        if error:
            raise UserError(
                f"Encoder '{self.name}' cannot feed the decoders ({error}): it needs a fixed input size or crops its "
                f"maps. {SUGGEST}"
            )

    def forward(self, x: torch.Tensor) -> list:
        """(N, 3, H, W) with H, W multiples of 32 -> five maps, ``None`` where the model has no stride-2 map."""
        if self.renormalize:
            x = x * self.scale + self.shift
        feats = self.model(x)
        if self.channels_last_output:
            feats = [f.permute(0, 3, 1, 2) for f in feats]
        return [feats[i] if i is not None else None for i in self.indices]
