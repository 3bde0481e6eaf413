"""Probes: measure every PoP over every uplink, and tell which border crossing it takes.

Public surface (everything else is private to the package)::

    Engine(uplinks, pops, probing, on_batch, *, only_uplinks, only_pops, only_protocols,
           rounds)                  -> await start(); await stop(); await finished();
                                       stats(); malformed
    Plumbing(uplinks, probing)      -> apply(); remove(); plan()
    ProbeResult, ErrorKind, PROTOCOLS
    Classifier(extra_prefixes)      -> label(hops); LabelTracker(agree)
    trace_path(...)                 -> a merged traceroute of one path (scapy, lazily)
    Responder(ResponderConfig)      -> await start(); close()  (the PoP side)
"""

from borderpath.probes.classify import Classifier, LabelTracker
from borderpath.probes.engine import Engine
from borderpath.probes.plumbing import Plumbing
from borderpath.probes.result import PROTOCOLS, ErrorKind, ProbeResult
from borderpath.probes.transport import SeriesCounters

__all__ = [
    "PROTOCOLS",
    "Classifier",
    "Engine",
    "ErrorKind",
    "LabelTracker",
    "Plumbing",
    "ProbeResult",
    "SeriesCounters",
]
