"""``borderpath`` sub-commands of the storage: ``query series|paths|events`` and
``export dead-letters list|replay|drop``."""

import argparse
import dataclasses
import json
import time
from typing import Any

from borderpath.agent.commands import add_config_option
from borderpath.core.durations import duration_option


def add_commands(commands: Any) -> None:
    """Register this module's sub-commands on the top-level parser's subparsers."""
    parser = commands.add_parser(
        "query",
        help="show what the local store holds",
        description="Summaries per series or per path, or the events, from the local store "
        "(read-only: safe while the agent runs). A table, or JSON lines with --json.",
    )
    parser.add_argument("what", choices=("series", "paths", "events"))
    add_config_option(parser)
    parser.add_argument(
        "--since", type=duration_option, default=3600.0, help="how far back (e.g. 15m, 1h, 2d); 1h"
    )
    parser.add_argument("--uplink", help="only this uplink")
    parser.add_argument("--pop", help="only this PoP")
    parser.add_argument("--protocol", help="only this protocol (series)")
    parser.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    parser.set_defaults(run=run_query)

    export = commands.add_parser("export", help="the export to InfluxDB")
    what = export.add_subparsers(dest="what", required=True, metavar="WHAT")
    letters = what.add_parser(
        "dead-letters",
        help="lines InfluxDB refused as malformed",
        description="list: the dead letters, oldest first (with the server's answer). "
        "replay: send them back to InfluxDB (the agent's exporter sends them first; "
        "those refused again come back). drop: forget them. Safe while the agent runs.",
    )
    letters.add_argument("action", choices=("list", "replay", "drop"))
    add_config_option(letters)
    letters.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    letters.set_defaults(run=run_dead_letters)


def run_query(args: argparse.Namespace) -> int:
    from borderpath.agent.config import load_config
    from borderpath.storage.report import Filters, json_lines, query_rows, table
    from borderpath.storage.store import Store

    config = load_config(args.config)
    path = config.storage.database_path(config.agent.data_dir)
    store = Store.open_read_only(path, config.storage)
    try:
        filters = Filters(
            time.time_ns() - int(args.since * 1e9), args.uplink, args.pop, args.protocol
        )
        rows = query_rows(store, args.what, filters)
    finally:
        store.close()
    for line in json_lines(rows) if args.json else table(args.what, rows):
        print(line)
    return 0


def run_dead_letters(args: argparse.Namespace) -> int:
    from borderpath.agent.config import load_config
    from borderpath.storage.db import require_database
    from borderpath.storage.store import Store

    config = load_config(args.config)
    path = config.storage.database_path(config.agent.data_dir)
    if args.action == "list":
        store = Store.open_read_only(path, config.storage)
        try:
            letters = store.dead_letters()
        finally:
            store.close()
        for letter in letters:
            if args.json:
                print(json.dumps(dataclasses.asdict(letter)))
            else:
                print(f"{letter.source} {letter.status} {letter.message} | {letter.line}")
        return 0
    require_database(path)
    store = Store.open(path, site=config.agent.site, config=config.storage)
    try:
        count = (
            store.replay_dead_letters() if args.action == "replay" else store.drop_dead_letters()
        )
    finally:
        store.close()
    done = "sent back to InfluxDB" if args.action == "replay" else "dropped"
    print(json.dumps({args.action: count}) if args.json else f"{count} dead letters {done}")
    return 0
