"""crypto_news_bench.serving.safe_load: loading a model never runs code from it. Payloads planted
in a logged model (in the MLflow store) and in a published folder are refused with one line naming
the file, and a marker file proves that no payload ran. Covers ``cnbench predict`` and ``cnbench
publish``."""

from __future__ import annotations

import json
import pickle
import shutil
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from crypto_news_bench.cli import main

REPO_DATA = Path(__file__).resolve().parents[2] / "data"
ARTICLE = "Binance Daily\nExchange fined in Paris\nThe regulator fined the exchange on Monday.\n"


@pytest.fixture(scope="module")
def store(tmp_path_factory, tiny_bert):
    """A store with a fine-tuned, an encoder + head and a scikit-learn stance model."""
    import mlflow
    from conftest import one_torch_thread, registered_uri, tiny_config
    from mlflow.tracking import MlflowClient

    from crypto_news_bench.config import validate
    from crypto_news_bench.train import train

    folder = tmp_path_factory.mktemp("security-store")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    configs = {"finetune": tiny_config("finetune", tiny_bert, train_cap=60),
               "encoder_head": tiny_config("frozen_encoder", tiny_bert, train_cap=60),
               "sklearn": validate("lr", {"model": "tfidf_word_lr", "train_cap": 60})}
    runs = {}
    with pytest.MonkeyPatch.context() as mp, one_torch_thread():
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.setenv("HF_HUB_OFFLINE", "1")
        for flavour, config in configs.items():
            runs[flavour] = train(config, "stance", REPO_DATA, tracking_uri=uri).run_id
    client = MlflowClient(tracking_uri=uri)
    models, refs = {}, {}
    for flavour, run_id in runs.items():
        refs[flavour] = registered_uri(client.get_run(run_id))
        model_id = client.get_run(run_id).data.tags["cnbench.model_uri"].rsplit("/", 1)[-1]
        models[flavour] = Path(client.get_logged_model(model_id).artifact_location
                               .removeprefix("file://"))
    mlflow.set_tracking_uri(None)
    return SimpleNamespace(uri=uri, runs=runs, models=models, configs=configs, refs=refs)


@pytest.fixture
def env(store, tmp_path, monkeypatch):
    """The store as default, an article, a marker path, and artifacts restored after."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.uri)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    backups = {}
    for flavour, path in store.models.items():
        backups[flavour] = tmp_path / f"backup-{flavour}"
        shutil.copytree(path, backups[flavour])
    article = tmp_path / "a.txt"
    article.write_text(ARTICLE, encoding="utf-8")
    yield SimpleNamespace(article=article, marker=tmp_path / "PAYLOAD_RAN", tmp=tmp_path,
                          store=store)
    for flavour, path in store.models.items():
        shutil.rmtree(path)
        shutil.copytree(backups[flavour], path)


# -- the payloads ---------------------------------------------------------------------------


def plant_remote_code(folder: Path, marker: Path) -> Path:
    """An auto_map pointing at a module in the folder that writes the marker when imported."""
    (folder / "evil.py").write_text(
        f"open({str(marker)!r}, 'w').write('remote code ran')\n"
        "from transformers import BertConfig, BertForSequenceClassification\n"
        "class EvilConfig(BertConfig):\n    pass\n"
        "class EvilModel(BertForSequenceClassification):\n    pass\n", encoding="utf-8")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config["auto_map"] = {"AutoConfig": "evil.EvilConfig",
                          "AutoModelForSequenceClassification": "evil.EvilModel"}
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder / "config.json"


class _Payload:
    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pickle ran')",))


def plant_pickle(folder: Path, marker: Path) -> Path:
    """A pickled pytorch_model.bin that writes the marker when unpickled, and no safetensors."""
    for weights in folder.glob("*.safetensors"):
        weights.unlink()
    path = folder / "pytorch_model.bin"
    path.write_bytes(pickle.dumps(_Payload(marker)))
    return path


def plant_skops_type(head: Path) -> Path:
    """A head.skops whose schema names subprocess.Popen."""
    with zipfile.ZipFile(head) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    schema = json.loads(files["schema.json"])
    schema["__module__"], schema["__class__"] = "subprocess", "Popen"
    files["schema.json"] = json.dumps(schema).encode()
    head.unlink()
    with zipfile.ZipFile(head, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return head


def plant_module_type(folder: Path) -> Path:
    """A modules.json whose first module type is os.system."""
    path = folder / "modules.json"
    modules = json.loads(path.read_text(encoding="utf-8"))
    modules[0]["type"] = "os.system"
    path.write_text(json.dumps(modules), encoding="utf-8")
    return path


def refused(capsys, code: int, path: Path) -> str:
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert str(path) in err and "refusing to load" in err, err
    return err


# -- logged models: cnbench predict with an MLflow URI, and cnbench publish --------------------


def model_ref(env, flavour: str) -> str:
    """The registered version of the flavour's model (``models:/crypto-news-bench-stance/N``)."""
    return env.store.refs[flavour]


