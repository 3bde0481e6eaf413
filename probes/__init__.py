"""Probes: measure every PoP over every uplink, and tell which border crossing it takes.

The public surface (everything else is private to the package)::

    Engine(uplinks, pops, probing, on_batch, *, only_uplinks=None, only_pops=None,
           only_protocols=None, rounds=None)
        await start(); await stop(); await finished(); stats(); malformed
    Plumbing(uplinks, probing)      apply(); remove(); plan()
    SeriesCounters
    trace_path(target, mark, source, trace_config) -> TraceResult   (scapy, lazily)
    longest_trace_s(trace_config): the longest a trace_path call waits
    prepare_traces(): load scapy off the loop before the first trace
    Classifier(extra_prefixes).label(hops); LabelTracker(agree).observe(label)

The PoP side lives in ``borderpath.probes.responder`` (Responder, ResponderConfig, and
``python -m borderpath.probes.responder``); it is not imported here, so the agent does
not load the QUIC server. What the probes report (``ProbeResult``, ``ErrorKind``) and the
protocols they speak are the shared vocabulary in ``borderpath.core`` (results.py,
protocols.py).
"""

from borderpath.probes.classify import Classifier, LabelTracker
from borderpath.probes.engine import Engine
from borderpath.probes.plumbing import Plumbing
from borderpath.probes.trace import TraceResult, longest_trace_s, prepare_traces, trace_path
from borderpath.probes.transport import SeriesCounters

__all__ = [
    "Classifier",
    "Engine",
    "LabelTracker",
    "Plumbing",
    "SeriesCounters",
    "TraceResult",
    "longest_trace_s",
    "prepare_traces",
    "trace_path",
]
