"""Shared fixtures: the real data folder, and a tiny valid one that tests corrupt one by one."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from crypto_news_bench.data.labels import text_hash
from crypto_news_bench.data.schema import TASKS
from crypto_news_bench.data.units import blocks, sentences

# --- data-layer fixtures (corpus, units, labels, dataset) ---------------------------------

# Two short made-up pages. Line numbers matter: the blank line 4 of a01 gives no block, and
# the bullet on line 5 is stripped.
TINY_DOCS = {
    "a01": (
        "Menu | Markets | News\n"
        "Exchange reports record volume\n"
        "The exchange said trading volume rose 5% in May. Critics called the figure misleading.\n"
        "\n"
        "  • Regulators opened an inquiry.\n"
    ),
    "b02": (
        "Share this article\n"
        "Founder says user funds are safe.\n"
        "Subscribe to our newsletter\n"
    ),
}
TINY_BOILERPLATE = {"a01:L1", "b02:L1", "b02:L3"}  # every other block is content

# Two short made-up synthetic pages for data/synthetic/ (training data only).
TINY_SYNTHETIC = {
    "s01": (
        "Coin Wire | Policy\n"
        "Watchdog fines exchange over missing licence\n"
        "The watchdog fined the exchange 2 million euros on Tuesday. Its spokesperson said the "
        "firm will appeal.\n"
        "Sign up for our morning briefing\n"
    ),
    "s02": (
        "Market Pulse\n"
        "Exchange volumes climb for a third week\n"
        "Analysts expect the rally to fade by summer.\n"
        "Tags: markets, volumes\n"
    ),
}
TINY_SYNTHETIC_BOILERPLATE = {"s01:L1", "s01:L4", "s02:L1", "s02:L4"}


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def write_jsonl(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                    encoding="utf-8")


def build_tiny_data(root: Path, docs: dict[str, str] | None = None,
                    boilerplate: set[str] | None = None, synthetic: bool = False) -> Path:
    """``root/raw`` and ``root/annotations`` for TINY_DOCS (or ``docs``), every hash and label
    correct; ``synthetic`` writes the metadata of synthetic pages."""
    docs = TINY_DOCS if docs is None else docs
    boilerplate = TINY_BOILERPLATE if boilerplate is None else boilerplate
    raw, ann = root / "raw", root / "annotations"
    raw.mkdir(parents=True)
    ann.mkdir()
    meta = []
    for doc_id, text in docs.items():
        data = text.encode("utf-8")
        (raw / f"{doc_id}.txt").write_bytes(data)
        meta.append({"id": doc_id, "file": f"{doc_id}.txt", "publisher": f"Publisher {doc_id}",
                     "title": f"Title {doc_id}", "url": f"https://example.com/{doc_id}",
                     "published": "2023-01-01", "sha256": hashlib.sha256(data).hexdigest()})
        if synthetic:
            meta[-1].update(synthetic=True, outlet_type="crypto_news", template="tiny/article")
    write_jsonl(raw / "documents.jsonl", meta)

    # Labels computed from the real segmentation, so they stay right if it changes.
    bp, content = [], []
    for doc_id, text in docs.items():
        for b in blocks(doc_id, text):
            label = "boilerplate" if b.id in boilerplate else "content"
            bp.append({"id": b.id, "text_sha256": text_hash(b.text), "label": label})
            if label == "content":
                content.append(b)
    write_jsonl(ann / "boilerplate.jsonl", bp)
    sents = sentences(content)
    for name in ("stance", "claim_type"):
        labels = TASKS[name].labels
        write_jsonl(ann / f"{name}.jsonl", [
            {"id": s.id, "text_sha256": text_hash(s.text), "label": labels[i % len(labels)]}
            for i, s in enumerate(sents)
        ])
    return root


def add_tiny_synthetic(data_dir: Path) -> Path:
    """``data_dir/synthetic`` with TINY_SYNTHETIC, labelled like ``build_tiny_data``."""
    build_tiny_data(data_dir / "synthetic", TINY_SYNTHETIC, TINY_SYNTHETIC_BOILERPLATE,
                    synthetic=True)
    return data_dir


@pytest.fixture
def tiny_data_dir(tmp_path: Path) -> Path:
    """A small valid data folder (raw/ + annotations/) in tmp_path; see TINY_DOCS."""
    return build_tiny_data(tmp_path / "data")


@pytest.fixture
def tiny_synthetic_data_dir(tiny_data_dir: Path) -> Path:
    """``tiny_data_dir`` with a synthetic corpus of two pages (see TINY_SYNTHETIC)."""
    return add_tiny_synthetic(tiny_data_dir)


@pytest.fixture
def tiny_docs() -> dict[str, str]:
    """The raw text of each document in ``tiny_data_dir``, by document id."""
    return dict(TINY_DOCS)


@pytest.fixture
def repo_data_dir() -> Path:
    """The committed data folder of the repository."""
    return Path(__file__).parents[1] / "data"


@pytest.fixture
def jsonl() -> SimpleNamespace:
    """``jsonl.read(path)`` and ``jsonl.write(path, records)`` for editing metadata and labels."""
    return SimpleNamespace(read=read_jsonl, write=write_jsonl)


# --- tracking fixtures: no test ever writes to the repository's mlruns/ --------------------


@pytest.fixture(scope="session", autouse=True)
def _mlflow_away_from_the_repository(tmp_path_factory):
    """Safety net: by default MLflow (and ``store.tracking_uri()``) point at a throwaway
    SQLite store; tests that track use their own store on top of this."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow-session') / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        yield uri


