"""Configuration of path scoring and steering (``[selector]``).

Every knob has a default chosen for cross-border paths probed every 200 ms to 1 s;
docs/selector.md explains each one with the flap or outage it prevents.
"""

from typing import Literal, Self

import pydantic

from borderpath.core.model import LocatedError, Seconds, StrictModel, require_order
from borderpath.core.protocols import ProtocolName, names

KERNEL_TABLES = {253: "default", 254: "main", 255: "local"}
Strategy = Literal["quality", "cheapest", "priority", "balance"]


class SlaClass(StrictModel):
    """What a kind of traffic needs from a path, and which probes speak for it."""

    rtt_p95_ms: float = pydantic.Field(gt=0, description="Highest acceptable RTT p95, in ms.")
    loss: float = pydantic.Field(
        ge=0, le=1, description="Highest acceptable loss fraction (0.01 = 1 %)."
    )
    jitter_ms: float = pydantic.Field(
        gt=0, description="Highest acceptable jitter (RFC 3550 interarrival), in ms."
    )
    protocols: list[ProtocolName] = pydantic.Field(
        description=(
            "Probe protocols whose results judge this class; when a PoP probes none of "
            "them, every protocol it probes speaks for the class."
        ),
    )


class SlaOverride(StrictModel):
    """A PoP's own limits for one class; absent fields keep the class's."""

    rtt_p95_ms: float | None = pydantic.Field(None, gt=0, description="RTT p95 limit, in ms.")
    loss: float | None = pydantic.Field(None, ge=0, le=1, description="Loss limit, a fraction.")
    jitter_ms: float | None = pydantic.Field(None, gt=0, description="Jitter limit, in ms.")


def _speaking_for(sla_class: str) -> list[str]:
    return list(names(lambda protocol: sla_class in protocol.speaks_for))


DEFAULT_CLASSES: dict[str, SlaClass] = {
    "voice": SlaClass(rtt_p95_ms=150, loss=0.01, jitter_ms=30, protocols=_speaking_for("voice")),
    "interactive": SlaClass(
        rtt_p95_ms=250, loss=0.02, jitter_ms=50, protocols=_speaking_for("interactive")
    ),
    "bulk": SlaClass(rtt_p95_ms=500, loss=0.05, jitter_ms=100, protocols=_speaking_for("bulk")),
}
"""docs/border.md, SLA classes: limits that cross-border paths can meet (US/EU defaults cannot)."""


class PopPolicy(StrictModel):
    """Per-PoP choices (``[selector.pops.NAME]``); absent fields keep the selector's."""

    sla_class: str | None = pydantic.Field(
        None, description="SLA class of the traffic steered to this PoP."
    )
    strategy: Strategy | None = pydantic.Field(None, description="Strategy for this PoP.")
    priority: list[str] | None = pydantic.Field(
        None, description="Uplink order for the 'priority' strategy at this PoP."
    )
    sla: dict[str, SlaOverride] = pydantic.Field(
        {}, description="Per-class limits of this PoP, e.g. a looser RTT for Frankfurt."
    )


class WindowConfig(StrictModel):
    """The two windows every series is judged over."""

    short: Seconds = pydantic.Field(
        3.0,
        gt=0,
        description=(
            "Detection window: brownouts are judged on it. 15 probes at 200 ms: 3 lost "
            "put the loss's lower bound above 5 % (a 15 % brownout shows in about 5 s), "
            "while 0.5 % of random loss almost never loses 3 of 15."
        ),
    )
    long: Seconds = pydantic.Field(
        60.0,
        gt=0,
        description="Quality window: RTT percentiles, jitter, loss and MOS are taken over it.",
    )
    samples: int = pydantic.Field(
        320,
        ge=8,
        le=4096,
        description=(
            "Ring buffer size per series, in probes; keep it at least long / probing "
            "interval (300 at 200 ms over 60 s), or the long window holds fewer probes."
        ),
    )

    @pydantic.model_validator(mode="after")
    def _short_inside_long(self) -> Self:
        if self.short > self.long:
            raise LocatedError("the short window cannot be longer than the long window", "short")
        return self


