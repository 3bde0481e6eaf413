"""Delivery through the store's queue to a real HTTP receiver on loopback."""

import asyncio
import datetime
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from borderpath.agent.supervisor import Supervisor
from borderpath.alerts import AlertsConfig, Dispatcher, Notice
from borderpath.alerts.delivery import DEAD_QUEUE, QUEUE, Firing
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
    path: Path,
    alerts: AlertsConfig,
    steps: list[Any],
    firing: Firing = lambda now: (),
    supervisor: Supervisor | None = None,
) -> dict[str, int]:
    """Run a dispatcher; each step is a list of notices to enqueue or a pause (s)."""
    store = await AsyncStore.open(path, site="s")
    dispatcher = Dispatcher(alerts, store, "s", firing)
    supervisor = supervisor or Supervisor(retry_min=0.05, retry_max=0.1)
    tasks = [supervisor.spawn(name, part) for name, part in dispatcher.parts().items()]
    try:
        for step in steps:
            if isinstance(step, list):
                await dispatcher.enqueue(step)
            else:
                await asyncio.sleep(step)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
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
    assert queued == {f"http://127.0.0.1:{hook.port}/…": 1} and hook.names() == []
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


def test_a_notice_refused_for_good_is_dead_lettered_and_the_next_ones_go(
    hook: Receiver, tmp_path: Path
) -> None:
    def fixed() -> None:
        time.sleep(1.2)
        hook.status = 200

    hook.status = 404  # a wrong path or a revoked token: retrying will not help
    threading.Thread(target=fixed).start()
    database = tmp_path / "s.db"
    alerts = config(hook.url, refused_retries=1)
    steps = [[notice("a")], 1.4, [notice("b")], 1.0]
    queued = asyncio.run(_deliver(database, alerts, steps))
    assert hook.names() == [("firing", "b")] and queued == {}

    async def kept() -> tuple[list[str], list[str]]:
        store = await AsyncStore.open(database, site="s")
        dead = await store.queue(DEAD_QUEUE).peek(alerts.webhooks[0].key, 10)
        events = await store.query_events(0, kind="alert.dead")
        await store.close()
        return [json.loads(item.body)["name"] for item in dead], [e.text for e in events]

    dead, events = asyncio.run(kept())
    assert dead == ["a"]
    assert len(events) == 1 and "dead-lettered after 2 refusals" in events[0]
    assert "answered 404" in events[0] and "/hook" not in events[0]


def test_a_receiver_that_raises_is_restarted_alone_and_the_others_deliver(
    hook: Receiver, tmp_path: Path
) -> None:
    alerts = AlertsConfig.model_validate(
        {
            "group_window": 0.1,
            "webhooks": [{"url": hook.url, "name": "good"}, {"url": hook.url, "name": "bad"}],
        }
    )
    # What the config checks refuse at load, forced in: httpx raises on a non-ASCII header.
    bad = alerts.webhooks[1].model_copy(update={"headers": {"X-Token": "clé"}})
    alerts = alerts.model_copy(update={"webhooks": [alerts.webhooks[0], bad]})
    supervisor = Supervisor(retry_min=0.05, retry_max=0.1)
    queued = asyncio.run(
        _deliver(tmp_path / "s.db", alerts, [[notice("a")], 1.0], supervisor=supervisor)
    )
    assert hook.names() == [("firing", "a")]  # from the good one
    assert queued == {"bad": 1}
    assert supervisor.failures["receiver bad"] >= 2 and "receiver good" not in supervisor.failures
    assert "UnicodeEncodeError" in supervisor.failing["receiver bad"]


def test_header_values_come_from_a_file_and_the_environment_at_each_post(
    hook: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "token").write_text("Bearer from-a-file\n")
    monkeypatch.setenv("BP_HOOK_TENANT", "tenant-7")
    headers = {
        "Authorization": {"file": str(tmp_path / "token")},
        "X-Tenant": {"env": "BP_HOOK_TENANT"},
        "X-Plain": "as written",
    }
    alerts = config(hook.url)
    alerts.webhooks[0] = alerts.webhooks[0].model_validate(
        {"url": hook.url, "min_severity": "warning", "headers": headers}
    )
    asyncio.run(_deliver(tmp_path / "s.db", alerts, [[notice("a")], 1.0]))
    (sent,) = hook.headers
    assert sent["Authorization"] == "Bearer from-a-file"
    assert (sent["X-Tenant"], sent["X-Plain"]) == ("tenant-7", "as written")
