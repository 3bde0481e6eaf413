"""``borderpath`` sub-commands of the storage."""

from typing import Any


def add_commands(commands: Any) -> None:
    """Register this module's sub-commands on the top-level parser's subparsers."""
