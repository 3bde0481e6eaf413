"""Supervision: a part that raises is restarted with backoff, told once, counted, and
well again once it runs; a periodic job that raises skips its runs while it backs off."""

import asyncio
import itertools
import logging

import pytest

from borderpath.agent.supervisor import Supervisor


def test_a_part_that_raises_is_restarted_with_backoff_counted_and_told_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    told: list[tuple[str, str]] = []
    starts: list[float] = []

    async def flaky() -> None:
        loop = asyncio.get_running_loop()
        starts.append(loop.time())
        if len(starts) <= 4:
            raise OSError(28, "No space left on device")
        await asyncio.sleep(3600)  # then it runs

    async def main() -> Supervisor:
        supervisor = Supervisor(
            lambda part, error: told.append((part, error)),
            retry_min=0.05,
            retry_max=0.2,
            stable=0.3,
        )
        task = supervisor.spawn("store writer", flaky)
        await asyncio.sleep(0.5)
        assert supervisor.failing == {"store writer": "OSError: [Errno 28] No space left on device"}
        await asyncio.sleep(0.6)  # started for the fifth time, and stable since
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return supervisor

    caplog.set_level(logging.INFO, "borderpath.agent.supervisor")
    supervisor = asyncio.run(main())
    assert len(starts) == 5 and supervisor.failures == {"store writer": 4}
    waits = [b - a for a, b in itertools.pairwise(starts)]
    assert 0.025 <= waits[0] <= 0.1 and 0.1 <= waits[3] <= 0.25  # doubling, capped, jittered
    assert supervisor.failing == {}
    assert told == [("store writer", "OSError: [Errno 28] No space left on device")]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2  # one failure line for the streak, one when it runs again
    assert lines[0].startswith("part store writer failed (OSError: [Errno 28] No space left")
    assert lines[1] == "part store writer runs again"


def test_a_job_that_raises_skips_its_runs_while_it_backs_off_and_recovers_on_success() -> None:
    now = [0.0]
    runs: list[float] = []

    async def tick() -> None:
        runs.append(now[0])
        if now[0] < 2:
            raise RuntimeError("netlink said no")

    async def main() -> Supervisor:
        supervisor = Supervisor(clock=lambda: now[0])
        job = supervisor.guard("tick", tick, interval=0.25)  # backoff 0.125 s up to 2.5 s
        for second in range(24):
            now[0] = second / 4  # every 0.25 s
            await job()  # never raises
        return supervisor

    supervisor = asyncio.run(main())
    # Failed at 0, skipped runs while backing off (doubling), succeeded once past 2 s.
    assert supervisor.failures["tick"] == len([t for t in runs if t < 2])
    assert len(runs) < 24 and runs[0] == 0.0 and max(runs) >= 2.0
    assert supervisor.failing == {}
