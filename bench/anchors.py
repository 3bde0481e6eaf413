"""The competitors' defaults (docs/border.md) as configurations of this selector.

Each anchor is a SelectorConfig plus the probing it assumes, so benchmarks run every
policy through the same harness on the same streams and compare like with like. They
copy documented defaults as closely as this selector's knobs allow; where a system
works differently, the note says what was approximated.
"""

import dataclasses

from borderpath.selector.config import SelectorConfig

NEVER = 1.0
"""A loss fraction no path reaches: the anchor does not act on loss at all."""
NO_DAMPENING = {"suppress_at": 1e9, "reuse_at": 1e8}
LOSS_BLIND_CLASSES = {
    "interactive": {"rtt_p95_ms": 1e6, "loss": NEVER, "jitter_ms": 1e6, "protocols": ["icmp"]}
}
"""An SLA that every path meets: the anchor steers by liveness (and RTT) only."""


@dataclasses.dataclass(frozen=True)
class Anchor:
    name: str
    config: SelectorConfig
    interval: float
    """Probe interval the anchor uses, seconds."""
    timeout: float
    """Probe timeout, seconds."""
    note: str


def _loss_blind(
    strategy: str, windows: dict[str, object], health: dict[str, object], **antiflap: object
) -> SelectorConfig:
    """An anchor that steers by liveness (and RTT), never by loss or time of day."""
    return SelectorConfig.model_validate(
        {
            "strategy": strategy,
            "classes": LOSS_BLIND_CLASSES,
            "windows": windows,
            "health": {**health, "degraded_loss": NEVER},
            "score": {"loss_ms_per_percent": 0, "jitter_weight": 0},
            "antiflap": {"min_dwell": 0, "failback_delay": 0, **NO_DAMPENING, **antiflap},
            "time_of_day": {"enabled": False},
        }
    )


ANCHORS: dict[str, Anchor] = {
    "borderpath": Anchor(
        "borderpath",
        SelectorConfig(),
        interval=0.2,
        timeout=0.5,
        note="defaults; probes every 200 ms with a 500 ms timeout",
    ),
    "borderpath-300ms": Anchor(
        "borderpath-300ms",
        SelectorConfig(),
        interval=0.2,
        timeout=0.3,
        note="defaults with a 300 ms probe timeout (8 times the Hong Kong RTT)",
    ),
    "mwan3": Anchor(
        "mwan3",
        _loss_blind(
            "priority",
            {"short": "50s", "long": "5m", "samples": 64},
            {"down_after_lost": 5, "recover_good": 5, "recover_min": 0},
        ),
        interval=10.0,
        timeout=4.0,
        note="ping every 10 s, 4 s timeout, down after 5 bad rounds, up after 5 good",
    ),
    "dpinger": Anchor(
        "dpinger",
        _loss_blind(
            "priority",
            {"short": "60s", "long": "60s", "samples": 128},
            {"down_after_lost": 24, "recover_good": 20, "recover_min": "10s"},
        ),
        interval=0.5,
        timeout=2.0,
        note="pfSense gateway group, trigger 'member down': 500 ms probes, loss after 2 s; "
        "20 % of a 60 s window lost (12 s of a blackhole) marks it down; 10 s alarm hold",
    ),
    "fortigate": Anchor(
        "fortigate",
        _loss_blind(
            "quality",
            {"short": "5s", "long": "30s", "samples": 64},
            {"down_after_lost": 5, "recover_good": 5, "recover_min": 0},
            margin_percent=10,
            margin_ms=0,
        ),
        interval=0.5,
        timeout=0.5,
        note="health check every 500 ms, failtime 5, recovertime 5, lowest latency with "
        "a 10 % link-cost threshold (loss is not in its latency mode)",
    ),
    "tailscale": Anchor(
        "tailscale",
        _loss_blind(
            "quality",
            {"short": "60s", "long": "5m", "samples": 32},
            {"down_after_lost": 1, "recover_good": 1, "recover_min": 0},
            margin_percent=33,
            margin_ms=10,
        ),
        interval=20.0,
        timeout=5.0,
        note="netcheck every 20 s; switch only if >= 10 ms and >= 33 % better "
        "(scored on RTT p95 over 5 min here, where Tailscale takes the minimum)",
    ),
}
