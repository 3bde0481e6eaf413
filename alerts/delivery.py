"""Delivery: every notification goes through the store's durable queue ``alerts``, with
each receiver as one consumer, sent in order by one task per receiver.

    engine.evaluate ─► Dispatcher.enqueue ─► queue alerts (SQLite, store's thread)
                                              └─► per receiver: wait group_window,
                                                  POST up to `batch` in one body,
                                                  2xx: ack ; else: back off, retry

A receiver that is down keeps its queue (across agent restarts too) and gets every
notification, in order, when it comes back; later ones wait behind the first. Each
POST has a timeout, and delivery runs in its own tasks, so a slow or dead receiver
never delays probing. Delivery is at least once: a POST that timed out after the
receiver took it is sent again.

Alertmanager receivers also get every alert still firing, every alertmanager_resend,
with endsAt RESENDS_AHEAD resends ahead (as Prometheus does): the alerts of an agent
that died expire there on their own. A resend waits while the receiver's queue is not
empty, so it never overtakes a resolve still queued.
"""

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable, Sequence

import httpx

from borderpath.alerts.alert import Notice
from borderpath.alerts.config import SEVERITIES, AlertsConfig, Severity, WebhookConfig
from borderpath.alerts.formats import render
from borderpath.core.errors import BorderpathError, StorageError
from borderpath.storage import AsyncStore, QueueItem

log = logging.getLogger("borderpath.alerts")
RESENDS_AHEAD = 4
"""A firing alert's endsAt, in resends: three resends may be lost before it expires."""
Firing = Callable[[float], Sequence[Notice]]
"""The notices of every alert firing at ``now`` (the engine's)."""

QUEUE = "alerts"
"""The store's durable queue of notifications; each receiver is one of its consumers."""


class Dispatcher:
    def __init__(
        self,
        config: AlertsConfig,
        store: AsyncStore,
        site: str,
        firing: Firing = lambda now: (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.queue = store.queue(QUEUE)
        self.site = site
        self.firing = firing
        self.clock = clock
        self._wake = {hook.key: asyncio.Event() for hook in config.webhooks}
        self.failing: dict[str, str] = {}
        """Receivers whose last POST failed, with why."""
        self.sent: dict[str, int] = {hook.key: 0 for hook in config.webhooks}
        """Notifications delivered per receiver since start (resends not counted)."""
        self.failures: dict[str, int] = {hook.key: 0 for hook in config.webhooks}
        """POSTs that failed per receiver since start."""

    async def enqueue(self, notices: Sequence[Notice]) -> None:
        """Queue each notice for every receiver whose min_severity it reaches."""
        rows = [
            (hook.key, int(notice.sent_at * 1e9), json.dumps(notice.as_dict()))
            for notice in notices
            for hook in self.config.webhooks
            if _rank(notice.severity) >= _rank(hook.min_severity)
        ]
        if not rows:
            return
        await self.queue.put(rows)
        for key in {row[0] for row in rows}:
            self._wake[key].set()

    async def run(self) -> None:
        """Deliver until cancelled (the queue keeps what is not delivered)."""
        async with asyncio.TaskGroup() as group:
            for hook in self.config.webhooks:
                group.create_task(self._deliver(hook))
                if hook.format == "alertmanager":
                    group.create_task(self._resend(hook))

    async def _deliver(self, hook: WebhookConfig) -> None:
        failures = 0
        async with httpx.AsyncClient(timeout=self.config.timeout) as client:
            while True:
                try:
                    delivered = await self._deliver_next(client, hook)
                except StorageError as exc:  # the store is sick: keep trying, never die
                    log.error("alerts: queue of %s unreadable: %s", hook.key, exc)
                    delivered = False
                failures = 0 if delivered else failures + 1
                if failures:
                    await asyncio.sleep(self._backoff(failures))

    async def _resend(self, hook: WebhookConfig) -> None:
        """Every alertmanager_resend: what fires now, unless something queued is ahead."""
        async with httpx.AsyncClient(timeout=self.config.timeout) as client:
            while True:
                await asyncio.sleep(self.config.alertmanager_resend)
                now = self.clock()
                notices = [
                    n for n in self.firing(now) if _rank(n.severity) >= _rank(hook.min_severity)
                ]
                try:
                    ahead = await self.queue.peek(hook.key, 1)
                except StorageError as exc:  # the queue's own task says so too: skip a turn
                    log.debug("alerts: resend to %s skipped: %s", hook.key, exc)
                    continue
                if notices and not ahead:
                    await self._post(client, hook, notices)

    async def _deliver_next(self, client: httpx.AsyncClient, hook: WebhookConfig) -> bool:
        """Send the next group; False when it must be retried later."""
        rows = await self._next_group(hook.key)
        if rows is None:
            return True
        notices = [Notice.from_dict(json.loads(row.body), row.time_ns / 1e9) for row in rows]
        if not await self._post(client, hook, notices):
            return False
        await self.queue.ack(hook.key, rows[-1].id)
        self.sent[hook.key] += len(rows)
        return True

    async def _next_group(self, key: str) -> list[QueueItem] | None:
        """The next notifications to send once the oldest is group_window old; None after
        waiting for new ones (the caller loops)."""
        await self.queue.expire(int((self.clock() - self.config.max_age) * 1e9))
        rows = await self.queue.peek(key, self.config.batch)
        if not rows:
            self._wake[key].clear()
            await self._wake[key].wait()
            return None
        wait = self.config.group_window - (self.clock() - rows[0].time_ns / 1e9)
        if wait > 0:
            await asyncio.sleep(wait)
            rows = await self.queue.peek(key, self.config.batch)
        return rows

    async def _post(
        self, client: httpx.AsyncClient, hook: WebhookConfig, notices: Sequence[Notice]
    ) -> bool:
        try:
            await post(client, hook, notices, self.site, self.config, now=self.clock())
        except BorderpathError as exc:
            self.failures[hook.key] += 1
            if hook.key not in self.failing:
                log.warning("alerts: %s; queued notifications wait and are retried", exc)
            self.failing[hook.key] = str(exc)
            return False
        if self.failing.pop(hook.key, None) is not None:
            log.info("alerts: receiver %s answers again", hook.key)
        return True

    def _backoff(self, failures: int) -> float:
        """Exponential from retry_min to retry_max, with equal jitter (receivers that come
        back are not hit by every agent at the same instant)."""
        ceiling = min(self.config.retry_max, self.config.retry_min * 2 ** (failures - 1))
        return float(ceiling / 2 + random.uniform(0, ceiling / 2))


async def post(
    client: httpx.AsyncClient,
    hook: WebhookConfig,
    notices: Sequence[Notice],
    site: str,
    config: AlertsConfig,
    *,
    now: float,
) -> None:
    """POST one body to a receiver; BorderpathError with one sentence if it did not take it."""
    body = render(
        hook.format,
        notices,
        site,
        firing_until=now + RESENDS_AHEAD * config.alertmanager_resend,
        generator_url=config.generator_url,
    )
    headers = {"Content-Type": "application/json", **hook.headers}
    try:
        response = await client.post(str(hook.url), content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise BorderpathError(f"receiver {hook.key} unreachable ({exc!r})") from exc
    if not response.is_success:
        raise BorderpathError(
            f"receiver {hook.key} answered {response.status_code}: {response.text[:200]}"
        )


def _rank(severity: Severity) -> int:
    return SEVERITIES.index(severity)
