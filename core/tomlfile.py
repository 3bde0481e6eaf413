"""Load a TOML file into a pydantic model; every mistake becomes one ConfigError line.

The message names the file, the line and the key, e.g.
``scenario.toml:14: events[2].loss: must be between 0 and 1 (got 1.5)``.
tomllib keeps no positions, so the line is found again in the text from the
error's location (array-of-tables index, then the key).
"""

import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import pydantic

from borderpath.core.errors import Mistake
from borderpath.core.model import LocatedError

Model = TypeVar("Model", bound=pydantic.BaseModel)

_TOML_POSITION = re.compile(r"\(at line (\d+), column \d+\)")


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """The parsed document and its text; a missing or malformed file is a ConfigError,
    whatever its bytes."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise Mistake(path, None, "", f"cannot read the file ({exc.strerror})") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        byte = data[exc.start]
        raise Mistake(path, line, "", f"not a text file: byte {byte:#04x} is not UTF-8") from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        position = _TOML_POSITION.search(message)
        at = int(position.group(1)) if position else None
        reason = _TOML_POSITION.sub("", message).strip()
        raise Mistake(path, at, "", f"not valid TOML: {reason}") from exc
    except RecursionError:
        raise Mistake(
            path, None, "", "not valid TOML: arrays or tables nested too deeply"
        ) from None
    except ValueError as exc:  # an integer longer than Python converts (4300 digits)
        reason = str(exc).split(";")[0]
        raise Mistake(path, None, "", f"not valid TOML: {reason}") from None


def load_model(path: Path, model: type[Model], context: dict[str, Any] | None = None) -> Model:
    """Parse ``path`` and validate it as ``model``; ``context`` reaches the validators."""
    document, text = read_toml(path)
    return validate_document(document, text, path, model, context)


def validate_document(
    document: dict[str, Any],
    text: str,
    path: Path,
    model: type[Model],
    context: dict[str, Any] | None = None,
) -> Model:
    """Validate an already-parsed document, mapping the first error to its line."""
    try:
        return model.model_validate(document, context=context)
    except pydantic.ValidationError as exc:
        errors = exc.errors()
        location = _location(errors[0])
        # A union (e.g. IPv4 or IPv6) fails once per member: say why for each.
        same = [error for error in errors if _location(error) == location]
        message = "; ".join(dict.fromkeys(_message(error) for error in same)) + _given(same[0])
        raise Mistake(
            path, find_line(text, location), describe_location(location), message
        ) from None


def _location(error: Any) -> tuple[int | str, ...]:
    """Where in the file: the error's keys, and deeper where a validator said so."""
    cause = error.get("ctx", {}).get("error")
    deeper = cause.location if isinstance(cause, LocatedError) else ()
    return _keys(error["loc"]) + tuple(deeper)


def _keys(location: Sequence[int | str]) -> tuple[int | str, ...]:
    """The location without pydantic's names for union members and validators, which
    are not keys of the file (``lax-or-strict[...]``, ``function-after[...]``, ``IPv4Address``)."""
    return tuple(
        part
        for part in location
        if isinstance(part, int) or not (part[:1].isupper() or "[" in part or part in _TYPE_TAGS)
    )


_NUMBER_TYPES = {"int_type", "float_type", "bool_type"}
_TYPE_TAGS = {"str", "int", "float", "bool", "list", "dict", "none"}


def describe_location(location: Sequence[int | str]) -> str:
    """('events', 2, 'loss') -> 'events[2].loss'."""
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _message(error: Any) -> str:
    message = str(error["msg"])
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if error["type"] == "extra_forbidden":
        return "unknown key (check its spelling, see the documentation for the valid keys)"
    if error["type"] == "missing":
        return "required key is missing"
    if error["type"] in _NUMBER_TYPES and isinstance(error.get("input"), str):
        return f"{message}: write it without quotes"
    return message


def _given(error: Any) -> str:
    """`` (got 1.5)``: the value the user wrote, when it is a single value."""
    if error["type"] in ("extra_forbidden", "missing") or "input" not in error:
        return ""
    value = error["input"]
    if isinstance(value, dict | list):
        return ""
    text = repr(value)
    return f" (got {text if len(text) <= GIVEN_LENGTH else text[: GIVEN_LENGTH - 3] + '...'})"


GIVEN_LENGTH = 60
"""Longest value quoted back: a 400-digit number is recognised by its start."""


def find_line(text: str, location: Sequence[int | str]) -> int | None:
    """Best-effort line number of ``location`` in the TOML ``text`` (1-based)."""
    lines = text.splitlines()
    headers = [(index, _header_name(line)) for index, line in enumerate(lines)]
    starts = [index for index, header in headers if header is not None]
    table: list[str] = []
    section = -1  # the header line of the current section; -1 is the top level
    found: int | None = None
    exact: int | None = None  # found as the part's own key, header or entry, not a child's
    inline = False  # inside a value written on one line: deeper parts have no line of their own
    for part in location:
        if inline:
            break
        if isinstance(part, int):
            name = ".".join(table)
            matches = [index for index, header in headers if header == (name, True)]
            if part >= len(matches):
                break
            section = matches[part]
            found = exact = section + 1
            continue
        body_end = next((index for index in starts if index > section), len(lines))
        key = re.compile(rf"^\s*\"?{re.escape(part)}\"?\s*=")
        hit = next((i for i in range(section + 1, body_end) if key.match(lines[i])), None)
        table.append(part)
        if hit is not None:
            found = exact = hit + 1
            inline = True
            continue
        name = ".".join(table)
        header = next((index for index, h in headers if h is not None and h[0] == name), None)
        if header is not None:
            found = exact = header + 1
            if headers[header][1] == (name, False):
                section = header
        elif child := next((i for i, h in headers if h and h[0].startswith(name + ".")), None):
            found = child + 1  # a table written only as [name.child] headers
        else:
            return exact  # not in the file (a default): a child of its parent is no place
    return found


def _header_name(line: str) -> tuple[str, bool] | None:
    stripped = line.strip()
    if stripped.startswith("[["):
        return stripped[2:].split("]]")[0].strip(), True
    if stripped.startswith("["):
        return stripped[1:].split("]")[0].strip(), False
    return None
