"""The selector's view of a path, as storage keeps and exports it.

The other records that cross package boundaries: ``ProbeResult`` (core/results.py) and
``EventRecord`` (core/events.py).
"""

import dataclasses
from collections.abc import Mapping


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
