"""Hand-made stance units for the transformer methods (tests/models/ and the ``evaluations``
fixture): three documents of four units, with "critical" in document c only, and a text longer
than the tiny BERT's 128 positions."""

from __future__ import annotations

from crypto_news_bench.data.schema import TASKS

STANCE = TASKS["stance"]
PRO, CRIT, NEU = 0, 1, 2
METHODS = ["finetune", "frozen_encoder", "setfit"]

# Three documents; "critical" occurs in document c only, so c's fold trains without it.
UNITS = [
    # id, doc, text, label
    ("a:1", "a", "Binance launches great new rewards for users", PRO),
    ("a:2", "a", "Record growth delights loyal traders", PRO),
    ("a:3", "a", "The exchange opened an office in Paris", NEU),
    ("a:4", "a", "Our customers funds are safe and we protect them", PRO),
    ("b:1", "b", "Users praise the fast new listings", PRO),
    ("b:2", "b", "Great rewards and lower fees for traders", PRO),
    ("b:3", "b", "The report was published on Monday", NEU),
    ("b:4", "b", "The exchange has offices in three countries", NEU),
    ("c:1", "c", "Regulators sue the exchange over fraud", CRIT),
    ("c:2", "c", "Great new rewards for loyal users", PRO),
    ("c:3", "c", "Critics warn of hidden risks and fraud", CRIT),
    ("c:4", "c", "The sec lawsuit alleged the exchange misled customers", CRIT),
]
IDS, DOCS, TEXTS, LABELS = (list(c) for c in zip(*UNITS, strict=True))

LONG_TEXT = "Withdrawals were paused yesterday afternoon; customers complained loudly. " * 5
