"""Periodic jobs: an overrun is told once in our words and counted; APScheduler's own
warning at every skipped slot never reaches the log."""

import asyncio
import logging

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from borderpath.agent import logs
from borderpath.agent.jobs import RECOVERED_AFTER_S, JobTimer


def test_an_overrunning_job_is_told_once_counted_every_time_and_again_after_recovery(
    caplog: pytest.LogCaptureFixture,
) -> None:
    timer = JobTimer()
    caplog.set_level(logging.INFO, "borderpath.agent.jobs")
    for start in (0.0, 3.0, 6.0):  # three runs of 2.5 s each, every 1 s
        timer.finished("trace", 1.0, start, start + 2.5)
    assert timer.overruns == {"trace": 3}
    assert [r.getMessage()[:44] for r in caplog.records] == [
        "job trace took 2.50 s, longer than its 1 s i"
    ]
    timer.finished("trace", 1.0, 9.0, 9.5)  # keeps up, but not for long yet
    timer.finished("trace", 1.0, 10.0, 12.0)
    assert len(caplog.records) == 1 and timer.overruns == {"trace": 4}
    later = 12.0 + RECOVERED_AFTER_S
    timer.finished("trace", 1.0, later, later + 0.5)
    timer.finished("trace", 1.0, later + 1, later + 3)
    assert [r.getMessage()[:26] for r in caplog.records[1:]] == [
        "job trace keeps to its 1 s",
        "job trace took 2.00 s, lon",
    ]
    assert timer.overruns == {"trace": 5}


def test_the_scheduler_skips_a_slow_job_quietly_and_we_say_so_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.setup()
    timer = JobTimer()

    async def slow() -> None:
        await asyncio.sleep(0.25)

    async def main() -> None:
        scheduler = AsyncIOScheduler()
        job = timer.timed("slow", 0.05, slow)
        scheduler.add_job(job, "interval", seconds=0.05, max_instances=1, coalesce=True)
        scheduler.start()
        await asyncio.sleep(1.2)
        scheduler.shutdown(wait=False)

    asyncio.run(main())
    err = capsys.readouterr().err
    assert timer.overruns["slow"] >= 3
    assert "Execution of job" not in err
    assert err.count("job slow took 0.2") == 1, err
