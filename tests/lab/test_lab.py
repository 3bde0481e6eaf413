"""The emulated border as a measuring instrument: delay, loss, events, cuts, forgeries.

Each test after the first works on a path of its own, so they share one lab.
"""

import math
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from borderpath.lab import netns
from borderpath.lab.frames import FORGED_TTL, checksum
from borderpath.lab.hops import hop_addresses
from borderpath.lab.lab import Lab
from borderpath.lab.measure import fping_rtts, summary
from tests.conftest import FileWriter, LabFactory, unique_lab_name

pytestmark = pytest.mark.lab

Z_99 = 2.576
"""Two-sided 99 % quantile of the normal distribution, for binomial loss bounds."""


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    name = unique_lab_name()
    try:
        yield Lab.up(name)
    finally:
        Lab(name).down()


def uplink_address(lab: Lab, uplink: str) -> str:
    return str(lab.plan.uplink(uplink).address.ip)


def pop_address(lab: Lab, pop: str) -> str:
    return str(lab.plan.pop(pop).probe_address)


def ping_path(
    lab: Lab, uplink: str, pop: str, count: int, period_ms: float = 10
) -> list[float | None]:
    """Ping an uplink's address from the PoP: exactly that path, both ways."""
    address = uplink_address(lab, uplink)
    return fping_rtts(lab.namespace(pop), [address], count, period_ms)[address]


def udp_pair(
    lab: Lab, sender_role: str, sender_ip: str, receiver_role: str, receiver_ip: str
) -> bool:
    """Does a datagram from ``sender`` reach ``receiver`` (three tries)?"""
    with (
        netns.socket_in(
            lab.namespace(receiver_role), socket.AF_INET, socket.SOCK_DGRAM
        ) as receiver,
        netns.socket_in(lab.namespace(sender_role), socket.AF_INET, socket.SOCK_DGRAM) as sender,
    ):
        receiver.bind((receiver_ip, 0))
        receiver.settimeout(0.5)
        sender.bind((sender_ip, 0))
        for _ in range(3):
            sender.sendto(b"borderpath-lab-test", receiver.getsockname())
            try:
                return receiver.recv(100) == b"borderpath-lab-test"
            except TimeoutError:
                continue
    return False


def tcp_connects(lab: Lab, uplink: str, pop: str) -> bool:
    """Can the PoP open a TCP connection to the branch's uplink address?"""
    with (
        netns.socket_in(lab.namespace("branch"), socket.AF_INET, socket.SOCK_STREAM) as server,
        netns.socket_in(lab.namespace(pop), socket.AF_INET, socket.SOCK_STREAM) as client,
    ):
        server.bind((uplink_address(lab, uplink), 0))
        server.listen()
        client.settimeout(1.5)
        try:
            client.connect(server.getsockname())
        except OSError:
            return False
        return True


def test_rtt_matches_the_configured_delay_on_every_path_at_2000_packets_per_second(
    lab: Lab,
) -> None:
    status = lab.status()
    configured = lab.configured_rtts()
    addresses = {u["address"]: u["name"] for u in status["uplinks"]}
    pops = [p["name"] for p in status["pops"]]
    # 5 PoPs x 3 uplinks, each pinged every 7.5 ms: 2,000 echo requests a second in all.
    with ThreadPoolExecutor(len(pops)) as pool:
        runs = {
            pop: pool.submit(fping_rtts, lab.namespace(pop), list(addresses), 400, 7.5)
            for pop in pops
        }
    for pop, run in runs.items():
        for address, samples in run.result().items():
            uplink = addresses[address]
            median, loss = summary(samples)
            expected = configured[(uplink, pop)]
            assert median is not None and abs(median - expected) <= 1.0, (
                uplink,
                pop,
                median,
                expected,
            )
            assert loss < 0.05, (uplink, pop, loss)


def test_loss_is_within_the_binomial_bound_of_what_was_set(lab: Lab) -> None:
    lab.apply([{"uplink": "ct", "pop": "nrt", "loss": 0.1}])
    samples = ping_path(lab, "ct", "nrt", count=1000, period_ms=5)
    _, loss = summary(samples)
    expected = 1 - (1 - 0.1) ** 2  # lost on the way out or on the way back
    bound = Z_99 * math.sqrt(expected * (1 - expected) / len(samples))
    assert abs(loss - expected) <= bound, (loss, expected, bound)


def test_blackhole_drops_everything_and_lifting_it_restores_the_path(lab: Lab) -> None:
    lab.apply([{"uplink": "ct", "pop": "hkg", "blackhole": True}])
    assert summary(ping_path(lab, "ct", "hkg", count=10))[1] == 1.0
    assert not udp_pair(lab, "hkg", pop_address(lab, "hkg"), "branch", uplink_address(lab, "ct"))
    assert not tcp_connects(lab, "ct", "hkg")
    lab.apply([{"uplink": "ct", "pop": "hkg", "blackhole": False}])
    assert summary(ping_path(lab, "ct", "hkg", count=10))[1] < 0.5
    assert tcp_connects(lab, "ct", "hkg")


def test_a_udp_event_drops_udp_only(lab: Lab) -> None:
    lab.apply([{"uplink": "cu", "pop": "nrt", "protocol": "udp", "blackhole": True}])
    assert not udp_pair(lab, "nrt", pop_address(lab, "nrt"), "branch", uplink_address(lab, "cu"))
    assert summary(ping_path(lab, "cu", "nrt", count=10))[1] < 0.5
    assert tcp_connects(lab, "cu", "nrt")


