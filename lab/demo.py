"""``borderpath demo``: three minutes of a branch's evening, with the real agent.

It builds the lab, runs the agent in the branch namespace, plays a scenario (the
built-in one: an evening peak on ct, the premium circuit to Hong Kong going dark and
coming back, UDP policing on cm, a border route change to Tokyo), shows the uplink x
PoP matrix live with each decision as it happens, then prints a summary, draws a chart
and takes everything down. Ctrl-C at any time leaves nothing behind.
"""

import contextlib
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import FrameType

from borderpath.agent.matrix import CLEAR, fetch_status, matrix
from borderpath.core.errors import BorderpathError
from borderpath.core.events import EventKind, EventRecord
from borderpath.core.progress import Progress
from borderpath.lab import netns
from borderpath.lab.agent_config import agent_config, borderpath_argv
from borderpath.lab.demo_report import draw_chart, summary
from borderpath.lab.lab import Lab
from borderpath.lab.scenario import load_scenario
from borderpath.storage import Store

DEMO_NAME = "bpdemo"
DEMO_SCENARIO = Path(__file__).with_name("scenarios") / "demo.toml"
REFRESH_S = 1.0
SHOWN_EVENTS = 8


def run_demo(scenario: Path | None = None, chart: Path = Path("borderpath-demo.png")) -> int:
    scenario = scenario or DEMO_SCENARIO
    signal.signal(signal.SIGTERM, _interrupt)
    with tempfile.TemporaryDirectory(prefix="borderpath-demo-") as directory:
        workdir = Path(directory)
        with Progress() as progress:
            progress.show("building the emulated China border (network namespaces)...")
            Lab(DEMO_NAME).down()  # a demo killed earlier leaves nothing in the way
            lab = Lab.up(DEMO_NAME, scenario=scenario)
        agent: subprocess.Popen[bytes] | None = None
        try:
            config = _write_config(lab, workdir)
            agent = _start_agent(lab, config, workdir / "agent.log")
            duration = load_scenario(scenario, lab.plan.topology).duration or 180.0
            started = lab.status()["scenario"]["started_unix"]
            _watch(lab, config, workdir / "data" / "borderpath.db", started, duration)
        except KeyboardInterrupt:
            print("\nInterrupted: taking everything down.")
            return 130
        finally:
            with Progress() as progress:
                progress.show("stopping the agent and taking the lab down...")
                if agent is not None:
                    _stop(agent)
                lab.down()
        database = workdir / "data" / "borderpath.db"
        print(summary(database, started))
        with Progress() as progress:
            progress.show(f"drawing {chart}...")
            draw_chart(database, started, chart)
        print(f"\nChart of RTT and loss per path, switches marked: {chart}")
        print("Lab taken down.")
    return 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _write_config(lab: Lab, workdir: Path) -> Path:
    text = agent_config(lab.status(), workdir / "data")
    path = workdir / "agent.toml"
    path.write_text(text + f'\n[status]\nlisten = "{workdir / "status.sock"}"\n')
    return path


def _start_agent(lab: Lab, config: Path, log: Path) -> "subprocess.Popen[bytes]":
    argv = borderpath_argv("agent", "run", "--config", str(config))
    with log.open("wb") as output:
        return subprocess.Popen(
            netns.exec_argv(lab.namespace("branch"), argv), stdout=output, stderr=subprocess.STDOUT
        )


def _stop(agent: "subprocess.Popen[bytes]") -> None:
    agent.send_signal(signal.SIGTERM)
    try:
        agent.wait(10)
    except subprocess.TimeoutExpired:
        agent.kill()
        agent.wait()


def _watch(lab: Lab, config: Path, database: Path, started: float, duration: float) -> None:
    """Redraw the matrix and the latest decisions every second until the scenario ends."""
    listen = str(config.parent / "status.sock")
    while (elapsed := time.time() - started) < duration:
        screen = [f"borderpath demo: scenario at {elapsed:5.1f} s of {duration:.0f} s", ""]
        try:
            screen.append(matrix(fetch_status(listen)))
        except BorderpathError:
            screen.append("(the agent is starting...)")
        screen += ["", "Latest events:"]
        screen += [_event_line(event, started) for event in _recent_events(database)]
        screen += ["", "Scenario: " + _scenario_line(lab)]
        print(CLEAR + "\n".join(screen), flush=True)
        time.sleep(REFRESH_S)


def _recent_events(database: Path) -> list[EventRecord]:
    if not database.exists():
        return []
    with contextlib.closing(Store.open_read_only(database)) as store:
        events = [e for e in store.query_events(0) if e.kind != EventKind.AGENT_START]
    return events[-SHOWN_EVENTS:]


def _event_line(event: EventRecord, started: float) -> str:
    at = event.time_ns / 1e9 - started
    return f"  {at:6.1f} s  {event.kind:<15} {event.text}"


def _scenario_line(lab: Lab) -> str:
    applied = lab.status()["scenario"]["events"]
    if not applied:
        return "calm so far"
    last = applied[-1]
    what = " ".join(f"{key}={value}" for key, value in last["event"].items())
    return f"latest change at {last['at']:.0f} s: {what}"
