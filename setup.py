"""Which packages the wheel and sdist carry: every package below the product's folders.

Each top-level folder is installed as ``borderpath.<folder>``; setuptools cannot discover
packages under such a mapping from pyproject.toml alone, so they are found here, and a
new subpackage cannot be forgotten.
"""

from setuptools import find_packages, setup

PRODUCT_FOLDERS = ("agent", "alerts", "core", "lab", "probes", "selector", "storage")


def packages() -> list[str]:
    """``borderpath.<folder>`` and every package below it."""
    found = []
    for folder in PRODUCT_FOLDERS:
        found.append(f"borderpath.{folder}")
        found.extend(f"borderpath.{folder}.{sub}" for sub in find_packages(folder))
    return found


setup(
    packages=packages(),
    package_dir={f"borderpath.{folder}": folder for folder in PRODUCT_FOLDERS},
    package_data={"borderpath.lab": ["*.toml", "scenarios/*.toml"]},
)