class HealthConfig(StrictModel):
    """How a path's state follows its probes: fail fast, recover slowly."""

    down_after_lost: int = pydantic.Field(
        3,
        ge=1,
        description=(
            "Consecutive lost probes on every protocol that make a path down (on one "
            "protocol only: that protocol is interfered with)."
        ),
    )
    degraded_loss: float = pydantic.Field(
        0.05,
        ge=0,
        le=1,
        description=(
            "A path is degraded when the lower 95 % bound of its loss in the short "
            "window is above this fraction (3 of 15 lost; 0.5 % noise almost never does)."
        ),
    )
    recover_good: int = pydantic.Field(
        10, ge=1, description="Consecutive answered probes on every protocol needed to recover."
    )
    recover_min: Seconds = pydantic.Field(
        10.0, ge=0, description="Least time since the last bad tick before a path recovers."
    )


class ScoreConfig(StrictModel):
    """The 'quality' score: RTT p95 plus penalties, in milliseconds (lower is better)."""

    loss_ms_per_percent: float = pydantic.Field(
        3.0,
        ge=0,
        description=(
            "Milliseconds added per percent of loss (95 % upper bound). Small on purpose: "
            "0 or 3 lost of 300 probes moves the bound from 1.3 % to 2.9 %, which must stay "
            "inside the switch margin; loss that matters is judged by the SLA, not the score."
        ),
    )
    jitter_weight: float = pydantic.Field(
        1.0, ge=0, description="Milliseconds added per ms of jitter (RFC 3550)."
    )


class AntiFlapConfig(StrictModel):
    """Hysteresis between paths; leaving a down path ignores all of it."""

    margin_percent: float = pydantic.Field(
        15.0, ge=0, description="A better path must beat the current score by this many percent..."
    )
    margin_ms: float = pydantic.Field(
        10.0,
        ge=0,
        description="...and by this many milliseconds, before traffic moves (a difference "
        "in loss counts only by the gap between the two paths' 95 % intervals).",
    )
    min_dwell: Seconds = pydantic.Field(
        20.0,
        ge=0,
        description="Least time on a choice before a voluntary move (a path in brownout "
        "or down is left at once).",
    )
    failback_delay: Seconds = pydantic.Field(
        60.0,
        ge=0,
        description=(
            "A path must have been up and within its SLA this long before traffic "
            "moves onto it voluntarily (so a recovered path is trusted only later)."
        ),
    )
    flap_penalty: float = pydantic.Field(1.0, gt=0, description="Penalty added per switch.")
    flap_half_life: Seconds = pydantic.Field(
        600.0, gt=0, description="Half-life of a PoP's flap penalty, in seconds."
    )
    suppress_at: float = pydantic.Field(
        4.0, gt=0, description="Penalty at which voluntary moves of the PoP are suppressed."
    )
    reuse_at: float = pydantic.Field(
        2.0, gt=0, description="Penalty below which a suppressed PoP may move again."
    )

    @pydantic.model_validator(mode="after")
    def _reuse_below_suppress(self) -> Self:
        if self.reuse_at >= self.suppress_at:
            raise LocatedError(f"must be below suppress_at ({self.suppress_at:g})", "reuse_at")
        return self


class TimeOfDayConfig(StrictModel):
    """Learning each path's daily peak hours, to leave a path before its peak begins."""

    enabled: bool = pydantic.Field(True, description="Use the hour-of-day history at all.")
    lookahead: Seconds = pydantic.Field(
        1800.0, ge=0, description="How far ahead a predicted peak already counts."
    )
    history_days: int = pydantic.Field(
        14, ge=1, le=60, description="Days of hourly history kept per path (two weeks)."
    )
    min_days: int = pydantic.Field(
        3, ge=1, description="Days an hour must have been seen before it predicts anything."
    )
    peak_loss: float = pydantic.Field(
        0.03,
        ge=0,
        le=1,
        description="An hour of a day is a peak hour when its loss was above this fraction.",
    )
    peak_share: float = pydantic.Field(
        0.8,
        gt=0,
        le=1,
        description="Share of the observed days that must show the peak (0.8 = 'every day').",
    )
    min_probes_per_hour: int = pydantic.Field(
        30, ge=1, description="Probes an hour needs before it counts as observed."
    )

    @pydantic.model_validator(mode="after")
    def _enough_history(self) -> Self:
        require_order(self, "min_days", "history_days")
        return self


