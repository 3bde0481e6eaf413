"""Delivery: every notification goes through the store's durable queue ``alerts``, with
each receiver as one consumer, sent in order by one task per receiver.

    engine.evaluate ─► Dispatcher.enqueue ─► queue alerts (SQLite, store's thread)
                                              └─► per receiver: wait group_window,
                                                  POST up to `batch` in one body,
                                                  2xx: ack ; else: back off, retry
                                                  refused for good (4xx but 408/429)
                                                  refused_retries+1 times: dead letter

A receiver that is down keeps its queue (across agent restarts too) and gets every
notification, in order, when it comes back; later ones wait behind the first. A
receiver that refuses a group for good (a 4xx other than 408 and 429: a revoked token,
a wrong path) gets it refused_retries more times, then the group goes to the queue
alerts-dead under the receiver's key, with an event, and the next group is sent. Each
POST has a timeout, and delivery runs in its own tasks, so a slow or dead receiver
never delays probing. Delivery is at least once: a POST that timed out after the
receiver took it is sent again.

Alertmanager receivers also get every alert still firing, every alertmanager_resend,
with endsAt RESENDS_AHEAD resends ahead (as Prometheus does): the alerts of an agent
that died expire there on their own. A resend waits while the receiver's queue is not
empty, so it never overtakes a resolve still queued.
"""

import asyncio
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

import httpx

from borderpath.alerts.alert import Notice
from borderpath.alerts.config import SEVERITIES, AlertsConfig, Severity, WebhookConfig
from borderpath.alerts.formats import render
from borderpath.core.backoff import backoff
from borderpath.core.errors import BorderpathError, StorageError
from borderpath.core.events import EventKind, EventRecord
from borderpath.storage import AsyncStore, QueueItem

log = logging.getLogger("borderpath.alerts")
RESENDS_AHEAD = 4
"""A firing alert's endsAt, in resends: three resends may be lost before it expires."""
Firing = Callable[[float], Sequence[Notice]]
"""The notices of every alert firing at ``now`` (the engine's)."""

QUEUE = "alerts"
"""The store's durable queue of notifications; each receiver is one of its consumers."""
DEAD_QUEUE = "alerts-dead"
"""Notifications a receiver refused for good, per receiver (kept, never sent again)."""
RETRIED = (408, 429)
"""4xx answers that mean "later" (timeout, rate limit); any other 4xx means "never"."""


class Refused(BorderpathError):
    """The receiver refused the notifications for good: retrying will not help."""


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
        self.store = store
        self.queue = store.queue(QUEUE)
        self.dead = store.queue(DEAD_QUEUE)
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
        self.dead_letters: dict[str, int] = {hook.key: 0 for hook in config.webhooks}
        """Notifications dead-lettered per receiver since start."""

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

    def parts(self) -> dict[str, Callable[[], Awaitable[None]]]:
        """The long-lived parts of delivery, by name: one sender per receiver (and one
        resender per alertmanager receiver). The agent supervises each on its own, so
        one receiver's failure never stops the others."""
        parts: dict[str, Callable[[], Awaitable[None]]] = {}
        for hook in self.config.webhooks:
            parts[f"receiver {hook.key}"] = functools.partial(self._deliver, hook)
            if hook.format == "alertmanager":
                parts[f"receiver {hook.key} resend"] = functools.partial(self._resend, hook)
        return parts

    async def _deliver(self, hook: WebhookConfig) -> None:
        failures = 0
        async with httpx.AsyncClient(timeout=self.config.timeout) as client:
            while True:
                try:
                    delivered = await self._deliver_next(client, hook, failures)
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

    async def _deliver_next(
        self, client: httpx.AsyncClient, hook: WebhookConfig, failures: int
    ) -> bool:
        """Send the next group; False when it must be retried later. ``failures``: POSTs
        of this group that failed already."""
        rows = await self._next_group(hook.key)
        if rows is None:
            return True
        notices = [Notice.from_dict(json.loads(row.body), row.time_ns / 1e9) for row in rows]
        refused = await self._post(client, hook, notices)
        if refused is None:
            await self.queue.ack(hook.key, rows[-1].id)
            self.sent[hook.key] += len(rows)
            return True
        if isinstance(refused, Refused) and failures >= self.config.refused_retries:
            await self._dead_letter(hook, rows, refused)
            return True
        return False

    async def _dead_letter(self, hook: WebhookConfig, rows: list[QueueItem], why: Refused) -> None:
        """Set aside a group the receiver refuses for good, then say so (the event last:
        a store that cannot write it must not have the group dead-lettered twice)."""
        await self.dead.put([(hook.key, row.time_ns, row.body) for row in rows])
        await self.queue.ack(hook.key, rows[-1].id)
        self.dead_letters[hook.key] += len(rows)
        text = (
            f"{len(rows)} notifications to receiver {hook.key} dead-lettered after "
            f"{self.config.refused_retries + 1} refusals ({why}); they are kept in the "
            f"store's queue {DEAD_QUEUE}"
        )
        log.error("alerts: %s", text)
        labels = {"site": self.site, "receiver": hook.key}
        await self.store.add_events(
            [EventRecord(time.time_ns(), EventKind.ALERT_DEAD, text, labels)]
        )

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
    ) -> BorderpathError | None:
        """None once the receiver took it, else why not."""
        try:
            await post(client, hook, notices, self.site, self.config, now=self.clock())
        except BorderpathError as exc:
            self.failures[hook.key] += 1
            if hook.key not in self.failing:
                log.warning("alerts: %s; queued notifications wait and are retried", exc)
            self.failing[hook.key] = str(exc)
            return exc
        if self.failing.pop(hook.key, None) is not None:
            log.info("alerts: receiver %s answers again", hook.key)
        return None

    def _backoff(self, failures: int) -> float:
        return backoff(failures, self.config.retry_min, self.config.retry_max)


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
    try:
        headers = {"Content-Type": "application/json", **hook.header_values()}
    except ValueError as exc:
        raise BorderpathError(f"receiver {hook.key}: {exc}") from None
    url = str(hook.url)
    try:
        response = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        why = f"{type(exc).__name__}: {exc}".replace(url, hook.key)
        raise BorderpathError(f"receiver {hook.key} unreachable ({why})") from exc
    if not response.is_success:
        status = response.status_code
        error = Refused if 400 <= status < 500 and status not in RETRIED else BorderpathError
        raise error(f"receiver {hook.key} answered {status}: {response.text[:200]}")


def _rank(severity: Severity) -> int:
    return SEVERITIES.index(severity)
