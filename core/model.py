"""Shared pydantic building blocks for the files operators write."""

from typing import Annotated

import pydantic

from borderpath.core.durations import parse_duration


class StrictModel(pydantic.BaseModel):
    """A file section: unknown keys are mistakes, values are not coerced across types."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


Seconds = Annotated[float, pydantic.BeforeValidator(parse_duration)]
"""A duration written as "90s", "250ms", "1m30s" or a number of seconds."""

Name = Annotated[str, pydantic.StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,7}$")]
"""A short lower-case name (uplinks, PoPs): it becomes an interface and namespace name."""
