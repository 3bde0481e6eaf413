"""Webhook bodies: generic (ours), alertmanager (the v2 ``/api/v2/alerts`` post body)
and slack (an incoming-webhook message). One body carries every notice of a group."""

import json
import urllib.parse
from collections.abc import Sequence
from typing import Any

from borderpath.alerts.alert import Notice, iso
from borderpath.alerts.config import URL_FIELDS, Format

GENERIC_VERSION = 1
SLACK_COLOURS = {"critical": "#d40000", "warning": "#e8a317", "info": "#439fe0"}
RESOLVED_COLOUR = "#2eb886"


def render(
    fmt: Format,
    notices: Sequence[Notice],
    site: str,
    *,
    firing_until: float,
    generator_url: str = "",
) -> bytes:
    """The POST body for ``notices`` (in order). ``firing_until``: until when Alertmanager
    keeps a firing alert without hearing of it again (its endsAt, epoch s);
    ``generator_url``: [alerts] generator_url, filled in from each alert's labels."""
    if fmt == "alertmanager":
        body: Any = [_alertmanager(n, firing_until, generator_url) for n in notices]
    elif fmt == "slack":
        body = _slack(notices, site)
    else:
        body = {"version": GENERIC_VERSION, "site": site, "alerts": [n.as_dict() for n in notices]}
    return json.dumps(body).encode()


def _alertmanager(notice: Notice, firing_until: float, generator_url: str) -> dict[str, Any]:
    ends = notice.ends_at if notice.status == "resolved" else firing_until
    details = ", ".join(f"{k}={v:g}" for k, v in notice.values.items())
    labels = {"alertname": notice.name, "severity": notice.severity, **notice.labels}
    alert = {
        "labels": labels,
        "annotations": {
            "summary": notice.summary,
            "description": f"{details}; paths: {' '.join(notice.paths) or '-'}",
            "fingerprint": notice.fingerprint,
        },
        "startsAt": iso(notice.starts_at),
        "endsAt": iso(ends if ends is not None else notice.sent_at),
    }
    if generator_url:
        fields = {name: urllib.parse.quote(labels.get(name, ""), safe="") for name in URL_FIELDS}
        alert["generatorURL"] = generator_url.format_map(fields)
    return alert


def _slack(notices: Sequence[Notice], site: str) -> dict[str, Any]:
    firing = sum(1 for n in notices if n.status == "firing")
    resolved = len(notices) - firing
    head = f"borderpath {site}: {firing} firing, {resolved} resolved"
    return {
        "text": head,
        "attachments": [
            {
                "color": SLACK_COLOURS[n.severity] if n.status == "firing" else RESOLVED_COLOUR,
                "title": f"[{_status(n)}:{n.severity}] {n.name}",
                "text": n.summary,
                "footer": f"{n.fingerprint} since {iso(n.starts_at)}",
            }
            for n in notices
        ],
    }


def test_notice(site: str, now: float) -> Notice:
    """What ``borderpath alerts test`` sends: an info alert, firing, that Alertmanager
    notifies (after its group_wait) and then resolves on its own at its endsAt."""
    return Notice(
        status="firing",
        name="borderpath_test",
        severity="info",
        fingerprint="test",
        labels={"site": site, "scope": "agent"},
        summary=f"Test alert from borderpath at site {site}: this receiver works.",
        values={},
        paths=[],
        starts_at=now,
        ends_at=None,
        sent_at=now,
    )


def _status(notice: Notice) -> str:
    return notice.status.upper() + (" again" if notice.repeat else "")
