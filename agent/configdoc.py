"""docs/configuration.md, written from the config models themselves.

``python -m borderpath.agent.configdoc > docs/configuration.md`` regenerates it; a test
fails when the file and the models disagree, so the reference never drifts.
"""

import enum
import ipaddress
import types
import typing
from pathlib import Path
from typing import Any

import pydantic
from pydantic.fields import FieldInfo

from borderpath.agent.config import AgentConfig
from borderpath.core.durations import format_duration, parse_duration

INTRO = """# Configuration reference

The agent reads one TOML file: `--config FILE`, else the file named by the environment
variable `BORDERPATH_CONFIG`, else `/etc/borderpath/agent.toml`. Every key is listed
here with its type, default and meaning; a key not listed is an error. Nothing is
coerced: a number written as a string (`tcp_port = "443"`), a boolean written as a
number, an infinite or NaN number, a duration beyond a century or a size beyond 1 PiB
is refused. `borderpath agent check` reports the file's first mistake, or every one it
finds on the router (see [operations.md](operations.md)), one line each naming the
file, the line and the key, and exits with code 2; `agent run` and a reload run the
same checks before they change anything:

```
borderpath: /etc/borderpath/agent.toml:30: storage.max_size: a size cannot be above 1PiB (got inf)
```

Besides each key's own rules, the sections must agree: names and probe source addresses
are unique; a prefix is steered to one PoP; every uplink has a gateway of each PoP's
address family; the probe rules come before the steering rules, the probe tables are
not the steering table, the steering routes' protocol is not the probe routes' (249)
and their table not one of the kernel's (253-255); `min_days` is at most
`history_days`, `retry_min` at most `retry_max`; webhook headers are HTTP tokens with
printable ASCII values.

Durations are written `"500ms"`, `"20s"`, `"1m30s"`, `"2h"` or as a number of seconds;
sizes as `"1GiB"`, `"500MB"` or a number of bytes. Sections marked *required* must be
present. This file is generated from the models (`python -m borderpath.agent.configdoc`).
"""


def render() -> str:
    lines = [INTRO]
    for name, field in AgentConfig.model_fields.items():
        lines += _section(name, field)
    return "\n".join(lines).rstrip() + "\n"


def _section(path: str, field: FieldInfo) -> list[str]:
    model, repeated = _model_of(field.annotation)
    if model is None:
        return []
    heading = f"[[{path}]]" if repeated else f"[{path}]"
    required = " (required)" if field.is_required() else ""
    lines = [f"## `{heading}`{required}", ""]
    doc = (model.__doc__ or "").strip()
    if doc:
        lines += [" ".join(doc.split("\n\n")[0].split()), ""]
    rows = [
        (key, sub)
        for key, sub in model.model_fields.items()
        if _model_of(sub.annotation)[0] is None
    ]
    if rows:
        lines += ["| key | type | default | meaning |", "|---|---|---|---|"]
        lines += [_row(key, sub) for key, sub in rows]
        lines.append("")
    for key, sub in model.model_fields.items():
        if _model_of(sub.annotation)[0] is not None:
            lines += _section(f"{path}.{key}", sub)
    return lines


def _row(key: str, field: FieldInfo) -> str:
    default = "*required*" if field.is_required() else f"`{_toml(field, _default(field))}`"
    meaning = " ".join((field.description or "").split()).replace("|", "\\|")
    return f"| `{key}` | {_type_name(field.annotation, field)} | {default} | {meaning} |"


def _default(field: FieldInfo) -> Any:
    if field.default_factory is not None:
        return field.default_factory()  # type: ignore[call-arg]
    return field.default


def _model_of(annotation: Any) -> tuple[type[pydantic.BaseModel] | None, bool]:
    """The section model an annotation holds, and whether it is an array of tables."""
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, pydantic.BaseModel):
            return candidate, False
        if typing.get_origin(candidate) is list:
            inner = typing.get_args(candidate)[0]
            if isinstance(inner, type) and issubclass(inner, pydantic.BaseModel):
                return inner, True
    return None, False


def _validator_kind(field: FieldInfo) -> str | None:
    for item in field.metadata:
        function = getattr(item, "func", None)
        if function is parse_duration:
            return "duration"
        if function is not None and function.__name__ == "parse_size":
            return "size"
    return None


def _type_name(annotation: Any, field: FieldInfo | None = None) -> str:
    kind = _validator_kind(field) if field is not None else None
    if kind:
        return kind
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f'`"{value}"`' for value in arguments)
    if origin in (types.UnionType, typing.Union):
        names = [_type_name(argument) for argument in arguments if argument is not type(None)]
        text = " or ".join(dict.fromkeys(names))
        return f"{text} (optional)" if type(None) in arguments else text
    if origin is list:
        return f"list of {_type_name(arguments[0])}"
    if origin is dict:
        return f"table of {_type_name(arguments[1])}"
    if typing.get_origin(annotation) is typing.Annotated:
        return _type_name(arguments[0])
    return _SIMPLE.get(annotation, getattr(annotation, "__name__", str(annotation)))


_SIMPLE: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    Path: "path",
    ipaddress.IPv4Address: "address",
    ipaddress.IPv6Address: "address",
    ipaddress.IPv4Network: "prefix",
    ipaddress.IPv6Network: "prefix",
}


def _toml(field: FieldInfo, value: Any) -> str:
    if value is None:
        return "(none)"
    if _validator_kind(field) == "duration" and isinstance(value, int | float):
        return f'"{format_duration(value)}"'
    return _toml_value(value)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return _toml_value(value.value)
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{key} = {_toml_value(item)}" for key, item in value.items())
        return "{ " + inner + " }" if inner else "{}"
    if isinstance(value, pydantic.BaseModel):
        return "(see below)"
    return f'"{value}"'


if __name__ == "__main__":
    print(render(), end="")
