"""Configuration of alert rules and their receivers (``[alerts]``)."""

from borderpath.core.model import StrictModel


class AlertsConfig(StrictModel):
    """Alert rules and webhooks."""
