"""A Label Studio user, through the official SDK, for tests/annotation/test_label_studio_server.py.

Run by the Label Studio environment's Python (``.venv-annotate``, where ``label-studio-sdk``
comes with the server at the version the server pins), not the package's: the SDK's pins clash
with constraints.txt. Usage:

    python label_studio_client.py URL TOKEN CONFIG.xml TASKS.json ANSWERS.json EXPORT.json

creates a project with the labelling interface, imports the tasks (with their predictions),
submits one annotation per task as an annotator does (the label ANSWERS.json gives its unit),
exports the project as Label Studio's JSON and prints a JSON summary (with the predictions as
the server holds them: its JSON export lists them by id only).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(url: str, token: str, config: str, tasks: str, answers: str, out: str) -> dict:
    from label_studio_sdk import LabelStudio

    started = time.monotonic()
    ls = LabelStudio(base_url=url, api_key=token)
    project = ls.projects.create(title=f"cnbench {Path(tasks).stem}",
                                 label_config=Path(config).read_text(encoding="utf-8"))
    imported = ls.projects.import_tasks(id=project.id, request=json.loads(
        Path(tasks).read_text(encoding="utf-8")), return_task_ids=True)
    chosen = json.loads(Path(answers).read_text(encoding="utf-8"))
    predictions = []
    for task in ls.tasks.list(project=project.id):
        predictions += [{"unit_id": task.data["unit_id"], "model_version": p.model_version,
                         "score": p.score, "label": p.result[0]["value"]["choices"][0]}
                        for p in ls.predictions.list(task=task.id)]
        result = [{"from_name": "label", "to_name": "text", "type": "choices",
                   "value": {"choices": [chosen[task.data["unit_id"]]]}}]
        ls.annotations.create(id=task.id, result=result, was_cancelled=False, lead_time=2.0)
    data = b"".join(ls.projects.exports.download_sync(project.id, export_type="JSON"))
    Path(out).write_bytes(data)
    return {"project": project.id, "tasks": imported.task_count,
            "predictions": predictions, "seconds": round(time.monotonic() - started, 2)}


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:7])))
