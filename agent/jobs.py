"""The agent's periodic jobs, timed: a job that runs longer than its interval is named
once in the log, and again only after it kept to its interval for RECOVERED_AFTER_S
and then overran again.

APScheduler runs one instance of a job at a time and skips the slots an unfinished
run covers, with a warning in its own words at every skipped slot (``logs.setup``
silences it). Here each run is timed on the monotonic clock instead, every overrun
is counted (``borderpath_job_overruns_total``) and the log says which job, how long
it took and what that means.
"""

import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger("borderpath.agent.jobs")

Job = Callable[[], Awaitable[None]]

RECOVERED_AFTER_S = 60.0
"""A job that overruns now and then is one trouble, told once, not one per overrun."""


class JobTimer:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.overruns: dict[str, int] = {}
        """Runs that took longer than their interval, per job name."""
        self._clock = clock
        self._last_overrun: dict[str, float] = {}
        """Jobs told as overrunning -> when they last overran."""

    def timed(self, name: str, interval: float, job: Job) -> Job:
        """The job, timed at every run."""
        self.overruns.setdefault(name, 0)

        async def run() -> None:
            start = self._clock()
            try:
                await job()
            finally:
                self.finished(name, interval, start, self._clock())

        return run

    def finished(self, name: str, interval: float, start: float, end: float) -> None:
        """One run of ``name`` went from ``start`` to ``end``."""
        last = self._last_overrun.get(name)
        recovered = last is None or end - last >= RECOVERED_AFTER_S
        if end - start <= interval:
            if last is not None and recovered:
                del self._last_overrun[name]
                log.info("job %s keeps to its %s s interval again", name, f"{interval:g}")
            return
        self.overruns[name] = self.overruns.get(name, 0) + 1
        self._last_overrun[name] = end
        if recovered:
            log.warning(
                "job %s took %.2f s, longer than its %s s interval: it runs less often "
                "than configured until it keeps up (told once; every overrun is counted "
                "in borderpath_job_overruns_total)",
                name,
                end - start,
                f"{interval:g}",
            )