def predict_and_publish(env, flavour: str) -> tuple[int, int]:
    """Exit codes of predict (with the logged model) and publish (of its run)."""
    predicted = main(["predict", str(env.article), "--out", str(env.tmp / "pred"),
                      "--models", f"stance={model_ref(env, flavour)}"])
    out_predict = env.tmp / "pred"
    assert not list(out_predict.glob("*")) if out_predict.exists() else True
    return predicted, main(["publish", env.store.runs[flavour], "--out",
                            str(env.tmp / "published")])


def test_logged_model_with_remote_code_is_refused(env, capsys):
    model_dir = env.store.models["finetune"]
    config = plant_remote_code(model_dir / "model", env.marker)
    mlmodel = model_dir / "MLmodel"
    meta = yaml.safe_load(mlmodel.read_text(encoding="utf-8"))
    meta["flavors"]["transformers"]["pipeline_model_type"] = "EvilModel"
    mlmodel.write_text(yaml.safe_dump(meta), encoding="utf-8")
    predicted = main(["predict", str(env.article), "--models",
                      f"stance={model_ref(env, 'finetune')}", "--out", str(env.tmp / "p")])
    assert "auto_map" in refused(capsys, predicted, config)
    published = main(["publish", env.store.runs["finetune"], "--out", str(env.tmp / "pub")])
    assert "auto_map" in refused(capsys, published, Path("model") / "config.json")
    assert not env.marker.exists()
    assert not (env.tmp / "pub").exists()


def test_logged_model_with_pickled_weights_is_refused(env, capsys):
    path = plant_pickle(env.store.models["finetune"] / "model", env.marker)
    predicted = main(["predict", str(env.article), "--models",
                      f"stance={model_ref(env, 'finetune')}", "--out", str(env.tmp / "p")])
    assert "pickled weights" in refused(capsys, predicted, path)
    published = main(["publish", env.store.runs["finetune"], "--out", str(env.tmp / "pub")])
    refused(capsys, published, Path("model") / "pytorch_model.bin")
    assert not env.marker.exists()


def test_logged_head_naming_popen_is_refused(env, capsys):
    head = plant_skops_type(env.store.models["encoder_head"] / "artifacts" / "model_dir"
                            / "head.skops")
    predicted = main(["predict", str(env.article), "--models",
                      f"stance={model_ref(env, 'encoder_head')}", "--out", str(env.tmp / "p")])
    assert "subprocess.Popen" in refused(capsys, predicted, head)
    published = main(["publish", env.store.runs["encoder_head"], "--out",
                      str(env.tmp / "pub")])
    assert "subprocess.Popen" in refused(capsys, published, Path("model_dir") / "head.skops")


def test_logged_modules_json_naming_os_system_is_refused(env, capsys):
    path = plant_module_type(env.store.models["encoder_head"] / "artifacts" / "model_dir")
    predicted = main(["predict", str(env.article), "--models",
                      f"stance={model_ref(env, 'encoder_head')}", "--out", str(env.tmp / "p")])
    assert "'os.system'" in refused(capsys, predicted, path)
    published = main(["publish", env.store.runs["encoder_head"], "--out",
                      str(env.tmp / "pub")])
    refused(capsys, published, Path("model_dir") / "modules.json")


def test_logged_sklearn_model_naming_popen_is_refused(env, capsys):
    path = plant_skops_type(env.store.models["sklearn"] / "artifacts" / "model_dir"
                            / "model.skops")
    predicted = main(["predict", str(env.article), "--models",
                      f"stance={model_ref(env, 'sklearn')}", "--out", str(env.tmp / "p")])
    assert "subprocess.Popen" in refused(capsys, predicted, path)
    published = main(["publish", env.store.runs["sklearn"], "--out", str(env.tmp / "published")])
    assert "subprocess.Popen" in refused(capsys, published, Path("model_dir") / "model.skops")
    assert not (env.tmp / "published").exists()


