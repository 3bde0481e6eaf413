"""Which border crossing each path takes: trace the paths in turn, label each trace,
and change a path's label only when several traces agree.

The agent runs ``RouteLabels.trace_next`` on a schedule that sweeps every path once per
``[trace] interval``; a changed label becomes a ``path.label`` event and the series tag
``route`` from then on (a premium circuit found crossing on a standard backbone is
exactly what the NOC wants to know).
"""

import logging
import time

from borderpath.agent.config import AgentConfig
from borderpath.core.errors import ProbeError
from borderpath.core.events import EventKind, EventRecord
from borderpath.probes import (
    Classifier,
    LabelTracker,
    longest_trace_s,
    prepare_traces,
    trace_path,
)
from borderpath.probes.series import Series, plan

log = logging.getLogger("borderpath.agent.routes")

Path = tuple[str, str]

TRACE_OVERHEAD = 1.2
"""A trace's waits, plus building and sending its packets (measured: 5-15 % more)."""


class RouteLabels:
    def __init__(self, config: AgentConfig) -> None:
        self.config = config.trace
        self.site = config.agent.site
        self.classifier = Classifier(config.trace.extra_prefixes)
        only_icmp = {"icmp"}
        self.series: list[Series] = plan(
            config.uplinks, config.pops, config.probing, only_protocols=only_icmp
        )
        self.trackers = {(s.uplink, s.pop): LabelTracker(config.trace.agree) for s in self.series}
        self._next = 0

    @property
    def step_s(self) -> float:
        """How often to trace one path so that every path is traced once per interval,
        but no more often than the longest trace takes (every trace of a PoP that does
        not answer waits hop_timeout), so that one trace never overruns its slot."""
        sweep_step = self.config.interval / max(1, len(self.series))
        return max(sweep_step, longest_trace_s(self.config) * TRACE_OVERHEAD)

    async def prepare(self) -> None:
        """Before the first trace is scheduled, so that it does not overrun its slot."""
        if self.series:
            await prepare_traces()

    def labels(self) -> dict[Path, str]:
        return {path: tracker.label for path, tracker in self.trackers.items() if tracker.label}

    async def trace_next(self) -> EventRecord | None:
        """Trace the next path; an event when its label changed."""
        if not self.series:
            return None
        series = self.series[self._next % len(self.series)]
        self._next += 1
        try:
            result = await trace_path(series.target, series.mark, series.source, self.config)
        except ProbeError as exc:
            log.warning("trace of %s/%s failed: %s", series.uplink, series.pop, exc)
            return None
        tracker = self.trackers[(series.uplink, series.pop)]
        before = tracker.label
        after = tracker.observe(self.classifier.label(result.addresses))
        if after == before:
            return None
        text = f"{series.uplink}/{series.pop} crosses the border on {after}"
        if before is not None:
            text += f" (was {before})"
        log.info("%s", text)
        labels = {"site": self.site, "uplink": series.uplink, "pop": series.pop, "label": after}
        return EventRecord(
            time.time_ns(), EventKind.PATH_LABEL, text, {**labels, "previous": before or ""}
        )
