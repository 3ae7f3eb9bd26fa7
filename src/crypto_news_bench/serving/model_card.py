"""Model cards of published folders, built with ``huggingface_hub``: YAML metadata that tools
read (license, language, datasets, base model, pipeline tag, a widget, ``model-index`` with the
leave-one-document-out macro-F1), prose that people read (the interval, use, limits)."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import yaml

from ..data.schema import TASKS
from . import flavours

TEMPLATE = "templates/model_card.md"
# Widget examples per task: sentences the guidelines use as examples of the labels.
WIDGET = {
    "boilerplate": ["Binance.US Faces SEC Scrutiny Over Customer Assets", "Advertisement",
                    "Read Also: Binance Tackles Technical Fault, Withdrawals Now Operational"],
    "stance": ["We’re always looking to build a better Binance.",
               "The SEC questions Binance.US's claimed autonomy over customer funds, "
               "particularly regarding potential access by Binance Holdings employees.",
               "Today’s compliance and regulatory landscape marks a historic moment for the "
               "blockchain and crypto industry."],
    "claim_type": ["The SEC’s lawsuit, filed last year, specifically questions the control "
                   "Binance employees outside the U.S. may have over American customers’ funds.",
                   "Compliance and cooperation go hand-in-hand.", "Highlights"],
}


def card(*, task: str, config: dict[str, Any], flavour: str, metrics: dict[str, float],
         dataset_hash: str, run_id: str, base_model: str | None, version: str,
         onnx: bool = False) -> str:
    """The README.md of a published folder; ``onnx``: it holds an ONNX export."""
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    t = TASKS[task]
    kind = flavours.get(flavour)
    f1, low, high = metrics["macro_f1"], metrics["macro_f1_ci_low"], metrics["macro_f1_ci_high"]
    ece = metrics.get("ece")
    name = f"crypto-news-bench-{task}-{config.get('name', '')}"
    data = ModelCardData(
        model_name=name,
        language="en",
        # A model built on the pretrained encoder keeps its license (Apache-2.0); the others
        # are the project's own (MIT).
        license="apache-2.0" if kind.has_base_model else "mit",
        library_name=kind.library_name,
        pipeline_tag="text-classification",
        tags=["crypto-news-bench", task, config.get("model", "")],
        datasets=["crypto-news-bench"],
        base_model=base_model,
        metrics=["f1"],
        widget=[{"text": text} for text in WIDGET[task]],
        eval_results=[EvalResult(
            task_type="text-classification", task_name=f"{task} classification",
            dataset_type="crypto-news-bench", dataset_name="crypto-news-bench",
            dataset_config=task, dataset_split="real (leave-one-document-out)",
            dataset_revision=dataset_hash, metric_type="f1",
            metric_name="macro-F1 (leave-one-document-out)", metric_value=round(f1, 4),
            metric_config="macro")],
        # ``ece``: the calibration error of the model's confidence, which ``cnbench predict``
        # shows beside the macro-F1 (None when the run did not measure it).
        cnbench={"task": task, "labels": list(t.labels), "config": config,
                 "dataset_hash": dataset_hash, "mlflow_run_id": run_id,
                 "package_version": version, "flavour": flavour, "ece": _finite(ece)},
    )
    return str(ModelCard.from_template(
        data, template_str=files("crypto_news_bench").joinpath(TEMPLATE).read_text("utf-8"),
        task=t, config=config, f1=f1, low=low, high=high,
        accuracy=metrics.get("accuracy"), pro_crit=metrics.get("f1_pro_crit"),
        ece=_finite(ece), dataset_hash=dataset_hash,
        usage=kind.usage.format(path="PATH/TO/THIS/FOLDER"), onnx=onnx,
        config_yaml=yaml.safe_dump(config, sort_keys=True, allow_unicode=True).strip(),
    ))


def _finite(value: float | None) -> float | None:
    """A metric rounded for the card, or None when missing or NaN (YAML would say .nan)."""
    return round(float(value), 4) if value is not None and value == value else None
