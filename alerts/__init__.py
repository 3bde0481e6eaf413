"""Alerts: rules over what the agent sees, fault localisation, delivery to webhooks.

    engine = AlertEngine(config.alerts, config.uplinks, config.pops, config.selector, site)
    engine.observe(batch); engine.observe_snapshots(...); engine.observe_decisions(...)
    notices = engine.evaluate(now)            # firing / resolved / repeated
    await dispatcher.enqueue(notices)         # durable queue, one task per receiver

See docs/alerts.md for every rule, its defaults and the webhook bodies.
"""

from borderpath.alerts.alert import Alert, Condition, Notice
from borderpath.alerts.config import AlertsConfig, WebhookConfig
from borderpath.alerts.delivery import Dispatcher, post
from borderpath.alerts.engine import AlertEngine
from borderpath.alerts.formats import render, test_notice
from borderpath.alerts.localise import Group, localise

__all__ = [
    "Alert",
    "AlertEngine",
    "AlertsConfig",
    "Condition",
    "Dispatcher",
    "Group",
    "Notice",
    "WebhookConfig",
    "localise",
    "post",
    "render",
    "test_notice",
]
