"""Network namespaces of the lab: run commands in them and open sockets inside them.

Nothing here touches the machine's own namespace: every command carries ``-n NS`` or
runs under ``ip netns exec NS``, and ``socket_in`` enters a namespace on the calling
thread only for as long as it takes to create the socket.
"""

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

from borderpath.core.errors import LabError

_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def run(argv: Sequence[str], *, stdin: str | None = None, check: bool = True) -> str:
    """Run a command; a failure becomes a LabError naming the command and its complaint."""
    try:
        done = subprocess.run(
            list(argv), input=stdin, capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LabError(f"cannot run {argv[0]}: {exc}") from exc
    if check and done.returncode != 0:
        complaint = (done.stderr or done.stdout).strip().splitlines()
        detail = complaint[-1] if complaint else f"exit code {done.returncode}"
        raise LabError(f"'{' '.join(argv)}' failed: {detail}")
    return done.stdout


def exec_argv(namespace: str, argv: Sequence[str]) -> list[str]:
    """The argv that runs ``argv`` inside ``namespace``."""
    return ["ip", "netns", "exec", namespace, *argv]


def run_in(namespace: str, argv: Sequence[str], *, check: bool = True) -> str:
    return run(exec_argv(namespace, argv), check=check)


def ip_batch(namespace: str, commands: Sequence[str]) -> None:
    """Run ``ip`` commands in one process inside ``namespace`` (one line each)."""
    if commands:
        run(["ip", "-n", namespace, "-batch", "-"], stdin="\n".join(commands) + "\n")


def existing() -> list[str]:
    """Names of the network namespaces that exist now."""
    out = run(["ip", "netns", "list"])
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def add(namespace: str) -> None:
    run(["ip", "netns", "add", namespace])
    ip_batch(namespace, ["link set lo up"])


def delete(namespace: str) -> None:
    """Stop every process inside ``namespace``, then remove it (and its interfaces)."""
    for pid in pids(namespace):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)  # reap it if this process started it
    run(["ip", "netns", "delete", namespace], check=False)


def pids(namespace: str) -> list[int]:
    out = run(["ip", "netns", "pids", namespace], check=False)
    return [int(pid) for pid in out.split() if pid.isdigit()]


@contextlib.contextmanager
def entered(namespace: str) -> Iterator[None]:
    """Run the body with this thread inside ``namespace``, then return to where it was."""
    with (
        Path("/proc/thread-self/ns/net").open("rb") as home,
        Path(f"/run/netns/{namespace}").open("rb") as target,
    ):
        _setns(target.fileno(), namespace)
        try:
            yield
        finally:
            _setns(home.fileno(), "the original namespace")


def socket_in(namespace: str, family: int, kind: int, proto: int = 0) -> socket.socket:
    """A socket that lives in ``namespace`` whichever namespace later uses it."""
    with entered(namespace):
        return socket.socket(family, kind, proto)


def _setns(fd: int, name: str) -> None:
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise LabError(f"cannot enter network namespace {name}: {os.strerror(error)}")
