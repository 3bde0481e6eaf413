"""The agent configuration for a lab's branch: its uplinks and PoPs, probing at lab speed."""

import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from borderpath.lab.hops import labelled_prefixes
from borderpath.lab.layout import LabFiles

LAB_INTERVAL = "200ms"
DEFAULT_INTERACTIVE_RTT_MS = 250.0
HEADROOM = 1.3
"""A far PoP's interactive RTT limit: its slowest path's RTT with 30 % to spare."""


def borderpath_argv(*arguments: str) -> list[str]:
    """The ``borderpath`` command run by this interpreter (no install on PATH needed, and
    the same package inside a namespace as outside)."""
    return [sys.executable, "-m", "borderpath.agent.cli", *arguments]


def agent_config(
    status: dict[str, Any],
    data_dir: Path | None = None,
    agent: Sequence[str] = (),
    probing: Sequence[str] = (),
) -> str:
    """A TOML agent config for the branch of the lab described by ``status``.

    The agent keeps its store in ``data_dir``, by default the lab's own directory, so
    agents of different labs never warm-start from each other's history. ``agent`` and
    ``probing`` are more TOML lines for those two tables (a test's or a benchmark's own
    settings); any other table can follow the text."""
    store = (data_dir or LabFiles.of(status["name"]).agent_data).absolute()
    lines = [
        f"# borderpath agent config for lab {status['name']!r} (borderpath lab agent-config)",
        "# Run the agent inside the branch namespace: "
        f"ip netns exec {status['namespaces']['branch']} borderpath agent run --config FILE",
        "",
        "[agent]",
        f'site = "lab-{status["name"]}"',
        f"data_dir = {json.dumps(str(store))}",
        *agent,
        "",
    ]
    for uplink in status["uplinks"]:
        lines += [
            "[[uplinks]]",
            f'name = "{uplink["name"]}"',
            f'carrier = "{uplink["carrier"]}"',
            f'interface = "{uplink["interface"]}"',
            f'gateway = "{uplink["gateway"]}"',
            f'source = "{uplink["address"]}"',
            "",
        ]
    for pop in status["pops"]:
        prefixes = ", ".join(f'"{prefix}"' for prefix in pop["prefixes"])
        lines += [
            "[[pops]]",
            f'name = "{pop["name"]}"',
            f'region = "{pop["region"]}"',
            f'address = "{pop["probe_address"]}"',
            f"prefixes = [{prefixes}]",
            'protocols = ["icmp", "tcp", "udp", "quic", "http"]',
            f'tls_ca_file = "{pop["certificate"]}"',
            f'key_file = "{pop["key_file"]}"',
            "",
        ]
    lines += ["[probing]", f'interval = "{LAB_INTERVAL}"', *probing, ""]
    lines += _far_pop_limits(status)
    lines += ["[trace]", "# Lab speed: every path traced every 15 s, a label moves after 2 traces."]
    lines += ['interval = "15s"', "traces = 1", "agree = 2"]
    lines += ["# The lab's RTTs are below 300 ms: a PoP that does not answer costs half a second."]
    lines += ['hop_timeout = "500ms"']
    lines += ["# The lab's hop blocks, read as the backbones they stand for."]
    prefixes = ", ".join(f'"{prefix}" = "{label}"' for prefix, label in labelled_prefixes().items())
    lines += [f"extra_prefixes = {{ {prefixes} }}", ""]
    return "\n".join(lines)


def _far_pop_limits(status: dict[str, Any]) -> list[str]:
    """Per-PoP interactive limits where the lab's slowest path to a PoP is beyond the
    default, as an operator sets them for Frankfurt (docs/border.md: standard 220-320 ms)."""
    slowest: dict[str, float] = {}
    for row in status["conditions"]:
        if row["protocol"] == "icmp":
            key = f"{row['uplink']}/{row['pop']}"
            slowest[key] = slowest.get(key, 0.0) + row["delay_ms"]
    lines = []
    for pop in status["pops"]:
        worst = max(rtt for path, rtt in slowest.items() if path.endswith(f"/{pop['name']}"))
        if worst * HEADROOM > DEFAULT_INTERACTIVE_RTT_MS:
            limit = math.ceil(worst * HEADROOM / 10) * 10
            lines += [f"[selector.pops.{pop['name']}.sla.interactive]", f"rtt_p95_ms = {limit}", ""]
    return lines
