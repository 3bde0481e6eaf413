"""The one exception tree of borderpath.

    BorderpathError     could not do the job (exit code 3)
    ├── ConfigError     a file or option the user gave is wrong (exit code 2)
    │   └── Mistake     ... at a place in a file: FILE[:LINE]: key: message
    ├── LabError        the emulated network could not be built or driven
    ├── ProbeError      a probe could not be set up (not: a probe that failed)
    ├── StorageError    the local store or a sink could not be used
    └── RouteError      the kernel refused a route or rule change

Low-level errors (OSError, sqlite3, netlink) are mapped to the most specific class
where they arise, with ``raise ... from exc``; the CLI prints the message as one line
and exits with the class's code. Exit code 1 is not an error of these: it is a command
that ran and found something bad (a target that never answered, a refused route).
"""

from pathlib import Path


class BorderpathError(Exception):
    """Base of every error borderpath raises on purpose."""

    exit_code = 3


class ConfigError(BorderpathError):
    """A configuration, topology or scenario file, or a command-line option, is wrong."""

    exit_code = 2


class Mistake(ConfigError):
    """A mistake at a place in a config file, one line: ``FILE[:LINE]: key: message``
    (no key when the file itself is wrong: not UTF-8, not TOML)."""

    def __init__(self, file: Path, line: int | None, key: str, message: str) -> None:
        self.file, self.line, self.key, self.message = file, line, key, message
        where = f"{file}:{line}" if line else str(file)
        super().__init__(f"{where}: {key}: {message}" if key else f"{where}: {message}")

    def as_dict(self) -> dict[str, str | int | None]:
        return {"file": str(self.file), "line": self.line, "key": self.key, "message": self.message}


class LabError(BorderpathError):
    """The lab could not be built, driven or taken down."""


class ProbeError(BorderpathError):
    """A probe socket or its uplink binding could not be set up."""


class StorageError(BorderpathError):
    """The local store or a remote sink could not be used."""


class RouteError(BorderpathError):
    """The kernel refused a route or rule change."""
