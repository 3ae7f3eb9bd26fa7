"""The label schema: the three tasks, their unit kind and their label names (in id order)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    name: str
    unit: str  # "block" or "sentence"
    labels: tuple[str, ...]
    description: str
    # The metric reported next to macro-F1 in the leaderboard.
    secondary_metric: str = "accuracy"

    def label_id(self, label: str) -> int:
        return self.labels.index(label)


TASKS: dict[str, Task] = {
    "boilerplate": Task(
        "boilerplate",
        "block",
        ("content", "boilerplate"),
        "Is a block (one non-empty line) the article's own text or site clutter?",
    ),
    "stance": Task(
        "stance",
        "sentence",
        ("promotional", "critical", "neutral"),
        "Does a content sentence present the exchange favourably, critically, or neither?",
        secondary_metric="f1_pro_crit",
    ),
    "claim_type": Task(
        "claim_type",
        "sentence",
        (
            "legal_regulatory",
            "quantity",
            "self_assertion",
            "reported_event",
            "opinion",
            "no_claim",
        ),
        "What kind of claim does a content sentence make (first that applies, in this order)?",
    ),
}


def get_task(name: object, where: object = None, error: type[Exception] | None = None,
             also: tuple[str, ...] = ()) -> Task:
    """The task called ``name``, or ``error`` (default ``DataError``): "unknown task ...; valid
    tasks: ...", after ``where`` (a file) when given. The one place that says so.

    ``also`` lists extra accepted words (``all``) to name among the valid choices; the caller
    handles them before asking here.
    """
    from ..errors import DataError

    if isinstance(name, str) and name in TASKS:
        return TASKS[name]
    prefix = f"{where}: " if where else ""
    raise (error or DataError)(
        f"{prefix}unknown task {name!r}; valid tasks: {', '.join((*also, *TASKS))}")
