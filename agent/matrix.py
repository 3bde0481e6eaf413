"""The uplink x PoP matrix for the terminal, from the running agent's /status."""

from pathlib import Path
from typing import Any

import httpx

from borderpath.agent.status_api import parse_listen
from borderpath.core.errors import BorderpathError

TIMEOUT_S = 3.0
GAP = 2
"""Spaces between the matrix's columns."""
CLEAR = "\x1b[H\x1b[2J"
"""Cursor home, erase the screen: a live view redraws in place."""


def fetch_status(listen: str) -> dict[str, Any]:
    """GET /status from the agent listening on ``listen``; one-line error if it is not up."""
    address = parse_listen(listen)
    if isinstance(address, Path):
        transport = httpx.HTTPTransport(uds=str(address))
        base = "http://agent"
    else:
        transport, base = httpx.HTTPTransport(), f"http://{_host(address[0])}:{address[1]}"
    try:
        with httpx.Client(transport=transport, base_url=base, timeout=TIMEOUT_S) as client:
            response = client.get("/status")
            response.raise_for_status()
            document: dict[str, Any] = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise BorderpathError(f"no agent answers on {listen} ({exc}); is it running?") from exc
    return document


def matrix(document: dict[str, Any]) -> str:
    """Rows are uplinks, columns PoPs; each cell: loss, RTT p95, state; * = chosen. Every
    column is as wide as its longest cell, so no state name pushes the next one out."""
    paths = {(p["uplink"], p["pop"]): p for p in document["paths"]}
    uplinks = list(dict.fromkeys(uplink for uplink, _ in paths))
    pops = list(dict.fromkeys(pop for _, pop in paths))
    cells = {key: _cell(path) for key, path in paths.items()}
    first = max(map(len, uplinks), default=0) + GAP
    width = max(map(len, [*cells.values(), *pops]), default=0) + GAP
    lines = [f"site {document['site']}, up {document['uptime_s']:.0f} s", ""]
    lines.append(" " * first + "".join(f"{pop:<{width}}" for pop in pops).rstrip())
    for uplink in uplinks:
        row = "".join(f"{cells.get((uplink, pop), '-'):<{width}}" for pop in pops)
        lines.append(f"{uplink:<{first}}{row}".rstrip())
    lines.append("")
    chosen = {
        pop: "+".join(c["uplink"] for c in choice["uplinks"]) or "(none yet)"
        for pop, choice in document["pops"].items()
    }
    pop_width = max(map(len, chosen), default=0)
    chosen_width = max(map(len, chosen.values()), default=0)
    for pop, choice in document["pops"].items():
        lines.append(f"{pop:<{pop_width}} -> {chosen[pop]:<{chosen_width}} {choice['reason']}")
    return "\n".join(lines)


def _cell(path: dict[str, Any]) -> str:
    mark = "*" if path["selected"] else " "
    loss = "  ?  " if path["loss"] is None else f"{path['loss'] * 100:4.1f}%"
    rtt = "   ?  " if path["rtt_p95_ms"] is None else f"{path['rtt_p95_ms']:5.0f}ms"
    return f"{mark}{loss} {rtt} {path['state']}"


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
