"""The layers the architecture promises, checked against the tree itself."""

import subprocess
import sys

STORAGE_SELECTOR_ALERTS = """
import importlib, pkgutil, sys
for package in ("storage", "selector", "alerts"):
    root = importlib.import_module("borderpath." + package)
    for module in pkgutil.walk_packages(root.__path__, root.__name__ + "."):
        importlib.import_module(module.name)
print(" ".join(sorted(name for name in sys.modules if name.startswith("borderpath.probes"))))
"""


def test_storage_the_selector_and_the_alerts_run_without_the_probes() -> None:
    """They share core's vocabulary (results, protocols, uplinks and PoPs, events) with
    the probes, and load nothing of the probe engine."""
    run = subprocess.run(
        [sys.executable, "-c", STORAGE_SELECTOR_ALERTS], capture_output=True, text=True, check=True
    )
    assert run.stdout.strip() == ""
