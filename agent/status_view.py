"""What the status API shows: the agent's state as JSON and as Prometheus metrics
(agent/metrics.py)."""

import dataclasses
import json
import time
from typing import TYPE_CHECKING, Any

from borderpath.agent import metrics
from borderpath.agent.status_api import Handler

if TYPE_CHECKING:
    from borderpath.agent.service import Agent


class StatusView:
    def __init__(self, agent: "Agent") -> None:
        self.agent = agent

    def routes(self) -> dict[str, Handler]:
        return {
            "/status": self.status,
            "/metrics": self.metrics,
            "/healthz": self.healthz,
            "/alerts": self.alerts,
        }

    def document(self) -> dict[str, Any]:
        """Every path's health, every PoP's choice and why, the export backlog, uptime."""
        agent = self.agent
        selector = agent.selector
        paths = [] if selector is None else [_plain(s) for s in selector.snapshots()]
        choices = {} if selector is None else selector.choices()
        return {
            "site": agent.config.agent.site,
            "uptime_s": round(time.time() - agent.started, 1),
            "paths": paths,
            "pops": {
                pop: {
                    "uplinks": [{"uplink": uplink, "weight": weight} for uplink, weight in choice],
                    "reason": selector.reason(pop) if selector else "",
                }
                for pop, choice in choices.items()
            },
            "exporter": {
                "enabled": agent.exporter is not None,
                "backlog": agent.backlog,
                "paused": None
                if agent.exporter is None or agent.exporter.paused is None
                else str(agent.exporter.paused),
            },
            "storage": {
                "full": agent.store is not None and agent.store.full,
                "dropped_rows": 0 if agent.store is None else agent.store.dropped_rows,
            },
            "parts": {
                "failing": dict(agent.supervisor.failing),
                "failures": dict(agent.supervisor.failures),
            },
            "alerts": self.alert_document(),
        }

    def alert_document(self) -> dict[str, Any]:
        """What is firing and pending now, and how each receiver is doing."""
        engine, dispatcher = self.agent.alerts, self.agent.dispatcher
        if engine is None or dispatcher is None:
            return {"enabled": False, "firing": [], "pending": [], "receivers": {}}
        return {
            "enabled": True,
            "firing": [alert.as_dict() for alert in engine.firing()],
            "pending": [alert.as_dict() for alert in engine.pending()],
            "receivers": {
                key: {
                    "sent": sent,
                    "failing": dispatcher.failing.get(key),
                    "dead_letters": dispatcher.dead_letters[key],
                }
                for key, sent in dispatcher.sent.items()
            },
        }

    def alerts(self) -> tuple[str, bytes]:
        return "application/json", json.dumps(self.alert_document(), indent=1).encode()

    def status(self) -> tuple[str, bytes]:
        return "application/json", json.dumps(self.document(), indent=1).encode()

    def healthz(self) -> tuple[str, bytes, str]:
        """200 "ok" while every part runs; 503 while starting or while a part fails."""
        if self.agent.engine is None:
            return "text/plain", b"starting\n", "503 Service Unavailable"
        if failing := self.agent.supervisor.failing:
            text = "".join(f"failing: {part}: {error}\n" for part, error in failing.items())
            return "text/plain", text.encode(), "503 Service Unavailable"
        return "text/plain", b"ok\n", "200 OK"

    def metrics(self) -> tuple[str, bytes]:
        return metrics.render(self.agent)


def _plain(snapshot: Any) -> dict[str, Any]:
    data = dataclasses.asdict(snapshot)
    data["sla"] = dict(snapshot.sla)
    return data
