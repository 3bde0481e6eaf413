"""What the status API shows: the agent's state as JSON and as Prometheus metrics."""

import dataclasses
import json
import math
import time
from typing import TYPE_CHECKING, Any

from borderpath.agent.status_api import Handler
from borderpath.alerts.config import SEVERITIES

if TYPE_CHECKING:
    from borderpath.agent.service import Agent

STATES = ("up", "degraded", "interfered", "down")


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
            "exporter": {"enabled": agent.exporter is not None, "backlog": agent.backlog},
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
                key: {"sent": sent, "failing": dispatcher.failing.get(key)}
                for key, sent in dispatcher.sent.items()
            },
        }

    def alerts(self) -> tuple[str, bytes]:
        return "application/json", json.dumps(self.alert_document(), indent=1).encode()

    def status(self) -> tuple[str, bytes]:
        return "application/json", json.dumps(self.document(), indent=1).encode()

    def healthz(self) -> tuple[str, bytes]:
        running = self.agent.engine is not None
        return "text/plain", b"ok\n" if running else b"starting\n"

    def metrics(self) -> tuple[str, bytes]:
        document = self.document()
        lines = [
            "# HELP borderpath_uptime_seconds Seconds since the agent started.",
            "# TYPE borderpath_uptime_seconds gauge",
            f"borderpath_uptime_seconds {document['uptime_s']}",
        ]
        gauges = {
            "loss": "Loss fraction in the quality window.",
            "loss_upper": "Upper bound of the loss fraction's Wilson 95 % interval.",
            "rtt_p50_ms": "RTT median, ms.",
            "rtt_p95_ms": "RTT 95th percentile, ms.",
            "jitter_ms": "RFC 3550 interarrival jitter, ms.",
            "mos": "Mean opinion score (E-model).",
            "score": "Path score, lower is better.",
        }
        for field, help_text in gauges.items():
            lines += [
                f"# HELP borderpath_path_{field} {help_text}",
                f"# TYPE borderpath_path_{field} gauge",
            ]
            for path in document["paths"]:
                value = path[field]
                if value is not None and math.isfinite(value):
                    lines.append(f"borderpath_path_{field}{_labels(path)} {value}")
        lines += [
            "# HELP borderpath_path_up State of the path: 1 for the state it is in.",
            "# TYPE borderpath_path_up gauge",
        ]
        for path in document["paths"]:
            for state in STATES:
                labels = _labels(path, state=state)
                lines.append(f"borderpath_path_up{labels} {int(path['state'] == state)}")
        lines += [
            "# HELP borderpath_path_selected 1 when the PoP's traffic takes this path.",
            "# TYPE borderpath_path_selected gauge",
        ]
        lines += [
            f"borderpath_path_selected{_labels(p)} {int(p['selected'])}" for p in document["paths"]
        ]
        lines += [
            "# HELP borderpath_export_backlog Rows not yet exported.",
            "# TYPE borderpath_export_backlog gauge",
        ]
        lines += [
            f'borderpath_export_backlog{{table="{t}"}} {n}'
            for t, n in document["exporter"]["backlog"].items()
        ]
        lines += [
            "# HELP borderpath_alerts_firing Alerts firing now, by severity.",
            "# TYPE borderpath_alerts_firing gauge",
        ]
        firing = [alert["severity"] for alert in document["alerts"]["firing"]]
        lines += [
            f'borderpath_alerts_firing{{severity="{severity}"}} {firing.count(severity)}'
            for severity in SEVERITIES
        ]
        lines += [
            "# HELP borderpath_job_overruns_total Runs of a periodic job longer than its interval.",
            "# TYPE borderpath_job_overruns_total counter",
        ]
        lines += [
            f'borderpath_job_overruns_total{{job="{job}"}} {count}'
            for job, count in self.agent.jobs.overruns.items()
        ]
        return "text/plain; version=0.0.4", ("\n".join(lines) + "\n").encode()


def _plain(snapshot: Any) -> dict[str, Any]:
    data = dataclasses.asdict(snapshot)
    data["sla"] = dict(snapshot.sla)
    return data


def _labels(path: dict[str, Any], **extra: str) -> str:
    labels = {"uplink": path["uplink"], "pop": path["pop"], **extra}
    return "{" + ",".join(f'{key}="{value}"' for key, value in labels.items()) + "}"
