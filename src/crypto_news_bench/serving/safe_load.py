"""Loading model files without running code from them.

A model folder may come from a published checkpoint someone sent, or from an MLflow store
anyone with write access can change. Every path that loads a model goes through here:

- weights only from ``safetensors``; a pickled file (``pytorch_model.bin`` and the like) is
  refused, never opened;
- transformers configs and tokenizers only of classes that transformers itself ships: an
  ``auto_map`` (remote code) is refused, and loading passes ``trust_remote_code=False``;
- sentence-transformers folders only with the library's own module types in ``modules.json``;
- scikit-learn parts with ``skops`` and no trusted type beyond those named by the caller.

A refusal is an ``UnsafeModelError``: one line naming the file and what is wrong with it.
"""

from __future__ import annotations

import importlib.abc
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import DataError

# Formats that unpickle, and so can run code, when loaded.
# The only non-scikit-learn types a skops file of this package holds: its rule-based wrappers.
PACKAGE_TYPES = frozenset({
    "crypto_news_bench.models.external.JusTextClassifier",
    "crypto_news_bench.models.external.VaderStanceClassifier",
})
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib")
# sentence-transformers' own modules; modules.json may name nothing else.
ST_MODULE = re.compile(r"sentence_transformers(\.[A-Za-z_][A-Za-z0-9_]*)*\."
                       r"(Transformer|Pooling|Normalize|Dense)")


class UnsafeModelError(DataError):
    """A model file that could run code, or that is not what it claims to be."""


def _refuse(path: Path, why: str) -> UnsafeModelError:
    return UnsafeModelError(f"{path}: refusing to load: {why}")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _refuse(path, f"not a JSON file ({exc.__class__.__name__})") from None


def _config_without_remote_code(path: Path) -> dict:
    """A JSON config as a dict, refused when its ``auto_map`` points at code to import."""
    config = _read_json(path)
    if not isinstance(config, dict):
        raise _refuse(path, "expected a JSON object")
    if "auto_map" in config:
        raise _refuse(path, f"auto_map names custom code ({config['auto_map']!r}); remote code "
                            "is never run")
    return config


def check_no_pickles(folder: Path) -> None:
    """No file in ``folder`` (at any depth) is in a format that unpickles."""
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file() and path.suffix.lower() in PICKLE_SUFFIXES:
            raise _refuse(path, "pickled weights can run code when loaded; only "
                                "model.safetensors is read")


def _is_transformers_class(name: Any) -> bool:
    import transformers

    return isinstance(name, str) and name.isidentifier() and hasattr(transformers, name)


def check_transformers_config(folder: Path, classes: bool = True) -> None:
    """``config.json`` (and ``tokenizer_config.json``) name no remote code and, with
    ``classes``, only classes of transformers.

    ``classes=False`` is for a folder run from its ONNX graph: nothing imports the classes its
    configs name, and checking them would import transformers (seconds of a cold start); the
    refusals that need no such import (remote code, pickles, module types) still hold."""
    folder = Path(folder)
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise _refuse(config_path, "no config.json: not a transformers model folder")
    config = _config_without_remote_code(config_path)
    check_tokenizer_config(folder, classes)
    if not classes:
        return
    from transformers import CONFIG_MAPPING

    if config.get("model_type") not in CONFIG_MAPPING:
        raise _refuse(config_path, f"model_type {config.get('model_type')!r} is not a "
                                   "transformers model type")
    for name in config.get("architectures") or []:
        if not _is_transformers_class(name):
            raise _refuse(config_path, f"architecture {name!r} is not a transformers class")


def check_transformers_folder(folder: Path, classes: bool = True) -> None:
    folder = Path(folder)
    if not folder.is_dir():
        raise _refuse(folder, "not a folder")
    check_no_pickles(folder)
    check_transformers_config(folder, classes)
    if not (folder / "model.safetensors").is_file() and not list(
            folder.glob("model-*.safetensors")):
        raise _refuse(folder / "model.safetensors", "missing: only safetensors weights are "
                                                    "loaded")


