"""Measure the lab with fping, the C reference: what the tests and the demo compare to."""

import statistics
import subprocess
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from borderpath.lab import netns


def fping_rtts(
    namespace: str, targets: Sequence[str], count: int, period_ms: float, timeout_ms: int = 2000
) -> dict[str, list[float | None]]:
    """Ping every target ``count`` times from ``namespace``; each RTT in ms, None if lost."""
    # fping also spaces any two packets by -i (10 ms by default): spread them over the period.
    interval_ms = max(1.0, period_ms / max(1, len(targets)))
    argv = ["fping", "-q", "-C", str(count), "-p", f"{period_ms:g}", "-i", f"{interval_ms:g}"]
    argv += ["-t", str(timeout_ms), *targets]
    done = subprocess.run(
        netns.exec_argv(namespace, argv), capture_output=True, text=True, check=False
    )
    results: dict[str, list[float | None]] = {}
    for line in done.stderr.splitlines():
        target, separator, samples = line.partition(" : ")
        if separator:
            results[target.strip()] = [
                None if value == "-" else float(value) for value in samples.split()
            ]
    return results


def silent(probes: Mapping[str, Sequence[str]], attempts: int = 5) -> list[tuple[str, str]]:
    """(namespace, target) pairs of ``probes`` (namespace -> targets) that answered none of a
    few pings; every namespace pings at once."""
    with ThreadPoolExecutor(max_workers=max(1, len(probes))) as pool:
        futures = {
            namespace: pool.submit(fping_rtts, namespace, targets, attempts, 100, 3000)
            for namespace, targets in probes.items()
        }
    return [
        (namespace, target)
        for namespace, future in futures.items()
        for target in probes[namespace]
        if not any(rtt is not None for rtt in future.result().get(target, []))
    ]


def summary(samples: Sequence[float | None]) -> tuple[float | None, float]:
    """(median RTT of the answered samples, loss fraction)."""
    answered = [rtt for rtt in samples if rtt is not None]
    loss = 1 - len(answered) / len(samples) if samples else 1.0
    return (statistics.median(answered) if answered else None), loss
