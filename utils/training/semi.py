"""Semi-supervised training (FixMatch-style, as UniMatch's FixMatch baseline): each micro-step draws an unlabelled
batch beside the labelled one; a teacher labels the weak views, and the student learns those pseudo-labels on the
strong, CutMix-ed views where the teacher is confident.

One student forward on ``cat(labelled images, strong images)`` (one forward keeps DDP's hooks simple, and batch norm
sees both), then ``loss = criterion(labelled) + unlabeled.weight * criterion(strong, pseudo-labels)`` with the run's
own criterion, so every loss and every architecture's auxiliary outputs work unchanged. The unlabelled stream
(:class:`~utils.data.unlabeled_dataset.StreamSampler`) never ends; its position and the EMA teacher go into
checkpoints, so a resume continues both exactly.
"""

import torch

from utils.checkpoint import UnlabeledState
from utils.data.unlabeled import unlabeled_batch_size
from utils.data.unlabeled_dataset import StreamSampler, UnlabeledDataset, build_unlabeled_loader
from utils.distributed import get_rank, get_world_size
from utils.losses import probabilities
from utils.training.ema import EMATeacher
from utils.training.pseudo_labels import class_counts, confident_share, cutmix, pseudo_labels, split_outputs
from utils.training.semi_stats import UnlabeledStats


class SemiSupervised:
    """The unlabelled stream, the teacher and the unlabelled loss of a run with an ``unlabeled`` source.

    Args:
        cfg: the run's Config (``unlabeled``, ``dataset`` for the geometry, ``training`` for the seed, workers, loss).
        items: the unlabelled images (:func:`utils.data.unlabeled.unlabeled_items`).
        model: the raw (unwrapped) model; the EMA teacher starts as its copy.
        class_names: for the pseudo-label class distribution in TensorBoard.
        device: the run's device.
    """

    def __init__(self, cfg, items: list, model: torch.nn.Module, class_names: tuple, device: torch.device):
        self.cfg, self.u, self.items, self.device = cfg, cfg.unlabeled, items, device
        self.teacher = EMATeacher(model, self.u.ema_decay) if self.u.teacher == "ema" else None
        self.position = 0  # unlabelled samples drawn so far, over all processes
        self.stats = UnlabeledStats(class_names, device)
        self.carried = None  # a mid-epoch last.pth's epoch sums, for the epoch it resumes
        self.iterator, self.batch_size = None, 0
        self.epoch_summary = ""  # the last epoch's unlabelled loss and confident share, for train.log

    # ----------------------------------------------------------------- the stream
    def setup_stage(self, size, batch_size: int, memory_format) -> None:
        """An endless loader at the stage's size, continuing the stream from :attr:`position`."""
        self.close()
        t = self.cfg.training
        self.batch_size, self.memory_format = unlabeled_batch_size(self.u.ratio, batch_size), memory_format
        dataset = UnlabeledDataset(self.items, self.cfg.dataset, self.u, size)
        sampler = StreamSampler(len(dataset), t.seed, self.position, get_rank(), get_world_size())
        pin = self.device.type == "cuda"
        self.iterator = iter(build_unlabeled_loader(dataset, self.batch_size, t.num_workers, sampler, pin))

    def close(self) -> None:
        """Stops the loader's worker processes."""
        if self.iterator is not None and hasattr(self.iterator, "_shutdown_workers"):
            self.iterator._shutdown_workers()
        self.iterator = None

    def _draw(self) -> dict:
        batch = next(self.iterator)
        self.position += self.batch_size * get_world_size()
        return batch

    # ----------------------------------------------------------------- one micro-step
    def loss(self, model, raw_model, criterion, images: torch.Tensor, masks: torch.Tensor, step: int) -> torch.Tensor:
        """The micro-batch's total loss (call it under the step's autocast): the labelled loss, plus from optimizer
        step ``unlabeled.start_iters`` on the weighted unlabelled loss. An unlabelled batch is drawn either way.

        Args:
            model: what the student's forward goes through (DDP or compiled); ``raw_model`` is the plain module, the
                teacher when ``unlabeled.teacher`` is self.
            images, masks: the labelled micro-batch on the device.
            step: optimizer steps taken so far.
        """
        batch = self._draw()
        if step < self.u.start_iters:
            return criterion(model(images), masks)
        weak, strong, valid, boxes = (
            batch[k].to(self.device, non_blocking=True) for k in ("weak", "strong", "valid", "cutmix_box")
        )
        probs = self._teach(raw_model, weak.contiguous(memory_format=self.memory_format))
        targets, confident, valid = pseudo_labels(probs, valid, boxes, self.u.threshold, self.u.keep_per_class)
        student_in = torch.cat([images, cutmix(strong, boxes)]).contiguous(memory_format=self.memory_format)
        labelled_out, unlabelled_out = split_outputs(model(student_in), images.shape[0])
        unlabelled = criterion(unlabelled_out, targets.to(masks.dtype))
        if self.u.normalize == "all":
            unlabelled = unlabelled * confident_share(confident, valid)
        self.stats.add(unlabelled.detach(), confident, valid, class_counts(targets, confident, len(self.stats.names)))
        return criterion(labelled_out, masks) + self.u.weight * unlabelled

    @torch.no_grad()
    def _teach(self, raw_model: torch.nn.Module, weak: torch.Tensor) -> torch.Tensor:
        """The teacher's (N, C, H, W) probabilities on the weak views, through the run's loss activation."""
        if self.teacher is not None:
            logits = self.teacher(weak)
        else:
            training = raw_model.training
            raw_model.eval()
            try:
                logits = raw_model(weak)
            finally:
                raw_model.train(training)
        return probabilities(logits, self.cfg.training.loss)

    def after_step(self, model: torch.nn.Module, step: int) -> None:
        """After a taken optimizer step (``step``: the steps taken now): the EMA teacher follows the student."""
        if self.teacher is not None:
            self.teacher.update(model, step)

    # ----------------------------------------------------------------- epochs and checkpoints
    def begin_epoch(self, resumed_mid_epoch: bool) -> None:
        self.stats.begin_epoch(self.carried if resumed_mid_epoch else None)
        self.carried = None

    def end_epoch(self) -> None:
        """Sets :attr:`epoch_summary`, the epoch's unlabelled figures for its summary line; a collective."""
        self.epoch_summary = self.stats.end_epoch()

    def state(self, mid_epoch: bool) -> UnlabeledState:
        """What a checkpoint carries (a collective when ``mid_epoch``: the epoch's sums over all processes)."""
        teacher = self.teacher.state_dict() if self.teacher is not None else None
        return UnlabeledState(self.position, teacher, self.stats.epoch_sums() if mid_epoch else None)

    def load_state(self, state: UnlabeledState) -> None:
        self.position = state.position
        if self.teacher is not None:
            self.teacher.load_state_dict(state.teacher)
        self.carried = state.epoch_sums
