"""A running lab: bring it up, drive its scenario, read its state, take it down."""

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from borderpath.core.errors import ConfigError, LabError
from borderpath.lab import netns, responders
from borderpath.lab.build import build, teardown
from borderpath.lab.layout import DEFAULT_NAME, LabFiles, check_name
from borderpath.lab.measure import silent
from borderpath.lab.scenario import Event, load_scenario
from borderpath.lab.topology import LAN_HOST, LAN_PREFIX, LAN_ROUTER, LabPlan, load_topology

REQUIRED_COMMANDS = ("ip", "nft", "ethtool", "sysctl", "fping")
ENGINE_START_TIMEOUT_S = 10.0
CONTROL_TIMEOUT_S = 5.0


class Lab:
    def __init__(self, name: str = DEFAULT_NAME) -> None:
        self.name = check_name(name)
        self.files = LabFiles.of(name)
        self._plan: LabPlan | None = None

    @property
    def plan(self) -> LabPlan:
        if self._plan is None:
            self._plan = self.files.load_plan()[0]
        return self._plan

    @classmethod
    def up(
        cls, name: str = DEFAULT_NAME, topology: Path | None = None, scenario: Path | None = None
    ) -> "Lab":
        """Build the lab and start its scenario; return once every live path answers."""
        lab = cls(name)
        _preflight()
        checked = load_topology(topology)
        if scenario is not None:
            load_scenario(scenario, checked)
        if lab.files.exists() or any(ns.startswith(f"{name}-") for ns in netns.existing()):
            raise LabError(
                f"a lab named {name!r} is already up "
                f"(take it down with 'borderpath lab down --name {name}')"
            )
        lab.files.create(topology, scenario)
        try:
            build(lab.plan)
            responders.start(lab.plan, lab.files)
            lab._start_engine()
            lab._wait_answering()
            lab._start_scenario()
        except BaseException:
            lab.down()
            raise
        return lab

    def down(self) -> None:
        """Remove every namespace, process and file of this lab; fine to run twice."""
        teardown(self.name)
        self.files.remove()

    def namespace(self, role: str) -> str:
        """The namespace of ``branch``, ``lan``, ``border``, an uplink's carrier or a PoP."""
        return self.plan.namespace(role)

    def exec(self, role: str, argv: list[str]) -> int:
        """Run ``argv`` in the namespace of ``role`` with this terminal; its exit code."""
        try:
            namespace = self.namespace(role)
        except KeyError:
            raise ConfigError(f"--ns {role!r}: lab {self.name!r} has no such namespace") from None
        return subprocess.call(netns.exec_argv(namespace, argv))

    def apply(self, changes: list[dict[str, Any]]) -> None:
        """Send events to the running engine; each ``at`` (default 0) counts from now."""
        context = {"uplinks": self.plan.topology.uplink_names, "pops": self.plan.topology.pop_names}
        events = [Event.model_validate({"at": 0, **change}, context=context) for change in changes]
        self._send({"events": [event.model_dump(exclude_none=True) for event in events]})

    def _send(self, message: dict[str, Any]) -> None:
        """Send a control message and wait until the engine has acted on it."""
        reply_path = self.files.directory / f"reply-{os.getpid()}-{threading.get_ident()}.sock"
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            try:
                sock.bind(str(reply_path))
                sock.settimeout(CONTROL_TIMEOUT_S)
                sock.sendto(json.dumps(message).encode(), str(self.files.control))
                reply = json.loads(sock.recv(4096))
            except (OSError, ValueError) as exc:
                raise LabError(f"the lab {self.name!r} engine does not answer ({exc})") from exc
            finally:
                reply_path.unlink(missing_ok=True)
        if "error" in reply:
            raise LabError(f"the lab engine refused the change: {reply['error']}")

    def engine_state(self) -> dict[str, Any]:
        return self.files.read_json(self.files.engine_state)

    def status(self) -> dict[str, Any]:
        """The documented ``lab status --json`` contract (docs/lab.md)."""
        lab_plan, scenario = self.files.load_plan()
        state = self.engine_state()
        return {
            "name": self.name,
            "namespaces": {
                "branch": lab_plan.branch,
                "lan": lab_plan.lan,
                "border": lab_plan.border,
                "carriers": {u.name: u.namespace for u in lab_plan.uplinks},
                "pops": {p.name: p.namespace for p in lab_plan.pops},
            },
            "uplinks": [
                {
                    "name": u.name,
                    "carrier": u.carrier,
                    "backbone": u.backbone,
                    "interface": u.interface,
                    "address": str(u.address.ip),
                    "prefix": str(u.address.network),
                    "gateway": str(u.gateway),
                }
                for u in lab_plan.uplinks
            ],
            "pops": [
                {
                    "name": p.name,
                    "region": p.region,
                    "probe_address": str(p.probe_address),
                    "prefixes": [str(p.prefix)],
                    "service_address": str(p.service_address),
                    "certificate": str(responders.certificate(self.files, p.name)),
                    "key_file": str(responders.key_file(self.files, p.name)),
                }
                for p in lab_plan.pops
            ],
            "lan": {
                "host": str(LAN_HOST),
                "prefix": str(LAN_PREFIX),
                "router": str(LAN_ROUTER),
                "branch_interface": "lan",
            },
            "scenario": {
                "name": scenario.name,
                "duration_s": scenario.duration,
                "started_unix": state.get("started_unix"),
                "events": state.get("events", []),
                "pending": state.get("pending", 0),
            },
            "engine": {"running": bool(state.get("ready")), "pid": state.get("pid")},
            "conditions": state.get("conditions", []),
            "counters": state.get("counters", []),
        }

    def configured_rtts(self, protocol: str = "icmp") -> dict[tuple[str, str], float]:
        """The RTT each (uplink, pop) path is set to give now: delay out + delay in, in ms,
        for one protocol class (icmp, tcp, udp, other)."""
        rtts: dict[tuple[str, str], float] = {}
        for row in self.engine_state().get("conditions", []):
            if row["protocol"] == protocol:
                path = (row["uplink"], row["pop"])
                rtts[path] = rtts.get(path, 0.0) + float(row["delay_ms"])
        return rtts

    def _start_engine(self) -> None:
        argv = [sys.executable, "-m", "borderpath.lab.engine", str(self.files.directory)]
        with self.files.engine_log.open("ab") as log:
            process = subprocess.Popen(
                netns.exec_argv(self.plan.border, argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + ENGINE_START_TIMEOUT_S
        while not self.engine_state().get("ready"):
            if process.poll() is not None or time.monotonic() > deadline:
                last = self.files.engine_log.read_text(errors="replace").strip().splitlines()[-1:]
                raise LabError(
                    f"the impairment engine did not start: {last[0] if last else 'no output'}"
                )
            time.sleep(0.02)

    def _start_scenario(self) -> None:
        self._send({"start": True})
        deadline = time.monotonic() + ENGINE_START_TIMEOUT_S
        while self.engine_state().get("started_unix") is None:
            if time.monotonic() > deadline:
                raise LabError("the impairment engine did not start the scenario")
            time.sleep(0.01)

    def _wait_answering(self) -> None:
        """Every path whose ICMP is not cut by the scenario must answer a ping."""
        state = self.engine_state()
        dead = {
            (row["uplink"], row["pop"])
            for row in state.get("conditions", [])
            if row["protocol"] == "icmp" and (row["blackhole"] or row["loss"] >= 0.5)
        }
        probes: dict[str, list[str]] = {}
        for path in self.plan.paths:
            if (path.uplink.name, path.pop.name) not in dead:
                probes.setdefault(path.pop.namespace, []).append(str(path.uplink.address.ip))
        quiet = [f"{target} from {namespace}" for namespace, target in silent(probes)]
        if quiet:
            raise LabError(f"the lab was built but these paths do not answer: {', '.join(quiet)}")


def _preflight() -> None:
    missing = [command for command in REQUIRED_COMMANDS if shutil.which(command) is None]
    if missing:
        raise LabError(
            f"the lab needs {', '.join(missing)} "
            "(Debian: apt-get install iproute2 nftables ethtool procps fping)"
        )
    if os.geteuid() != 0:
        raise LabError("the lab needs root: it creates network namespaces (run it with sudo)")
