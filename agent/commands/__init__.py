"""Sub-commands of ``borderpath``: each module adds its own with ``add_commands``."""

import argparse
import os
from pathlib import Path

DEFAULT_CONFIG = Path("/etc/borderpath/agent.toml")
CONFIG_VARIABLE = "BORDERPATH_CONFIG"


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """``--config FILE``, the agent's config file: $BORDERPATH_CONFIG when not given,
    else /etc/borderpath/agent.toml (where the service units read it)."""
    parser.add_argument(
        "--config",
        type=Path,
        default=Path(os.environ.get(CONFIG_VARIABLE) or DEFAULT_CONFIG),
        help=f"the agent's config file (default: ${CONFIG_VARIABLE}, else {DEFAULT_CONFIG})",
    )
