"""The artifacts a parent run keeps: out-of-fold predictions, the metrics as JSON, and the
confusion matrix as a picture."""

from __future__ import annotations

import json
from pathlib import Path

from ..data.schema import TASKS
from ..evaluation.protocol import Evaluation


def confusion_png(evaluation: Evaluation, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    labels = list(TASKS[evaluation.task].labels)
    gold = [p["gold"] for p in evaluation.predictions]
    pred = [p["predicted"] for p in evaluation.predictions]
    fig, ax = plt.subplots(figsize=(1.2 * len(labels) + 3, 1.2 * len(labels) + 2.5))
    ConfusionMatrixDisplay.from_predictions(gold, pred, labels=labels, ax=ax, colorbar=False,
                                            xticks_rotation=45)
    ax.set_title(f"{evaluation.config.name} on {evaluation.task} (out-of-fold)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_artifacts(evaluation: Evaluation, folder: Path) -> list[Path]:
    import csv

    folder.mkdir(parents=True, exist_ok=True)
    csv_path = folder / "oof_predictions.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["id", "doc", "text", "gold", "predicted",
                                                "score"])
        writer.writeheader()
        writer.writerows(evaluation.predictions)
    metrics_path = folder / "metrics.json"
    metrics_path.write_text(json.dumps({
        "task": evaluation.task, "config": evaluation.config.name,
        "pooled": evaluation.metrics,
        "macro_f1_ci": list(evaluation.ci),
        "confidence": evaluation.config.confidence,
        "folds": [{"held_out": f.held_out, "metrics": f.metrics,
                   "absent_classes": f.absent_classes} for f in evaluation.folds],
        "notes": evaluation.notes,
    }, indent=2), encoding="utf-8")
    return [csv_path, metrics_path, confusion_png(evaluation, folder / "confusion_matrix.png")]
