"""Shared fixtures and the helpers they need, for tests in more than one file: the real data
folder and a tiny valid one that tests corrupt one by one; the real gold set and its build;
tracking stores (a trained one, a fresh one, one filled by a bench); a tiny random BERT and one
store trained with every method, the folders published from it and a prediction made with them;
and the three transformer methods through the protocol on hand-made units.

A module-scoped fixture here is still made once per test file that uses it."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from crypto_news_bench.data.labels import text_hash
from crypto_news_bench.data.schema import TASKS
from crypto_news_bench.data.units import blocks, sentences

REPO = Path(__file__).resolve().parents[1]
REPO_DATA = REPO / "data"
CONFIGS = REPO / "configs"


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


@pytest.fixture(scope="module")
def real_gold():
    """The gold examples of the repository's data, per task (tests/data/)."""
    from crypto_news_bench.data import dataset

    return dataset.gold_examples(REPO_DATA)


@pytest.fixture(scope="module")
def real_build(tmp_path_factory):
    """The repository's data built into a tmp folder: Parquet files and the card."""
    from crypto_news_bench.data import dataset

    return dataset.build(REPO_DATA, tmp_path_factory.mktemp("processed"))


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


@pytest.fixture(scope="session")
def store(tmp_path_factory):
    """One store, the shipped tfidf_word_lr config trained twice on stance; read-only for the
    tests that use it (``use_store`` makes it MLflow's default for one test).

    Files that read another store (tests/bench/, serving/test_safe_load.py) define their own
    ``store``."""
    import mlflow
    from mlflow.tracking import MlflowClient

    from crypto_news_bench.config import load_config
    from crypto_news_bench.train import train

    folder = tmp_path_factory.mktemp("tracking")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    before = mlflow.get_tracking_uri()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        config = load_config(CONFIGS / "tfidf_word_lr.yaml")
        first = train(config, "stance", data_dir=REPO_DATA, tracking_uri=uri)
        second = train(config, "stance", data_dir=REPO_DATA, tracking_uri=uri)
    mlflow.set_tracking_uri(before)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    exp = client.get_experiment_by_name("crypto-news-bench/stance")
    return SimpleNamespace(uri=uri, folder=folder, first=first, second=second, client=client,
                           experiment_id=exp.experiment_id)


@pytest.fixture
def use_store(store, monkeypatch):
    """Make the module's store MLflow's default for one test."""
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.uri)
    mlflow.set_tracking_uri(store.uri)
    return store


@pytest.fixture(scope="module")
def stance_data():
    """The stance dataset of the repository, as ``cnbench train`` loads it."""
    from crypto_news_bench.data import dataset as ds

    return ds.load("stance", REPO_DATA)


# --- bench fixtures: the cheap configs on stance, against SQLite stores in tmp (tests/bench/) ---

CHEAP = ("majority", "tfidf_word_lr", "vader", "justext")
# The bench these tests run: the cheap configs on stance (justext does boilerplate only).
STANCE_KEYS = ["stance/majority/seed0", "stance/tfidf_word_lr/seed0", "stance/vader/seed0"]


def write_grid(folder: Path, grid: dict | None, names=CHEAP, overrides: dict | None = None,
               grid_name: str = "grid") -> Path:
    """Copies of the named configs and defaults.yaml (50 bootstrap resamples, for speed) in
    ``folder``, ``overrides`` merged into a config's YAML, and ``<grid_name>.yaml``."""
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    defaults = yaml.safe_load((CONFIGS / "defaults.yaml").read_text(encoding="utf-8"))
    defaults["bootstrap_resamples"] = 50
    (folder / "defaults.yaml").write_text(yaml.safe_dump(defaults), encoding="utf-8")
    for name in names:
        data = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text(encoding="utf-8"))
        for key, value in (overrides or {}).get(name, {}).items():
            data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    path = folder / f"{grid_name}.yaml"
    if grid is not None:
        path.write_text(yaml.safe_dump(grid), encoding="utf-8")
    return path


def copy_data(folder: Path) -> Path:
    """raw/ and annotations/ of the repository's data: the bench builds processed/ here."""
    for sub in ("raw", "annotations"):
        shutil.copytree(REPO_DATA / sub, folder / sub)
    return folder


def parent_runs(uri: str, version: str | None = None) -> list:
    """Every parent run (any status) in the store, optionally of one package version; none
    while the store has no experiment yet (a bench just started)."""
    from mlflow.tracking import MlflowClient

    from crypto_news_bench.tracking import runs

    client = MlflowClient(tracking_uri=uri)
    ids = [e.experiment_id for e in client.search_experiments()]
    where = f"tags.`{runs.KIND_TAG}` = 'parent'"
    if version is not None:
        where += f" and tags.`cnbench.version` = '{version}'"
    return client.search_runs(ids, filter_string=where, max_results=50000) if ids else []


def cell_key(run) -> str:
    t = run.data.tags
    return f"{t['cnbench.task']}/{t['cnbench.config']}/seed{t['cnbench.seed']}"