class RoutesConfig(StrictModel):
    """The kernel objects that are ours: one table, one rule per prefix, one proto."""

    table: int = pydantic.Field(
        7211, ge=1, le=2**31 - 1, description="Routing table of the steered prefixes."
    )
    rule_priority: int = pydantic.Field(
        25000,
        ge=1,
        le=32765,
        description=(
            "Priority of the 'to PREFIX lookup TABLE' rules: after the probes' own "
            "uplink rules (they must leave by their uplink), before main (32766)."
        ),
    )
    proto: int = pydantic.Field(
        211,
        ge=5,
        le=255,
        description="Route and rule protocol number that marks what borderpath owns.",
    )
    retries: int = pydantic.Field(
        2, ge=0, description="Extra attempts of a failed netlink change before it is reported."
    )

    @pydantic.field_validator("table")
    @classmethod
    def _not_the_kernels(cls, table: int) -> int:
        if table in KERNEL_TABLES:
            raise ValueError(f"table {table} is the kernel's {KERNEL_TABLES[table]} table")
        return table


class SelectorConfig(StrictModel):
    """Strategy, SLA classes, anti-flap knobs and the route table of ours."""

    strategy: Strategy = pydantic.Field(
        "quality",
        description=(
            "quality: best score; cheapest: lowest uplink cost within the SLA; priority: "
            "first uplink in order within the SLA; balance: multipath over all within it."
        ),
    )
    priority: list[str] = pydantic.Field(
        [], description="Uplink order for 'priority' (default: the order of [[uplinks]])."
    )
    sla_class: str = pydantic.Field(
        "interactive", description="SLA class of steered traffic unless a PoP says otherwise."
    )
    classes: dict[str, SlaClass] = pydantic.Field(
        DEFAULT_CLASSES, description="SLA classes by name (defaults: docs/border.md, SLA classes)."
    )
    pops: dict[str, PopPolicy] = pydantic.Field({}, description="Per-PoP overrides by PoP name.")
    windows: WindowConfig = WindowConfig()
    health: HealthConfig = HealthConfig()
    score: ScoreConfig = ScoreConfig()
    antiflap: AntiFlapConfig = AntiFlapConfig()
    time_of_day: TimeOfDayConfig = TimeOfDayConfig()
    routes: RoutesConfig = RoutesConfig()

    @pydantic.model_validator(mode="after")
    def _classes_exist(self) -> Self:
        named = [self.sla_class] + [p.sla_class for p in self.pops.values() if p.sla_class]
        named += [name for p in self.pops.values() for name in p.sla]
        for name in named:
            if name not in self.classes:
                raise ValueError(f"SLA class {name!r} is not defined in [selector.classes]")
        return self

    def check_names(self, uplinks: set[str], pops: set[str]) -> None:
        """Names in [selector] must be uplinks and PoPs of the config: ValueError if not."""
        for pop, policy in self.pops.items():
            if pop not in pops:
                raise ValueError(f"[selector.pops.{pop}]: there is no PoP named {pop!r}")
            for name in policy.priority or []:
                if name not in uplinks:
                    raise ValueError(f"[selector.pops.{pop}] priority: no uplink named {name!r}")
        for name in self.priority:
            if name not in uplinks:
                raise ValueError(f"[selector] priority: no uplink named {name!r}")

    def pop_policy(self, pop: str) -> PopPolicy:
        return self.pops.get(pop, PopPolicy())

    def limits(self, pop: str, sla_class: str) -> SlaClass:
        """The class's limits as they apply at ``pop`` (its overrides merged in)."""
        base = self.classes[sla_class]
        override = self.pop_policy(pop).sla.get(sla_class)
        if override is None:
            return base
        changes = override.model_dump(exclude_none=True)
        return base.model_copy(update=changes)
