"""``borderpath alerts``: what is firing in the running agent; ``alerts test``: one test
alert to every receiver of the config."""

import argparse
import asyncio
import json
import time
from typing import TYPE_CHECKING, Any

from borderpath.agent.commands import add_config_option

if TYPE_CHECKING:
    from borderpath.alerts import AlertsConfig

SEVERITY_MARK = {"critical": "!!", "warning": "! ", "info": "  "}


def add_commands(commands: Any) -> None:
    alerts = commands.add_parser(
        "alerts",
        help="list the alerts firing in the running agent, or test the receivers",
        description="Without an action: the alerts firing (and pending) in the agent that "
        "runs with this config, from its status API. 'test': send a test alert to every "
        "[[alerts.webhooks]] receiver and say which took it.",
    )
    alerts.add_argument("action", nargs="?", choices=("list", "test"), default="list")
    add_config_option(alerts)
    alerts.add_argument("--json", action="store_true", help="the agent's /alerts document")
    alerts.set_defaults(run=_run)


def _run(arguments: argparse.Namespace) -> int:
    from borderpath.agent.config import load_config

    config = load_config(arguments.config)
    if arguments.action == "test":
        return asyncio.run(_test(config.agent.site, config.alerts))
    from borderpath.agent.matrix import fetch_status

    document = fetch_status(config.status.listen)["alerts"]
    print(json.dumps(document, indent=1) if arguments.json else _table(document))
    return 0


def _table(document: dict[str, Any]) -> str:
    if not document["enabled"]:
        return "alerts are disabled ([alerts] enabled = false)"
    lines = [f"{len(document['firing'])} firing, {len(document['pending'])} pending"]
    for status in ("firing", "pending"):
        for alert in document[status]:
            mark = SEVERITY_MARK[alert["severity"]]
            lines.append(
                f"{mark} {status:<8} {alert['severity']:<8} {alert['name']:<18} "
                f"since {alert['since']}  {alert['summary']}"
            )
    for key, receiver in document["receivers"].items():
        state = f"failing: {receiver['failing']}" if receiver["failing"] else "ok"
        lines.append(f"receiver {key}: {receiver['sent']} sent, {state}")
    return "\n".join(lines)


async def _test(site: str, config: "AlertsConfig") -> int:
    import httpx

    from borderpath.alerts import post, test_notice
    from borderpath.core.errors import BorderpathError

    if not config.webhooks:
        print("no [[alerts.webhooks]] in the config: nothing to test")
        return 1
    failed = 0
    async with httpx.AsyncClient(timeout=config.timeout) as client:
        for hook in config.webhooks:
            try:
                now = time.time()
                await post(client, hook, [test_notice(site, now)], site, config, now=now)
                print(f"{hook.key}: ok ({hook.format}){_expiry(hook.format, config)}")
            except BorderpathError as exc:
                failed += 1
                print(f"{hook.key}: FAILED: {exc}")
    return 1 if failed else 0


def _expiry(fmt: str, config: "AlertsConfig") -> str:
    """What Alertmanager does with the test alert, which is not resent."""
    if fmt != "alertmanager":
        return ""
    from borderpath.alerts.delivery import RESENDS_AHEAD
    from borderpath.core.durations import format_duration

    expiry = format_duration(RESENDS_AHEAD * config.alertmanager_resend)
    return f": notified after its group_wait, resolved by itself in {expiry}"
