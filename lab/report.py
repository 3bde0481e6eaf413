"""Human-readable views of a lab's status."""

from typing import Any


def describe(status: dict[str, Any]) -> str:
    """What the lab built and what each path is doing now."""
    lines = [f"lab {status['name']}: branch namespace {status['namespaces']['branch']}"]
    lan = status["lan"]
    lines.append(
        f"  LAN host {lan['host']} behind the branch's {lan['branch_interface']} interface"
    )
    for uplink in status["uplinks"]:
        lines.append(
            f"  uplink {uplink['name']:<4} {uplink['carrier']:<15} dev {uplink['interface']:<4} "
            f"{uplink['address']:<13} gateway {uplink['gateway']:<13} ({uplink['backbone']})"
        )
    for pop in status["pops"]:
        lines.append(
            f"  pop    {pop['name']:<4} {pop['region']:<3} probe {pop['probe_address']:<14} "
            f"steers {', '.join(pop['prefixes'])} (service {pop['service_address']})"
        )
    scenario = status["scenario"]
    applied, pending = len(scenario["events"]), scenario["pending"]
    lines.append(f"  scenario {scenario['name']}: {applied} events applied, {pending} pending")
    for event in scenario["events"]:
        lines.append(f"    +{event['at']:.1f}s {_event_text(event['event'])}")
    lines.append("  conditions (one-way; out = branch to PoP, in = PoP to branch):")
    lines.extend("    " + line for line in conditions_table(status["conditions"]))
    return "\n".join(lines)


def conditions_table(rows: list[dict[str, Any]]) -> list[str]:
    """One line per path and direction; protocols listed only where they differ."""
    grouped: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault((row["uplink"], row["pop"], row["direction"]), []).append(row)
    lines = []
    for (uplink, pop, direction), protocol_rows in grouped.items():
        texts = {row["protocol"]: _conditions_text(row) for row in protocol_rows}
        if len(set(texts.values())) == 1:
            lines.append(f"{uplink}/{pop:<4} {direction:<3} {next(iter(texts.values()))}")
        else:
            lines.extend(
                f"{uplink}/{pop:<4} {direction:<3} {protocol}: {text}"
                for protocol, text in texts.items()
            )
    return lines


def _conditions_text(row: dict[str, Any]) -> str:
    if row["blackhole"]:
        return "blackhole"
    text = f"delay {row['delay_ms']:g} ms ± {row['jitter_ms']:g}, loss {row['loss'] * 100:.2f} %"
    if row["rate_kbps"]:
        text += f", policed to {row['rate_kbps']:g} kbit/s"
    if row["inject"] != "none":
        text += f", injecting {row['inject']}"
    if row["route"]:
        text += f", route {row['route']}"
    return text


def _event_text(event: dict[str, Any]) -> str:
    return " ".join(f"{key}={value}" for key, value in event.items())
