"""A decision becomes the event storage keeps: reason in words, numbers as values."""

from borderpath.selector import Decision


def test_a_decision_is_an_event_with_its_reason_and_numbers() -> None:
    decision = Decision(
        time_ns=5,
        pop="hkg",
        sla_class="interactive",
        strategy="balance",
        action="sla",
        chosen=(("ct", 4), ("cu", 2)),
        previous=(("cm", 1),),
        reason="hkg: cm lost at least 6.4% ...",
        numbers={"cm.loss": 0.15},
    )
    event = decision.to_event()
    assert (event.kind, event.time_ns, event.text) == ("decision", 5, decision.reason)
    assert event.labels["uplink"] == "ct*4+cu*2" and event.labels["previous"] == "cm"
    assert event.labels["action"] == "sla" and event.labels["class"] == "interactive"
    assert event.values == {"cm.loss": 0.15}
    assert decision.uplinks == ("ct", "cu")
