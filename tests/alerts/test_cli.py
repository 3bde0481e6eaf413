"""``borderpath alerts test``: one test alert to every receiver, each one's fate a line."""

import subprocess
import sys
from pathlib import Path

from tests.alerts.receiver import Receiver
from tests.alerts.synthetic import BASE_CONFIG

CONFIG = (
    BASE_CONFIG
    + """[status]
listen = "{socket}"
[alerts]
timeout = "2s"
[[alerts.webhooks]]
url = "{url}"
format = "slack"
[[alerts.webhooks]]
name = "closed"
url = "http://127.0.0.1:9/nobody"
"""
)


def _borderpath(*argv: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "borderpath.agent.cli", *argv]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=30)


def test_test_sends_to_every_receiver_and_names_the_one_that_failed(tmp_path: Path) -> None:
    receiver = Receiver().start()
    secret = f"{receiver.url}/T0000/B0000/s3cr3t?token=s3cr3t"
    try:
        config = tmp_path / "agent.toml"
        config.write_text(CONFIG.format(url=secret, socket=tmp_path / "none.sock"))
        done = _borderpath("alerts", "test", "--config", str(config))
    finally:
        receiver.stop()
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0] == f"http://127.0.0.1:{receiver.port}/…: ok (slack)"  # no path, no token
    assert "s3cr3t" not in done.stdout + done.stderr
    assert lines[1].startswith("closed: FAILED: receiver closed unreachable")
    ((_, _, body),) = receiver.bodies
    assert body["attachments"][0]["title"] == "[FIRING:info] borderpath_test"


def test_listing_without_a_running_agent_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(CONFIG.format(url="http://127.0.0.1:9/", socket=tmp_path / "none.sock"))
    done = _borderpath("alerts", "--config", str(config))
    assert done.returncode == 3
    assert done.stderr.startswith("borderpath: no agent answers on ")
    assert len(done.stderr.splitlines()) == 1