def test_direction_in_affects_only_what_comes_back_to_the_branch(lab: Lab) -> None:
    lab.apply([{"uplink": "cm", "pop": "sin", "direction": "in", "blackhole": True}])
    branch_side, pop_side = uplink_address(lab, "cm"), pop_address(lab, "sin")
    assert udp_pair(lab, "branch", branch_side, "sin", pop_side)
    assert not udp_pair(lab, "sin", pop_side, "branch", branch_side)


def test_event_changes_the_path_at_its_time(
    make_lab: LabFactory, scenario_file: FileWriter
) -> None:
    lab = make_lab(
        scenario=scenario_file('[[events]]\nat = "2s"\nuplink = "cu"\npop = "hkg"\ndelay_ms = 60\n')
    )
    started = lab.status()["scenario"]["started_unix"]
    argv = ["fping", "-D", "-c", "250", "-p", "20", "-t", "1000", uplink_address(lab, "cu")]
    out = subprocess.run(
        netns.exec_argv(lab.namespace("hkg"), argv), capture_output=True, text=True, check=False
    ).stdout
    changed_at = None
    replies = (line for line in out.splitlines() if "bytes," in line)  # not "timed out"
    for line in replies:
        stamp, _, rest = line.partition("]")
        rtt = float(rest.split("bytes,")[1].split("ms")[0])
        if rtt > 34 + 10:
            changed_at = float(stamp.lstrip("[")) - rtt / 1000 - started
            break
    assert changed_at is not None and abs(changed_at - 2.0) <= 0.2, changed_at


def trace(lab: Lab, uplink: str, pop: str) -> list[str | None]:
    """The hops after the carrier's gateway, as ``ping -t`` sees them (None: silent)."""
    hops: list[str | None] = []
    for ttl in range(2, 12):
        argv = ["ping", "-n", "-c1", "-W1", "-t", str(ttl), "-I", uplink_address(lab, uplink)]
        argv.append(pop_address(lab, pop))
        out = subprocess.run(
            netns.exec_argv(lab.namespace("branch"), argv),
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        if "bytes from" in out:
            return hops
        hops.append(out.split("From ")[1].split()[0] if "From " in out else None)
    raise AssertionError(f"no answer from {pop} within 11 hops: {hops}")


def test_traces_cross_the_uplinks_backbone_and_follow_a_route_change(lab: Lab) -> None:
    ct_163 = [str(a) if a else None for a in hop_addresses("ct-163", 3)]
    assert trace(lab, "ct", "sin") == ct_163
    lab.apply([{"uplink": "ct", "pop": "sin", "route": "ct-cn2-gia"}])
    after = trace(lab, "ct", "sin")
    assert after == [str(a) if a else None for a in hop_addresses("ct-cn2-gia", 3)]
    assert any(hop and hop.startswith("198.18.2.") for hop in after)  # CN2's block


def raw_socket(lab: Lab, protocol: int) -> socket.socket:
    sock = netns.socket_in(lab.namespace("branch"), socket.AF_INET, socket.SOCK_RAW, protocol)
    sock.settimeout(0.05)
    return sock


def collect(sock: socket.socket, seconds: float) -> list[bytes]:
    packets, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            packets.append(sock.recv(2048))
        except TimeoutError:
            continue
    return packets


def test_injected_resets_arrive_first_with_a_forged_ttl(lab: Lab) -> None:
    lab.apply([{"uplink": "cm", "pop": "lax", "inject": "rst"}])
    with raw_socket(lab, socket.IPPROTO_TCP) as capture:
        client = netns.socket_in(lab.namespace("branch"), socket.AF_INET, socket.SOCK_STREAM)
        with client:
            client.bind((uplink_address(lab, "cm"), 0))
            port = client.getsockname()[1]
            started = time.monotonic()
            with pytest.raises(ConnectionRefusedError):
                client.connect((pop_address(lab, "lax"), 443))
            refused_after = time.monotonic() - started
        resets = [p for p in collect(capture, 0.6) if struct.unpack("!H", p[22:24])[0] == port]
    # Injected at the border, one router (the carrier's) before the branch.
    forged = [p for p in resets if p[8] == FORGED_TTL - 1]
    genuine = [p for p in resets if p[8] != FORGED_TTL - 1]
    assert len(forged) == 3
    assert refused_after < 0.05  # long before the real PoP could answer (180 ms away)
    assert len(genuine) == 1  # the PoP's own reset, later, with its own TTL


def echo_request(identifier: int, payload: bytes) -> bytes:
    header = struct.pack("!BBHHH", 8, 0, 0, identifier, 1)
    value = checksum(header + payload)
    return header[:2] + struct.pack("!H", value) + header[4:] + payload


def test_injected_echoes_answer_even_what_the_path_dropped(lab: Lab) -> None:
    lab.apply([{"uplink": "ct", "pop": "fra", "inject": "echo", "blackhole": True}])
    with raw_socket(lab, socket.IPPROTO_ICMP) as sock:
        sock.bind((uplink_address(lab, "ct"), 0))
        sock.sendto(echo_request(0x4242, b"nonce-0123456789"), (pop_address(lab, "fra"), 0))
        replies = [p for p in collect(sock, 0.5) if p[20] == 0 and p[24:26] == b"\x42\x42"]
    assert len(replies) == 1
    assert replies[0][8] == FORGED_TTL - 1 and replies[0][28:] == bytes(16)
    with netns.socket_in(lab.namespace("branch"), socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind((uplink_address(lab, "ct"), 0))
        udp.settimeout(1)
        udp.sendto(b"BPE1seq!secret-nonce", (pop_address(lab, "fra"), 7))
        assert udp.recv(100) == b"BPE1seq!" + bytes(12)
