"""Fixtures shared by every test: labs with unique names that are always taken down, and
borderpath built and installed from its wheel."""

import itertools
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from borderpath.lab.lab import Lab
from tests.installed import build_distributions, install_wheel

# Property tests draw the same examples on every run, so CI does not pass or fail by
# luck; HYPOTHESIS_PROFILE=explore searches afresh (and finds new counterexamples).
settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

_counter = itertools.count()

LabFactory = Callable[..., Lab]
FileWriter = Callable[..., Path]


def unique_lab_name() -> str:
    """A lab name no other test run on this machine is using (pid-based)."""
    return f"t{os.getpid() % 100000}x{next(_counter)}"


@pytest.fixture
def make_lab() -> Iterator[LabFactory]:
    """``make_lab(topology=None, scenario=None)`` -> a running Lab, removed after the test."""
    labs: list[Lab] = []

    def make(topology: Path | None = None, scenario: Path | None = None) -> Lab:
        name = unique_lab_name()
        labs.append(Lab(name))
        return Lab.up(name, topology, scenario)

    try:
        yield make
    finally:
        for lab in labs:
            lab.down()


@pytest.fixture(scope="session")
def shared_lab() -> Iterator[Lab]:
    """One default lab for the whole run, for tests that only read it or set conditions
    they restore; tests that need a scenario of their own use ``make_lab``."""
    name = unique_lab_name()
    try:
        yield Lab.up(name)
    finally:
        Lab(name).down()


@pytest.fixture
def scenario_file(tmp_path: Path) -> FileWriter:
    """Write a scenario (or topology) TOML text to a file and return its path."""

    def write(text: str, name: str = "scenario.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="session")
def distributions(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(wheel, sdist) built from this checkout."""
    return build_distributions(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="session")
def installed_venv(distributions: tuple[Path, Path]) -> Iterator[Path]:
    """A venv any user can read with borderpath installed from the wheel (not editable)."""
    venv = install_wheel(distributions[0])
    try:
        yield venv
    finally:
        shutil.rmtree(venv)
