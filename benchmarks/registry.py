"""The benchmarks ``python -m benchmarks`` runs, in order. Adding one is one line: a name and a module with ``run``."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    name: str
    module: str
    cuda_only: bool = False
    optional: bool = False  # skipped, with a note, when the module is not there (another lane may add it later)
    cpu_only: bool = False  # the CPU table of docs/models.md: on a GPU, gpu_models measures the same rows


BENCHMARKS = (
    Entry("train_step", "benchmarks.train_step"),
    Entry("data_pipeline", "benchmarks.data_pipeline"),
    Entry("tta", "benchmarks.tta"),
    Entry("drop_clusters", "benchmarks.drop_clusters"),
    Entry("inference", "benchmarks.inference"),
    Entry("latency", "benchmarks.onnx_latency", optional=True),
    Entry("model_table", "benchmarks.model_table", cpu_only=True),
    Entry("gpu_models", "benchmarks.gpu_models", cuda_only=True),
    Entry("gpu", "benchmarks.gpu", cuda_only=True),  # last: torch.compile can take minutes
)
