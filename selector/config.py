"""Configuration of path scoring and steering (``[selector]``)."""

from borderpath.core.model import StrictModel


class SelectorConfig(StrictModel):
    """Strategy, SLA classes, anti-flap knobs and the route table of ours."""
