"""Fixtures of the probe tests: scratch namespaces, responders on the lab's PoPs, and
running the engine inside a namespace from the test process."""

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from borderpath.lab import netns
from borderpath.lab.lab import Lab
from borderpath.probes import Engine, Plumbing, ProbeResult
from borderpath.probes.config import PopConfig, ProbingConfig, Protocol, UplinkConfig
from tests.conftest import unique_lab_name

T = TypeVar("T")
RESPONDER_START_S = 15.0


def in_namespace(namespace: str, main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``main()`` on a fresh event loop whose sockets are created in ``namespace``."""
    with netns.entered(namespace):
        return asyncio.run(main())


@pytest.fixture
def scratch_namespace() -> Iterator[str]:
    """A namespace of our own with loopback up (IPv4 and IPv6), removed afterwards."""
    name = f"{unique_lab_name()}-probe"
    netns.add(name)
    try:
        yield name
    finally:
        netns.delete(name)


def start_responder(namespace: str, listen: list[str], cert_dir: Path) -> subprocess.Popen[bytes]:
    """The command the lab uses too: ``python -m borderpath.probes.responder``."""
    argv = [sys.executable, "-m", "borderpath.probes.responder", "--cert-dir", str(cert_dir)]
    for address in listen:
        argv += ["--listen", address]
    process = subprocess.Popen(
        netns.exec_argv(namespace, argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert process.stdout is not None
    deadline = time.monotonic() + RESPONDER_START_S
    line = process.stdout.readline()
    if not line.startswith(b"responder on") or time.monotonic() > deadline:
        process.kill()
        raise RuntimeError(f"the responder did not start: {line!r}")
    return process


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def lab_responders(shared_lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Responders in every PoP namespace of the shared lab; yields the certificate file."""
    cert_dir = tmp_path_factory.mktemp("pop-cert")
    status = shared_lab.status()
    processes = []
    try:
        for pop in status["pops"]:
            namespace = status["namespaces"]["pops"][pop["name"]]
            processes.append(start_responder(namespace, [pop["probe_address"]], cert_dir))
        yield cert_dir / "cert.pem"
    finally:
        stop(processes)


def lab_uplinks(lab: Lab) -> list[UplinkConfig]:
    return [
        UplinkConfig(
            name=u["name"],
            carrier=u["carrier"],
            interface=u["interface"],
            gateway=u["gateway"],
            source=u["address"],
        )
        for u in lab.status()["uplinks"]
    ]


def lab_pops(lab: Lab, certificate: Path | None, protocols: list[Protocol]) -> list[PopConfig]:
    return [
        PopConfig(
            name=p["name"],
            region=p["region"],
            address=p["probe_address"],
            protocols=protocols,
            tls_ca_file=certificate,
        )
        for p in lab.status()["pops"]
    ]


def probe_lab(
    lab: Lab,
    certificate: Path,
    protocols: list[Protocol],
    *,
    rounds: int,
    probing: ProbingConfig | None = None,
    **only: Any,
) -> list[ProbeResult]:
    """Run ``rounds`` rounds of every series in the lab's branch, plumbing included."""
    uplinks = lab_uplinks(lab)
    pops = lab_pops(lab, certificate, protocols)
    probing = probing or fast_probing()
    results: list[ProbeResult] = []

    async def main() -> None:
        engine = Engine(uplinks, pops, probing, results.extend, rounds=rounds, **only)
        await engine.start()
        try:
            await engine.finished()
        finally:
            await engine.stop()

    plumbing = Plumbing(uplinks, probing)
    with netns.entered(lab.namespace("branch")):
        plumbing.apply()
        try:
            asyncio.run(main())
        finally:
            plumbing.remove()
    return results


def fast_probing(**changes: Any) -> ProbingConfig:
    """Lab speed: a probe of every series every 50 ms (handshakes every 200 ms)."""
    settings: dict[str, Any] = {
        "interval": 0.05,
        "intervals": {"quic": 0.2, "http": 0.2},
        "timeout": 1.0,
        "timeouts": {"quic": 3.0, "http": 3.0},
        "batch_interval": 0.05,
    }
    settings.update(changes)
    return ProbingConfig.model_validate(settings)


PROTOCOL_CLASS = {"icmp": "icmp", "tcp": "tcp", "udp": "udp", "quic": "udp", "http": "tcp"}
"""The lab's conditions are per class: QUIC is UDP, HTTPS is TCP."""


def ground_truth_ms(lab: Lab, uplink: str, pop: str, protocol: str) -> float:
    """The RTT the lab is configured to give a path: delay out + delay in."""
    return sum(
        float(row["delay_ms"])
        for row in lab.status()["conditions"]
        if (row["uplink"], row["pop"], row["protocol"]) == (uplink, pop, PROTOCOL_CLASS[protocol])
    )
