"""The engine on a fake clock: faults page once, localised, and resolve after clear."""

from borderpath.alerts import AlertsConfig
from borderpath.core.events import EventKind, EventRecord
from borderpath.core.results import ErrorKind, ProbeResult
from borderpath.selector.decision import Decision
from tests.alerts.synthetic import Run, blackhole, engine, names

FAST = AlertsConfig.model_validate({"hold": "5s", "clear": "10s"})


def test_one_blackholed_path_fires_path_down_once_and_resolves_after_clear() -> None:
    run = Run(engine(FAST))
    assert run.run(30) == []  # healthy: nothing at all
    hole = blackhole("ct", "hkg")
    fired = run.run(15, hole)
    assert names(fired) == [("firing", "path_down")]
    assert fired[0].labels == {
        "site": "lab-shanghai",
        "scope": "path",
        "uplink": "ct",
        "carrier": "china-telecom",
        "pop": "hkg",
    }
    assert fired[0].values["lost"] >= 5 and fired[0].values["silent_s"] >= 3
    assert run.run(60, hole) == []  # still down: no repeat before repeat_interval
    resolved = run.run(20)
    assert names(resolved) == [("resolved", "path_down")]
    assert resolved[0].fingerprint == fired[0].fingerprint
    assert run.run(30) == []  # the recovery's losses make no degraded or interference page


def test_a_down_path_waits_for_its_slow_protocols_no_longer_than_silence() -> None:
    run = Run(engine(AlertsConfig.model_validate({"down": {"hold": 0}})))
    run.run(20)
    hole = blackhole("cu", "sin")
    fired = run.run(6, hole)  # quic every 5 s and http every 10 s have not failed yet
    assert names(fired) == [("firing", "path_down")]


def test_a_pop_dead_on_every_uplink_is_one_pop_fault() -> None:
    run = Run(engine(FAST))
    run.run(20)
    dead = blackhole(pop="nrt")
    fired = run.run(20, dead)
    assert names(fired) == [("firing", "pop_fault")]
    assert fired[0].severity == "critical"
    assert fired[0].paths == ["ct/nrt", "cu/nrt", "cm/nrt"]
    assert "PoP fault: nrt is unreachable on every uplink" in fired[0].summary


def test_an_uplink_dead_to_every_pop_is_a_carrier_fault() -> None:
    run = Run(engine(FAST))
    run.run(20)
    dead = blackhole(uplink="cm")
    fired = run.run(20, dead)
    assert names(fired) == [("firing", "uplink_fault")]
    assert fired[0].labels["carrier"] == "china-mobile"


def test_two_uplinks_losing_two_pops_each_is_border_wide() -> None:
    run = Run(engine(FAST))
    run.run(20)
    ct, cu = blackhole("ct"), blackhole("cu")

    def dead(u: str, p: str, proto: str, t: float) -> ProbeResult | None:
        return None if p == "sin" else ct(u, p, proto, t) or cu(u, p, proto, t)

    fired = run.run(20, dead)
    assert names(fired) == [("firing", "border_fault")]
    assert sorted(fired[0].paths) == ["ct/hkg", "ct/nrt", "cu/hkg", "cu/nrt"]


def test_udp_and_quic_blocked_on_one_uplink_is_one_interference_alert_per_protocol() -> None:
    run = Run(engine(FAST))
    run.run(20)
    udp = blackhole(uplink="cu", protocols=("udp", "quic"))
    fired = run.run(30, udp)  # quic probes every 5 s: three lost take 15 s, then hold
    assert names(fired) == [("firing", "udp_interference")] * 2
    assert sorted(alert.labels["protocol"] for alert in fired) == ["quic", "udp"]
    for alert in fired:
        assert alert.labels["uplink"] == "cu" and alert.labels["scope"] == "uplink"
        assert alert.values["udp_loss"] > 0.1 and alert.values["icmp_loss"] == 0
    quic = next(alert for alert in fired if alert.labels["protocol"] == "quic")
    assert quic.summary.startswith("QUIC interference on uplink cu")


def test_quic_alone_blocked_names_quic_only() -> None:
    run = Run(engine(FAST))
    run.run(20)
    fired = run.run(30, blackhole(uplink="cu", protocols=("quic",)))
    assert [alert.labels["protocol"] for alert in fired] == ["quic"]


def test_forged_resets_fire_tcp_resets_for_the_path() -> None:
    run = Run(engine(FAST))
    run.run(20)

    def rst(u: str, p: str, proto: str, t: float) -> ProbeResult | None:
        if (u, p, proto) == ("ct", "sin", "tcp"):
            return ProbeResult(int(t * 1e9), u, p, proto, True, rtt_ms=80.0, forged=3)
        if (u, p, proto) == ("ct", "sin", "http"):
            return ProbeResult(int(t * 1e9), u, p, proto, False, error=ErrorKind.REFUSED)
        return None

    fired = run.run(10, rst)
    assert names(fired) == [("firing", "tcp_resets")]
    assert fired[0].labels["pop"] == "sin" and fired[0].values["forged_resets"] >= 3


def test_degraded_needs_the_long_and_the_short_window_to_agree() -> None:
    run = Run(engine(FAST))
    run.run(20)
    slow = blackhole("cm", "hkg", rtt=400.0)
    assert run.run(20, failing_sla=[("cm", "hkg")]) == []  # long window only: no page
    assert run.run(20, slow) == []  # short window only: no page
    fired = run.run(20, slow, failing_sla=[("cm", "hkg")])
    assert names(fired) == [("firing", "path_degraded")]
    assert fired[0].labels["class"] == "interactive"
    assert fired[0].values["rtt_p95_ms"] == 400.0


