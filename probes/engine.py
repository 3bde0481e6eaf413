"""The probe engine: paces every series on the monotonic clock and hands on batches.

One asyncio timer walks a heap of due probes: each series fires every ``interval``
(a burst of ``burst`` probes ``burst_spacing`` apart), the series start spread over
their interval, and a late loop skips missed steps instead of bursting to catch up.
Results are collected and handed to ``on_batch`` every ``batch_interval`` as one
``list[ProbeResult]``, on the event loop.
"""

import asyncio
import heapq
import itertools
import logging
import math
from collections.abc import Awaitable, Callable

from borderpath.core.results import ProbeResult
from borderpath.core.topology import PopConfig, UplinkConfig
from borderpath.probes.config import ProbingConfig
from borderpath.probes.series import Series, plan
from borderpath.probes.transport import Context, SeriesCounters, Transport
from borderpath.probes.transports import open_transports
from borderpath.probes.validate import TtlBook

log = logging.getLogger("borderpath.probes")

START_DELAY_S = 0.05
"""Sockets are open before the first probe leaves."""

BatchCallback = Callable[[list[ProbeResult]], object]
Spawn = Callable[[str, Callable[[], Awaitable[None]]], "asyncio.Task[None]"]
"""Runs a named long-lived coroutine as a task (the agent's supervisor.spawn)."""


class Engine:
    """Probe every series of the config until stopped (or for ``rounds`` steps each).

    ``on_batch`` receives each batch on the event loop; it must not block (hand slow
    work to a worker). Use::

        engine = Engine(config.uplinks, config.pops, config.probing, on_batch=store)
        await engine.start()
        ...
        await engine.stop()
    """

    def __init__(
        self,
        uplinks: list[UplinkConfig],
        pops: list[PopConfig],
        probing: ProbingConfig,
        on_batch: BatchCallback,
        *,
        only_uplinks: set[str] | None = None,
        only_pops: set[str] | None = None,
        only_protocols: set[str] | None = None,
        rounds: int | None = None,
    ) -> None:
        self.probing = probing
        self.series = plan(
            uplinks,
            pops,
            probing,
            only_uplinks=only_uplinks,
            only_pops=only_pops,
            only_protocols=only_protocols,
        )
        self.on_batch = on_batch
        self.rounds = rounds
        self._heap: list[tuple[float, int, Series, int, float, int]] = []
        self._order = itertools.count()
        self._batch: list[ProbeResult] = []
        self._outstanding = 0
        self._closing = False
        self._transports: dict[str, Transport] = {}
        self._context: Context | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._housekeeping: asyncio.Task[None] | None = None
        self._done = asyncio.Event()

    async def start(self, spawn: Spawn = lambda name, part: asyncio.ensure_future(part())) -> None:
        """Open the sockets and start probing; raises ProbeError if a socket cannot open.
        ``spawn`` runs the engine's housekeeping (timeouts, and the batches handed to
        ``on_batch``) as a task: the agent's supervisor restarts it if it raises."""
        loop = asyncio.get_running_loop()
        self._context = Context(loop, self._collect, TtlBook(self.probing.ttl_tolerance))
        self._transports = open_transports(self._context, self.series)
        self._schedule_first(loop.time() + START_DELAY_S)
        self._arm()
        self._housekeeping = spawn("probe engine", self._keep_house)

    async def stop(self) -> None:
        """Stop sending and hand on what has finished. Probes still in flight are dropped:
        they were neither answered nor lost, and reporting them as timeouts would write a
        burst of false loss at every stop or reload."""
        if self._timer is not None:
            self._timer.cancel()
        self._heap.clear()
        if self._housekeeping is not None:
            self._housekeeping.cancel()
        self._flush()
        self._closing = True
        for transport in self._transports.values():
            await transport.close()

    async def finished(self) -> None:
        """Wait until every round of every series has its result (``rounds`` engines)."""
        await self._done.wait()

    def stats(self) -> dict[tuple[str, str, str], SeriesCounters]:
        """Per series: sent, received, forged, duplicates, reordered."""
        context = self._context
        if context is None:
            return {}
        return {s.key: context.count(s) for s in self.series}

    @property
    def malformed(self) -> dict[str, int]:
        """Malformed packets dropped, per protocol."""
        return dict(self._context.malformed) if self._context else {}

    def _schedule_first(self, start: float) -> None:
        by_interval: dict[float, list[Series]] = {}
        for series in self.series:
            by_interval.setdefault(series.interval, []).append(series)
        for interval, group in by_interval.items():
            for index, series in enumerate(group):
                offset = interval * index / len(group) if self.probing.spread else 0.0
                self._push(start + offset, series, 0, start + offset, 0)
        if not self._heap:
            self._done.set()

    def _push(self, due: float, series: Series, shot: int, step: float, steps: int) -> None:
        heapq.heappush(self._heap, (due, next(self._order), series, shot, step, steps))

    def _arm(self) -> None:
        if self._heap and self._context is not None:
            self._timer = self._context.loop.call_at(self._heap[0][0], self._tick)

    def _tick(self) -> None:
        assert self._context is not None
        now = self._context.loop.time()
        heap, transports = self._heap, self._transports
        spacing = self.probing.burst_spacing
        while heap and heap[0][0] <= now:
            _, _, series, shot, step, steps = heapq.heappop(heap)
            # The next shot is queued first: a send that fails at once reports at once,
            # and a rounds engine must not think it has finished.
            if shot + 1 < series.burst:
                self._push(step + (shot + 1) * spacing, series, shot + 1, step, steps)
            elif self.rounds is None or steps + 1 < self.rounds:
                following = _next_step(step, series.interval, now)
                self._push(following, series, 0, following, steps + 1)
            self._outstanding += 1
            self._context.count(series).sent += 1
            transports[series.protocol].send(series)
        self._arm()

    def _collect(self, result: ProbeResult) -> None:
        if self._closing:
            return
        self._batch.append(result)
        self._outstanding -= 1
        if self.rounds is not None and not self._heap and self._outstanding == 0:
            self._flush()
            self._done.set()

    async def _keep_house(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.probing.batch_interval)
            now = loop.time()
            for transport in self._transports.values():
                transport.expire(now)
            self._flush()

    def _flush(self) -> None:
        if not self._batch:
            return
        batch, self._batch = self._batch, []
        try:
            self.on_batch(batch)
        except Exception:
            log.exception("the batch callback failed; %d results dropped", len(batch))


def _next_step(step: float, interval: float, now: float) -> float:
    """The next slot on the series' grid after ``step``, skipping slots already past."""
    following = step + interval
    if following <= now:
        following += math.ceil((now - following) / interval + 1e-9) * interval
    return following
