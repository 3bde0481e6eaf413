"""Shared pydantic building blocks for the files operators write."""

import ipaddress
from pathlib import Path
from typing import Annotated

import pydantic

from borderpath.core.durations import parse_duration

_NOT_COERCED = pydantic.ConfigDict(strict=True, allow_inf_nan=False)
"""Given apart so that the pydantic mypy plugin, which types the constructor of a strict
model, keeps it untyped: code builds sections from text (addresses, paths) too, which
these models parse (see _FROM_TEXT)."""


class StrictModel(pydantic.BaseModel):
    """A file section: unknown keys are mistakes, values are not coerced across types
    (``port = "443"`` and ``enabled = 1`` are refused), and no number is infinite or NaN."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True, **_NOT_COERCED)


_FROM_TEXT = pydantic.Strict(False)
"""TOML has no path or address type: these are written as strings, and parsed from them."""


def _no_nul(path: Path) -> Path:
    if "\x00" in str(path):
        raise ValueError("a path cannot hold a NUL character")
    return path


FilePath = Annotated[Path, _FROM_TEXT, pydantic.AfterValidator(_no_nul)]
IPv4Address = Annotated[ipaddress.IPv4Address, _FROM_TEXT]
IPv6Address = Annotated[ipaddress.IPv6Address, _FROM_TEXT]
IPAddress = IPv4Address | IPv6Address
IPNetwork = (
    Annotated[ipaddress.IPv4Network, _FROM_TEXT] | Annotated[ipaddress.IPv6Network, _FROM_TEXT]
)
Port = Annotated[int, pydantic.Field(ge=1, le=65535)]

Seconds = Annotated[float, pydantic.BeforeValidator(parse_duration)]
"""A duration written as "90s", "250ms", "1m30s" or a number of seconds."""

Name = Annotated[str, pydantic.StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,7}$")]
"""A short lower-case name (uplinks, PoPs): it becomes an interface and namespace name."""


class LocatedError(ValueError):
    """A validator's mistake that belongs to a key below the one validated, e.g. the
    second of two uplinks with one name: ``LocatedError(message, 1, "name")`` raised
    while validating ``uplinks`` is reported at ``uplinks[1].name`` and its line."""

    def __init__(self, message: str, *location: int | str) -> None:
        super().__init__(message)
        self.location = location


def require_order(section: pydantic.BaseModel, low: str, high: str) -> None:
    """The key ``low`` of ``section`` may not be above its key ``high``."""
    if getattr(section, low) > getattr(section, high):
        raise LocatedError(f"cannot be above {high} ({getattr(section, high):g})", low)