@pytest.fixture(scope="session")
def bench(tmp_path_factory):
    """One bench of the cheap configs on stance into a fresh store, with its report; read-only
    for the tests that use it (``bench_store`` makes it MLflow's default for one test)."""
    import mlflow

    from crypto_news_bench.bench import harness

    root = tmp_path_factory.mktemp("bench")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    grid = write_grid(root / "configs", {"configs": list(CHEAP), "tasks": ["stance"]})
    write_grid(root / "configs", {"configs": ["majority"], "tasks": ["stance"]},
               grid_name="majority_only")
    data_dir = copy_data(root / "data")
    before = mlflow.get_tracking_uri()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        summary = harness.run_bench(grid, data_dir, results_dir=root / "results",
                                    progress=False, tracking_uri=uri)
        first = {cell_key(r): r for r in parent_runs(uri)}
    mlflow.set_tracking_uri(before)
    return SimpleNamespace(uri=uri, root=root, grid=grid,
                           majority_only=root / "configs" / "majority_only.yaml",
                           data_dir=data_dir, results=root / "results", summary=summary,
                           first=first)


@pytest.fixture
def bench_store(bench, monkeypatch):
    """The bench's store as MLflow's default for one test."""
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", bench.uri)
    mlflow.set_tracking_uri(bench.uri)
    return bench


# --- transformer fixtures: a tiny random BERT, and one store trained with every method -------


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


@pytest.fixture(scope="module")
def offline_one_thread():
    """For a module of transformer tests (``pytestmark = usefixtures(...)``): nothing looked
    up on the hub, and one torch thread, so timings and rounding do not depend on the host."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        with one_torch_thread():
            yield


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


def registered_uri(run) -> str:
    """``models:/crypto-news-bench-<task>/<version>``: the registered version of a run's model."""
    tags = run.data.tags
    return f"models:/{tags['cnbench.registered_model']}/{tags['cnbench.registered_version']}"


