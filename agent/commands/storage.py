"""``borderpath`` sub-commands of the storage: ``query series|paths|events``."""

import argparse
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
