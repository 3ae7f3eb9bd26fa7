"""crypto_news_bench.tracking.artifacts: what a parent run keeps beside its metrics, read back
from a temporary SQLite store: the confusion matrix as a PNG, the out-of-fold predictions as CSV
and the metrics as JSON."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

OOF_HEADER = ["id", "doc", "text", "gold", "predicted", "score"]


def download(store, run_id: str, path: str, dst: Path) -> Path:
    import mlflow

    return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path,
                                                    dst_path=str(dst), tracking_uri=store.uri))


def test_artifacts(store, stance_data, tmp_path):
    run_id = store.first.run_id
    names = {a.path for a in store.client.list_artifacts(run_id)}
    assert {"confusion_matrix.png", "oof_predictions.csv", "metrics.json"} <= names

    png = download(store, run_id, "confusion_matrix.png", tmp_path)
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")

    with download(store, run_id, "oof_predictions.csv", tmp_path).open(encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    assert reader.fieldnames == OOF_HEADER
    assert len(rows) == len(stance_data) == 80
    assert sorted(r["id"] for r in rows) == sorted(stance_data["id"])
    labels = {"promotional", "critical", "neutral"}
    assert {r["gold"] for r in rows} <= labels and {r["predicted"] for r in rows} <= labels
    names_by_id = dict(zip(stance_data["id"], stance_data["label"], strict=True))
    label_names = ("promotional", "critical", "neutral")
    assert all(r["gold"] == label_names[names_by_id[r["id"]]] for r in rows)
    assert all(np.isfinite(float(r["score"])) for r in rows)

    report = json.loads(download(store, run_id, "metrics.json", tmp_path).read_text())
    assert report["task"] == "stance" and report["config"] == "tfidf_word_lr"
    assert report["pooled"]["macro_f1"] == pytest.approx(
        store.client.get_run(run_id).data.metrics["macro_f1"])
    assert report["macro_f1_ci"] == pytest.approx(list(store.first.evaluation.ci))
    assert [f["held_out"] for f in report["folds"]] == sorted(set(stance_data["doc_id"]))
    assert report["notes"] == store.first.evaluation.notes
