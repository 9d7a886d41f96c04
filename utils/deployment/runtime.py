"""onnxruntime in place of the PyTorch model: sessions on the CPU or CUDA provider, and the eval backend's model."""

from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
import torch.nn.functional as F

from utils.config.errors import UserError
from utils.deployment.sidecar import read_sidecar
from utils.losses import logits_from_probabilities

CUDA_PROVIDER, CPU_PROVIDER = "CUDAExecutionProvider", "CPUExecutionProvider"


def providers_for(device: str) -> list:
    """CUDA then CPU when ``device`` is cuda and this onnxruntime has the CUDA provider (onnxruntime-gpu); else CPU."""
    if device == "cuda" and CUDA_PROVIDER in ort.get_available_providers():
        return [CUDA_PROVIDER, CPU_PROVIDER]
    return [CPU_PROVIDER]


def create_session(path, device: str = "cpu", threads: int = 0) -> ort.InferenceSession:
    """An inference session for ``path``; ``threads`` > 0 fixes the intra-op thread count (0: onnxruntime's choice)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(
            f"ONNX model '{path}' does not exist. Write it with python export.py --checkpoint CKPT, or point "
            "eval.onnx at it."
        )
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: the CUDA provider's fallback notes are not failures
    if threads > 0:
        options.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(str(path), options, providers=providers_for(device))
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
        raise UserError(
            f"onnxruntime cannot load '{path}' ({type(exc).__name__}: {str(exc).splitlines()[0]}). Export it again "
            "with python export.py."
        ) from None


class OnnxModel:
    """An exported graph called like the PyTorch model: (N, 3, H, W) normalised images -> (N, C, H, W) float32.

    ``outputs`` says what comes back. Logits and probability graphs give logits: probabilities are mapped
    back (logit for sigmoid; log for softmax, which softmax cannot tell from the logits), so sliding
    windows average the same quantity as in PyTorch and eval.py scores what PyTorch scores. A class-index
    graph gives one-hot probabilities: TTA merges become votes, DropClusters and metrics work unchanged.
    """

    def __init__(self, path, num_classes: int, device: str = "cpu", threads: int = 0):
        self.path = Path(path)
        self.sidecar = read_sidecar(self.path)
        self.session = create_session(self.path, device, threads)
        self.kind, self.activation = self.sidecar["output"]["kind"], self.sidecar["output"].get("activation")
        self.outputs = "probabilities" if self.kind == "labels" else "logits"
        self.num_classes = num_classes
        self.input_name = self.session.get_inputs()[0].name
        self.providers = self.session.get_providers()

    def run(self, images: np.ndarray) -> np.ndarray:
        """(N, 3, H, W) float32 -> the graph's raw output."""
        try:
            return self.session.run(None, {self.input_name: np.ascontiguousarray(images, dtype=np.float32)})[0]
        except Exception as exc:  # onnxruntime's own error types: a shape the graph does not take, a broken node
            raise UserError(
                f"onnxruntime could not run '{self.path}' on a {tuple(images.shape)} input "
                f"({str(exc).splitlines()[0]}). Export it again with python export.py."
            ) from None

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        out = torch.from_numpy(self.run(images.detach().float().cpu().numpy())).to(images.device)
        if self.kind == "labels":
            return F.one_hot(out.long(), self.num_classes).permute(0, 3, 1, 2).float()
        if self.kind == "probabilities":
            return logits_from_probabilities(out, self.activation)
        return out.float()
