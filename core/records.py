"""Records that cross package boundaries besides ProbeResult (probes/result.py).

Producers keep their own richer dataclasses (a selector Decision, an alert) and hand
these plain records to storage, which stores and exports them without knowing who
made them.
"""

import dataclasses
from collections.abc import Mapping

Value = float | int | str | bool


@dataclasses.dataclass(frozen=True, slots=True)
class EventRecord:
    """Something that happened: a decision, a route change, an alert, a label change,
    agent start or stop. Stored locally and exported as ``borderpath_event``."""

    time_ns: int
    """Wall-clock time, ns since the Unix epoch."""
    kind: str
    """What happened, dotted: ``decision``, ``route.replaced``, ``route.failed``,
    ``alert.firing``, ``alert.resolved``, ``path.state``, ``path.label``,
    ``agent.start``, ``agent.stop``, ``storage.dropped``, ``export.dead_letter``."""
    text: str
    """One sentence for a human: the reason in words."""
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """Where it happened: uplink, pop, protocol, class, severity, fingerprint..."""
    values: Mapping[str, Value] = dataclasses.field(default_factory=dict)
    """The numbers behind it (scores, loss, rtt) and other details."""


@dataclasses.dataclass(frozen=True, slots=True)
class PathSnapshot:
    """The selector's view of one path at one tick: exported as ``borderpath_path``."""

    time_ns: int
    uplink: str
    pop: str
    state: str
    """up | degraded | down (| interfered: some protocols fail, others answer)."""
    loss: float | None
    """Loss fraction in the quality window (None: nothing sent yet)."""
    loss_upper: float | None
    """Upper bound of the Wilson 95 % interval of the loss fraction."""
    rtt_p50_ms: float | None
    rtt_p95_ms: float | None
    jitter_ms: float | None
    mos: float | None
    score: float | None
    """Lower is better; None when the path cannot be scored."""
    selected: bool
    """Traffic to this PoP currently takes this path."""
    sla: Mapping[str, bool] = dataclasses.field(default_factory=dict)
    """Verdict per SLA class name: True = the path meets it."""
