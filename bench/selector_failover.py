"""In the lab: the real agent (probes, selector, route writer) steering the LAN's traffic.

    python -m bench.selector_failover [--repetitions 20]

The agent runs in the branch namespace with the lab's generated config (ICMP, TCP and
UDP every 200 ms, QUIC every 5 s, HTTP every 10 s) and a 300 ms probe timeout. The
kernel is polled every 10 ms with ``ip route get SERVICE from LAN-HOST iif lan`` for
the device the LAN host's traffic to Hong Kong leaves by. Measured:
- failover: from blackholing the active uplink to the LAN's traffic leaving by
  another one (p50 and max over the repetitions; goal p50 <= 1 s);
- brownout: from 15 % loss on the active uplink to the move (goal <= 5 s);
- stability: switches during minutes of healthy paths with jitter and 0.5 % loss (goal 0).
Writes bench/results/selector_failover.json. The anchors' policies in the lab are not
run yet (bench/selector_policies.py compares them on synthetic streams).
"""

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from borderpath.lab import netns
from borderpath.lab.agent_config import agent_config, borderpath_argv
from borderpath.lab.lab import Lab

RESULT = Path(__file__).parent / "results" / "selector_failover.json"
POLL_S = 0.01
SERVICE = "198.19.1.10"
"""hkg's service address."""
PROBE_TIMEOUT = "300ms"
FAILBACK = "15s"
SUPPRESS_AT, REUSE_AT = 1e9, 1e8
"""Dampening off: twenty blackholes in a few minutes would otherwise (rightly) suppress
the PoP's voluntary moves; tests/selector/test_policy.py covers dampening."""


def config_text(lab: Lab, directory: Path) -> str:
    """The lab's agent config, with a data dir, a unix status socket, a short probe
    timeout and a short failback delay (so a run takes minutes, not hours)."""
    text = agent_config(lab.status(), directory, probing=[f'timeout = "{PROBE_TIMEOUT}"'])
    return text + (
        f'\n[status]\nlisten = "{directory / "status.sock"}"\n'
        f'\n[selector.antiflap]\nfailback_delay = "{FAILBACK}"\n'
        f"suppress_at = {SUPPRESS_AT}\nreuse_at = {REUSE_AT}\n"
    )


@contextlib.contextmanager
def running_agent(lab: Lab) -> Iterator[Path]:
    """The agent running in the branch namespace; its routes are flushed afterwards."""
    with tempfile.TemporaryDirectory(prefix="bp-agent-") as name:
        directory = Path(name)
        config = directory / "agent.toml"
        config.write_text(config_text(lab, directory), encoding="utf-8")
        command = borderpath_argv("agent", "run", "--config", str(config))
        log = (directory / "agent.log").open("wb")
        agent = subprocess.Popen(
            netns.exec_argv(lab.namespace("branch"), command), stdout=log, stderr=subprocess.STDOUT
        )
        try:
            yield config
        finally:
            agent.terminate()
            agent.wait(timeout=20)
            log.close()
            flush = borderpath_argv("routes", "flush", "--config", str(config))
            netns.run_in(lab.namespace("branch"), flush)


def leaves_by(lab: Lab) -> str:
    """The device the LAN host's traffic to SERVICE leaves the branch by."""
    out = netns.run_in(
        lab.namespace("branch"), ["ip", "route", "get", SERVICE, "from", "192.0.2.10", "iif", "lan"]
    )
    words = out.split()
    return words[words.index("dev") + 1]


def wait_until(lab: Lab, timeout: float, moved: Callable[[str], bool]) -> float | None:
    """Seconds until ``moved(device)`` holds (polled every 10 ms), or None."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if moved(leaves_by(lab)):
            return time.monotonic() - start
        time.sleep(POLL_S)
    return None


def time_to_leave(
    lab: Lab, change: dict[str, object], timeout: float = 30
) -> tuple[str, float | None]:
    """Apply ``change`` to the active uplink's path to hkg; seconds until traffic leaves it."""
    active = leaves_by(lab)
    lab.apply([{**change, "uplink": active, "pop": "hkg"}])
    return active, wait_until(lab, timeout, lambda device: device != active)


