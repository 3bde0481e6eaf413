"""Everything knowable about a config before the agent starts, changing nothing.

``borderpath agent check`` runs it; ``agent run`` and a SIGHUP reload run it before
they touch anything. First the file alone (TOML, the models' schema and cross-section
rules: pure, see ``agent/config.py``), then this router, read-only: every uplink's
interface, where the store and the status socket go, the secret files and variables
(read, never shown), the CA files, and the kernel's rules and routes, where our
tables, rule priorities, marks and route protocol must not meet anybody else's.

Each mistake is a ``Mistake``: ``FILE[:LINE]: key: message``, the line found again in
the text from the key (``core/tomlfile.py``).
"""

import dataclasses
import errno
import os
import socket
import ssl
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from borderpath.agent.config import AgentConfig
from borderpath.agent.status_api import parse_listen
from borderpath.core.errors import Mistake
from borderpath.core.files import not_a_small_file
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
    problems = [
        *_interfaces(config),
        *_places(config),
        *_secrets(config),
        *_header_secrets(config),
        *_ca_files(config),
        *_kernel(owners),
    ]
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


def _places(config: AgentConfig) -> Iterator[Problem]:
    """Where the agent writes: the store (its directories are made at start) and the
    status socket (its directory must be there)."""
    database = config.storage.database_path(config.agent.data_dir)
    store_key: Location = ("storage", "path") if config.storage.path else ("agent", "data_dir")
    problem = _not_writable(database.parent, create=True) or _not_writable_file(database)
    if problem is not None:
        yield store_key, problem
    listen = parse_listen(config.status.listen)
    if isinstance(listen, Path):
        problem = _not_writable(listen.parent, create=False)
        if problem is not None:
            yield ("status", "listen"), problem


def _not_writable(directory: Path, *, create: bool) -> str | None:
    """Why the agent could not write in ``directory`` (made first, with its parents, if
    ``create``); nothing is made here."""
    try:
        existing = directory
        while create and not existing.exists():
            existing = existing.parent
        if not existing.is_dir():
            return (
                f"{existing} is not a directory"
                if existing.exists()
                else f"no directory {existing}"
            )
    except OSError as exc:
        return f"cannot use {directory} ({exc.strerror})"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"cannot write in {existing} (Permission denied or a read-only file system)"
    return None


def _not_writable_file(path: Path) -> str | None:
    try:
        there = path.exists()
    except OSError as exc:
        return f"cannot use {path} ({exc.strerror})"
    if there and not os.access(path, os.R_OK | os.W_OK):
        return f"cannot write {path} (Permission denied or a read-only file system)"
    return None


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
        problem = not_a_small_file(file)
        if problem is not None:
            yield where, problem
            return
        try:
            secret = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            yield where, f"{file} is not a text file"
            return
    elif variable not in os.environ:
        yield where, f"the environment variable {variable} is not set"
        return
    else:
        secret = os.environ[variable]
    if not secret.strip():
        yield where, f"the {needed} in {file or variable} is empty"


def _header_secrets(config: AgentConfig) -> Iterator[Problem]:
    """Each webhook header kept in a file or a variable can be read and sent (never shown)."""
    for index, hook in enumerate(config.alerts.webhooks):
        for name, value in hook.headers.items():
            if isinstance(value, str):
                continue
            where: Location = ("alerts", "webhooks", index, "headers", name)
            problem = None if value.file is None else not_a_small_file(value.file)
            if problem is not None:
                yield where, problem
                continue
            try:
                value.read()
            except ValueError as exc:
                yield where, str(exc)


def _ca_files(config: AgentConfig) -> Iterator[Problem]:
    """Each PoP's CA file loads as the probes will load it."""
    for index, pop in enumerate(config.pops):
        if pop.tls_ca_file is None:
            continue
        problem = not_a_small_file(pop.tls_ca_file)
        if problem is not None:
            yield ("pops", index, "tls_ca_file"), problem
            continue
        try:
            ssl.create_default_context(cafile=str(pop.tls_ca_file))
        except (ssl.SSLError, ValueError):
            yield ("pops", index, "tls_ca_file"), f"{pop.tls_ca_file} holds no PEM certificate"


