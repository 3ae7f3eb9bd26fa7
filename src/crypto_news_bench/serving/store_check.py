"""Reading commands (``predict``, ``compare``, ``publish``) read a tracking store; they must
never create one. Opening a SQLite URI with MLflow creates the file and its tables, so a
command run from the wrong folder used to make an empty ``mlruns/`` there and then report
"no champion": the real cause, a store that is not where it looked, went unsaid.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import TrackingError

HOW_TO_POINT = ("point at one with MLFLOW_TRACKING_URI=URI or --tracking-uri URI (a server "
                "http://HOST:PORT, or sqlite:////ABSOLUTE/PATH/mlruns/mlflow.db), or run from "
                "the folder that holds mlruns/")


def require_existing_store(uri: str | None = None, given_as: str = "--tracking-uri") -> str:
    """The tracking URI to read: ``uri`` (named ``given_as`` in messages), else
    ``MLFLOW_TRACKING_URI``, else the embedded store under ``./mlruns``.

    A SQLite store whose file does not exist is refused with where it looked and how to point
    at another; nothing is created. A server must answer (``store.check_reachable``). Other
    databases (postgresql, mysql, ...) are passed on: the database itself must exist for
    MLflow to connect at all.
    """
    from ..tracking import store

    if uri:
        source = f"given as {given_as}"
    elif os.environ.get("MLFLOW_TRACKING_URI"):
        uri, source = os.environ["MLFLOW_TRACKING_URI"], "from MLFLOW_TRACKING_URI"
    else:
        uri = store.tracking_uri()
        source = ("MLFLOW_TRACKING_URI is not set, so the default: mlruns/mlflow.db in the "
                  "current folder")
    store.check_scheme(uri)
    if uri.startswith("sqlite:///"):
        db = Path(uri.removeprefix("sqlite:///"))
        if not db.is_file():
            raise TrackingError(f"no MLflow tracking store at {uri} ({source}), and reading "
                                f"commands create none; {HOW_TO_POINT}")
    store.check_reachable(uri)
    return uri
