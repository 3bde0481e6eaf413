"""The package's public surface is pinned, and importing it stays light."""

import subprocess
import sys

import borderpath.probes


def test_exported_names() -> None:
    assert sorted(borderpath.probes.__all__) == sorted(
        [
            "Classifier",
            "Engine",
            "LabelTracker",
            "Plumbing",
            "SeriesCounters",
            "TraceResult",
            "longest_trace_s",
            "prepare_traces",
            "trace_path",
        ]
    )


def test_importing_the_engine_loads_neither_scapy_nor_aioquic() -> None:
    code = (
        "import sys, borderpath.probes; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'scapy', 'aioquic', 'httpx'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
