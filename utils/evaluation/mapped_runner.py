"""A model's probabilities summed into another dataset's classes: eval's side of a ``predictions`` class mapping
(utils/data/taxonomy.py), e.g. a Cityscapes model scored on CamVid's 11 classes."""

import torch


class MappedRunner:
    """Wraps a :class:`~utils.evaluation.inference.ModelRunner`: (N, 3, H, W) -> (N, D, H, W), where each of the D
    scored classes gets the summed probabilities of the model's classes that map to it (those mapping to none drop
    out). TTA, sliding windows and DropClusters then run on the scored classes as on a model of them.

    Args:
        runner: the checkpoint's runner, C classes.
        table: (C,) scored class index per model class, -1 for none.
        num_classes: D.
    """

    def __init__(self, runner, table, num_classes: int):
        self.runner, self.num_classes = runner, num_classes
        self.model, self.device = runner.model, runner.device
        matrix = torch.zeros(num_classes, len(table))
        for model_class, scored in enumerate(table):
            if scored >= 0:
                matrix[int(scored), model_class] = 1.0
        self.matrix = matrix.to(runner.device)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        probs = self.runner(images)
        return torch.einsum("dc,nchw->ndhw", self.matrix.to(probs.dtype), probs)
