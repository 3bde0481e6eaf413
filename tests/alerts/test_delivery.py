"""Delivery through the store's queue to a real HTTP receiver on loopback."""

import asyncio
import contextlib
import datetime
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from borderpath.alerts import AlertsConfig, Dispatcher, Notice
from borderpath.alerts.delivery import QUEUE, Firing
from borderpath.storage import AsyncStore
from tests.alerts.receiver import Receiver


@pytest.fixture
def hook() -> Iterator[Receiver]:
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


def notice(name: str, status: str = "firing", severity: str = "warning") -> Notice:
    now = time.time()
    return Notice(status, name, severity, name, {"site": "s"}, name, {}, [], now, None, now)  # type: ignore[arg-type]


def config(url: str, fmt: str = "generic", **extra: Any) -> AlertsConfig:
    settings = {"group_window": 0.3, "retry_min": 0.1, "retry_max": 0.2, "timeout": 1}
    hook = {"url": url, "min_severity": "warning", "format": fmt}
    return AlertsConfig.model_validate({**settings, **extra, "webhooks": [hook]})


async def _deliver(
    path: Path, alerts: AlertsConfig, steps: list[Any], firing: Firing = lambda now: ()
) -> dict[str, int]:
    """Run a dispatcher; each step is a list of notices to enqueue or a pause (s)."""
    store = await AsyncStore.open(path, site="s")
    dispatcher = Dispatcher(alerts, store, "s", firing)
    task = asyncio.create_task(dispatcher.run())
    try:
        for step in steps:
            if isinstance(step, list):
                await dispatcher.enqueue(step)
            else:
                await asyncio.sleep(step)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        queued = await store.queue(QUEUE).waiting()
        await store.close()
    return queued


def test_a_group_goes_in_one_post_and_info_stays_home(hook: Receiver, tmp_path: Path) -> None:
    # c comes 0.1 s after a, well inside a 1 s window even on a loaded machine.
    steps = [[notice("a"), notice("b", severity="info")], 0.1, [notice("c")], 2.0]
    queued = asyncio.run(_deliver(tmp_path / "s.db", config(hook.url, group_window=1.0), steps))
    assert hook.names() == [("firing", "a"), ("firing", "c")]
    assert len(hook.bodies) == 1 and queued == {}


def test_alertmanager_gets_what_fires_each_resend_once_nothing_queued_is_ahead(
    hook: Receiver, tmp_path: Path
) -> None:
    alerts = config(hook.url, "alertmanager", group_window=0.6, alertmanager_resend=0.2)
    steps = [[notice("queued")], 1.3]
    asyncio.run(_deliver(tmp_path / "s.db", alerts, steps, lambda now: [notice("up")]))
    names = [[alert["labels"]["alertname"] for alert in body] for _, _, body in hook.bodies]
    assert names[0] == ["queued"]  # the resends at 0.2 s and 0.4 s waited behind it
    assert names[1:] == [["up"]] * len(names[1:]) and len(names) >= 3
    for arrival, _, body in hook.bodies:
        ends = datetime.datetime.fromisoformat(body[0]["endsAt"]).timestamp()
        assert 0.5 < ends - arrival <= 0.8  # four resends ahead of the POST


def test_a_receiver_down_then_back_gets_everything_in_order_once(
    hook: Receiver, tmp_path: Path
) -> None:
    def back() -> None:
        time.sleep(1.0)
        hook.status = 200

    hook.status = 503
    threading.Thread(target=back).start()
    steps = [[notice("a")], 0.4, [notice("a", "resolved"), notice("b")], 0.4, [notice("c")], 2.0]
    asyncio.run(_deliver(tmp_path / "s.db", config(hook.url), steps))
    assert hook.names() == [("firing", "a"), ("resolved", "a"), ("firing", "b"), ("firing", "c")]


def test_what_was_not_delivered_waits_in_the_store_for_the_next_run(
    hook: Receiver, tmp_path: Path
) -> None:
    hook.status = 503
    database = tmp_path / "s.db"
    queued = asyncio.run(_deliver(database, config(hook.url), [[notice("a")], 0.6]))
    assert queued == {hook.url: 1} and hook.names() == []
    hook.status = 200
    asyncio.run(_deliver(database, config(hook.url), [1.0]))
    assert hook.names() == [("firing", "a")]


def test_a_slow_receiver_never_holds_the_loop(hook: Receiver, tmp_path: Path) -> None:
    hook.delay = 2.0  # beyond the 1 s timeout: retried, and the loop keeps its pace

    async def main() -> float:
        lateness = 0.0

        async def ticker() -> None:
            nonlocal lateness
            while True:
                start = time.monotonic()
                await asyncio.sleep(0.05)
                lateness = max(lateness, time.monotonic() - start - 0.05)

        task = asyncio.create_task(ticker())
        await _deliver(tmp_path / "s.db", config(hook.url), [[notice("a")], 2.0])
        task.cancel()
        return lateness

    assert asyncio.run(main()) < 0.5  # a blocking POST would hold it 1 s (shared machine: slack)
