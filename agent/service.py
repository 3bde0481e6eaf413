"""The agent: one process, one event loop, every part connected.

    engine ──batch──► selector.ingest (numpy, on the loop)
       └────batch──► store writer task ──► SQLite (its own worker thread)
    tick job ──► selector.tick ──decisions──► route writer (netlink worker thread)
                                   └──────────► events ──► store
    batches, snapshots, decisions, route events, store counters ──► alert engine
    alert job ──► engine.evaluate ──► alert events ──► store ; notices ──► dispatcher task
    trace job ──► route labels ──► path tags and path.label events
    snapshot, housekeeping jobs (APScheduler) ; exporter task ──► InfluxDB
    status API (/status, /metrics, /healthz, /alerts)

    reconcile job ──► probe plumbing and routes repaired where the kernel drifted
    supervisor: every task and job above restarted with backoff if it raises
Nothing here decides, measures or stores by itself: it starts the parts in order,
hands data between them and stops them in reverse. A stopped agent leaves its routes
in place, so a branch is never cut off because the agent is down; it removes the
probe plumbing, which serves only its probes.
"""

import asyncio
import collections
import concurrent.futures
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from borderpath.agent import capabilities
from borderpath.agent.config import AgentConfig
from borderpath.agent.jobs import JobTimer
from borderpath.agent.route_labels import RouteLabels
from borderpath.agent.status_api import StatusServer
from borderpath.agent.status_view import StatusView
from borderpath.agent.supervisor import Supervisor
from borderpath.alerts import AlertEngine, Dispatcher
from borderpath.core.errors import BorderpathError
from borderpath.core.events import EventKind, EventRecord
from borderpath.core.results import ProbeResult
from borderpath.probes import Engine, Plumbing
from borderpath.selector import Decision, RouteChange, RouteWriter, Selector
from borderpath.storage import AsyncStore, Exporter

T = TypeVar("T")
log = logging.getLogger("borderpath.agent")