@pytest.fixture
def mlflow_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh SQLite tracking store in tmp_path (artifacts beside it), set as the default."""
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    (tmp_path / "mlflow").mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    return uri


# --- transformer fixtures: a tiny random BERT, and one store trained with every method -------

REPO_DATA = Path(__file__).resolve().parents[1] / "data"


@contextlib.contextmanager
def one_torch_thread():
    """Tiny models train several times faster on one thread than on a shared, busy CPU."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """A 2-layer, 32-wide random BERT folder with its tokenizer (tests/tiny_bert.py)."""
    from tiny_bert import make_tiny_bert

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


def tiny_config(model: str, tiny_bert: Path, name: str | None = None, train_cap: int = 160,
                **params):
    """A validated config for ``model`` on the tiny BERT: one epoch, one SetFit iteration."""
    from crypto_news_bench.config import validate

    defaults = {"finetune": {"epochs": 1, "batch_size": 8},
                "frozen_encoder": {},
                "setfit": {"num_iterations": 1, "epochs": 1, "batch_size": 16}}[model]
    # The real pages and a sample of the synthetic corpus: enough to exercise both, quick.
    return validate(name or f"tiny-{model}", {
        "model": model, "train_cap": train_cap,
        "params": {"model_name_or_path": str(tiny_bert), **defaults, **params},
    })


# (task, config name) -> what is trained into the shared store; see ``transformer_store``.
TRAINED = [("stance", "tiny-finetune"), ("stance", "tiny-frozen_encoder"),
           ("stance", "tiny-setfit"), ("stance", "tfidf_word_lr"),
           ("boilerplate", "tfidf_word_lr"), ("claim_type", "tiny-frozen_encoder")]


@pytest.fixture(scope="session")
def transformer_store(tmp_path_factory, tiny_bert):
    """One SQLite store (in tmp) holding ``cnbench train`` of every config in TRAINED on the
    real data: the three transformer methods on the tiny BERT, and TF-IDF baselines.

    Read-only for the tests that use it. ``results[(task, config)]`` is the TrainResult."""
    import mlflow
    from mlflow.tracking import MlflowClient

    from crypto_news_bench.config import load_config
    from crypto_news_bench.train import train

    folder = tmp_path_factory.mktemp("transformer-store")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    configs = {
        "tiny-finetune": tiny_config("finetune", tiny_bert),
        "tiny-frozen_encoder": tiny_config("frozen_encoder", tiny_bert),
        "tiny-setfit": tiny_config("setfit", tiny_bert),
        "tfidf_word_lr": load_config(REPO_DATA.parent / "configs" / "tfidf_word_lr.yaml"),
    }
    before = os.environ.get("MLFLOW_TRACKING_URI")
    results = {}
    with pytest.MonkeyPatch.context() as mp, one_torch_thread():
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.setenv("HF_HUB_OFFLINE", "1")
        for task, name in TRAINED:
            results[(task, name)] = train(configs[name], task, data_dir=REPO_DATA,
                                          tracking_uri=uri)
        mlflow.set_tracking_uri(before)
    yield SimpleNamespace(uri=uri, folder=folder, results=results, configs=configs,
                          client=MlflowClient(tracking_uri=uri, registry_uri=uri))


@pytest.fixture
def use_transformer_store(transformer_store, monkeypatch):
    """Make the shared transformer store MLflow's default for one test."""
    import mlflow

    before = os.environ.get("MLFLOW_TRACKING_URI")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", transformer_store.uri)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    mlflow.set_tracking_uri(transformer_store.uri)
    yield transformer_store
    mlflow.set_tracking_uri(before)
