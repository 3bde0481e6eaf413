"""borderpath as a router gets it: built into a wheel and an sdist, installed (not
editable) into a fresh venv that any user can read, wherever the checkout lies."""

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build_distributions(directory: Path) -> tuple[Path, Path]:
    """The sdist, and the wheel built from it (so the sdist is proven complete)."""
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(directory), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = directory.glob("*.whl")
    (sdist,) = directory.glob("*.tar.gz")
    return wheel, sdist


def install_wheel(wheel: Path) -> Path:
    """A new venv under the system's temporary folder, mode 755, holding ``wheel``."""
    venv = Path(tempfile.mkdtemp(prefix="borderpath-wheel-"))
    venv.chmod(0o755)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", str(wheel)], check=True, capture_output=True
    )
    return venv
