"""Evaluation and prediction: from a checkpoint to metrics, pictures, official exports and videos.

Entry points: ``build_eval_setup`` (:mod:`utils.evaluation.setup`) rebuilds the config, model and predictor from a
checkpoint; ``run_evaluation`` (:mod:`utils.evaluation.loop`) predicts a split or a folder (whole or sliding
windows, :mod:`~utils.evaluation.inference`), merges TTA views (:mod:`~utils.evaluation.tta`), applies DropClusters
(:mod:`~utils.evaluation.drop_clusters`), scores and writes outputs (:mod:`~utils.evaluation.outputs`);
``run_video`` (:mod:`~utils.evaluation.video_eval`) does a video file. The official scorers live here too:
:mod:`~utils.evaluation.cityscapes_official` (``python -m utils.evaluation.cityscapes_official``) and the KITTI road
devkit's measures (:mod:`~utils.evaluation.kitti_devkit`). Nothing here imports :mod:`utils.training`.
"""