SLOWER_ALTERNATIVES = [
    {"uplink": "ct", "pop": "hkg", "delay_ms": 30},
    {"uplink": "cm", "pop": "hkg", "delay_ms": 32},
]
"""cu (34 ms) clearly better than ct and cm (60-64 ms), beyond the switch margin, so
traffic has a preferred path to fail back to."""
RECOVERY_S = 25.0
"""Longer than the selector's recover_min (10 s) and min_dwell (20 s): the restored path
is up again and the last move old enough before the next repetition."""
HEALTHY_JITTER = {"uplink": "*", "pop": "hkg", "jitter_ms": 4.0, "loss": 0.005}
CALM = {"uplink": "*", "pop": "hkg", "jitter_ms": 1.0, "loss": 0.0}


def prepare(lab: Lab) -> None:
    lab.apply(SLOWER_ALTERNATIVES)


def restore(lab: Lab, uplink: str) -> None:
    lab.apply([{"uplink": uplink, "pop": "hkg", "blackhole": False, "loss": 0.0}])


def settle_on(lab: Lab, uplink: str, timeout: float = 120) -> None:
    if wait_until(lab, timeout, lambda device: device == uplink) is None:
        raise RuntimeError(f"traffic did not come (back) to {uplink} within {timeout:.0f} s")


def runs(lab: Lab, change: dict[str, object], repetitions: int) -> list[float | None]:
    """Apply ``change`` to the active uplink, time the move, undo it, let the path
    recover; repeat (from wherever traffic then is: no waiting for failbacks)."""
    times = []
    for _ in range(repetitions):
        active, moved = time_to_leave(lab, change)
        times.append(moved)
        restore(lab, active)
        time.sleep(RECOVERY_S)
    return times


def switches_while_healthy(lab: Lab, seconds: float) -> int:
    settle_on(lab, "cu")
    lab.apply([HEALTHY_JITTER])
    switches, last = 0, leaves_by(lab)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        device = leaves_by(lab)
        switches += device != last
        last = device
        time.sleep(0.1)
    lab.apply([CALM])
    return switches


def summary(times: list[float | None]) -> dict[str, float | int | None]:
    moved = [t for t in times if t is not None]
    return {
        "p50_s": round(statistics.median(moved), 3) if moved else None,
        "max_s": round(max(moved), 3) if moved else None,
        "moved": len(moved),
        "runs": len(times),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repetitions", type=int, default=20)
    parser.add_argument("--stability-minutes", type=float, default=5.0)
    args = parser.parse_args()
    lab = Lab.up(f"bf{os.getpid() % 100000}")
    try:
        prepare(lab)
        with running_agent(lab):
            settle_on(lab, "cu")
            failover = summary(runs(lab, {"blackhole": True}, args.repetitions))
            brownout = summary(runs(lab, {"loss": 0.15}, max(1, args.repetitions // 2)))
            stable = switches_while_healthy(lab, args.stability_minutes * 60)
    finally:
        lab.down()
    result = {
        "failover": failover,
        "brownout_15pct": brownout,
        "stability": {"minutes": args.stability_minutes, "switches": stable},
        "goals": {"failover_p50_s": 1.0, "brownout_s": 5.0, "switches": 0},
        "probing": {"config": "borderpath lab agent-config", "timeout": PROBE_TIMEOUT},
        "failback_delay": FAILBACK,
        "poll_s": POLL_S,
        "loadavg": os.getloadavg(),
        "cpus": os.cpu_count(),
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"{'measure':<22} {'p50 s':>8} {'max s':>8} {'moved':>8}")
    for label, row in (("failover (blackhole)", failover), ("brownout (15 % loss)", brownout)):
        print(f"{label:<22} {row['p50_s']!s:>8} {row['max_s']!s:>8} {row['moved']}/{row['runs']}")
    print(f"stability: {stable} switches in {args.stability_minutes:g} min of healthy jitter")


if __name__ == "__main__":
    main()
