"""Where probe results are kept: one numpy ring buffer per series, all series in one array.

A series is (uplink, pop, protocol); a path is (uplink, pop). Rows are laid out so that
every path owns ``len(PROTOCOLS)`` consecutive rows and every PoP owns consecutive
paths: per-path and per-PoP figures are then plain reshapes, never Python loops.
"""

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from borderpath.core.figures import next_jitter
from borderpath.core.protocols import PROTOCOLS
from borderpath.core.results import ProbeResult

NEVER_NS = np.iinfo(np.int64).min // 2
"""Timestamp of a slot never written: older than any window."""

Floats = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


@dataclasses.dataclass(frozen=True)
class Layout:
    """Which row holds which series, which path holds which uplink and PoP."""

    uplinks: tuple[str, ...]
    pops: tuple[str, ...]
    probed: Bools
    """[paths, protocols]: the PoP's config probes this protocol."""

    @classmethod
    def of(cls, uplinks: Sequence[str], pops: Sequence[tuple[str, Sequence[str]]]) -> "Layout":
        """``pops`` = (name, protocols probed) in config order."""
        probed = np.array(
            [
                [protocol in protocols for protocol in PROTOCOLS]
                for _, protocols in pops
                for _ in uplinks
            ],
            dtype=np.bool_,
        ).reshape(len(pops) * len(uplinks), len(PROTOCOLS))
        return cls(tuple(uplinks), tuple(name for name, _ in pops), probed)

    @property
    def paths(self) -> int:
        return len(self.uplinks) * len(self.pops)

    @property
    def series(self) -> int:
        return self.paths * len(PROTOCOLS)

    def path(self, uplink: str, pop: str) -> int:
        return self.pops.index(pop) * len(self.uplinks) + self.uplinks.index(uplink)

    def path_names(self, path: int) -> tuple[str, str]:
        """(uplink, pop) of a path index."""
        pop, uplink = divmod(path, len(self.uplinks))
        return self.uplinks[uplink], self.pops[pop]

    def rows(self) -> dict[tuple[str, str, str], int]:
        """Row of every series, keyed like ``ProbeResult.series``."""
        return {
            (uplink, pop, protocol): self.path(uplink, pop) * len(PROTOCOLS) + index
            for pop in self.pops
            for uplink in self.uplinks
            for index, protocol in enumerate(PROTOCOLS)
        }


class RingWindows:
    """The last ``capacity`` probes of every series, plus running counters per series."""

    def __init__(self, layout: Layout, capacity: int) -> None:
        rows = layout.series
        self.layout = layout
        self.capacity = capacity
        self._row = layout.rows()
        self.time_ns: Ints = np.full((rows, capacity), NEVER_NS, dtype=np.int64)
        self.rtt_ms: Floats = np.full((rows, capacity), np.nan, dtype=np.float32)
        """NaN when lost or answered without an RTT."""
        self.lost: Bools = np.zeros((rows, capacity), dtype=np.bool_)
        self.step_ms: Floats = np.full((rows, capacity), np.nan, dtype=np.float32)
        """|RTT - previous RTT| of consecutive answered probes (NaN when a loss broke the pair)."""
        self.head: Ints = np.zeros(rows, dtype=np.int64)
        self.run_lost: Ints = np.zeros(rows, dtype=np.int64)
        """Consecutive lost probes up to the latest one."""
        self.run_ok: Ints = np.zeros(rows, dtype=np.int64)
        """Consecutive answered probes up to the latest one."""
        self.jitter_ms: Floats = np.full(rows, np.nan, dtype=np.float32)
        """RFC 3550 interarrival jitter (``core.figures.next_jitter``) per consecutive
        answered pair."""
        self.last_ok_ns: Ints = np.full(rows, NEVER_NS, dtype=np.int64)
        """Send time of the latest answered probe."""
        self.run_start_ns: Ints = np.full(rows, NEVER_NS, dtype=np.int64)
        """Send time of the first lost probe of the current run of losses."""
        self._last_rtt = [math.nan] * rows
        self.ignored = 0
        """Results of series the config does not have (counted, never stored)."""

    def ingest(self, batch: Sequence[ProbeResult]) -> tuple[list[int], list[int], list[bool]]:
        """Store a batch; return (path, time_ns, lost) of what was stored, for the history."""
        paths: list[int] = []
        times: list[int] = []
        losts: list[bool] = []
        for result in batch:
            row = self._row.get(result.series)
            if row is None:
                self.ignored += 1
                continue
            lost = self._store(row, result)
            paths.append(row // len(PROTOCOLS))
            times.append(result.time_ns)
            losts.append(lost)
        return paths, times, losts

    def _store(self, row: int, result: ProbeResult) -> bool:
        # Forged answers never make a probe ok (the engine sets ok only for genuine ones).
        answered = result.answered
        rtt = result.rtt_ms if result.ok and result.rtt_ms is not None else math.nan
        slot = int(self.head[row] % self.capacity)
        self.head[row] += 1
        self.time_ns[row, slot] = result.time_ns
        self.rtt_ms[row, slot] = rtt
        self.lost[row, slot] = not answered
        previous = self._last_rtt[row]
        step = abs(rtt - previous)
        self.step_ms[row, slot] = step
        if not math.isnan(step):
            jitter = float(self.jitter_ms[row])
            self.jitter_ms[row] = next_jitter(None if math.isnan(jitter) else jitter, step)
        self._last_rtt[row] = rtt
        if answered:
            self.run_ok[row] += 1
            self.run_lost[row] = 0
            self.last_ok_ns[row] = max(int(self.last_ok_ns[row]), result.time_ns)
        else:
            if self.run_lost[row] == 0:
                self.run_start_ns[row] = result.time_ns
            self.run_lost[row] += 1
            self.run_ok[row] = 0
        return not answered