def _kernel(owners: Sequence[AgentConfig]) -> Iterator[Problem]:
    """Rules and routes of this namespace that use our numbers but are not ours."""
    from pyroute2.netlink.exceptions import NetlinkError

    try:
        rules, routes = _read_kernel()
    except (OSError, NetlinkError) as exc:
        yield (), f"cannot read this router's rules and routes ({exc})"
        return
    ours = [_Numbers.of(config) for config in owners]
    mine = ours[0]
    for rule in rules:
        priority, table = rule.get("priority") or 0, rule.get("table")
        if any((priority, table) in numbers.rules for numbers in ours):
            continue
        foreign = f"a rule of another program (priority {priority}, lookup {table})"
        if priority in mine.priorities:
            yield mine.priorities[priority], f"priority {priority} is taken by {foreign}"
        elif table in mine.tables:
            yield mine.tables[table], f"table {table} is looked up by {foreign}"
        elif rule.get("fwmark") in mine.marks:
            yield PROBE_MARKS, f"mark {rule.get('fwmark'):#x} is matched by {foreign}"
    yield from _routes_apart(mine, routes, {numbers.proto for numbers in ours})


def _read_kernel() -> tuple[list[Any], list[Any]]:
    """Every rule and route of this namespace (a kernel without IPv6 has no IPv6 rules)."""
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError

    rules: list[Any] = []
    with IPRoute() as ipr:
        for family in FAMILIES.values():
            try:
                rules += ipr.get_rules(family=family)
            except NetlinkError as exc:
                if exc.code != errno.EAFNOSUPPORT:
                    raise
        return rules, list(ipr.get_routes(family=socket.AF_UNSPEC))


PROBE_PRIORITY: Location = ("probing", "rule_priority")
PROBE_TABLES: Location = ("probing", "table_base")
PROBE_MARKS: Location = ("probing", "fwmark_base")
STEERING_PRIORITY: Location = ("selector", "routes", "rule_priority")
STEERING_TABLE: Location = ("selector", "routes", "table")
STEERING_PROTO: Location = ("selector", "routes", "proto")


@dataclasses.dataclass(frozen=True)
class _Numbers:
    """The kernel numbers a config uses, each with the key that sets it."""

    rules: set[tuple[int, int]]
    """(priority, table) of every rule the probe plumbing and the route writer make."""
    priorities: dict[int, Location]
    tables: dict[int, Location]
    marks: set[int]
    proto: int

    @classmethod
    def of(cls, config: AgentConfig) -> "_Numbers":
        plan = Plumbing(config.uplinks, config.probing).plan()
        steering = config.selector.routes
        probe_rules = {
            (entry[kind], entry["table"])
            for entry in plan
            for kind in ("mark_priority", "source_priority")
        }
        return cls(
            rules=probe_rules | {(steering.rule_priority, steering.table)},
            priorities={priority: PROBE_PRIORITY for priority, _ in probe_rules}
            | {steering.rule_priority: STEERING_PRIORITY},
            tables={entry["table"]: PROBE_TABLES for entry in plan}
            | {steering.table: STEERING_TABLE},
            marks={entry["mark"] for entry in plan},
            proto=steering.proto,
        )


def _routes_apart(mine: _Numbers, routes: list[Any], protos: set[int]) -> Iterator[Problem]:
    """Our tables hold only our routes; our protocol marks no route elsewhere."""
    reported: set[str] = set()
    for route in routes:
        table, proto = route.get("table"), route.get("proto")
        where = mine.tables.get(table)
        if where is not None and proto not in ({PROTO} if where == PROBE_TABLES else protos):
            problem = where, f"table {table} holds routes of another program (protocol {proto})"
        elif where is None and proto == mine.proto:
            problem = STEERING_PROTO, f"protocol {proto} marks routes in table {table} too"
        else:
            continue
        if problem[1] not in reported:  # one line per table, not one per route
            reported.add(problem[1])
            yield problem
