"""Everything knowable about a config before the agent starts, changing nothing.

``borderpath agent check`` runs it; ``agent run`` and a SIGHUP reload run it before
they touch anything. First the file alone (TOML, the models' schema and cross-section
rules: pure, see ``agent/config.py``), then this router, read-only: every uplink's
interface, the secret files and variables (read, never shown), the CA files, and the
kernel's rules and routes, where our tables, rule priorities, marks and route protocol
must not meet anybody else's.

Each mistake is a ``Mistake``: ``FILE[:LINE]: key: message``, the line found again in
the text from the key (``core/tomlfile.py``).
"""

import os
import socket
import ssl
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from borderpath.agent.config import AgentConfig
from borderpath.core.errors import Mistake
from borderpath.core.tomlfile import describe_location, find_line, read_toml, validate_document
from borderpath.probes.plumbing import FAMILIES, PROTO, Plumbing

Location = tuple[int | str, ...]
Problem = tuple[Location, str]
"""A mistake before it is placed in the file: the key's location and the sentence."""


def check(
    path: Path, *, here: bool = True, running: AgentConfig | None = None
) -> tuple[AgentConfig | None, list[Mistake]]:
    """The config (None if the file is wrong) and every mistake found. ``here``: also
    check this router; ``running``: the config of the running agent, whose kernel
    objects are not a collision (a reload)."""
    try:
        document, text = read_toml(path)
        config = validate_document(document, text, path, AgentConfig)
    except Mistake as mistake:
        return None, [mistake]
    if not here:
        return config, []
    owners = [config] if running is None else [config, running]
    problems = [*_interfaces(config), *_secrets(config), *_ca_files(config), *_kernel(owners)]
    return config, [_place(path, text, location, message) for location, message in problems]


def checked(path: Path, running: AgentConfig | None = None) -> AgentConfig:
    """The config, if every check passes here; else ConfigError with the first mistake."""
    config, mistakes = check(path, running=running)
    if mistakes:
        raise mistakes[0]
    assert config is not None
    return config


def _place(path: Path, text: str, location: Location, message: str) -> Mistake:
    key = describe_location(location) if location else ""
    return Mistake(path, find_line(text, location), key, message)


def _interfaces(config: AgentConfig) -> Iterator[Problem]:
    for index, uplink in enumerate(config.uplinks):
        try:
            socket.if_nametoindex(uplink.interface)
        except OSError:
            yield (
                ("uplinks", index, "interface"),
                f"this router has no interface named {uplink.interface!r} (see 'ip link')",
            )


def _secrets(config: AgentConfig) -> Iterator[Problem]:
    """The InfluxDB secret the sink will read: there, readable, not empty (never shown)."""
    influx = config.storage.influxdb
    if influx is None:
        return
    needed = "token" if influx.api == "v2" else "password" if influx.username else None
    if needed is None:
        return
    file, variable = getattr(influx, f"{needed}_file"), getattr(influx, f"{needed}_env")
    where: Location = ("storage", "influxdb", f"{needed}_file" if file else f"{needed}_env")
    if file is not None:
        try:
            secret = file.read_text(encoding="utf-8")
        except OSError as exc:
            yield where, f"cannot read {file} ({exc.strerror})"
            return
        except UnicodeDecodeError:
            yield where, f"{file} is not a text file"
            return
    elif variable not in os.environ:
        yield where, f"the environment variable {variable} is not set"
        return
    else:
        secret = os.environ[variable]
    if not secret.strip():
        yield where, f"the {needed} in {file or variable} is empty"


def _ca_files(config: AgentConfig) -> Iterator[Problem]:
    """Each PoP's CA file loads as the probes will load it."""
    for index, pop in enumerate(config.pops):
        if pop.tls_ca_file is None:
            continue
        try:
            ssl.create_default_context(cafile=str(pop.tls_ca_file))
        except ssl.SSLError:
            yield ("pops", index, "tls_ca_file"), f"{pop.tls_ca_file} holds no PEM certificate"
        except OSError as exc:
            yield ("pops", index, "tls_ca_file"), f"cannot read {pop.tls_ca_file} ({exc.strerror})"


def _kernel(owners: Sequence[AgentConfig]) -> Iterator[Problem]:
    """Rules and routes of this namespace that use our numbers but are not ours."""
    from pyroute2 import IPRoute

    try:
        with IPRoute() as ipr:
            rules = [rule for family in FAMILIES.values() for rule in ipr.get_rules(family=family)]
            routes = list(ipr.get_routes(family=socket.AF_UNSPEC))
    except OSError as exc:
        yield (), f"cannot read this router's rules and routes ({exc.strerror})"
        return
    config = owners[0]
    yield from _rules_apart(config, [r for r in rules if not _ours(r, owners)])
    yield from _routes_apart(config, routes, {o.selector.routes.proto for o in owners})


def _ours(rule: Any, owners: Sequence[AgentConfig]) -> bool:
    """A rule that the probe plumbing or the route writer of one of ``owners`` makes."""
    priority, table = rule.get("priority") or 0, rule.get("table")
    for config in owners:
        steering = config.selector.routes
        if (priority, table) == (steering.rule_priority, steering.table):
            return True
        for entry in Plumbing(config.uplinks, config.probing).plan():
            if table == entry["table"] and priority in (
                entry["mark_priority"],
                entry["source_priority"],
            ):
                return True
    return False


def _rules_apart(config: AgentConfig, foreign: list[Any]) -> Iterator[Problem]:
    plan = Plumbing(config.uplinks, config.probing).plan()
    steering = config.selector.routes
    priorities = {p: ("probing", "rule_priority") for e in plan for p in _priorities(e)}
    priorities[steering.rule_priority] = ("selector", "routes", "rule_priority")
    tables = {e["table"]: ("probing", "table_base") for e in plan}
    tables[steering.table] = ("selector", "routes", "table")
    marks = {e["mark"] for e in plan}
    for rule in foreign:
        priority, table = rule.get("priority") or 0, rule.get("table")
        described = f"a rule of another program (priority {priority}, lookup {table})"
        if priority in priorities:
            yield priorities[priority], f"priority {priority} is taken by {described}"
        elif table in tables:
            yield tables[table], f"table {table} is looked up by {described}"
        elif rule.get("fwmark") in marks:
            mark = rule.get("fwmark")
            yield ("probing", "fwmark_base"), f"mark {mark:#x} is matched by {described}"


def _priorities(entry: dict[str, Any]) -> tuple[int, int]:
    return entry["mark_priority"], entry["source_priority"]


def _routes_apart(config: AgentConfig, routes: list[Any], ours: set[int]) -> Iterator[Problem]:
    """Our tables hold only our routes; our protocol marks no route elsewhere."""
    probe_tables = {e["table"] for e in Plumbing(config.uplinks, config.probing).plan()}
    steering = config.selector.routes
    reported: set[str] = set()
    for route in routes:
        table, proto = route.get("table"), route.get("proto")
        if table in probe_tables and proto != PROTO:
            problem = ("probing", "table_base"), f"table {table} holds routes of another program"
        elif table == steering.table and proto not in ours:
            problem = (
                ("selector", "routes", "table"),
                (f"table {table} holds routes of another program (protocol {proto})"),
            )
        elif proto == steering.proto and table != steering.table:
            problem = (
                ("selector", "routes", "proto"),
                (f"protocol {proto} marks routes of another program (in table {table})"),
            )
        else:
            continue
        if problem[1] not in reported:  # one line per table, not one per route
            reported.add(problem[1])
            yield problem
