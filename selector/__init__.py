"""Path selection: probe results in, per-PoP decisions and kernel routes out.

See docs/selector.md for every metric, state, strategy and knob.
"""

from borderpath.selector.config import SelectorConfig
from borderpath.selector.decision import Decision
from borderpath.selector.replay import ReplayReport, replay
from borderpath.selector.routes import RouteChange, RouteWriter
from borderpath.selector.selector import Selector

__all__ = [
    "Decision",
    "ReplayReport",
    "RouteChange",
    "RouteWriter",
    "Selector",
    "SelectorConfig",
    "replay",
]
