"""Which of the capabilities the agent needs does this process hold?

The agent runs with CAP_NET_RAW (probe and trace sockets) and CAP_NET_ADMIN (routes,
rules, marks) alone, not as full root; it says at start which one is missing.
"""

from pathlib import Path

NEEDED = {"CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13}
"""Capability names and their bit numbers (linux/capability.h)."""


def effective_mask(status_file: Path = Path("/proc/self/status")) -> int:
    for line in status_file.read_text().splitlines():
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    return 0


def missing(mask: int | None = None) -> list[str]:
    """Names of the needed capabilities this process does not have."""
    held = effective_mask() if mask is None else mask
    return [name for name, bit in sorted(NEEDED.items()) if not held >> bit & 1]
