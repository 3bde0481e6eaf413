"""docs/noc.md's sizing is counted from the config models' defaults: it must follow them."""

from pathlib import Path

from borderpath.agent.config import AgentSection
from borderpath.core.topology import PopConfig
from borderpath.probes.config import ProbingConfig

DOC = (Path(__file__).resolve().parents[2] / "docs" / "noc.md").read_text(encoding="utf-8")
UPLINKS, POPS, FLEET = 3, 5, 500
"""The doc's example branch (the lab's Shanghai) and fleet."""
TIMES = "\N{MULTIPLICATION SIGN}"


def test_sizing_follows_the_default_intervals() -> None:
    protocols = PopConfig.model_fields["protocols"].default
    probing = ProbingConfig()
    per_path = sum(1 / probing.interval_of(protocol) for protocol in protocols)
    snapshot_s = AgentSection.model_fields["snapshot_interval"].default
    paths = UPLINKS * POPS
    points_s = paths * per_path + paths / snapshot_s
    assert f"{UPLINKS} {TIMES} {POPS} {TIMES} {len(protocols)} = {paths * len(protocols)}" in DOC
    assert f"{paths} {TIMES} {per_path:.1f} = {paths * per_path:.1f}" in DOC
    assert f"{paths} / {snapshot_s:.0f} s = {paths / snapshot_s:.1f}" in DOC
    assert f"**{points_s:.0f}** (≈ {points_s * 86400 / 1e6:.1f} million a day)" in DOC
    fleet_s = FLEET * points_s
    assert f"about **{fleet_s:,.0f} points/s, {fleet_s * 86400 / 1e9:.1f} billion" in DOC
