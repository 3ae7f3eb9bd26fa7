"""Helpers of the annotation tests (tests/annotation/): a copy of the real data with one page
added by ``data add``, a tracking store whose stance and boilerplate champions are a cheap TF-IDF
model, and Label Studio JSON exports made by hand in the shape the real server writes (checked
against a real one in test_label_studio_server.py).

A module, not a conftest.py: a second conftest module would shadow ``from conftest import``
in other test files."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

REPO = Path(__file__).resolve().parents[1]

# A made-up page: six blocks, two of them boilerplate (L1, L4), and six sentences under the
# content blocks (L2:S1, L3:S1, L3:S2, L5:S1, L5:S2, L6:S1).
PAGE = (
    "Menu | Markets | Policy\n"
    "Exchange adds a monthly reserve audit\n"
    "The exchange said an outside firm will check its reserves every month. Critics said the "
    "audits leave out liabilities.\n"
    "Share this story\n"
    "The company reported 2 million new users in March. Analysts expect growth to slow.\n"
    "Regulators in two countries opened inquiries into the exchange.\n"
)
PAGE_BOILERPLATE = {"L1", "L4"}
PAGE_SENTENCES = ["L2:S1", "L3:S1", "L3:S2", "L5:S1", "L5:S2", "L6:S1"]


def copy_real_data(dst: Path) -> Path:
    """raw/ and annotations/ of the repository (no synthetic corpus: building stays quick)."""
    for sub in ("raw", "annotations"):
        shutil.copytree(REPO / "data" / sub, dst / sub)
    return dst


def snapshot(data_dir: Path) -> dict[str, str]:
    """sha256 of every file under the data folder, to show that nothing changed."""
    return {str(p.relative_to(data_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(data_dir.rglob("*")) if p.is_file()}


def ls_export(tasks: list[dict], answers: dict[str, str | list], user: int | dict = 1,
              notes: dict[str, str] | None = None, first_id: int = 1) -> list[dict]:
    """A Label Studio JSON export of ``tasks`` (as ``cnbench annotate export`` wrote them):
    each task whose unit is in ``answers`` gets one submitted annotation by ``user`` choosing
    that label (a list: those choices), a task absent from it none; ``notes`` adds the note
    control's text."""
    out = []
    for n, task in enumerate(tasks, first_id):
        uid = task["data"]["unit_id"]
        annotations = []
        if uid in answers:
            choice = answers[uid]
            result = [{"id": f"r{n}", "from_name": "label", "to_name": "text", "type": "choices",
                       "origin": "manual",
                       "value": {"choices": choice if isinstance(choice, list) else [choice]}}]
            if notes and uid in notes:
                result.append({"id": f"n{n}", "from_name": "note", "to_name": "text",
                               "type": "textarea", "origin": "manual",
                               "value": {"text": [notes[uid]]}})
            annotations.append({"id": 100 + n, "completed_by": user, "result": result,
                                "was_cancelled": False, "ground_truth": False,
                                "lead_time": 3.2, "task": n, "project": 1,
                                "created_at": "2026-01-05T10:00:00Z"})
        out.append({"id": n, "annotations": annotations, "drafts": [],
                    "predictions": task.get("predictions", []), "data": task["data"],
                    "meta": {}, "project": 1, "inner_id": n,
                    "total_annotations": len(annotations)})
    return out


def write_json(path: Path, value) -> Path:
    path.write_text(json.dumps(value, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def add_page(tmp_path: Path) -> SimpleNamespace:
    """A copy of the real data in ``tmp_path/data`` with PAGE added by ``data add``."""
    from crypto_news_bench.data.add import add_document

    data_dir = copy_real_data(tmp_path / "data")
    page = tmp_path / "page.txt"
    page.write_text(PAGE, encoding="utf-8")
    doc = add_document(page, data_dir, "Test Wire", "Exchange adds a monthly reserve audit",
                       "https://example.com/audit", "2024-05-01")
    return SimpleNamespace(data_dir=data_dir, page=page, doc=doc, id=doc.id, tmp=tmp_path)


_STORES: dict[str, SimpleNamespace] = {}


def cheap_store(tmp_path_factory) -> SimpleNamespace:
    """A SQLite store whose boilerplate and stance champions are TF-IDF + logistic regression
    trained on the real pages only (seconds, not minutes); claim_type has no model. Made once
    per session, whichever test file asks first."""
    if "store" in _STORES:
        return _STORES["store"]
    import mlflow

    from crypto_news_bench.config import load_config
    from crypto_news_bench.train import train

    folder = tmp_path_factory.mktemp("annotation-store")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    config = load_config(REPO / "configs" / "tfidf_word_lr_real.yaml",
                         {"bootstrap_resamples": 20})
    before = mlflow.get_tracking_uri()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        for task in ("boilerplate", "stance"):
            train(config, task, data_dir=REPO / "data", tracking_uri=uri)
    mlflow.set_tracking_uri(before)
    _STORES["store"] = SimpleNamespace(uri=uri, config=config.name)
    return _STORES["store"]


def use_store(store: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """Make ``store`` MLflow's default for one test (undone by ``monkeypatch``)."""
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.uri)
    mlflow.set_tracking_uri(store.uri)
    return store
