"""Durations as operators write them: "90s", "1m30s", "250ms", "2h", or plain seconds."""

import argparse
import math
import re

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_SECONDS = re.compile(r"\d+(?:\.\d+)?")
MAX_DURATION_S = 100 * 365 * 86400.0
"""A century: longer is a typo, and it would overflow the 64-bit nanosecond times
(292 years) that the store and the kernel keep."""


def parse_duration(value: object) -> float:
    """Return seconds; raise ValueError with a sentence an operator understands."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("expected a duration such as '90s' or a number of seconds")
    if isinstance(value, str):
        value = _seconds_of(value)
    return _bounded(value)


def _seconds_of(value: str) -> float:
    text = value.strip().replace(" ", "")
    if _SECONDS.fullmatch(text):
        return float(text)
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{value!r} is not a duration (write e.g. '500ms', '90s', '1m30s', '2h')")
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def _bounded(seconds: int | float) -> float:
    if isinstance(seconds, float) and math.isnan(seconds):
        raise ValueError("a duration must be a number, not NaN")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    if seconds > MAX_DURATION_S:
        raise ValueError("a duration cannot be longer than a century (36500d)")
    return float(seconds)


def duration_option(value: str) -> float:
    """``type=`` of every duration option of the CLI: seconds, more than 0, or argparse's
    one-line usage error (exit 2)."""
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{value!r}: a duration must be more than 0")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest exact form: 0.25 -> '250ms', 90 -> '1m30s'."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    minutes, rest = divmod(seconds, 60)
    if minutes and not rest:
        return f"{int(minutes)}m"
    if minutes:
        return f"{int(minutes)}m{rest:g}s"
    return f"{rest:g}s"
