"""The UDP echo's per-PoP key: a file of hex digits, read by the agent and the responder.

``openssl rand -hex 32 > hkg.key`` makes one; both ends name the same file content.
The key itself is never kept in a config model, logged or shown: only its path is.
"""

from pathlib import Path

from borderpath.core.errors import ConfigError
from borderpath.core.files import not_a_small_file

KEY_BYTES_MIN = 16
KEY_BYTES_MAX = 32
"""BLAKE2s takes keys of up to 32 bytes; fewer than 16 would be guessable."""


def read_key(path: Path) -> bytes:
    """The key in ``path``; ValueError names the file and says what is wrong, never what
    the file holds."""
    problem = not_a_small_file(path)
    if problem is not None:
        raise ValueError(problem)
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not hex digits"
        raise ValueError(f"cannot read the key file {path}: {reason}") from None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ValueError(
            f"the key file {path} must hold hex digits only (openssl rand -hex 32)"
        ) from None
    if not KEY_BYTES_MIN <= len(key) <= KEY_BYTES_MAX:
        raise ValueError(
            f"the key file {path} holds {len(key)} bytes; a key is {KEY_BYTES_MIN} to "
            f"{KEY_BYTES_MAX} bytes ({2 * KEY_BYTES_MIN} to {2 * KEY_BYTES_MAX} hex digits)"
        )
    return key


def load_key(path: Path | None, setting: str) -> bytes | None:
    """The key when a program starts (checked when its config was loaded; read again, as
    the file may have changed since): a ConfigError naming ``setting`` and the file."""
    if path is None:
        return None
    try:
        return read_key(path)
    except ValueError as exc:
        raise ConfigError(f"{setting}: {exc}") from None


def checked(path: Path | None) -> Path | None:
    """A pydantic validator: the key file is readable and holds a key (checked at load,
    so a mistake is reported with the config's line)."""
    if path is not None:
        read_key(path)
    return path
