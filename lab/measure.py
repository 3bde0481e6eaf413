"""Measure the lab with fping, the C reference: what the tests and the demo compare to."""

import statistics
import subprocess
from collections.abc import Sequence

from borderpath.lab import netns


def fping_rtts(
    namespace: str, targets: Sequence[str], count: int, period_ms: float, timeout_ms: int = 2000
) -> dict[str, list[float | None]]:
    """Ping every target ``count`` times from ``namespace``; each RTT in ms, None if lost."""
    argv = [
        "fping",
        "-q",
        "-C",
        str(count),
        "-p",
        f"{period_ms:g}",
        "-t",
        str(timeout_ms),
        *targets,
    ]
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


def answering(namespace: str, target: str, attempts: int = 5) -> bool:
    """Does ``target`` answer at least one of a few pings from ``namespace``?"""
    samples = fping_rtts(namespace, [target], count=attempts, period_ms=100, timeout_ms=3000)
    return any(rtt is not None for rtt in samples.get(target, []))


def summary(samples: Sequence[float | None]) -> tuple[float | None, float]:
    """(median RTT of the answered samples, loss fraction)."""
    answered = [rtt for rtt in samples if rtt is not None]
    loss = 1 - len(answered) / len(samples) if samples else 1.0
    return (statistics.median(answered) if answered else None), loss
