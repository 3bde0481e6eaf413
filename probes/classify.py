"""Which border crossing a trace took: the backbone label from its hop addresses.

Each hop address is matched by longest prefix (``ipaddress`` networks, never string
prefixes: "223.120.16" as text would also match CMI) against the table of backbone
networks in docs/border.md (Backbones), plus the operator's own prefixes from
``[trace] extra_prefixes``. The trace's label follows from the networks it crossed:

* CN2 (AS4809) after ChinaNet 163 hops is ``ct-cn2-gt``; CN2 without 163 is
  ``ct-cn2-gia``;
* otherwise the international or premium network wins over the domestic one it was
  reached through (a CMI path crosses CMNET first), in the order of LABEL_PRECEDENCE;
* no labelled hop at all is ``unknown``.

Silent hops are normal, so one trace proves little: LabelTracker changes a path's
label only after ``agree`` consecutive traces say the same.
"""

import ipaddress
from collections.abc import Iterable, Mapping, Sequence

CN2 = "ct-cn2"
"""The network label of AS4809 hops; a trace is labelled ct-cn2-gt or ct-cn2-gia."""
UNKNOWN = "unknown"
LABELS = (
    "ct-163",
    "ct-cn2-gt",
    "ct-cn2-gia",
    "cu-4837",
    "cu-9929",
    "cm-cmi",
    "cm-cmin2",
    "cm-cmnet",
    "ct-ctg",
    UNKNOWN,
)
LABEL_PRECEDENCE = ("cu-9929", "cm-cmin2", "cm-cmi", "ct-163", "cu-4837", "ct-ctg", "cm-cmnet")

BACKBONE_PREFIXES: Mapping[str, str] = {
    "202.97.0.0/16": "ct-163",
    "59.43.0.0/16": CN2,  # not in public BGP: kept here by hand
    "219.158.0.0/16": "cu-4837",
    "218.105.0.0/16": "cu-9929",
    "210.51.0.0/16": "cu-9929",
    "223.120.128.0/17": "cm-cmin2",
    "223.119.8.0/22": "cm-cmin2",
    "223.119.12.0/22": "cm-cmin2",
    "223.119.26.0/23": "cm-cmin2",
    "223.119.28.0/23": "cm-cmin2",
    "223.119.74.0/23": "cm-cmin2",
    "223.119.88.0/23": "cm-cmin2",
    "223.119.32.0/24": "cm-cmin2",
    "223.119.34.0/23": "cm-cmin2",
    "223.119.36.0/23": "cm-cmin2",
    "223.119.100.0/24": "cm-cmin2",
    "223.119.252.0/23": "cm-cmin2",
    "223.118.32.0/24": "cm-cmin2",
    "223.118.0.0/15": "cm-cmi",  # what CMIN2's longer prefixes do not take
    "223.120.0.0/15": "cm-cmi",
    "223.121.0.0/16": "cm-cmi",
    "221.183.0.0/16": "cm-cmnet",
    "69.194.0.0/16": "ct-ctg",
    "203.22.0.0/16": "ct-ctg",
}
"""docs/border.md, Backbones: backbone hop prefixes (IPv4). IPv6 backbones come from config."""


class Classifier:
    """Longest-prefix match of hop addresses, and the label of a whole trace."""

    def __init__(self, extra_prefixes: Mapping[str, str] | None = None) -> None:
        self._tables: dict[int, dict[int, dict[int, str]]] = {4: {}, 6: {}}
        for prefix, label in {**BACKBONE_PREFIXES, **(extra_prefixes or {})}.items():
            network = ipaddress.ip_network(prefix, strict=False)
            by_length = self._tables[network.version].setdefault(network.prefixlen, {})
            by_length[int(network.network_address)] = label
        self._lengths = {
            version: sorted(table, reverse=True) for version, table in self._tables.items()
        }

    def network(self, address: str | None) -> str | None:
        """The backbone network label of one hop, or None (silent, unlisted, not an IP)."""
        if address is None:
            return None
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            return None
        value, bits = int(parsed), parsed.max_prefixlen
        table = self._tables[parsed.version]
        for length in self._lengths[parsed.version]:
            label = table[length].get(value >> (bits - length) << (bits - length))
            if label is not None:
                return label
        return None

    def label(self, hops: Sequence[str | None]) -> str:
        """The backbone label of a trace given its hop addresses in TTL order."""
        return label_of(self.network(hop) for hop in hops)


def label_of(networks: Iterable[str | None]) -> str:
    """The trace label from the network label of each hop (None for silent/unlisted)."""
    seen: list[str] = [n for n in networks if n is not None]
    if CN2 in seen:
        before_cn2 = seen[: seen.index(CN2)]
        return "ct-cn2-gt" if "ct-163" in before_cn2 else "ct-cn2-gia"
    for label in LABEL_PRECEDENCE:
        if label in seen:
            return label
    return UNKNOWN


class LabelTracker:
    """A path's backbone label, changed only when ``agree`` consecutive traces agree."""

    def __init__(self, agree: int) -> None:
        self.agree = agree
        self.label: str | None = None
        self._candidate: str | None = None
        self._count = 0

    def observe(self, label: str) -> str:
        """Add one trace's label; return the path's (possibly new) label."""
        if self.label is None or label == self.label:
            self.label = self.label or label
            self._candidate, self._count = None, 0
            return self.label
        if label == self._candidate:
            self._count += 1
        else:
            self._candidate, self._count = label, 1
        if self._count >= self.agree:
            self.label, self._candidate, self._count = label, None, 0
        return self.label
