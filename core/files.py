"""Small files an operator names in a config: secrets, keys and CA files."""

import os
import stat
from pathlib import Path

MAX_FILE_BYTES = 1 << 20
"""Larger than any secret, key or CA bundle: a path to a disk image or a log is a typo."""


def not_a_small_file(path: Path) -> str | None:
    """Why ``path`` cannot be a secret, key or CA file (missing, a device such as
    /dev/zero, a pipe, a disk image, unreadable); None when it can be read at once."""
    try:
        status = path.stat()
    except OSError as exc:
        return f"cannot read {path} ({exc.strerror})"
    if not stat.S_ISREG(status.st_mode):
        return f"{path} is not a regular file"
    if status.st_size > MAX_FILE_BYTES:
        return f"{path} is {status.st_size} bytes: not a secret, key or CA file"
    if not os.access(path, os.R_OK):
        return f"cannot read {path} (Permission denied)"
    return None
