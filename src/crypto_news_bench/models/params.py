"""Types of estimator parameters, with their allowed ranges.

The estimators' constructor signatures use them, so a config is checked against the same
place that defines the parameter: ``cnbench`` builds a pydantic model from each signature and
refuses a bad value (``batch_size: 0``, ``C: "ten"``) when the config loads, before anything
trains, naming the file, the key, the value and what is allowed.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
# A share: 0 to 1 inclusive.
Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
# A share of the training steps, below 1.
Fraction = Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)]
ModelPath = Annotated[str, Field(min_length=1)]
