"""Run the real agent in a lab's branch namespace, as an operator would."""

import contextlib
import http.client
import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from borderpath.lab import netns
from borderpath.lab.agent_config import agent_config, borderpath_argv
from borderpath.lab.lab import Lab
from tests import ecosystem

START_TIMEOUT_S = 20.0


def write_config(lab: Lab, directory: Path, extra: str = "", port: int | None = None) -> Path:
    """The lab's agent config with the data in ``directory``; its status API on the
    branch's loopback ``port``, or (None) on a unix socket in ``directory``."""
    text = agent_config(lab.status(), directory / "data")
    listen = directory / "status.sock" if port is None else f"127.0.0.1:{port}"
    text += f'\n[status]\nlisten = "{listen}"\n{extra}'
    path = directory / "agent.toml"
    path.write_text(text)
    return path


class AgentProcess:
    def __init__(
        self,
        lab: Lab,
        config: Path,
        borderpath: list[str] | None = None,
        port: int | None = None,
    ) -> None:
        """``borderpath``: the command that runs borderpath (default: this interpreter's);
        ``port``: the one given to write_config (None: the unix socket)."""
        self.lab, self.config, self.port = lab, config, port
        self.socket = config.parent / "status.sock"
        self.log = config.parent / "agent.log"
        argv = [*(borderpath or borderpath_argv()), "agent", "run", "--config", str(config)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                netns.exec_argv(lab.namespace("branch"), argv),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_answering()

    def status(self) -> dict[str, Any]:
        document: dict[str, Any] = self.get("/status").json()
        return document

    def get(self, path: str) -> httpx.Response:
        if self.port is not None:
            status, body = ecosystem.get(self.lab.namespace("branch"), self.port, path, timeout=3)
            return httpx.Response(status, content=body)
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(self.socket)), timeout=3) as client:
            return client.get(f"http://agent{path}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Signal the agent and wait; its exit code (or -9 if it had to be killed)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                return -9
        return self.process.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def _wait_answering(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the agent exited: {self.output()[-2000:]}")
            try:
                self.status()
                return
            except (httpx.HTTPError, http.client.HTTPException, OSError, json.JSONDecodeError):
                time.sleep(0.1)
        self.stop()
        raise AssertionError(f"the agent did not answer in time: {self.output()[-2000:]}")


@contextlib.contextmanager
def running_agent(lab: Lab, config: Path, settle_s: float) -> Iterator[AgentProcess]:
    """The agent, once every PoP has a choice and ``settle_s`` more have passed; stopped
    after the block, which must leave no traceback in its output."""
    agent = AgentProcess(lab, config)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while len(agent.status()["pops"]) < len(lab.plan.pops) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(settle_s)
        yield agent
    finally:
        agent.stop()
    assert "Traceback" not in agent.output()


def lan_uplink(lab: Lab, pop: str) -> str:
    """Which uplink the LAN host's traffic to ``pop``'s service leaves by, per the kernel."""
    service = str(lab.plan.pop(pop).service_address)
    argv = ["ip", "route", "get", service, "from", "192.0.2.10", "iif", "lan"]
    out = netns.run_in(lab.namespace("branch"), argv)
    return out.split(" dev ")[1].split()[0]
