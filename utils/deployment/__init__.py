"""Deployment: a checkpoint exported to ONNX, checked against PyTorch, and run by onnxruntime.

Entry points: ``export_onnx`` (:mod:`utils.deployment.export`) writes the graph (dynamic batch, height and width;
the model's padding and crop inside; logits, probabilities or class indices out; fp32 or fp16);
``write_sidecar`` / ``read_sidecar`` (:mod:`~utils.deployment.sidecar`) the ``model.json`` that says how to feed it;
``run_check`` (:mod:`~utils.deployment.check`) compares onnxruntime with PyTorch on real images; ``OnnxModel``
(:mod:`~utils.deployment.runtime`) is what ``eval.backend: onnxruntime`` calls instead of the PyTorch model.
``export.py`` at the top level ties them together. Nothing here imports :mod:`utils.training`.
"""