@pytest.mark.parametrize("flavour", ["sklearn", "encoder_head"])
def test_the_logged_pyfunc_code_is_never_run_by_predict(env, capsys, flavour):
    """MLflow's model-from-code file is the store's to change: predict reads the saved
    model files, never that file."""
    code = env.store.models[flavour] / "pyfunc.py"
    assert code.is_file()
    code.write_text(f"open({str(env.marker)!r}, 'w').write('pyfunc code ran')\n",
                    encoding="utf-8")
    assert main(["predict", str(env.article), "--models",
                 f"stance={model_ref(env, flavour)}", "--out", str(env.tmp / "p")]) == 0
    assert not env.marker.exists()


# -- published folders: cnbench predict with a folder -------------------------------------------


@pytest.fixture
def published(env, capsys):
    """Clean published folders of the three models."""
    out = {}
    for flavour, run_id in env.store.runs.items():
        out[flavour] = env.tmp / f"pub-{flavour}"
        assert main(["publish", run_id, "--out", str(out[flavour])]) == 0
    capsys.readouterr()
    return out


@pytest.mark.parametrize("payload", ["remote_code", "pickle"])
def test_published_transformers_folder_with_a_payload_is_refused(env, published, capsys,
                                                                   payload):
    folder = published["finetune"]
    path = (plant_remote_code(folder, env.marker) if payload == "remote_code"
            else plant_pickle(folder, env.marker))
    code = main(["predict", str(env.article), "--models", f"stance={folder}", "--out",
                 str(env.tmp / "p")])
    refused(capsys, code, path)
    assert not env.marker.exists()


def test_published_head_naming_popen_is_refused(env, published, capsys):
    head = plant_skops_type(published["encoder_head"] / "head.skops")
    code = main(["predict", str(env.article), "--models",
                 f"stance={published['encoder_head']}", "--out", str(env.tmp / "p")])
    assert "subprocess.Popen" in refused(capsys, code, head)


def test_published_modules_json_naming_os_system_is_refused(env, published, capsys):
    path = plant_module_type(published["encoder_head"])
    code = main(["predict", str(env.article), "--models",
                 f"stance={published['encoder_head']}", "--out", str(env.tmp / "p")])
    refused(capsys, code, path)


def test_published_encoder_folder_with_remote_code_is_refused(env, published, capsys):
    """The encoder inside an encoder + head folder is a transformers folder too."""
    path = plant_remote_code(published["encoder_head"], env.marker)
    code = main(["predict", str(env.article), "--models",
                 f"stance={published['encoder_head']}", "--out", str(env.tmp / "p")])
    refused(capsys, code, path)
    assert not env.marker.exists()


def test_clean_folders_and_logged_models_still_load(env, published, capsys):
    for flavour, folder in published.items():
        for ref in (str(folder), model_ref(env, flavour)):
            out = env.tmp / f"ok-{flavour}-{len(ref)}"
            assert main(["predict", str(env.article), "--models", f"stance={ref}", "--out",
                         str(out)]) == 0, capsys.readouterr().err
    assert not env.marker.exists()


TRUSTED_TYPES = r"""
import json, sys
if sys.argv[1] == "torch-first":
    import torch  # noqa: F401  (skops then walks scikit-learn as it would anywhere)
from crypto_news_bench.serving.safe_load import _import_skops_io
skops_io = _import_skops_io()
from skops.io._trusted_types import SKLEARN_ESTIMATOR_TYPE_NAMES
print(json.dumps({"torch": "torch" in sys.modules, "n": len(SKLEARN_ESTIMATOR_TYPE_NAMES),
                  "types": sorted(SKLEARN_ESTIMATOR_TYPE_NAMES), "skops": skops_io.__name__}))
"""


@pytest.mark.slow
def test_skops_import_skips_torch_and_trusts_the_same_types(tmp_path):
    """Loading a skops file imports no torch, and skops trusts exactly the estimators it
    trusts when torch is already imported."""
    import os
    import subprocess
    import sys

    def run(mode: str) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        proc = subprocess.run([sys.executable, "-c", TRUSTED_TYPES, mode], capture_output=True,
                              text=True, env=env, cwd=tmp_path, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])

    plain, torch_first = run("plain"), run("torch-first")
    assert plain["torch"] is False and torch_first["torch"] is True
    assert plain["skops"] == "skops.io"
    assert plain["n"] > 100 and plain["types"] == torch_first["types"]
