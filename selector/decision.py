"""A steering decision: what the selector chose for a PoP, why, and the numbers behind it."""

import dataclasses
from collections.abc import Mapping

from borderpath.core.events import EventKind, EventRecord
from borderpath.selector.policy import Choice


@dataclasses.dataclass(frozen=True, slots=True)
class Decision:
    """Emitted when a PoP's choice changes (or when every path went down and the last
    good route is kept); ``reason`` says why in words, ``numbers`` show the figures."""

    time_ns: int
    """Wall-clock time of the tick, ns since the Unix epoch."""
    pop: str
    sla_class: str
    strategy: str
    action: str
    """initial, failover, sla, improve, best-effort or keep-last-good (see policy.decide)."""
    chosen: Choice
    """(uplink, weight) now carrying the PoP's traffic."""
    previous: Choice
    reason: str
    numbers: Mapping[str, float] = dataclasses.field(default_factory=dict)
    """Per uplink: ``<uplink>.score``, ``.loss``, ``.loss_upper``, ``.rtt_p95_ms``,
    ``.jitter_ms``, ``.peak_loss`` (NaN when not measured)."""

    @property
    def uplinks(self) -> tuple[str, ...]:
        return tuple(uplink for uplink, _ in self.chosen)

    @property
    def is_switch(self) -> bool:
        """Traffic moved: a PoP that had a route now has another (not the first choice)."""
        return bool(self.previous) and self.chosen != self.previous

    def to_event(self) -> EventRecord:
        """The record storage keeps (kind ``decision``)."""
        return EventRecord(
            time_ns=self.time_ns,
            kind=EventKind.DECISION,
            text=self.reason,
            labels={
                "pop": self.pop,
                "class": self.sla_class,
                "strategy": self.strategy,
                "action": self.action,
                "uplink": _text(self.chosen),
                "previous": _text(self.previous),
            },
            values=dict(self.numbers),
        )


def _text(choice: Choice) -> str:
    """``cu`` or ``ct*4+cu*2`` for weighted multipath."""
    if len(choice) == 1:
        return choice[0][0]
    return "+".join(f"{uplink}*{weight}" for uplink, weight in choice)