def load_transformers(model_dir: Path, tokenizer_dir: Path | None = None, dtype=None):
    """(model, tokenizer) of a checked transformers folder, without remote code."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model_dir = Path(model_dir)
    tokenizer_dir = Path(tokenizer_dir) if tokenizer_dir is not None else model_dir
    check_transformers_folder(model_dir)
    if tokenizer_dir != model_dir:
        check_no_pickles(tokenizer_dir)
        check_tokenizer_config(tokenizer_dir)
    kwargs = {"dtype": dtype} if dtype is not None else {}
    model = AutoModelForSequenceClassification.from_pretrained(
        model_dir, trust_remote_code=False, use_safetensors=True, local_files_only=True,
        **kwargs)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir, trust_remote_code=False,
                                              local_files_only=True)
    return model, tokenizer


def check_tokenizer_config(folder: Path, classes: bool = True) -> None:
    """``tokenizer_config.json``, if any, names no custom code and (with ``classes``) only a
    transformers class."""
    path = Path(folder) / "tokenizer_config.json"
    if not path.is_file():
        return
    cls = _config_without_remote_code(path).get("tokenizer_class")
    if classes and cls is not None and not _is_transformers_class(cls):
        raise _refuse(path, f"tokenizer_class {cls!r} is not a transformers class")


def check_sentence_transformers_folder(folder: Path, classes: bool = True) -> None:
    """``modules.json`` names only sentence-transformers' own modules; the transformer module's
    folder passes ``check_transformers_folder`` (``classes`` as there)."""
    folder = Path(folder)
    check_no_pickles(folder)
    modules_path = folder / "modules.json"
    if not modules_path.is_file():
        raise _refuse(modules_path, "no modules.json: not a sentence-transformers folder")
    modules = _read_json(modules_path)
    if not isinstance(modules, list) or not all(isinstance(m, dict) for m in modules):
        raise _refuse(modules_path, "expected a list of modules")
    for module in modules:
        kind, sub = module.get("type"), module.get("path", "")
        if not isinstance(kind, str) or not ST_MODULE.fullmatch(kind):
            raise _refuse(modules_path, f"module type {kind!r} is not one of "
                                        "sentence-transformers' own modules")
        if not isinstance(sub, str) or Path(sub).is_absolute() or ".." in Path(sub).parts:
            raise _refuse(modules_path, f"module path {sub!r} leaves the folder")
        if kind.endswith(".Transformer"):
            check_transformers_folder(folder / sub, classes)


def load_sentence_transformer(folder: Path):
    from sentence_transformers import SentenceTransformer

    check_sentence_transformers_folder(folder)
    return SentenceTransformer(str(folder), device="cpu", trust_remote_code=False,
                               local_files_only=True)


# scikit-learn's vendored array-API shim for torch: a package that importing it imports torch.
_SKLEARN_TORCH_SHIM = "sklearn.externals.array_api_compat.torch"


class _SkipSklearnTorchShim(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == _SKLEARN_TORCH_SHIM:
            raise ImportError(f"{name}: not needed to list scikit-learn's estimators")
        return None


def _import_skops_io():
    """``skops.io``, without importing torch on the way when nothing has yet.

    On import skops lists scikit-learn's estimators (its trusted types) by walking every
    scikit-learn package; the walk imports each package it passes, the vendored torch shim
    too, and so torch (two seconds of a cold ``cnbench predict``), although the list skips
    ``externals``. Refusing that one import leaves the list as it is (the walk skips packages
    that fail to import) and is undone at once: the shim imports normally afterwards.
    """
    if "skops.io" in sys.modules or "torch" in sys.modules:
        import skops.io

        return skops.io
    finder = _SkipSklearnTorchShim()
    sys.meta_path.insert(0, finder)
    try:
        import skops.io
    finally:
        sys.meta_path.remove(finder)
    return skops.io


def load_skops(path: Path, allowed: Iterable[str] = ()) -> Any:
    """A skops file whose types are scikit-learn's and numpy's, plus ``allowed``."""
    import zipfile

    skops_io = _import_skops_io()

    path = Path(path)
    if not path.is_file():
        raise _refuse(path, "file not found")
    try:
        untrusted = skops_io.get_untrusted_types(file=path)
    except (zipfile.BadZipFile, KeyError, ValueError, json.JSONDecodeError) as exc:
        raise _refuse(path, f"not a skops file ({exc.__class__.__name__})") from None
    unknown = sorted(set(untrusted) - set(allowed))
    if unknown:
        raise _refuse(path, f"it names type(s) outside scikit-learn: {', '.join(unknown)}")
    return skops_io.load(path, trusted=list(untrusted))


def read_labels(path: Path) -> list[str]:
    """The label names of a model folder's ``labels.json``."""
    path = Path(path)
    if not path.is_file():
        raise _refuse(path, "file not found")
    data = _read_json(path)
    labels = data.get("labels") if isinstance(data, dict) else None
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise _refuse(path, "expected {\"labels\": [names]}")
    return labels
