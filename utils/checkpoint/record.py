"""The checkpoint record: what a checkpoint holds, typed. With :func:`~utils.checkpoint.disk.migrate`, the only code
that names the keys of a checkpoint file.

Format 3 on disk (a plain dict)::

    format_version  3, or 4 with ``unlabeled``
    model           the model's state dict
    config          the resolved training config, as a dict (utils.config.config_to_dict)
    labels          the label set (LabelSet.to_dict): names, colours, label encoding
    stage, epoch, epoch_progress, global_step                    Progress
    best, key_metric, history, curves                            Metrics (curves: {"train": [[step, loss, lr]...],
                                                                 and the NaN guard's skipped_steps})
    optimizer, schedule, scaler, rng                             TrainingState
    unlabeled       {position, teacher, epoch_sums}              UnlabeledState: semi-supervised runs only

A weights-only file has ``model`` (and perhaps ``config``) only; the groups it lacks are None. A file's
``format_version`` is the oldest format that holds what it carries: 4 when it has ``unlabeled`` (an older toolkit
would resume the run without its unlabelled stream and teacher), else 3, which every toolkit since format 3 reads.
"""

from dataclasses import asdict, dataclass, field
from typing import Optional

from utils.checkpoint.disk import format_version_of, load_checkpoint
from utils.labels import LabelSet


@dataclass
class EpochProgress:
    """How far an epoch got when last.pth was written inside it (``training.checkpoint_every_iters``).

    Attributes:
        samples: training samples done, counted over all processes, so another process count continues the order.
        loss_sum: the epoch's micro-batch losses so far, summed over all processes.
        loss_count: the micro-batches in ``loss_sum``.
    """

    samples: int
    loss_sum: float
    loss_count: int


@dataclass
class Progress:
    """Where training stands.

    Attributes:
        stage: index of the stage (``training.stages``) being trained.
        epoch: epochs of that stage completed.
        epoch_progress: how far the next epoch got, when written inside one; None at an epoch's end.
        global_step: optimizer steps taken, over all stages.
    """

    stage: int = 0
    epoch: int = 0
    epoch_progress: Optional[EpochProgress] = None
    global_step: int = 0


@dataclass
class Metrics:
    """What training measured.

    Attributes:
        best: the best value of ``key_metric`` validated so far; None before the first validation.
        key_metric: ``training.key_metric`` (miou, mean_dice or loss).
        history: metrics.json's records, one per validation.
        train_points: (step, loss, lr) of sampled optimizer steps, for curves.png.
        nonfinite: the NaN guard's state (:meth:`NonFiniteGuard.state_dict`: its skipped steps).
    """

    best: Optional[float] = None
    key_metric: Optional[str] = None
    history: list = field(default_factory=list)
    train_points: list = field(default_factory=list)
    nonfinite: dict = field(default_factory=dict)


@dataclass
class TrainingState:
    """What only ``--resume`` reads: the optimizer's, lr schedule's and AMP scaler's state dicts, and one RNG state
    (:func:`~utils.checkpoint.state.rng_state`) per process."""

    optimizer: dict
    schedule: dict
    scaler: dict
    rng: list

    def rng_for(self, rank: int, world: int) -> dict:
        """The RNG state of process ``rank``; on another process count every process takes rank 0's."""
        return self.rng[rank] if len(self.rng) == world else self.rng[0]


@dataclass
class UnlabeledState:
    """What a semi-supervised run (the ``unlabeled`` config section) needs to continue exactly.

    Attributes:
        position: unlabelled samples drawn so far, over all processes (the stream's position).
        teacher: the EMA teacher's state dict; None with ``unlabeled.teacher: self``.
        epoch_sums: the epoch's unlabelled sums so far (loss, batches, confident and valid pixels) when written inside
            an epoch, else None.
    """

    position: int = 0
    teacher: Optional[dict] = None
    epoch_sums: Optional[list] = None


@dataclass
class Checkpoint:
    """One checkpoint: what eval, export and ``training.init_from`` need (``model``, ``config``, ``labels``) and what
    ``--resume`` needs besides (``progress``, ``metrics``, ``training``).

    Attributes:
        model: the model's state dict (name -> tensor).
        config: the resolved training config as a dict; None in a weights-only file.
        labels: the classes; None in a weights-only file.
        progress, metrics, training: None in a weights-only file.
        unlabeled: the semi-supervised state; None in a run without unlabelled images.
    """

    model: dict
    config: Optional[dict] = None
    labels: Optional[LabelSet] = None
    progress: Optional[Progress] = None
    metrics: Optional[Metrics] = None
    training: Optional[TrainingState] = None
    unlabeled: Optional[UnlabeledState] = None

    @property
    def class_names(self) -> Optional[list]:
        return None if self.labels is None else list(self.labels.names)

    @property
    def palette(self) -> Optional[list]:
        """[[R, G, B], ...] per class."""
        return None if self.labels is None else [list(c) for c in self.labels.colors]

    @property
    def resumable(self) -> bool:
        """Whether it holds the whole training state, not only weights."""
        return None not in (self.config, self.progress, self.metrics, self.training)

    @classmethod
    def load(cls, path, map_location="cpu") -> "Checkpoint":
        """Reads ``path`` (any format this toolkit wrote, or a bare state dict); problems are UserErrors."""
        return cls.from_dict(load_checkpoint(path, map_location))

    @classmethod
    def from_dict(cls, d: dict) -> "Checkpoint":
        """The record of a current-format dict (:func:`~utils.checkpoint.disk.migrate` makes one of any format)."""
        progress = metrics = training = None
        if "stage" in d:
            p = d.get("epoch_progress")
            progress = Progress(
                d["stage"],
                d.get("epoch", 0),
                EpochProgress(**p) if p else None,
                d.get("global_step", 0),
            )
        if "history" in d:
            curves = dict(d.get("curves") or {})
            points = [tuple(p) for p in curves.pop("train", [])]
            metrics = Metrics(d.get("best"), d.get("key_metric"), list(d["history"]), points, curves)
        if "optimizer" in d:
            training = TrainingState(d["optimizer"], d.get("schedule"), d.get("scaler"), d.get("rng") or [])
        config = d.get("config") if isinstance(d.get("config"), dict) else None
        labels = LabelSet.from_dict(d["labels"]) if isinstance(d.get("labels"), dict) else None
        unlabeled = UnlabeledState(**d["unlabeled"]) if isinstance(d.get("unlabeled"), dict) else None
        return cls(d["model"], config, labels, progress, metrics, training, unlabeled)

    def to_dict(self) -> dict:
        """The file's content: plain tensors, lists and scalars, so ``torch.load(weights_only=True)`` reads it."""
        out = {"model": self.model}
        if self.config is not None:
            out["config"] = self.config
        if self.labels is not None:
            out["labels"] = self.labels.to_dict()
        if self.progress is not None:
            p, e = self.progress, self.progress.epoch_progress
            out.update(
                stage=p.stage,
                epoch=p.epoch,
                epoch_progress=None if e is None else asdict(e),
                global_step=p.global_step,
            )
        if self.metrics is not None:
            m = self.metrics
            curves = {"train": [list(p) for p in m.train_points], **m.nonfinite}
            out.update(best=m.best, key_metric=m.key_metric, history=m.history, curves=curves)
        if self.training is not None:
            t = self.training
            out.update(optimizer=t.optimizer, schedule=t.schedule, scaler=t.scaler, rng=t.rng)
        if self.unlabeled is not None:
            out["unlabeled"] = asdict(self.unlabeled)
        return {"format_version": format_version_of(out), **out}
