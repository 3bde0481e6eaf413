"""The PoP responders of a lab: one ``borderpath.probes.responder`` per PoP namespace.

Each answers on its PoP's probe address with a self-signed certificate and a UDP echo
key made here before it starts, so the lab's agent config can pin the one
(``tls_ca_file``) and sign with the other (``key_file``) at once.
"""

import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

from borderpath.core.errors import LabError
from borderpath.lab import netns
from borderpath.lab.layout import LabFiles
from borderpath.lab.topology import LabPlan, PopPlan
from borderpath.probes.tls import ensure_certificate

SERVER_NAME = "borderpath-pop"
TCP_PORT = 443
START_TIMEOUT_S = 15.0


def certificate(files: LabFiles, pop: str) -> Path:
    """The PEM certificate the PoP's responder presents (and the agent pins)."""
    return files.directory / "certs" / pop / "cert.pem"


def key_file(files: LabFiles, pop: str) -> Path:
    """The PoP's UDP echo key (hex), shared by its responder and the lab's agents."""
    return files.directory / "certs" / pop / "echo.key"


def _ensure_key(path: Path) -> None:
    """A lab key is readable by all, unlike a real one (mode 600): the tests run agents
    as an unprivileged user too, and a lab guards nothing."""
    if not path.is_file():
        path.write_text(secrets.token_hex(32) + "\n", encoding="ascii")


def start(plan: LabPlan, files: LabFiles) -> None:
    """Start every PoP's responder and return once each accepts connections."""
    for pop in plan.pops:
        cert_dir = certificate(files, pop.name).parent
        ensure_certificate(cert_dir, SERVER_NAME)
        _ensure_key(key_file(files, pop.name))
        argv = [sys.executable, "-m", "borderpath.probes.responder"]
        argv += ["--listen", str(pop.probe_address), "--cert-dir", str(cert_dir)]
        argv += ["--key-file", str(key_file(files, pop.name))]
        with (files.directory / f"responder-{pop.name}.log").open("ab") as log:
            subprocess.Popen(
                netns.exec_argv(pop.namespace, argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
    deadline = time.monotonic() + START_TIMEOUT_S
    for pop in plan.pops:
        while not _accepts(pop):
            if time.monotonic() > deadline:
                log_text = (files.directory / f"responder-{pop.name}.log").read_text(
                    errors="replace"
                )
                last = log_text.strip().splitlines()[-1:] or ["no output"]
                raise LabError(f"the responder of {pop.name} did not start: {last[0]}")
            time.sleep(0.05)


def _accepts(pop: PopPlan) -> bool:
    with netns.socket_in(pop.namespace, socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((str(pop.probe_address), TCP_PORT)) == 0
