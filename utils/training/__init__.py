"""Training: from a config to checkpoints.

Entry points: ``build_training_parts`` (:mod:`utils.training.setup`) builds the device, labels, model and loss;
``Trainer(cfg, run, parts).fit(resume)`` (:mod:`utils.training.trainer`) runs the stages of epochs (one epoch's loop of
micro-steps, optimizer steps and periodic actions: :mod:`utils.training.epoch`), validates
(:mod:`utils.training.validation`), follows the lr policy (:mod:`utils.training.optim`) and saves through the run
folder (:class:`utils.training.run_dir.RunDir`: config.yaml, train.log, tensorboard/, metrics.json, last.pth, best.pth;
a checkpoint is a :class:`utils.checkpoint.Checkpoint` record).
Nothing here imports :mod:`utils.evaluation`.
"""
