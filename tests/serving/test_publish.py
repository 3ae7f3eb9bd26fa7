"""crypto_news_bench.serving.publish (``cnbench publish``): a run's final model as a standalone
folder (transformers, encoder + head, scikit-learn) without pickles, used without this package,
and the refusals (its model card: test_model_card.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import one_torch_thread, parent_run, registered_uri

from crypto_news_bench.data.schema import TASKS
from crypto_news_bench.serving import publish as publish_mod
from crypto_news_bench.serving.flavours.encoder_head import EncoderHeadPredictor
from crypto_news_bench.serving.flavours.sklearn import SklearnPredictor
from crypto_news_bench.serving.flavours.transformers import (
    OnnxClassifierPredictor,
    TransformersPredictor,
)
from crypto_news_bench.serving.predict import load_predictor

STANCE = list(TASKS["stance"].labels)
TEXTS = ["Binance said it holds all customer assets in segregated accounts.",
         "The SEC lawsuit alleged the exchange misled customers.",
         "The news was published on Monday.",
         "Read also: our crypto news"]
PICKLE_SUFFIXES = (".bin", ".pkl", ".pickle", ".cloudpickle", ".joblib")


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    with one_torch_thread():
        yield


def files_in(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", ["tiny-finetune", "tiny-setfit", "tfidf_word_lr"])
def test_no_pickles_and_the_labels_file(published, name):
    folder = published[name]
    assert not [f for f in files_in(folder) if f.endswith(PICKLE_SUFFIXES)]
    assert json.loads((folder / "labels.json").read_text(encoding="utf-8")) == {
        "task": "stance", "labels": STANCE}
    assert (folder / "README.md").is_file()


def test_transformers_folder(published):
    folder = published["tiny-finetune"]
    files = files_in(folder)
    assert {"config.json", "model.safetensors", "tokenizer_config.json", "README.md",
            "labels.json"} <= files
    assert files & {"tokenizer.json", "vocab.txt"}
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    assert config["id2label"] == {str(i): lab for i, lab in enumerate(STANCE)}
    assert config["label2id"] == {lab: i for i, lab in enumerate(STANCE)}


FRESH = r"""
import json, sys
sys.modules["crypto_news_bench"] = None  # this package must not be needed
from transformers import pipeline
clf = pipeline("text-classification", model=sys.argv[1], device="cpu")
print(json.dumps(clf(json.loads(sys.argv[2]))))
"""


def test_pipeline_in_a_fresh_process_matches_the_predictor(published, tmp_path):
    folder = published["tiny-finetune"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PYTHONPATH"))}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1",
               TRANSFORMERS_VERBOSITY="error")
    proc = subprocess.run([sys.executable, "-c", FRESH, str(folder), json.dumps(TEXTS)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    piped = json.loads(proc.stdout.strip().splitlines()[-1])
    ours = TransformersPredictor.from_folder(folder).predict(TEXTS)
    assert [p["label"] for p in piped] == [label for label, _ in ours]
    assert [p["score"] for p in piped] == pytest.approx([s for _, s in ours], abs=1e-4)
    assert all(label in STANCE for label, _ in ours)


def test_transformers_folder_loads_through_predict(published):
    # Its ONNX export for float32 (tests/serving/test_onnx_graph.py), torch for bfloat16.
    predictor = load_predictor(str(published["tiny-finetune"]), "stance")
    assert isinstance(predictor, OnnxClassifierPredictor)
    assert predictor.labels == STANCE
    predictor = load_predictor(str(published["tiny-finetune"]), "stance", precision="bfloat16")
    assert isinstance(predictor, TransformersPredictor)
    assert predictor.labels == STANCE


def test_encoder_head_folder(published, use_transformer_store):
    import mlflow

    folder = published["tiny-setfit"]
    files = files_in(folder)
    assert {"head.skops", "modules.json", "config_sentence_transformers.json",
            "model.safetensors", "config.json", "labels.json", "README.md"} <= files
    predictor = load_predictor(str(folder), "stance")
    assert isinstance(predictor, EncoderHeadPredictor)
    got = predictor.predict(TEXTS)
    assert len(got) == len(TEXTS)
    assert all(label in STANCE and 0 <= score <= 1 for label, score in got)
    # The published folder predicts what the logged model predicts.
    logged = mlflow.pyfunc.load_model(registered_uri(parent_run(use_transformer_store,
                                                                "tiny-setfit")))
    logged = logged.predict(pd.DataFrame({"text": TEXTS}))
    assert [label for label, _ in got] == logged["label"].tolist()
    assert [s for _, s in got] == pytest.approx(logged["score"].tolist(), abs=1e-5)


def test_sklearn_folder(published, transformer_store):
    folder = published["tfidf_word_lr"]
    assert files_in(folder) == {"model.skops", "labels.json", "README.md", "calibration.json"}
    predictor = load_predictor(str(folder), "stance")
    assert isinstance(predictor, SklearnPredictor)
    final = transformer_store.results[("stance", "tfidf_word_lr")].evaluation.final_model
    got = predictor.predict(TEXTS)
    assert [label for label, _ in got] == [STANCE[i] for i in final.predict(TEXTS)]


def test_unknown_run_id_is_refused(use_transformer_store, tmp_path):
    transformer_store = use_transformer_store
    with pytest.raises(publish_mod.PublishError, match=r"run 0123456789abcdef not found at "):
        publish_mod.publish("0123456789abcdef", tmp_path / "out",
                            tracking_uri=transformer_store.uri)
    assert not (tmp_path / "out").exists()


def test_fold_run_is_refused(use_transformer_store, tmp_path):
    transformer_store = use_transformer_store
    parent = transformer_store.results[("stance", "tiny-finetune")].run_id
    folds = transformer_store.client.search_runs(
        [parent_run(transformer_store, "tiny-finetune").info.experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{parent}'")
    fold_id = folds[0].info.run_id
    with pytest.raises(publish_mod.PublishError,
                       match=rf"run {fold_id} has no final model logged by cnbench train"):
        publish_mod.publish(fold_id, tmp_path / "out", tracking_uri=transformer_store.uri)
    assert not (tmp_path / "out").exists()


def test_non_empty_folder_needs_overwrite_and_overwrite_spares_other_folders(
        use_transformer_store, tmp_path):
    """`publish --overwrite` into a folder that is not an earlier publish deleted it, and
    deleted it before the export: now it is refused and nothing is touched."""
    transformer_store = use_transformer_store
    run_id = transformer_store.results[("stance", "tfidf_word_lr")].run_id
    out = tmp_path / "out"
    (out / "precious").mkdir(parents=True)
    (out / "precious" / "thesis.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(publish_mod.PublishError,
                       match=r"folder exists and is not empty \(--overwrite replaces a folder "
                             r"written by an earlier cnbench publish\)"):
        publish_mod.publish(run_id, out, tracking_uri=transformer_store.uri)
    with pytest.raises(publish_mod.PublishError,
                       match=r"--overwrite replaces only a folder written by cnbench publish "
                             r"\(with its labels.json and model card\); this one is not, so "
                             r"nothing was changed"):
        publish_mod.publish(run_id, out, tracking_uri=transformer_store.uri, overwrite=True)
    assert files_in(out) == {"precious/thesis.txt"}
    # A labels.json alone does not make a folder ours.
    (out / "labels.json").write_text("{}", encoding="utf-8")
    (out / "README.md").write_text("# my notes\n", encoding="utf-8")
    with pytest.raises(publish_mod.PublishError, match="this one is not"):
        publish_mod.publish(run_id, out, tracking_uri=transformer_store.uri, overwrite=True)
    assert (out / "precious" / "thesis.txt").is_file()


def test_overwrite_replaces_an_earlier_publish(use_transformer_store, tmp_path):
    transformer_store = use_transformer_store
    out = tmp_path / "out"
    first = transformer_store.results[("stance", "tiny-finetune")].run_id
    second = transformer_store.results[("stance", "tfidf_word_lr")].run_id
    publish_mod.publish(first, out, tracking_uri=transformer_store.uri)
    assert "model.safetensors" in files_in(out)
    publish_mod.publish(second, out, tracking_uri=transformer_store.uri, overwrite=True)
    assert files_in(out) == {"model.skops", "labels.json", "README.md",
                              "calibration.json"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging left behind


def test_a_failed_export_leaves_the_earlier_publish_as_it_was(use_transformer_store, tmp_path,
                                                              monkeypatch):
    transformer_store = use_transformer_store
    out = tmp_path / "out"
    run_id = transformer_store.results[("stance", "tfidf_word_lr")].run_id
    publish_mod.publish(run_id, out, tracking_uri=transformer_store.uri)
    before = {name: (out / name).read_bytes() for name in files_in(out)}

    def broken(local, staging):
        (staging / "half-written").write_text("x", encoding="utf-8")
        raise OSError("disk full")

    import dataclasses

    real_get = publish_mod.flavours.get
    monkeypatch.setattr(publish_mod.flavours, "get",
                        lambda name: dataclasses.replace(real_get(name), export=broken))
    with pytest.raises(OSError, match="disk full"):
        publish_mod.publish(run_id, out, tracking_uri=transformer_store.uri, overwrite=True)
    assert {name: (out / name).read_bytes() for name in files_in(out)} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_out_naming_a_file_is_refused(use_transformer_store, tmp_path, capsys):
    from crypto_news_bench import cli

    out = tmp_path / "model.txt"
    out.write_text("keep", encoding="utf-8")
    run_id = use_transformer_store.results[("stance", "tfidf_word_lr")].run_id
    assert cli.main(["publish", run_id, "--out", str(out)]) == 2
    assert capsys.readouterr().err == (f"error: {out}: is a file; --out names the folder to "
                                       "write\n")
    assert out.read_text(encoding="utf-8") == "keep"


def test_a_run_whose_model_artifact_is_missing_is_one_line(use_transformer_store, tmp_path,
                                                           capsys):
    from crypto_news_bench import cli

    store = use_transformer_store
    run = parent_run(store, "tfidf_word_lr")
    model_id = run.data.tags["cnbench.model_uri"].rsplit("/", 1)[-1]
    folder = Path(store.client.get_logged_model(model_id).artifact_location
                  .removeprefix("file://"))
    aside = tmp_path / "aside"
    folder.rename(aside)
    try:
        code = cli.main(["publish", run.info.run_id, "--out", str(tmp_path / "o")])
    finally:
        aside.rename(folder)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"error: run {run.info.run_id}: its model "
                          f"{run.data.tags['cnbench.model_uri']} cannot be read from the store")
    assert not (tmp_path / "o").exists()


def test_empty_existing_folder_is_fine(use_transformer_store, tmp_path):
    transformer_store = use_transformer_store
    run_id = transformer_store.results[("stance", "tfidf_word_lr")].run_id
    (tmp_path / "out").mkdir()
    publish_mod.publish(run_id, tmp_path / "out", tracking_uri=transformer_store.uri)
    assert "model.skops" in files_in(tmp_path / "out")


def test_publish_via_cli(use_transformer_store, tmp_path, capsys):
    from crypto_news_bench import cli

    assert cli.main(["publish", "0123456789abcdef", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: run 0123456789abcdef not found")



@pytest.mark.parametrize("name", ["tiny-finetune", "tiny-setfit", "tfidf_word_lr"])
def test_published_folder_records_its_calibration(published, transformer_store,
                                                  use_transformer_store, name):
    """The run's calibration travels with the folder, as a record of what is inside."""
    import mlflow

    folder = published[name]
    record = json.loads((folder / "calibration.json").read_text(encoding="utf-8"))
    run_id = transformer_store.results[("stance", name)].run_id
    logged = mlflow.artifacts.load_dict(f"runs:/{run_id}/calibration.json")
    assert record["method"] == logged["method"] == "temperature"
    assert record["temperature"] == pytest.approx(logged["temperature"])
    assert record["temperature"] > 0
    assert "inside the model" in record["applied"]
