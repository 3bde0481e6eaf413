"""Shared pieces of the selector tests: a small site and a simulated run over it."""

import dataclasses
from collections.abc import Callable, Sequence

from bench.synthetic import Conditions, Event, Link, probe_stream, scheduled
from borderpath.core.topology import PopConfig, UplinkConfig
from borderpath.selector import Decision, Selector, SelectorConfig

T0 = 1_700_000_000.0
"""A fixed start (2023-11-14 22:13:20 UTC) so runs are reproducible."""
INTERVAL = 0.2
TIMEOUT = 0.5
UPLINKS = ("ct", "cu", "cm")


def uplinks(costs: Sequence[float] = (1.0, 1.0, 1.0)) -> list[UplinkConfig]:
    return [
        UplinkConfig(
            name=name,
            carrier="lab",
            interface=name,
            gateway=f"100.64.{index}.1",
            source=f"100.64.{index}.2",
            cost=cost,
        )
        for index, (name, cost) in enumerate(zip(UPLINKS, costs, strict=True), start=1)
    ]


def pop(name: str = "hkg", protocols: Sequence[str] = ("icmp",), index: int = 1) -> PopConfig:
    return PopConfig.model_validate(
        {
            "name": name,
            "address": f"203.0.113.{9 + index}",
            "prefixes": [f"198.19.{index}.0/24"],
            "protocols": list(protocols),
        }
    )


@dataclasses.dataclass
class Run:
    selector: Selector
    decisions: list[Decision]

    def switches(self, after: float = 0.0) -> list[Decision]:
        """Decisions that moved traffic (not the first choice), at or after T0 + after."""
        return [
            d
            for d in self.decisions
            if d.action != "initial" and d.chosen != d.previous and d.time_ns / 1e9 >= T0 + after
        ]

    def first_move_after(self, t: float) -> float | None:
        """Seconds from T0 + t to the first move at or after it."""
        moves = [d.time_ns / 1e9 - (T0 + t) for d in self.switches(after=t)]
        return moves[0] if moves else None

    def on(self, pop_name: str = "hkg") -> tuple[str, ...]:
        return tuple(u for u, _ in self.selector.choices()[pop_name])


def base(links: dict[str, Link]) -> Callable[[str, str], Link]:
    return lambda uplink, _pop: links[uplink]


def simulate(
    conditions: Conditions,
    duration: float,
    *,
    config: SelectorConfig | None = None,
    pops: Sequence[PopConfig] | None = None,
    costs: Sequence[float] = (1.0, 1.0, 1.0),
    seed: int = 0,
    selector: Selector | None = None,
    observe: Callable[[float, Selector], None] | None = None,
) -> Run:
    """Probe every series every 200 ms (timeouts after 500 ms) and tick at every step."""
    pops = list(pops or [pop()])
    selector = selector or Selector(config or SelectorConfig(), uplinks(costs), pops)
    series = [(u, p.name, proto) for p in pops for u in UPLINKS for proto in p.protocols]
    decisions: list[Decision] = []
    stream = probe_stream(
        series,
        conditions,
        start=T0,
        duration=duration,
        interval=INTERVAL,
        timeout=TIMEOUT,
        seed=seed,
    )
    for now, batch in stream:
        selector.ingest(batch)
        decisions += selector.tick(now)
        if observe is not None:
            observe(now - T0, selector)
    return Run(selector, decisions)


def states(selector: Selector, pop_name: str = "hkg") -> dict[str, str]:
    return {s.uplink: s.state for s in selector.snapshots() if s.pop == pop_name}


def scenario(links: dict[str, Link], *events: Event) -> Conditions:
    return scheduled(base(links), events)
