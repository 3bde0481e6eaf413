"""The ``borderpath`` command: tools plug in; the product never imports them."""

import subprocess
import sys

import pytest

from borderpath.agent.cli import main

PRODUCT = ("agent", "alerts", "core", "probes", "selector", "storage")

IMPORT_EVERY_MODULE = f"""
import importlib, pkgutil, sys
for package in {PRODUCT!r}:
    root = importlib.import_module("borderpath." + package)
    for module in pkgutil.walk_packages(root.__path__, root.__name__ + "."):
        importlib.import_module(module.name)
tools = ("borderpath.lab.", "bench.", "tests.")
print(" ".join(sorted(name for name in sys.modules if (name + ".").startswith(tools))))
"""


def test_importing_every_product_module_imports_no_tool() -> None:
    """The lab, the benchmarks (with the anchors and synthetic streams) and the tests are
    built on the product; the product runs without them."""
    run = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERY_MODULE], capture_output=True, text=True, check=True
    )
    assert run.stdout.strip() == ""


@pytest.mark.parametrize("command", ["lab", "demo"])
def test_the_lab_adds_its_commands_to_borderpath(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, "--help"]) == 0
    assert f"usage: borderpath {command}" in capsys.readouterr().out
