"""Retry waits: exponential with equal jitter, so that agents whose receiver or server
comes back do not all hit it at the same instant."""

import random


def backoff(streak: int, low: float, high: float) -> float:
    """The wait after the ``streak``-th failure in a row: from ``low``, doubling, up to
    ``high``; uniformly in the upper half of that ceiling."""
    ceiling = min(high, low * 2 ** (streak - 1))
    return float(ceiling / 2 + random.uniform(0, ceiling / 2))
