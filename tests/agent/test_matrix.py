"""``borderpath status`` (the terminal matrix) and ``status --watch``, run in a subprocess
against a real status API on a unix socket serving an agent's document."""

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from borderpath.agent.status_api import StatusServer
from tests.alerts.synthetic import BASE_CONFIG


def path(uplink: str, pop: str, state: str, selected: bool = False) -> dict[str, Any]:
    return {
        "uplink": uplink,
        "pop": pop,
        "state": state,
        "selected": selected,
        "loss": 0.125 if state != "up" else 0.0,
        "rtt_p95_ms": 48.0,
    }


DOCUMENT = {
    "site": "sha-1",
    "uptime_s": 42.0,
    "paths": [
        path("ct", "hkg", "interfered"),
        path("ct", "singapore", "up", selected=True),
        path("premium", "hkg", "up", selected=True),
        path("premium", "singapore", "degraded"),
    ],
    "pops": {
        "hkg": {"uplinks": [{"uplink": "premium"}], "reason": "best score"},
        "singapore": {"uplinks": [{"uplink": "ct"}], "reason": "best score"},
    },
}
"""Long names and the longest state on purpose: columns must still line up."""


@contextlib.contextmanager
def serving(socket_path: Path, document: dict[str, Any]) -> Iterator[None]:
    """The agent's own status server, on its own event loop in a thread."""
    body = json.dumps(document).encode()
    server = StatusServer(str(socket_path), {"/status": lambda: ("application/json", body)})
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(5)
    try:
        yield
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def config_for(tmp_path: Path) -> Path:
    config = tmp_path / "agent.toml"
    config.write_text(BASE_CONFIG + f'[status]\nlisten = "{tmp_path / "status.sock"}"\n')
    return config


def borderpath(*argv: str) -> list[str]:
    return [sys.executable, "-m", "borderpath.agent.cli", *argv]


def test_matrix_columns_line_up_whatever_the_names_and_states(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    with serving(tmp_path / "status.sock", DOCUMENT):
        done = subprocess.run(
            borderpath("status", "--config", str(config)),
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    assert done.returncode == 0, done.stderr
    header, ct, premium = done.stdout.splitlines()[2:5]
    assert header.split() == ["hkg", "singapore"]
    column = header.index("singapore")
    assert ct.startswith("ct") and premium.startswith("premium")
    assert ct[column - 2 :].startswith("  *") and premium[column - 2 :].startswith("   ")
    assert ct[:column].rstrip().endswith("interfered")
    assert premium[column:].split()[-1] == "degraded"
    assert header.index("hkg") == ct.index(" 12.5%") == premium.index("*")


def test_watch_redraws_until_ctrl_c_and_exits_0(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    with serving(tmp_path / "status.sock", DOCUMENT):
        watch = subprocess.Popen(
            borderpath("status", "--config", str(config), "--watch", "200ms", "--json"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert watch.stdout is not None
        documents = [json.loads(watch.stdout.readline()) for _ in range(4)]
        started = time.monotonic()
        documents.append(json.loads(watch.stdout.readline()))
        between = time.monotonic() - started
        watch.send_signal(signal.SIGINT)
        _, err = watch.communicate(timeout=10)
    assert watch.returncode == 0, err
    assert all(document == DOCUMENT for document in documents)
    assert 0.1 < between < 1.0


def test_watch_says_on_stderr_when_the_agent_is_gone_and_goes_on(tmp_path: Path) -> None:
    watch = subprocess.Popen(
        borderpath("status", "--config", str(config_for(tmp_path)), "--watch", "200ms"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert watch.stdout is not None and watch.stderr is not None
    said = watch.stderr.readline()
    with serving(tmp_path / "status.sock", DOCUMENT):
        first = watch.stdout.readline()
        screen = [watch.stdout.readline() for _ in range(3)]
        watch.send_signal(signal.SIGINT)
        watch.communicate(timeout=10)
    assert watch.returncode == 0
    assert said.startswith("borderpath: no agent answers on ")
    assert first.startswith("every 200ms, ") and "\x1b[2J" not in first  # a pipe: no clearing
    assert screen[0] == "site sha-1, up 42 s\n"
