"""Label audit: the gold units whose label a model, scoring them out of fold, most doubts.

Every unit of the audited split(s) gets calibrated probabilities from a model that never saw
its document: the units are split into at most ``N_FOLDS`` folds grouped by document
(scikit-learn ``GroupKFold``), each fold is scored by the config's model fitted on the other
documents (``protocol.fit_model`` and ``protocol.model_logits``, the protocol's own pieces),
and the pooled logits are calibrated cross-fitted by document (``calibration.cross_fitted``). The
audited split's other documents always train; the other split joins the training data when
the config's ``train_on`` names it (auditing the real pages with ``tfidf_word_lr`` trains on
the other real pages and every synthetic article), and ``train_cap`` holds as in the protocol.

``cleanlab`` then scores every unit's label quality (the calibrated probability of its given
label, method ``self_confidence``) and flags likely label errors by confident learning
(``filter.find_label_issues``). The ranking puts the flagged units first, each group by
ascending label quality: the units to re-read first.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import ExperimentConfig
from ..data.schema import TASKS, Task
from ..errors import DataError
from ..models import MODELS
from .calibration import cross_fitted
from .protocol import Units, fit_model, model_logits, training_indices

N_FOLDS = 5
AUDIT_SPLITS = ("real", "synthetic", "all")
QUALITY_METHOD = "self_confidence"
COLUMNS = ("rank", "id", "doc_id", "split", "given_label", "suggested_label", "confidence",
           "label_quality", "flagged", "text")
TEXT_WIDTH = 60


@dataclass(frozen=True)
class Audit:
    """The ranked audit of one task: ``rows`` follow ``COLUMNS`` plus ``p_<label>`` per label."""

    task: str
    config: str
    rows: list[dict]

    @property
    def n_flagged(self) -> int:
        return sum(1 for r in self.rows if r["flagged"])

    @property
    def columns(self) -> list[str]:
        return [*COLUMNS, *(f"p_{label}" for label in TASKS[self.task].labels)]


def group_folds(groups: Sequence[str], n_folds: int = N_FOLDS) -> list[np.ndarray]:
    """Test indices of each fold: ``min(n_folds, documents)`` folds, no document in two."""
    from sklearn.model_selection import GroupKFold

    groups = np.asarray(list(groups), dtype=object)
    n_docs = len(set(groups.tolist()))
    if n_docs < 2:
        raise DataError(f"auditing labels out of fold needs at least 2 documents, got {n_docs}")
    splitter = GroupKFold(n_splits=min(n_folds, n_docs))
    return [test for _, test in splitter.split(np.zeros(len(groups)), groups=groups)]


def out_of_fold_probabilities(config: ExperimentConfig, task_name: str, pool: Units,
                              pool_sources: Sequence[str] | None = None,
                              extra: Units | None = None, extra_source: str = "synthetic",
                              n_folds: int = N_FOLDS,
                              on_fold: Callable[[int, int, int], None] | None = None
                              ) -> np.ndarray:
    """Calibrated probabilities (units x labels) of every unit of ``pool``, each from a model
    fitted without its document; ``extra`` units (another split, never scored) join every
    fit. ``pool_sources`` (default all "real") and ``extra_source`` say which units are real:
    ``train_cap`` keeps those and samples the rest. ``on_fold(i, n, n_train)`` sees each fit."""
    config = config.for_task(task_name)
    task: Task = TASKS[task_name]
    extra = extra if extra is not None else Units.empty()
    sources = list(pool_sources) if pool_sources is not None else ["real"] * len(pool)
    texts = pool.texts + extra.texts
    labels = np.concatenate([pool.labels, extra.labels]).astype(int)
    groups = pool.doc_ids + extra.doc_ids
    is_real = np.asarray(sources + [extra_source] * len(extra)) == "real"
    n_labels = len(task.labels)
    logits = np.full((len(pool), n_labels), -np.inf)
    folds = group_folds(pool.doc_ids, n_folds)
    for i, test in enumerate(folds):
        held_out = {pool.doc_ids[j] for j in test}
        candidates = [j for j in range(len(texts)) if groups[j] not in held_out]
        real = [j for j in candidates if is_real[j]]
        synthetic = [j for j in candidates if not is_real[j]]
        # The protocol's cap: every real unit kept, the rest a seeded sample.
        real, picked = training_indices("real+synthetic", real, len(synthetic),
                                        config.train_cap, config.seed)
        train = real + [synthetic[k] for k in picked]
        if on_fold is not None:
            on_fold(i + 1, len(folds), len(train))
        model = fit_model(config, task, [texts[j] for j in train], labels[train],
                     [groups[j] for j in train])
        logits[test] = model_logits(model, [pool.texts[j] for j in test], n_labels)
    return cross_fitted(logits, pool.labels, pool.doc_ids, MODELS[config.model].trainable)


def rank_label_issues(labels: Sequence[int], probabilities: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(order, label quality, flagged) by cleanlab: ``order`` lists every unit, the flagged
    ones first, each group by ascending label quality (ties by position)."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    y = np.asarray(labels, dtype=int)
    p = np.asarray(probabilities, dtype=float)
    quality = get_label_quality_scores(y, p, method=QUALITY_METHOD)
    flagged = np.zeros(len(y), dtype=bool)
    if len(np.unique(y)) > 1:  # confident learning needs two classes to confuse
        issues = find_label_issues(y, p, return_indices_ranked_by=QUALITY_METHOD, n_jobs=1)
        flagged[np.asarray(issues, dtype=int)] = True
    order = np.lexsort((np.arange(len(y)), quality, ~flagged))
    return order, quality, flagged


def audit_units(config: ExperimentConfig, task_name: str, pool: Units,
                pool_sources: Sequence[str] | None = None, extra: Units | None = None,
                extra_source: str = "synthetic", n_folds: int = N_FOLDS,
                on_fold: Callable[[int, int, int], None] | None = None) -> Audit:
    """The ranked audit of ``pool``'s labels (see ``out_of_fold_probabilities``)."""
    task = TASKS[task_name]
    config = config.for_task(task_name)
    sources = list(pool_sources) if pool_sources is not None else ["real"] * len(pool)
    probs = out_of_fold_probabilities(config, task_name, pool, sources, extra, extra_source,
                                      n_folds, on_fold)
    order, quality, flagged = rank_label_issues(pool.labels, probs)
    rows = []
    for rank, i in enumerate(order.tolist(), start=1):
        suggested = int(probs[i].argmax())
        rows.append({
            "rank": rank, "id": pool.ids[i], "doc_id": pool.doc_ids[i], "split": sources[i],
            "given_label": task.labels[pool.labels[i]], "suggested_label": task.labels[suggested],
            "confidence": round(float(probs[i, suggested]), 6),
            "label_quality": round(float(quality[i]), 6), "flagged": bool(flagged[i]),
            "text": pool.texts[i],
            **{f"p_{lab}": round(float(probs[i, k]), 6) for k, lab in enumerate(task.labels)},
        })
    return Audit(task_name, config.name, rows)


