"""PyTorch model -> ONNX graph, through torch's dynamo exporter, with dynamic batch, height and width."""

import os
import warnings
from pathlib import Path

import onnx
import torch
from torch import nn

from utils.config.errors import UserError
from utils.losses import probabilities

OUTPUT_KINDS = ("logits", "probabilities", "labels")
DEFAULT_OPSET = 20  # TensorRT 10's ONNX parser reads opsets 9 to 20
MIN_OPSET = 18  # the dynamo exporter writes 18 and up; onnx's converter has no adapter below 18 for Pad
INPUT_NAME = "image"
# Neither side is a multiple of any pad stride the models use (32, 64): the trace goes through the
# model's padding branch, so the pad and the crop back are in the graph for every input size.
EXAMPLE_SIZE = (75, 130)


def max_opset() -> int:
    return onnx.defs.onnx_opset_version()


class DeployModule(nn.Module):
    """The exported function: ``model`` plus the activation or the argmax.

    Input: (N, 3, H, W) float32 images, RGB scaled to [0, 1] then ImageNet-normalised, any H and W.
    Output: logits or probabilities (N, C, H, W) float32, or class indices (N, H, W) int64.
    Probabilities are what the training loss defined (sigmoid for bce_dice, softmax for ce_dice), so a
    consumer never needs to know the loss. With ``fp16`` the network runs in half precision between a
    cast at the input and float32 activations at the output; the graph's inputs and outputs stay float32.
    """

    def __init__(self, model: nn.Module, loss_name: str, output: str = "probabilities", fp16: bool = False):
        super().__init__()
        if output not in OUTPUT_KINDS:
            raise UserError(f"Unknown output kind '{output}'; allowed: {' | '.join(OUTPUT_KINDS)}.")
        self.model, self.loss_name, self.output, self.fp16 = model.eval(), loss_name, output, fp16
        if fp16:
            self.model.half()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.model(x.half() if self.fp16 else x)
        if self.output == "labels":
            return logits.argmax(1)
        if self.output == "logits":
            return logits.float()
        return probabilities(logits, self.loss_name)


def graph_opset(model: onnx.ModelProto) -> int:
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def export_onnx(module: DeployModule, path, opset: int = DEFAULT_OPSET) -> Path:
    """Writes ``module`` as an ONNX graph at ``path`` (atomically) and runs ``onnx.checker`` on it.

    Args:
        module: the model to export, in eval mode, on the CPU.
        path: the ``.onnx`` file; its folder is created.
        opset: the ONNX opset, from MIN_OPSET to what the installed onnx knows.
    Returns:
        ``path``. Input ``image`` (batch, 3, height, width); output named after ``module.output`` with the
        same batch, height and width axes.
    """
    if not MIN_OPSET <= opset <= max_opset():
        raise UserError(
            f"--opset {opset} is out of range: the exporter writes opsets {MIN_OPSET} to {max_opset()} (TensorRT 10 "
            "reads up to 20)."
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.randn(2, 3, *EXAMPLE_SIZE)  # batch 2: a batch of 1 would be specialised to 1
    dims = {0: torch.export.Dim("batch"), 2: torch.export.Dim("height"), 3: torch.export.Dim("width")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation and tracing chatter
        program = torch.onnx.export(
            module,
            (example,),
            dynamo=True,
            input_names=[INPUT_NAME],
            output_names=[module.output],
            dynamic_shapes={"x": dims},
            opset_version=opset,
            verbose=False,
        )
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        program.save(tmp)
        graph = onnx.load(str(tmp))
        written = graph_opset(graph)
        if written != opset:
            raise UserError(
                f"The exporter wrote opset {written}, not the {opset} asked for (onnx's converter cannot go there for "
                f"every operator). Use --opset {written} or higher."
            )
        _require_dynamic_input(graph)
        _name_output_axes(graph)
        onnx.save(graph, str(tmp))
        onnx.checker.check_model(str(tmp), full_check=True)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _require_dynamic_input(graph: onnx.ModelProto) -> None:
    """Some models (fixed-size transformers, e.g. timm's tiny_vit) trace to a graph of the example's size only."""
    dims = graph.graph.input[0].type.tensor_type.shape.dim
    fixed = [axis for i, axis in ((0, "batch"), (2, "height"), (3, "width")) if not dims[i].dim_param]
    if fixed:
        size = "x".join(str(d.dim_value or d.dim_param) for d in dims)
        raise UserError(
            f"The exported graph has a fixed {', '.join(fixed)} (input {size}): this model does not trace to dynamic "
            "sizes, "
            "so the graph would only take its example's size. Export a model whose encoder takes any input size "
            "(ResNets, ConvNeXt, EfficientNet, PVTv2)."
        )


def _name_output_axes(graph: onnx.ModelProto) -> None:
    """The crop back gives the output axes names like ``Min(height, 32*((height + 31)//32))``: they equal the
    input's, so call them batch, height and width, which is what TensorRT profiles and readers expect."""
    names = [d.dim_param for d in graph.graph.input[0].type.tensor_type.shape.dim]
    dims = graph.graph.output[0].type.tensor_type.shape.dim
    spatial = (0, 1, 2) if len(dims) == 3 else (0, 2, 3)
    for i, name in zip(spatial, (names[0], names[2], names[3])):
        if dims[i].dim_param:
            dims[i].dim_param = name
