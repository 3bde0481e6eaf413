"""Alert identity and records: the fingerprint is stable, events carry it."""

from borderpath.alerts.alert import Alert, Condition, Notice, fingerprint


def test_the_fingerprint_follows_identity_not_numbers() -> None:
    labels = {"site": "s", "scope": "path", "uplink": "ct", "pop": "hkg"}
    first = Condition("path_down", "warning", labels, "down 5 s", {"silent_s": 5})
    later = Condition(
        "path_down", "warning", dict(reversed(labels.items())), "down 60 s", {"silent_s": 60}
    )
    assert first.fingerprint == later.fingerprint == fingerprint("path_down", labels)
    assert first.fingerprint != Condition("pop_fault", "critical", labels, "").fingerprint


def test_firing_and_resolved_are_events_with_the_alert_name_and_fingerprint() -> None:
    condition = Condition(
        "pop_fault", "critical", {"site": "s", "pop": "hkg"}, "hkg is down", {"paths": 3}
    )
    alert = Alert(condition, seen_first=100.0, seen_last=130.0, status="firing", starts_at=105.0)
    event = alert.notice(130.0).to_event()
    assert (event.kind, event.time_ns, event.text) == (
        "alert.firing",
        105_000_000_000,
        "hkg is down",
    )
    assert event.labels == {
        "site": "s",
        "pop": "hkg",
        "alert": "pop_fault",
        "fingerprint": condition.fingerprint,
        "severity": "critical",
    }
    alert.status, alert.ends_at = "resolved", 190.0
    resolved = alert.notice(190.0)
    assert resolved.to_event().kind == "alert.resolved"
    assert resolved.to_event().time_ns == 190_000_000_000
    again = Notice.from_dict(resolved.as_dict(), 190.0)
    assert again == resolved


def test_alert_events_reach_influxdb_as_borderpath_event_with_tags() -> None:
    from borderpath.storage.line_protocol import event_line

    labels = {"site": "s", "scope": "path", "uplink": "ct", "pop": "hkg", "class": "voice"}
    condition = Condition(
        "path_degraded", "warning", labels, "ct -> hkg breaks voice", {"loss": 0.08}
    )
    alert = Alert(condition, seen_first=1.0, seen_last=2.0, status="firing", starts_at=2.0)
    line = event_line("s", alert.notice(2.0).to_event())
    tags, rest = line.split(" ", 1)
    fields, time_ns = rest.rsplit(" ", 1)
    assert tags.startswith("borderpath_event,") and time_ns == "2000000000"
    assert {"kind=alert.firing", "uplink=ct", "pop=hkg", "class=voice", "severity=warning"} <= set(
        tags.split(",")
    )
    assert 'alert="path_degraded"' in fields and "loss=0.08" in fields
    assert f'fingerprint="{condition.fingerprint}"' in fields