def runs_of(store, task: str, config_name: str):
    """(parent run, fold runs) of one training, found through the store, not the result."""
    from crypto_news_bench.tracking import store as tstore

    exp = store.client.get_experiment_by_name(tstore.experiment_name(task))
    parents = store.client.search_runs(
        [exp.experiment_id],
        filter_string=f"tags.`cnbench.kind` = 'parent' and tags.`cnbench.config` = "
                      f"'{config_name}'")
    assert len(parents) == 1
    parent = parents[0]
    folds = store.client.search_runs(
        [exp.experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    return parent, folds


# --- published folders and a prediction made with them (tests/serving/) ---------------------


@pytest.fixture(scope="module")
def published(transformer_store, tmp_path_factory):
    """The stance runs of the finetune, SetFit and TF-IDF configs, each published once."""
    import mlflow

    from crypto_news_bench.serving import publish as publish_mod

    out = {}
    before = os.environ.get("MLFLOW_TRACKING_URI")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("MLFLOW_TRACKING_URI", transformer_store.uri)
        for name in ("tiny-finetune", "tiny-setfit", "tfidf_word_lr"):
            run_id = transformer_store.results[("stance", name)].run_id
            folder = tmp_path_factory.mktemp("published") / name
            assert publish_mod.publish(run_id, folder, tracking_uri=transformer_store.uri) \
                == folder
            out[name] = folder
        mlflow.set_tracking_uri(before)
    return out


def parent_run(store, name: str):
    return store.client.get_run(store.results[("stance", name)].run_id)


# Boilerplate-ish lines are taken from the corpus (the TF-IDF boilerplate model saw them), a
# bullet, several sentences per block, and markup that must come out escaped.
ARTICLE = (
    "Advertisement\n"
    "Binance.US Faces SEC Scrutiny Over Customer Assets\n"
    "The SEC has expressed concerns about the exchange. Binance said it holds all customer "
    "assets in segregated accounts. Critics called the claim misleading!\n"
    "\n"
    "  • We launched a Law Enforcement Request System to help investigators.\n"
    "Share\n"
    "<script>alert(1)</script> The exchange said users are safe & sound. Withdrawals resumed.\n"
    "Published by\n"
    "November 5, 2025\n"
)
# The model ``model_dirs`` publishes for each task: (task, config) of the transformer store.
PREDICT_MODELS = {"boilerplate": ("boilerplate", "tfidf_word_lr"),
                  "stance": ("stance", "tiny-finetune"),
                  "claim_type": ("claim_type", "tiny-frozen_encoder")}


@pytest.fixture(scope="module")
def model_dirs(transformer_store, tmp_path_factory) -> dict[str, Path]:
    """A published folder per task: TF-IDF boilerplate, fine-tuned stance, frozen claim type."""
    import mlflow

    from crypto_news_bench.serving import publish as publish_mod

    out = {}
    before = os.environ.get("MLFLOW_TRACKING_URI")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", transformer_store.uri)
        for task, key in PREDICT_MODELS.items():
            folder = tmp_path_factory.mktemp("models") / task
            publish_mod.publish(transformer_store.results[key].run_id, folder,
                                tracking_uri=transformer_store.uri)
            out[task] = folder
        mlflow.set_tracking_uri(before)
    return out


def models_arg(dirs: dict[str, Path]) -> str:
    return ",".join(f"{task}={folder}" for task, folder in dirs.items())


@pytest.fixture(scope="module")
def predicted(model_dirs, tmp_path_factory):
    """``cnbench predict`` run once on ARTICLE with all three models."""
    from crypto_news_bench import cli

    root = tmp_path_factory.mktemp("predict")
    article = root / "my-article.txt"
    article.write_text(ARTICLE, encoding="utf-8")
    out = root / "out"
    code = cli.main(["predict", "--models", models_arg(model_dirs), str(article),
                     "--out", str(out)])
    assert code == 0
    records = [json.loads(line) for line in
               (out / "my-article.predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    page = (out / "my-article.html").read_text(encoding="utf-8")
    return records, page


# --- the three transformer methods through the protocol, on tiny_units.py (tests/models/) ----


@pytest.fixture(scope="module")
def evaluations(tiny_bert):
    """Each method through the protocol once, with the fold models kept for inspection."""
    from tiny_units import DOCS, IDS, LABELS, METHODS, TEXTS

    import crypto_news_bench.evaluation.protocol as protocol
    from crypto_news_bench.evaluation.protocol import Units, evaluate

    out = {}
    original = protocol.fit_model
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        for method in METHODS:
            models = []

            def keep(*args, _models=models, **kwargs):
                model = original(*args, **kwargs)
                _models.append(model)
                return model

            mp.setattr(protocol, "fit_model", keep)
            config = tiny_config(method, tiny_bert)
            ev = evaluate(config, "stance", Units.of(TEXTS, LABELS, DOCS, IDS), fit_final=False)
            # lodo_folds yields the held-out documents in sorted order: a, b, c.
            out[method] = (ev, dict(zip([f.held_out for f in ev.folds], models, strict=True)))
    return out


# --- cheap published folders with known scores (tests/serving/: predict, batch, page) ------

# What each cheap model's card says it scored: boilerplate above the floor of
# ``serving.model_info``, stance just above it, claim type below it.
CHEAP_SCORES = {"boilerplate": (0.81, 0.05), "stance": (0.65, 0.08), "claim_type": (0.45, 0.12)}
# A few texts per label, enough for a TF-IDF model to give each its own words.
CHEAP_TEXTS = {
    "boilerplate": {"content": ["Binance said its reserves are fully backed.",
                                "The SEC sued the exchange in June."],
                    "boilerplate": ["Share this article", "Subscribe to our newsletter",
                                    "Advertisement"]},
    "stance": {"promotional": ["We are proud to build a safer Binance for users."],
               "critical": ["Critics called the claim misleading and dangerous."],
               "neutral": ["The exchange was founded in 2017."]},
    "claim_type": {"legal_regulatory": ["The SEC sued the exchange in June."],
                   "quantity": ["The exchange paid 4 billion dollars."],
                   "self_assertion": ["We are proud to build a safer Binance for users."],
                   "reported_event": ["Withdrawals resumed on Monday."],
                   "opinion": ["Critics called the claim misleading and dangerous."],
                   "no_claim": ["Highlights"]},
}


def write_cheap_model(folder: Path, task: str, macro_f1: float, ece: float | None) -> Path:
    """A published scikit-learn folder as ``cnbench publish`` writes it (``model.skops``,
    ``labels.json``, the model card), fitted in a second on CHEAP_TEXTS, whose card claims
    ``macro_f1`` and ``ece``."""
    import skops.io

    from crypto_news_bench.models.baselines import tfidf_word_lr
    from crypto_news_bench.serving.flavours import write_labels
    from crypto_news_bench.serving.model_card import card

    labels = list(TASKS[task].labels)
    texts = [(t, labels.index(lab)) for lab, ts in CHEAP_TEXTS[task].items() for t in ts]
    model = tfidf_word_lr(task, 0).fit([t for t, _ in texts], [y for _, y in texts])
    folder.mkdir(parents=True)
    skops.io.dump(model, folder / "model.skops")
    write_labels(folder, task)
    metrics = {"macro_f1": macro_f1, "macro_f1_ci_low": macro_f1 - 0.1,
               "macro_f1_ci_high": macro_f1 + 0.1, **({"ece": ece} if ece is not None else {})}
    (folder / "README.md").write_text(card(
        task=task, config={"name": "tfidf_word_lr", "model": "tfidf_word_lr"},
        flavour="sklearn", metrics=metrics, dataset_hash="0" * 16, run_id="cheap-run",
        base_model=None, version="test"), encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def cheap_models(tmp_path_factory) -> dict[str, Path]:
    """A cheap published folder per task with the scores of CHEAP_SCORES (read-only)."""
    root = tmp_path_factory.mktemp("cheap-models")
    return {task: write_cheap_model(root / task, task, *scores)
            for task, scores in CHEAP_SCORES.items()}
