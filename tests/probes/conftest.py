"""Fixtures of the probe tests: scratch namespaces, the lab's uplinks and PoPs, and
running the engine inside a namespace from the test process."""

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from borderpath.core.protocols import ProtocolName
from borderpath.core.results import ProbeResult
from borderpath.core.topology import PopConfig, UplinkConfig
from borderpath.lab import netns
from borderpath.lab.lab import Lab
from borderpath.probes import Engine, Plumbing
from borderpath.probes.config import ProbingConfig
from borderpath.probes.responder import Responder, ResponderConfig
from tests.conftest import unique_lab_name

T = TypeVar("T")
LOOPBACK = UplinkConfig(name="lo", carrier="none", interface="lo", gateway="127.0.0.1")
"""The uplink of tests on a scratch namespace's loopback (no plumbing there)."""


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


def against_responder(
    namespace: str,
    cert_dir: Path,
    protocol: ProtocolName,
    rounds: int = 2,
    *,
    address: str = "127.0.0.1",
    responder_settings: dict[str, Any] | None = None,
    **pop: Any,
) -> list[ProbeResult]:
    """Probe a responder on this namespace's loopback (IPv4 and IPv6), same event loop."""
    results: list[ProbeResult] = []
    config = ResponderConfig(
        listen=["127.0.0.1", "::1"], cert_dir=cert_dir, **(responder_settings or {})
    )

    async def main() -> None:
        responder = Responder(config)
        await responder.start()
        settings = {"protocols": [protocol], "tls_ca_file": responder.certificate, **pop}
        if "tls_fingerprint" in pop:
            settings.pop("tls_ca_file")
        target = PopConfig(name="self", address=address, **settings)
        engine = Engine([LOOPBACK], [target], fast_probing(), results.extend, rounds=rounds)
        try:
            await engine.start()
            await engine.finished()
            await engine.stop()
        finally:
            responder.close()

    in_namespace(namespace, main)
    return results


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


def lab_pops(lab: Lab, protocols: list[ProtocolName]) -> list[PopConfig]:
    """The lab's PoPs, each pinned to the certificate its responder presents and keyed
    with its echo key (``lab up`` starts a responder in every PoP namespace)."""
    return [
        PopConfig(
            name=p["name"],
            region=p["region"],
            address=p["probe_address"],
            protocols=protocols,
            tls_ca_file=p["certificate"],
            key_file=p["key_file"],
        )
        for p in lab.status()["pops"]
    ]


def probe_lab(
    lab: Lab,
    protocols: list[ProtocolName],
    *,
    rounds: int,
    probing: ProbingConfig | None = None,
    **only: Any,
) -> list[ProbeResult]:
    """Run ``rounds`` rounds of every series in the lab's branch, plumbing included."""
    uplinks = lab_uplinks(lab)
    pops = lab_pops(lab, protocols)
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
    return lab.configured_rtts(PROTOCOL_CLASS[protocol])[(uplink, pop)]