def test_no_path_meeting_the_sla_is_one_pop_alert_not_three_degraded() -> None:
    run = Run(engine(FAST))
    run.run(20)
    slow = blackhole(pop="sin", rtt=400.0)
    every = [(u, "sin") for u in ("ct", "cu", "cm")]
    fired = run.run(30, slow, failing_sla=every)
    assert names(fired) == [("firing", "no_sla_path")]


def test_a_condition_shorter_than_hold_never_pages() -> None:
    run = Run(engine(AlertsConfig.model_validate({"down": {"hold": "20s"}})))
    run.run(20)
    hole = blackhole("ct", "hkg")
    assert run.run(10, hole) == []
    assert run.run(60) == []


def test_still_firing_alerts_are_sent_again_every_repeat_interval() -> None:
    config = AlertsConfig.model_validate({"hold": "5s", "repeat_interval": "30s"})
    run = Run(engine(config))
    run.run(20)
    hole = blackhole("ct", "hkg")
    notices = run.run(75, hole)
    assert [(n.name, n.repeat) for n in notices] == [
        ("path_down", False),
        ("path_down", True),
        ("path_down", True),
    ]


def _decision(t: float, action: str, chosen: str, previous: str) -> Decision:
    return Decision(
        time_ns=int(t * 1e9),
        pop="hkg",
        sla_class="interactive",
        strategy="quality",
        action=action,
        chosen=((chosen, 1),),
        previous=((previous, 1),),
        reason=f"hkg: {chosen} is best",
    )


def test_voluntary_switches_are_info_failovers_are_not_and_many_are_a_flap_storm() -> None:
    run = Run(engine(FAST))
    run.run(5)
    run.engine.observe_decisions([_decision(run.now, "failover", "cu", "ct")])
    assert run.run(2) == []
    run.engine.observe_decisions([_decision(run.now, "improve", "ct", "cu")])
    switched = run.run(2)
    assert [(n.name, n.severity) for n in switched] == [("route_switch", "info")]
    for i in range(3):
        run.engine.observe_decisions([_decision(run.now, "improve", "cu" if i % 2 else "ct", "x")])
        run.run(1)
    run.run(5)  # a storm is held like any other condition
    assert ("firing", "flap_storm") in names(run.notices)


def test_label_change_from_premium_to_standard_is_a_warning() -> None:
    run = Run(engine(FAST))
    run.engine.observe_events(
        [
            EventRecord(
                0, EventKind.PATH_LABEL, "", {"uplink": "ct", "pop": "hkg", "label": "ct-cn2-gia"}
            )
        ]
    )
    assert run.run(2) == []
    run.engine.observe_label("ct", "hkg", "ct-163")
    fired = run.run(2)
    assert [(n.name, n.severity) for n in fired] == [("path_label_changed", "warning")]
    assert "ct-cn2-gia -> ct-163" in fired[0].summary
    run.engine.observe_label("ct", "hkg", "ct-cn2-gia")
    assert names(run.run(12)) == [("resolved", "path_label_changed")]


def test_agent_health_backlog_drops_and_route_failures() -> None:
    run = Run(engine(FAST))
    run.engine.observe_store({"results": 10}, {"dropped_spool_results": 5})
    assert run.run(2) == []  # the first counters are the baseline
    run.engine.observe_store(
        {"results": 2_000_000}, {"dropped_spool_results": 9, "refused_influxdb": 1}
    )
    failed = EventRecord(
        0,
        EventKind.ROUTE_FAILED,
        "replace 198.19.2.0/24 failed: EPERM",
        {"prefix": "198.19.2.0/24"},
    )
    run.engine.observe_events([failed])
    fired = run.run(6)
    assert sorted(n.name for n in fired) == [
        "export_backlog",
        "export_refused",
        "route_write_failed",
        "storage_dropping",
    ]
    route = next(n for n in fired if n.name == "route_write_failed")
    assert route.labels["pop"] == "nrt"
    assert sorted(names(run.run(12))) == [
        ("resolved", "export_refused"),
        ("resolved", "route_write_failed"),
        ("resolved", "storage_dropping"),
    ]


def test_a_restarted_engine_resolves_what_fired_before_instead_of_forgetting_it() -> None:
    first = Run(engine(FAST))
    first.run(20)
    fired = first.run(15, blackhole("ct", "hkg"))
    events = [n.to_event() for n in fired]
    second = Run(engine(FAST))
    second.now = first.now
    assert second.engine.restore(events, second.now) == 1
    still = second.run(15, blackhole("ct", "hkg"))  # still down: no second page
    assert still == []
    resolved = second.run(20)
    assert names(resolved) == [("resolved", "path_down")]
    assert resolved[0].fingerprint == fired[0].fingerprint
    assert resolved[0].starts_at == fired[0].starts_at


def test_a_failing_part_of_the_agent_fires_at_once_and_resolves_once_it_runs() -> None:
    run = Run(engine(FAST))
    run.engine.observe_parts({"exporter": "ReadError: garbage"})
    fired = run.run(2)
    assert [(n.name, n.labels["part"]) for n in fired] == [("agent_part_failing", "exporter")]
    assert "ReadError: garbage" in fired[0].summary
    run.engine.observe_parts({})
    assert names(run.run(12)) == [("resolved", "agent_part_failing")]
