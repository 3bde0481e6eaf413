"""Supervision: no exception ends a part of the agent for good.

A long-lived part (the store writer, the exporter, each alert receiver) runs under
``spawn`` and is restarted with backoff after any exception; a periodic job (the tick
and its route writes, the tracer, housekeeping ...) runs under ``guard`` and, after a
failure, skips its runs for a backoff of one to JOB_BACKOFF_RUNS intervals. Either way
the first failure of a streak is logged in one line with the part's name and
``on_failure`` is told (the agent records an event); every failure is counted
(``borderpath_part_failures_total``). A part is failing from its failure until it ran
STABLE_S without one (a job: until a run succeeds); /healthz, /status and the alert
``agent_part_failing`` read ``failing``.
"""

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable

from borderpath.core.backoff import backoff

log = logging.getLogger("borderpath.agent.supervisor")

Part = Callable[[], Awaitable[None]]
OnFailure = Callable[[str, str], None]
"""Told (part name, one-line error) at the first failure of a streak."""

RETRY_MIN_S = 1.0
RETRY_MAX_S = 60.0
"""A part that fails at once on every start is retried once a minute, not in a loop."""
JOB_BACKOFF_RUNS = 10
"""A failing periodic job is retried at least every this many of its intervals."""
STABLE_S = 30.0
"""A restarted part that runs this long without failing is well again."""


class Supervisor:
    def __init__(
        self,
        on_failure: OnFailure = lambda part, error: None,
        clock: Callable[[], float] = time.monotonic,
        retry_min: float = RETRY_MIN_S,
        retry_max: float = RETRY_MAX_S,
        stable: float = STABLE_S,
    ) -> None:
        self.on_failure = on_failure
        self.failures: collections.Counter[str] = collections.Counter()
        """Failures per part since start."""
        self.failing: dict[str, str] = {}
        """Parts failing now -> their last error, in one line."""
        self._clock = clock
        self._retry = (retry_min, retry_max)
        self._stable = stable
        self._streak: collections.Counter[str] = collections.Counter()
        self._retry_at: dict[str, float] = {}

    def spawn(self, name: str, part: Part) -> "asyncio.Task[None]":
        """Run ``part`` as a task, restarted after every exception, until it returns or
        the task is cancelled."""
        return asyncio.create_task(self._keep(name, part), name=name)

    def guard(self, name: str, job: Part, interval: float) -> Part:
        """The ``job`` run every ``interval``, which never raises: a failure is counted and
        its next runs are skipped for a backoff from one interval up to JOB_BACKOFF_RUNS
        intervals (so the tick, which writes the routes, is never held back long)."""
        retry = (interval, min(self._retry[1], JOB_BACKOFF_RUNS * interval))

        async def run() -> None:
            if self._clock() < self._retry_at.get(name, 0.0):
                return
            try:
                await job()
            except Exception as exc:
                self._retry_at[name] = self._clock() + self._failed(name, exc, retry)
                return
            self._recovered(name)

        return run

    async def _keep(self, name: str, part: Part) -> None:
        while True:
            task = asyncio.ensure_future(part())
            try:
                if name in self.failing:
                    done, _ = await asyncio.wait({task}, timeout=self._stable)
                    if not done:
                        self._recovered(name)
                await task
                return
            except asyncio.CancelledError:
                task.cancel()  # and let it end (an HTTP client closing) before we do
                await asyncio.gather(task, return_exceptions=True)
                raise
            except Exception as exc:
                delay = self._failed(name, exc)
            await asyncio.sleep(delay)

    def _failed(self, name: str, exc: Exception, retry: tuple[float, float] | None = None) -> float:
        """Count and tell; the backoff (between ``retry``'s bounds) before the next start."""
        self.failures[name] += 1
        self._streak[name] += 1
        error = f"{type(exc).__name__}: {exc}".replace("\n", " ")
        delay = backoff(self._streak[name], *(retry or self._retry))
        if name not in self.failing:
            log.error(
                "part %s failed (%s); restarted in %.1f s, and with backoff while it fails "
                "(told once; every failure is counted in borderpath_part_failures_total)",
                name,
                error,
                delay,
            )
            log.debug("part %s failed", name, exc_info=exc)
            self.on_failure(name, error)
        self.failing[name] = error
        return delay

    def _recovered(self, name: str) -> None:
        self._streak.pop(name, None)
        self._retry_at.pop(name, None)
        if self.failing.pop(name, None) is not None:
            log.info("part %s runs again", name)
