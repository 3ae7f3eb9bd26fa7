"""Train one config on one task: protocol + tracking, the body of ``cnbench train``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .config import ExperimentConfig
from .data import dataset as ds
from .evaluation.protocol import Evaluation, Units, evaluate
from .models import MODELS
from .serving import flavours
from .tracking import orphans, registry, runs, store


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


@dataclass
class TrainResult:
    run_id: str | None
    evaluation: Evaluation


def train(config: ExperimentConfig, task: str, data_dir: Path | str = ds.DATA_DIR,
          track: bool = True, extra_tags: dict[str, str] | None = None,
          tracking_uri: str | None = None, final_model: bool = True,
          aliases: bool = True, reap_orphans: bool = True) -> TrainResult:
    """Run the protocol for (config, task), fit the final model, and log it all to MLflow.

    ``tracking_uri`` defaults to ``MLFLOW_TRACKING_URI``, else the embedded store.
    ``final_model=False`` scores only (the bench's extra seeds: they measure the spread, and
    the published model is the first seed's). ``aliases=False`` leaves the registered model's
    ``champion`` and ``challenger`` aliases alone: parallel bench workers would race on them,
    so the bench moves them once at the end.
    ``reap_orphans`` first marks runs left RUNNING by dead processes FAILED (the bench does
    that once, before its cells).
    """
    config = config.for_task(task)
    splits = {split: ds.load(task, data_dir, split) for split in ds.SPLITS}
    real, synthetic = (Units.of(d["text"], d["label"], d["doc_id"], d["id"])
                       for d in (splits["real"], splits["synthetic"]))
    # Under torchrun every rank trains (DDP needs them all), but only rank 0 talks to MLflow,
    # so one launch makes one set of runs and one checkpoint.
    if not track or not is_main_process():
        return TrainResult(None, evaluate(config, task, real, synthetic, fit_final=final_model))
    store.setup(tracking_uri)
    try:
        if reap_orphans:
            orphans.mark_orphans([task])
        inputs = runs.DataInputs.of(task, splits, config.train_on, data_dir)
        with runs.parent_run(config, task, inputs, ds.dataset_hash(task, data_dir),
                                 extra_tags) as run:
            evaluation = evaluate(config, task, real, synthetic, fit_final=final_model,
                                  on_fold=lambda fold: runs.log_fold(fold, task))
            runs.log_evaluation(evaluation)
            if final_model:
                flavour = flavours.of_model(MODELS[config.model].flavour,
                                            evaluation.final_model)
                registry.log_final_model(evaluation, flavour)
        if aliases:
            # Also after a run without a model: its score moves its config's mean over seeds.
            registry.update_aliases(task)
    except Exception as exc:
        # One line, not MLflow's chain of retries, when the store stops answering.
        if store.is_lost_server(exc):
            raise store.lost(exc) from None
        raise
    return TrainResult(run.info.run_id, evaluation)