class Agent:
    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.started = time.time()
        self._netlink = concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix="borderpath-netlink"
        )
        self._batches: asyncio.Queue[list[ProbeResult] | None] = asyncio.Queue()
        self.supervisor = Supervisor(on_failure=self._part_failed)
        self._parts: list[asyncio.Task[None]] = []
        """The supervised tasks other than the writer, cancelled at stop."""
        self._writer: asyncio.Task[None] | None = None
        self.backlog: dict[str, int] = {}
        """Rows not yet exported, per table (refreshed by housekeeping)."""
        self.counters: dict[str, int] = {}
        """The store's cumulative counters (refreshed by housekeeping)."""
        self.switches: collections.Counter[str] = collections.Counter()
        """Route switches per PoP since start."""
        self.route_failures: collections.Counter[str] = collections.Counter()
        """Route writes the kernel refused, per PoP, since start."""
        self._scheduler = AsyncIOScheduler()
        self._running_jobs: set[asyncio.Task[Any]] = set()
        self.jobs = JobTimer()
        self._steering = asyncio.Lock()
        """One plan-and-write of the routes at a time (the tick's and the reconcile's)."""
        self.route_labels = RouteLabels(config)
        self.store: AsyncStore | None = None
        self.selector: Selector | None = None
        self.engine: Engine | None = None
        self.routes: RouteWriter | None = None
        self.plumbing: Plumbing | None = None
        self.exporter: Exporter | None = None
        self.status: StatusServer | None = None
        self.alerts: AlertEngine | None = None
        self.dispatcher: Dispatcher | None = None

    async def start(self) -> None:
        """Check, then start every part; on any failure what was started is stopped."""
        _check_capabilities()
        try:
            await self._start_parts()
        except BaseException:
            await self.stop()
            raise

    async def _start_parts(self) -> None:
        config = self.config
        path = config.storage.database_path(config.agent.data_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.store = await AsyncStore.open(
            path,
            site=config.agent.site,
            config=config.storage,
            uplinks=config.uplinks,
            pops=config.pops,
        )
        self.selector = Selector(config.selector, config.uplinks, config.pops)
        await self._warm_selector()
        self.plumbing = Plumbing(config.uplinks, config.probing)
        await self.netlink(self.plumbing.apply)
        self.routes = RouteWriter(config.selector.routes, config.uplinks, config.pops)
        await self._reconcile_routes()
        await self._start_alerts()
        self._writer = self.supervisor.spawn("store writer", self._write_batches)
        self.engine = Engine(config.uplinks, config.pops, config.probing, on_batch=self._on_batch)
        await self.engine.start(spawn=self.supervisor.spawn)
        if config.storage.influxdb is not None:
            self.exporter = Exporter(path, config.storage.influxdb)
            self._parts.append(self.supervisor.spawn("exporter", self.exporter.run))
        await self.route_labels.prepare()
        self._schedule()
        self.status = StatusServer(config.status.listen, StatusView(self).routes())
        await self.status.start()
        await self._record(EventKind.AGENT_START, f"agent started for site {config.agent.site}")
        log.info("agent running: %d uplinks, %d PoPs", len(config.uplinks), len(config.pops))

    async def _start_alerts(self) -> None:
        """The engine takes back what was firing at the last stop, then delivery starts
        (with whatever the receivers have not taken yet, from the store's queue)."""
        config = self.config
        if not config.alerts.enabled:
            return
        assert self.store is not None
        site = config.agent.site
        self.alerts = AlertEngine(config.alerts, config.uplinks, config.pops, config.selector, site)
        since = time.time_ns() - int(config.alerts.max_age * 1e9)
        events = await self.store.query_events(since, kind="alert")
        if restored := self.alerts.restore(events, time.time()):
            log.info("%d alerts still firing at the last stop taken back", restored)
        self.dispatcher = Dispatcher(config.alerts, self.store, site, self.alerts.firing_notices)
        for name, part in self.dispatcher.parts().items():
            self._parts.append(self.supervisor.spawn(name, part))

    async def stop(self) -> None:
        """Stop probing, store what is in flight, leave routes as they are."""
        if self._scheduler.running:
            # A tick may be writing routes: let every running job finish, then stop.
            self._scheduler.pause()
            await asyncio.gather(*self._running_jobs, return_exceptions=True)
            self._scheduler.shutdown(wait=False)
        # What is not delivered stays queued in the store, what is not exported in the
        # outbox: the receivers and the exporter stop first.
        for task in self._parts:
            task.cancel()
        await asyncio.gather(*self._parts, return_exceptions=True)
        self._parts.clear()
        if self.engine is not None:
            await self.engine.stop()
            self.engine = None
        if self.status is not None:
            await self.status.close()
            self.status = None
        if self._writer is not None:
            await self._batches.put(None)
            await self._writer
            self._writer = None
        if self.exporter is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.exporter.close)
            self.exporter = None
        if self.store is not None:
            await self._record(EventKind.AGENT_STOP, "agent stopped; routes left in place")
            await self.store.close()
            self.store = None
        if self.plumbing is not None:
            # The probe tables and rules serve the probes only; the steering routes stay.
            await self.netlink(self.plumbing.remove)
            self.plumbing = None
        if self.routes is not None:
            await self.netlink(self.routes.close)
            self.routes = None
        self._netlink.shutdown(wait=True)

    async def netlink(self, func: Callable[..., T], *args: Any) -> T:
        """Run a netlink call on the one thread that talks to the kernel."""
        return await asyncio.get_running_loop().run_in_executor(self._netlink, func, *args)

    def _on_batch(self, batch: Sequence[ProbeResult]) -> None:
        assert self.selector is not None
        self.selector.ingest(batch)
        if self.alerts is not None:
            self.alerts.observe(batch)
        self._batches.put_nowait(list(batch))

    async def _write_batches(self) -> None:
        """One writer, in order; it ends after the engine's last batch (None)."""
        assert self.store is not None
        while (batch := await self._batches.get()) is not None:
            try:
                await self.store.ingest(batch)
            except BorderpathError as exc:
                log.error("results not stored: %s", exc)

    async def _warm_selector(self) -> None:
        """The daily peak history from the hourly counts of the last days, then the
        windows from the last minutes' results (which the history counts from there)."""
        assert self.store is not None and self.selector is not None
        since = time.time_ns() - int(self.config.agent.warm_start * 1e9)
        days = self.config.selector.time_of_day.history_days
        counts = await self.store.hourly_counts(since - days * 86400 * 10**9, since)
        if taken := self.selector.warm_history(counts):
            log.info("selector's daily history warmed with %d path-hours", taken)
        history = await self.store.query_results(since)
        if history:
            self.selector.ingest(history)
            log.info("selector warmed with %d stored results", len(history))

    async def _reconcile_routes(self) -> None:
        """Take what the kernel has as the starting choice, so a restart changes nothing,
        then complete it where it is incomplete (a crash between the writes of a move)."""
        assert self.routes is not None and self.selector is not None
        installed = await self.netlink(self.routes.installed_choices)
        now = time.time()
        for pop, choice in installed.items():
            self.selector.adopt(pop, choice, now, "found in the kernel at start")
        log.info("routes reconciled: %d PoPs already steered", len(installed))
        self._log_repairs(await self._steer([]))

    async def _reconcile(self) -> None:
        """Put back what was changed under us: the probe plumbing, then the routes and
        rules of every PoP's current choice."""
        assert self.plumbing is not None
        for repair in await self.netlink(self.plumbing.apply):
            log.warning("probe plumbing repaired: %s", repair)
        self._log_repairs(await self._steer([]))

    def _log_repairs(self, applied: list[RouteChange]) -> None:
        for change in applied:
            log.warning("route repaired: %s", change.describe(self.config.selector.routes))

    def _schedule(self) -> None:
        agent = self.config.agent
        jobs: list[tuple[str, Callable[[], Awaitable[None]], float]] = [
            ("tick", self._tick, agent.tick),
            ("snapshots", self._store_snapshots, agent.snapshot_interval),
            ("housekeeping", self._housekeeping, agent.housekeeping_interval),
            ("reconcile", self._reconcile, agent.reconcile_interval),
        ]
        if self.alerts is not None:
            jobs.append(("alerts", self._evaluate_alerts, self.config.alerts.interval))
        if self.route_labels.series:
            jobs.append(("trace", self._trace_next, self.route_labels.step_s))
        for name, job, seconds in jobs:
            self._scheduler.add_job(
                self._tracked(
                    self.supervisor.guard(name, self.jobs.timed(name, seconds, job), seconds)
                ),
                "interval",
                seconds=seconds,
                max_instances=1,
                coalesce=True,
                name=name,
            )
        self._scheduler.start()

    def _tracked(self, job: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        """The job, remembered while it runs so that ``stop`` can wait for it."""

        async def run() -> None:
            task = asyncio.current_task()
            assert task is not None
            self._running_jobs.add(task)
            try:
                await job()
            finally:
                self._running_jobs.discard(task)

        return run

    async def _tick(self) -> None:
        assert self.selector is not None and self.routes is not None
        decisions = self.selector.tick()
        if not decisions:
            return
        for decision in decisions:
            if decision.is_switch:
                self.switches[decision.pop] += 1
            log.info(
                "%s",
                decision.reason,
                extra={"fields": {"pop": decision.pop, "action": decision.action}},
            )
        if self.alerts is not None:
            self.alerts.observe_decisions(decisions)
        await self._steer(decisions)

    async def _steer(self, decisions: list[Decision]) -> list[RouteChange]:
        """Write the choices where the kernel differs (what was written is returned); a
        PoP whose write failed keeps what the kernel has."""
        assert self.selector is not None and self.routes is not None and self.store is not None
        async with self._steering:
            choices = self.selector.choices()
            changes = await self.netlink(self.routes.plan, choices)
            result = await self.netlink(self.routes.apply, changes, time.time_ns())
            self.route_failures.update(result.failed_pops)
            if result.failed_pops:
                installed = await self.netlink(self.routes.installed_choices)
                for pop in result.failed_pops:
                    self.selector.adopt(
                        pop, installed.get(pop, ()), time.time(), "route write failed"
                    )
        await self.store.add_events([d.to_event() for d in decisions] + result.events)
        if self.alerts is not None:
            self.alerts.observe_events(result.events)
        return result.applied

    async def _trace_next(self) -> None:
        """Trace one more path; a changed border crossing is an event and the path's tag."""
        assert self.store is not None
        event = await self.route_labels.trace_next()
        if event is None:
            return
        await self.store.set_path_labels(self.route_labels.labels())
        await self.store.add_events([event])
        if self.alerts is not None:
            self.alerts.observe_events([event])

    async def _store_snapshots(self) -> None:
        assert self.selector is not None and self.store is not None
        await self.store.add_snapshots(self.selector.snapshots())

    async def _housekeeping(self) -> None:
        assert self.store is not None
        report = await self.store.housekeeping()
        log.debug("housekeeping: %s", report)
        if self.exporter is not None:
            self.backlog = await self.store.backlog()
        self.counters = await self.store.counters()
        if self.alerts is not None:
            self.alerts.observe_store(self.backlog, self.counters)

    async def _evaluate_alerts(self) -> None:
        """Rules at now; firing and resolved alerts become events, every notice is queued."""
        assert self.alerts is not None and self.dispatcher is not None
        assert self.selector is not None and self.store is not None
        self.alerts.observe_snapshots(self.selector.snapshots())
        self.alerts.observe_parts(self.supervisor.failing)
        notices = self.alerts.evaluate(time.time())
        if not notices:
            return
        for notice in notices:
            log.log(
                logging.INFO if notice.severity == "info" else logging.WARNING,
                "alert %s %s: %s",
                notice.status,
                notice.name,
                notice.summary,
            )
        # Queued first: if the events cannot be written (disk full), the notices still go.
        await self.dispatcher.enqueue(notices)
        await self.store.add_events([n.to_event() for n in notices if not n.repeat])

    async def _record(self, kind: EventKind, text: str, **labels: str) -> None:
        assert self.store is not None
        await self.store.add_events(
            [EventRecord(time.time_ns(), kind, text, {"site": self.config.agent.site, **labels})]
        )

    def _part_failed(self, part: str, error: str) -> None:
        """A part's failure as an event, written in the background: the store itself may be
        what fails, and the supervisor must not wait for it."""
        if self.store is None:
            return
        text = f"part {part} failed ({error}); restarted with backoff"
        task = asyncio.create_task(self._record(EventKind.AGENT_PART_FAILED, text, part=part))
        self._running_jobs.add(task)  # stop waits for it
        task.add_done_callback(self._running_jobs.discard)
        task.add_done_callback(_event_written)


def _event_written(task: "asyncio.Task[None]") -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.debug("part failure not recorded: %s", exc)


def _check_capabilities() -> None:
    missing = capabilities.missing()
    if missing:
        raise BorderpathError(
            f"the agent needs {' and '.join(missing)} (run it under its systemd unit, "
            "or give them with setcap/capsh; it needs nothing else)"
        )
