"""What ``borderpath query series|paths|events`` prints: a table, or JSON lines."""

import dataclasses
import datetime
import functools
import json
import time
from collections.abc import Iterator, Sequence
from typing import Any

from borderpath.core.figures import Summary
from borderpath.storage.queries import Queries

RAW_WINDOW_NS = 6 * 3600 * 1_000_000_000
"""Windows up to 6 h are summarized from the raw results, longer ones from the
1 min rollups (a day of raw results is millions of rows; the last minute or so is not
rolled up yet)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Filters:
    since_ns: int
    uplink: str | None = None
    pop: str | None = None
    protocol: str | None = None


def query_rows(store: Queries, what: str, filters: Filters) -> list[dict[str, Any]]:
    """The rows of one query as plain dicts (the JSON lines)."""
    if what == "events":
        return [
            {"time": _iso(e.time_ns), **dataclasses.asdict(e)}
            for e in store.query_events(filters.since_ns, uplink=filters.uplink, pop=filters.pop)
        ]
    summarize = store.summarize
    if time.time_ns() - filters.since_ns > RAW_WINDOW_NS:
        summarize = functools.partial(store.summarize_rollups, 60)
    summaries = summarize(
        filters.since_ns,
        uplink=filters.uplink,
        pop=filters.pop,
        protocol=filters.protocol,
        per_path=what == "paths",
    )
    rows = [_summary_row(summary, drop_protocol=what == "paths") for summary in summaries]
    if what == "paths":
        latest = {
            (s.uplink, s.pop): s
            for s in store.query_snapshots(
                filters.since_ns, uplink=filters.uplink, pop=filters.pop, latest=True
            )
        }
        for row in rows:
            snapshot = latest.get((row["uplink"], row["pop"]))
            row["state"] = snapshot.state if snapshot else None
            row["score"] = snapshot.score if snapshot else None
            row["selected"] = snapshot.selected if snapshot else None
    return rows


def _summary_row(summary: Summary, drop_protocol: bool) -> dict[str, Any]:
    row = dataclasses.asdict(summary)
    del row["start_ns"]
    if drop_protocol:
        del row["protocol"]
    return row


def _iso(time_ns: int) -> str:
    moment = datetime.datetime.fromtimestamp(time_ns / 1e9, datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def json_lines(rows: Sequence[dict[str, Any]]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(row, separators=(",", ":"))


_STATS = ("sent", "received", "loss", "rtt_p50_ms", "rtt_p95_ms", "jitter_ms", "forged")
_COLUMNS = {
    "series": ("uplink", "pop", "protocol", *_STATS),
    "paths": ("uplink", "pop", *_STATS, "state", "score", "selected"),
    "events": ("time", "kind", "labels", "text"),
}


def table(what: str, rows: Sequence[dict[str, Any]]) -> Iterator[str]:
    """An aligned text table (loss in %, times in ms); a note when there is nothing."""
    if not rows:
        yield f"no {what} in this time range"
        return
    columns = _COLUMNS[what]
    cells = [[_cell(column, row.get(column)) for column in columns] for row in rows]
    header = [column.removesuffix("_ms") for column in columns]
    widths = [max(len(h), *(len(line[i]) for line in cells)) for i, h in enumerate(header)]
    last = len(columns) - 1
    for line in [header, *cells]:
        yield "  ".join(
            value if i == last else value.ljust(widths[i]) for i, value in enumerate(line)
        ).rstrip()


def _cell(column: str, value: object) -> str:
    if value is None:
        return "-"
    if column == "loss" and isinstance(value, float):
        return f"{value * 100:.1f}%"
    if column == "labels" and isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items()) or "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)
