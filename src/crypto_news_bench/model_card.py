"""Model cards: YAML metadata that tools read (``model-index``), prose that people read."""

from __future__ import annotations

from typing import Any

import yaml

from .schema import TASKS

USAGE = {
    "transformers": """```python
from transformers import pipeline
clf = pipeline("text-classification", model="{path}")
clf("Binance said it holds all customer assets in segregated accounts.")
```""",
    "encoder_head": """```python
import json, skops.io
from sentence_transformers import SentenceTransformer
body = SentenceTransformer("{path}")
head = skops.io.load("{path}/head.skops", trusted=[])
labels = json.load(open("{path}/labels.json"))["labels"]
proba = head.predict_proba(body.encode(["Binance said ..."], normalize_embeddings=True))
print(labels[int(head.classes_[proba.argmax(1)[0]])])
```""",
    "sklearn": """```python
import json, skops.io
model = skops.io.load("{path}/model.skops", trusted=skops.io.get_untrusted_types(
    file="{path}/model.skops"))  # review the listed types before trusting them
labels = json.load(open("{path}/labels.json"))["labels"]
print(labels[int(model.predict(["Binance said ..."])[0])])
```""",
}


def card(*, task: str, config: dict[str, Any], flavour: str, metrics: dict[str, float],
         dataset_hash: str, run_id: str, base_model: str | None, version: str) -> str:
    """The README.md of a published folder."""
    t = TASKS[task]
    f1, low, high = metrics["macro_f1"], metrics["macro_f1_ci_low"], metrics["macro_f1_ci_high"]
    results = [
        {"type": "f1", "name": "macro-F1 (leave-one-document-out)", "value": round(f1, 4)},
        {"type": "f1", "name": "macro-F1 95% CI low", "value": round(low, 4)},
        {"type": "f1", "name": "macro-F1 95% CI high", "value": round(high, 4)},
        {"type": "accuracy", "name": "accuracy (leave-one-document-out)",
         "value": round(metrics.get("accuracy", float("nan")), 4)},
    ]
    if "f1_pro_crit" in metrics:
        results.append({"type": "f1", "name": "mean F1 of promotional and critical",
                        "value": round(metrics["f1_pro_crit"], 4)})
    meta = {
        "language": ["en"],
        "library_name": {"transformers": "transformers", "encoder_head": "sentence-transformers",
                         "sklearn": "sklearn"}[flavour],
        "pipeline_tag": "text-classification",
        "tags": ["crypto-news-bench", task, config.get("model", "")],
        "datasets": ["crypto-news-bench"],
        "metrics": ["f1", "accuracy"],
        "model-index": [{
            "name": f"crypto-news-bench-{task}-{config.get('name', '')}",
            "results": [{
                "task": {"type": "text-classification", "name": f"{task} classification"},
                "dataset": {"type": "crypto-news-bench", "name": "crypto-news-bench",
                            "config": task, "split": "train (leave-one-document-out)",
                            "revision": dataset_hash},
                "metrics": results,
            }],
        }],
        "cnbench": {"task": task, "labels": list(t.labels), "config": config,
                    "dataset_hash": dataset_hash, "mlflow_run_id": run_id,
                    "package_version": version, "flavour": flavour},
    }
    if base_model:
        meta["base_model"] = base_model
    return f"""---
{yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)}---

# crypto-news-bench: {task} ({config.get('name', '')})

{t.description} Labels: {", ".join(f"`{lab}`" for lab in t.labels)}.

Trained by [crypto-news-bench](https://pypi.org/project/crypto-news-bench/) with the
`{config.get('model', '')}` method on every gold {t.unit} of the dataset (hash
`{dataset_hash}`). Its score comes from leave-one-document-out cross-validation before this
final fit: **macro-F1 {f1:.3f}** (95% bootstrap interval {low:.3f} to {high:.3f}).

## Use

{USAGE[flavour].format(path="PATH/TO/THIS/FOLDER")}

## Limits

- Trained on three news pages about one exchange: the interval above is wide, and scores on
  other publishers, exchanges or periods are unknown.
- Under leave-one-document-out each held-out page has its own stance and claim profile, so
  trained models often learn the pages' topics; compare against the package's leaderboard.
- Not a judgement of any company: labels describe how a sentence presents the exchange.

## Training config

```yaml
{yaml.safe_dump(config, sort_keys=True, allow_unicode=True).strip()}
```
"""
