"""docs/architecture.md stays true: which package imports which, and a file table row for
every product module, both read from the tree itself."""

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
PRODUCT = ("core", "probes", "storage", "selector", "alerts", "agent")
TOOLS = ("lab", "bench", "tests")
PACKAGES = PRODUCT + TOOLS


def imported_packages(package: str) -> set[str]:
    """Our other packages that any module of ``package`` imports (lazily or not)."""
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                parts = module.split(".")
                if parts[0] == "borderpath" and len(parts) > 1:
                    found.add(parts[1])
                elif parts[0] in TOOLS:
                    found.add(parts[0])
    return found - {package}


def _table_rows(header: str) -> dict[str, dict[str, str]]:
    """Rows of the doc's tables whose header has column ``header``, by first cell."""
    rows: dict[str, dict[str, str]] = {}
    columns: list[str] = []
    for line in DOC.read_text().splitlines():
        if not line.startswith("|"):
            columns = []
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if not columns:
            columns = cells
        elif header in columns and not set(cells[0]) <= {"-"}:
            rows[cells[0].strip("`")] = dict(zip(columns, cells, strict=True))
    return rows


def documented_imports() -> dict[str, set[str]]:
    """The ``imports`` column: the packages named in backquotes (none: 'nothing of ours')."""
    rows = _table_rows("imports")
    return {name: set(re.findall(r"`(\w+)`", rows[name]["imports"])) for name in rows}


def test_the_doc_says_which_package_imports_which() -> None:
    assert documented_imports() == {package: imported_packages(package) for package in PACKAGES}


def test_every_product_module_has_a_row_in_a_file_table() -> None:
    named = set()
    for line in DOC.read_text().splitlines():
        if line.startswith("| `"):
            named |= set(re.findall(r"`([\w/]+\.py)`", line.split("|")[1]))
    modules = {
        str(path.relative_to(ROOT))
        for package in PRODUCT
        for path in (ROOT / package).rglob("*.py")
        if path.name != "__init__.py"
    }
    assert sorted(modules - named) == []
    assert sorted(named - modules) == []


STORAGE_SELECTOR_ALERTS = """
import importlib, pkgutil, sys
for package in ("storage", "selector", "alerts"):
    root = importlib.import_module("borderpath." + package)
    for module in pkgutil.walk_packages(root.__path__, root.__name__ + "."):
        importlib.import_module(module.name)
print(" ".join(sorted(name for name in sys.modules if name.startswith("borderpath.probes"))))
"""


def test_storage_the_selector_and_the_alerts_run_without_the_probes() -> None:
    """They share the vocabulary of core (results, protocols, uplinks and PoPs, events)
    with the probes, and load none of the probe engine."""
    run = subprocess.run(
        [sys.executable, "-c", STORAGE_SELECTOR_ALERTS], capture_output=True, text=True, check=True
    )
    assert run.stdout.strip() == ""
