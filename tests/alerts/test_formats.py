"""The three webhook bodies, as a receiver parses them."""

import dataclasses
import json

from borderpath.alerts import Notice, render

FIRING = Notice(
    status="firing",
    name="pop_fault",
    severity="critical",
    fingerprint="0123456789abcdef",
    labels={"site": "sha-1", "scope": "pop", "pop": "hkg"},
    summary="PoP fault: hkg is unreachable on every uplink (ct, cu, cm).",
    values={"paths": 3, "silent_s": 12.0},
    paths=["ct/hkg", "cu/hkg", "cm/hkg"],
    starts_at=1_800_000_000.0,
    ends_at=None,
    sent_at=1_800_000_000.0,
)
RESOLVED = dataclasses.replace(FIRING, status="resolved", ends_at=1_800_000_090.0)


GRAFANA = "https://grafana.example.net/d/borderpath-path-detail/?var-site={site}&var-uplink={uplink}&var-pop={pop}"


def _body(fmt: str, generator_url: str = "") -> object:
    body = render(
        fmt,  # type: ignore[arg-type]
        [FIRING, RESOLVED],
        "sha-1",
        firing_until=FIRING.sent_at + 240,
        generator_url=generator_url,
    )
    return json.loads(body)


def test_generic_carries_every_field_in_order() -> None:
    body = _body("generic")
    assert isinstance(body, dict) and body["version"] == 1 and body["site"] == "sha-1"
    first, second = body["alerts"]
    assert first["status"] == "firing" and second["status"] == "resolved"
    assert first["starts_at"] == "2027-01-15T08:00:00.000Z" and first["ends_at"] is None
    assert second["ends_at"] == "2027-01-15T08:01:30.000Z"
    assert first["labels"] == FIRING.labels and first["values"] == FIRING.values
    assert first["fingerprint"] == second["fingerprint"] == "0123456789abcdef"


def test_alertmanager_v2_post_body() -> None:
    body = _body("alertmanager")
    assert isinstance(body, list)
    firing, resolved = body
    assert firing["labels"] == {
        "alertname": "pop_fault",
        "severity": "critical",
        "site": "sha-1",
        "scope": "pop",
        "pop": "hkg",
    }
    assert firing["annotations"]["summary"] == FIRING.summary
    assert firing["startsAt"] == "2027-01-15T08:00:00.000Z"
    assert firing["endsAt"] == "2027-01-15T08:04:00.000Z"  # renewed by the resends
    assert resolved["endsAt"] == "2027-01-15T08:01:30.000Z"
    assert set(firing) == {"labels", "annotations", "startsAt", "endsAt"}


def test_alertmanager_generator_url_links_the_alerts_path() -> None:
    body = _body("alertmanager", GRAFANA)
    assert isinstance(body, list)
    assert body[0]["generatorURL"] == (
        "https://grafana.example.net/d/borderpath-path-detail/?var-site=sha-1&var-uplink=&var-pop=hkg"
    )


def test_slack_message() -> None:
    body = _body("slack")
    assert isinstance(body, dict)
    assert body["text"] == "borderpath sha-1: 1 firing, 1 resolved"
    firing, resolved = body["attachments"]
    assert firing["title"] == "[FIRING:critical] pop_fault" and firing["color"] == "#d40000"
    assert resolved["title"] == "[RESOLVED:critical] pop_fault"
    assert firing["text"] == FIRING.summary
