"""Hop skeletons: what a traceroute sees on each emulated path.

Each route is the list of routers a packet crosses between the carrier's gateway and
the PoP, as a backbone label per hop (None: a silent hop, which never answers). Hop
addresses come from one /24 per backbone network in 198.18.0.0/16, which the lab's
agent config maps to its label, so the classifier reads the lab as it would read a
real trace. Shapes follow docs/border.md (Backbones): CN2 GT crosses 163 before CN2,
GIA is CN2 end to end; CMI and CMIN2 leave China over CMNET.
"""

import ipaddress

HOP_BLOCKS = {
    "ct-163": ipaddress.IPv4Network("198.18.1.0/24"),
    "ct-cn2": ipaddress.IPv4Network("198.18.2.0/24"),
    "cu-4837": ipaddress.IPv4Network("198.18.3.0/24"),
    "cu-9929": ipaddress.IPv4Network("198.18.4.0/24"),
    "cm-cmnet": ipaddress.IPv4Network("198.18.5.0/24"),
    "cm-cmi": ipaddress.IPv4Network("198.18.6.0/24"),
    "cm-cmin2": ipaddress.IPv4Network("198.18.7.0/24"),
    "ct-ctg": ipaddress.IPv4Network("198.18.8.0/24"),
    "metro": ipaddress.IPv4Network("198.18.100.0/24"),
    "offshore": ipaddress.IPv4Network("198.18.200.0/24"),
}
"""Backbone network label -> the block its lab hops are numbered from. metro (inside
China, before the backbone) and offshore (after the border) carry no label."""

UNLABELLED = {"metro", "offshore"}

SKELETONS: dict[str, list[str | None]] = {
    "ct-163": ["metro", "metro", "ct-163", "ct-163", None, "ct-163", "offshore"],
    "ct-cn2-gt": ["metro", "metro", "ct-163", "ct-163", "ct-cn2", None, "ct-cn2", "offshore"],
    "ct-cn2-gia": ["metro", "ct-cn2", "ct-cn2", None, "ct-cn2", "offshore"],
    "cu-4837": ["metro", "metro", "cu-4837", "cu-4837", None, "cu-4837", "offshore"],
    "cu-9929": ["metro", "cu-9929", "cu-9929", None, "cu-9929", "offshore"],
    "cm-cmi": ["metro", "cm-cmnet", "cm-cmnet", None, None, "cm-cmi", "cm-cmi", "offshore"],
    "cm-cmin2": ["metro", "cm-cmnet", "cm-cmin2", None, "cm-cmin2", "offshore"],
}
"""Route name -> backbone label of each hop after the carrier's gateway, in order."""

ROUTES = tuple(SKELETONS)


def hop_addresses(route: str, pop_index: int) -> list[ipaddress.IPv4Address | None]:
    """The addresses a trace over ``route`` to the PoP numbered ``pop_index`` shows."""
    hops: list[ipaddress.IPv4Address | None] = []
    for position, label in enumerate(SKELETONS[route], start=1):
        block = HOP_BLOCKS[label] if label else None
        hops.append(block[16 * pop_index + position] if block else None)
    return hops


def labelled_prefixes() -> dict[str, str]:
    """Hop blocks that name a backbone network: the ``[trace] extra_prefixes`` of the lab."""
    return {str(block): label for label, block in HOP_BLOCKS.items() if label not in UNLABELLED}
