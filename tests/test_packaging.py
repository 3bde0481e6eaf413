"""The wheel and sdist carry the whole product, and the wheel runs once installed."""

import subprocess
import tarfile
import zipfile
from pathlib import Path

from tests.installed import ROOT

PRODUCT_FOLDERS = ("agent", "alerts", "core", "lab", "probes", "selector", "storage")


def product_files() -> set[str]:
    """Every source and data file of the product, as ``folder/relative/path``."""
    return {
        str(path.relative_to(ROOT))
        for folder in PRODUCT_FOLDERS
        for path in (ROOT / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_the_wheel_carries_every_module_and_data_file(distributions: tuple[Path, Path]) -> None:
    with zipfile.ZipFile(distributions[0]) as wheel:
        carried = {name.removeprefix("borderpath/") for name in wheel.namelist()}
    assert product_files() - carried == set()


def test_the_sdist_carries_every_module_data_file_and_the_license(
    distributions: tuple[Path, Path],
) -> None:
    with tarfile.open(distributions[1]) as sdist:
        carried = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert (product_files() | {"LICENSE", "pyproject.toml", "setup.py"}) - carried == set()


def test_the_installed_wheel_runs_its_command_from_anywhere(installed_venv: Path) -> None:
    command = subprocess.run(
        [str(installed_venv / "bin" / "borderpath"), "--help"],
        cwd="/",
        capture_output=True,
        text=True,
        check=False,
    )
    assert command.returncode == 0, command.stderr
    assert "agent" in command.stdout


def test_the_wheel_declares_its_license_as_spdx(installed_venv: Path) -> None:
    metadata = subprocess.run(
        [
            str(installed_venv / "bin" / "python"),
            "-c",
            "import importlib.metadata as m; print(m.metadata('borderpath')['License-Expression'])",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert metadata.stdout.strip() == "Apache-2.0"
