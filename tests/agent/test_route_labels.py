"""Route labels in the lab: a trace names the uplink's backbone, and a border route
change moves the label only once the agreed number of traces see it."""

import asyncio
from pathlib import Path

import pytest

from borderpath.agent.config import load_config
from borderpath.agent.route_labels import RouteLabels
from borderpath.lab import netns
from borderpath.probes import Plumbing
from tests.agent.agent_process import write_config
from tests.conftest import LabFactory

pytestmark = pytest.mark.lab


def test_label_follows_a_route_change_after_agreeing_traces(
    make_lab: LabFactory, tmp_path: Path
) -> None:
    lab = make_lab()
    config = load_config(write_config(lab, tmp_path))
    only_ct_hkg = config.model_copy(
        update={
            "uplinks": [config.uplink("ct")],
            "pops": [config.pop("hkg")],
            "trace": config.trace.model_copy(update={"agree": 2, "traces": 1}),
        }
    )
    with netns.entered(lab.namespace("branch")):
        plumbing = Plumbing(only_ct_hkg.uplinks, only_ct_hkg.probing)
        plumbing.apply()
        try:
            labels = RouteLabels(only_ct_hkg)
            first = asyncio.run(labels.trace_next())
            lab.apply([{"uplink": "ct", "pop": "hkg", "route": "ct-cn2-gia"}])
            unchanged = asyncio.run(labels.trace_next())
            changed = asyncio.run(labels.trace_next())
        finally:
            plumbing.remove()
    assert first is not None and first.labels["label"] == "ct-163"
    assert unchanged is None  # one trace is not enough to move a label
    assert changed is not None and changed.kind == "path.label"
    assert (changed.labels["label"], changed.labels["previous"]) == ("ct-cn2-gia", "ct-163")
    assert labels.labels() == {("ct", "hkg"): "ct-cn2-gia"}