def _units(table) -> Units:
    return Units.of(table["text"], table["label"], table["doc_id"], table["id"])


def audit_dataset(config: ExperimentConfig, task_name: str, data_dir: Path | str = "data",
                  split: str = "real",
                  on_fold: Callable[[int, int, int], None] | None = None) -> Audit:
    """Audit one split of the built dataset (or ``all``: both pooled) with ``config``."""
    from ..config import tasks_to_run
    from ..data import dataset
    from ..data.schema import get_task

    get_task(task_name)  # "unknown task ...; valid tasks: ..."
    tasks_to_run(config, task_name)  # one the config's model cannot do
    config = config.for_task(task_name)
    if split not in AUDIT_SPLITS:
        raise DataError(f"unknown split {split!r}; valid splits: {', '.join(AUDIT_SPLITS)}")
    tables = {s: dataset.load(task_name, data_dir, s) for s in dataset.SPLITS}
    audited = list(dataset.SPLITS) if split == "all" else [split]
    if not sum(len(tables[s]) for s in audited):
        raise DataError(f"the {split} split of {task_name} has no units to audit")
    pool = Units.of(*(sum((list(tables[s][col]) for s in audited), [])
                      for col in ("text", "label", "doc_id", "id")))
    sources = [s for s in audited for _ in range(len(tables[s]))]
    others = [s for s in dataset.SPLITS if s not in audited and s in config.train_on.split("+")]
    extra = _units(tables[others[0]]) if others and len(tables[others[0]]) else None
    return audit_units(config, task_name, pool, sources, extra,
                       extra_source=others[0] if others else "synthetic", on_fold=on_fold)


def check_output(path: Path | str, overwrite: bool = False) -> Path:
    """``path`` if the CSV may be written there: an existing file only with ``overwrite``."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a folder; --out takes a CSV file name")
    if path.exists() and not overwrite:
        raise DataError(f"{path}: already exists; pass --overwrite to replace it")
    return path


def write_csv(audit: Audit, path: Path | str, overwrite: bool = False) -> Path:
    """The full ranked audit as CSV (UTF-8, a header row), written whole or not at all."""
    path = check_output(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=audit.columns)
            writer.writeheader()
            writer.writerows(audit.rows)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _short(text: str, width: int = TEXT_WIDTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def render_table(audit: Audit, top: int = 20) -> str:
    """The first ``top`` rows of the ranking as an aligned text table, with a summary line."""
    head = ("rank", "unit", "doc", "text", "given", "suggested", "conf", "quality", "flag")
    rows = [(str(r["rank"]), r["id"], r["doc_id"], _short(r["text"]), r["given_label"],
             r["suggested_label"], f"{r['confidence']:.2f}", f"{r['label_quality']:.3f}",
             "*" if r["flagged"] else "") for r in audit.rows[:top]]
    widths = [max(len(c) for c in col) for col in zip(head, *rows, strict=True)]
    right = {0, 6, 7}
    lines = ["  ".join(c.rjust(w) if k in right else c.ljust(w)
                       for k, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip()
             for row in (head, *rows)]
    lines.insert(1, "  ".join("-" * w for w in widths))
    summary = (f"{audit.task}: {audit.n_flagged} of {len(audit.rows)} units flagged as likely "
               f"label errors (*) by cleanlab from out-of-fold {audit.config} probabilities; "
               f"first {len(rows)} shown")
    return "\n".join([summary, "", *lines]) + "\n"
