"""Configuration of alert rules and their receivers (``[alerts]``).

Every rule has its thresholds in its own table (``[alerts.down]``, ``[alerts.degraded]``
...); ``hold`` and ``clear`` apply to every rule unless the rule sets its own.
docs/alerts.md explains each rule with the outage or false page its defaults avoid.
"""

import os
import re
import string
from typing import Annotated, Literal

import pydantic

from borderpath.core.model import FilePath, LocatedError, Seconds, StrictModel, require_order

HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
HEADER_VALUE = re.compile(r"([\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?)?")
Format = Literal["generic", "alertmanager", "slack"]
Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")
"""Severities from the least to the most urgent."""
URL_FIELDS = (
    "site", "uplink", "carrier", "pop", "protocol", "scope", "class", "alertname", "severity"
)  # fmt: skip
"""What [alerts] generator_url may name: an alert's labels."""


class HeaderSecret(StrictModel):
    """A header value kept out of the config: in a file or an environment variable."""

    file: FilePath | None = pydantic.Field(
        None, description="File holding the header's value (its whole content, stripped)."
    )
    env: str = pydantic.Field("", description="Environment variable holding the value.")

    @pydantic.model_validator(mode="after")
    def _one_source(self) -> "HeaderSecret":
        if (self.file is None) == (not self.env):
            raise ValueError("give file or env (one of them)")
        return self

    def read(self) -> str:
        """The value now (a rotated secret is taken at the next POST); ValueError with
        one sentence, never the value, when it cannot be read or sent."""
        if self.file is not None:
            try:
                value = self.file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(f"cannot read {self.file} ({exc.strerror})") from None
            except UnicodeDecodeError:
                raise ValueError(f"{self.file} is not a text file") from None
        elif (variable := os.environ.get(self.env)) is None:
            raise ValueError(f"the environment variable {self.env} is not set")
        else:
            value = variable.strip()
        where = self.file or self.env
        if not value:
            raise ValueError(f"the value in {where} is empty")
        if not HEADER_VALUE.fullmatch(value):
            raise ValueError(f"the value in {where} is not one line of printable ASCII")
        return value


HeaderValue = Annotated[
    # The tags are the names the config errors leave out of a key's location.
    Annotated[str, pydantic.Tag("str")] | Annotated[HeaderSecret, pydantic.Tag("HeaderSecret")],
    pydantic.Discriminator(lambda value: "HeaderSecret" if isinstance(value, dict) else "str"),
]
"""A header's value as written, or a table naming where the secret value is."""


class WebhookConfig(StrictModel):
    """One receiver: an HTTP endpoint that gets every alert notification as a POST."""

    url: pydantic.HttpUrl = pydantic.Field(description="Where notifications are POSTed.")
    format: Format = pydantic.Field(
        "generic",
        description="Body: generic (borderpath's JSON), alertmanager (the Alertmanager v2 "
        "/api/v2/alerts body) or slack (an incoming-webhook message).",
    )
    min_severity: Severity = pydantic.Field(
        "warning",
        description="Least severity sent to this receiver; info alerts (route switches) "
        "stay in the store, the status API and Grafana unless this is 'info'.",
    )
    headers: dict[str, HeaderValue] = pydantic.Field(
        {},
        description="Extra HTTP headers, e.g. an Authorization header for the receiver; a "
        'secret value from a file or the environment: `{ file = "/etc/borderpath/hook-token" }` '
        'or `{ env = "HOOK_AUTH" }` (read at each POST, checked at start; never shown).',
    )
    name: str = pydantic.Field(
        "",
        description="Name of the receiver in logs, /status, /alerts, /metrics and the durable "
        "queue (default: its URL as scheme://host[:port]/…, since paths and queries often "
        "carry a secret). Renaming a receiver starts a new queue.",
    )

    @pydantic.field_validator("headers")
    @classmethod
    def _sendable(cls, headers: dict[str, str | HeaderSecret]) -> dict[str, str | HeaderSecret]:
        """HTTP carries header names as tokens and values as printable ASCII (RFC 9110)."""
        for name, value in headers.items():
            if not HEADER_NAME.fullmatch(name):
                raise LocatedError("not a header name (letters, digits and !#$%&'*+-.^_`|~)", name)
            if isinstance(value, str) and not HEADER_VALUE.fullmatch(value):
                raise LocatedError(
                    "a header value is printable ASCII without leading or trailing spaces", name
                )
        return headers

    @property
    def key(self) -> str:
        return self.name or redact(self.url)

    def header_values(self) -> dict[str, str]:
        """The headers to send, secrets read now (ValueError naming the header if one
        cannot be read)."""
        values = {}
        for name, value in self.headers.items():
            try:
                values[name] = value if isinstance(value, str) else value.read()
            except ValueError as exc:
                raise ValueError(f"header {name}: {exc}") from None
        return values


def redact(url: pydantic.HttpUrl) -> str:
    """``scheme://host[:port]/…``: what may be shown of a URL whose path, query or user
    may be a secret (Slack and Teams webhooks carry their token in the path)."""
    port = "" if url.port in (None, 80 if url.scheme == "http" else 443) else f":{url.port}"
    return f"{url.scheme}://{url.host}{port}/…"


class RuleTiming(StrictModel):
    """How long a condition must last before it fires, and be gone before it resolves."""

    hold: Seconds | None = pydantic.Field(
        None, ge=0, description="Overrides [alerts] hold for this rule."
    )
    clear: Seconds | None = pydantic.Field(
        None, ge=0, description="Overrides [alerts] clear for this rule."
    )


class DownRule(RuleTiming):
    """Path down: no genuine answer on any protocol (and its localisation)."""

    hold: Seconds | None = pydantic.Field(
        5.0,
        ge=0,
        description="Seconds a path must stay down before it fires; long enough for every "
        "path of a PoP or uplink fault to be seen down, so the fault pages once.",
    )
    silence: Seconds = pydantic.Field(
        3.0,
        gt=0,
        description="A path is down when no protocol has had a genuine answer for this long "
        "(measured on probe send times, so late batches do not count as silence)...",
    )
    lost: int = pydantic.Field(
        5, ge=1, description="...and at least this many probes were lost since the last answer."
    )
    border_uplinks: int = pydantic.Field(
        2,
        ge=2,
        description="Border-wide: at least this many uplinks, each with at least "
        "border_pops PoPs down at once (one alert instead of a PoP or carrier fault each).",
    )
    border_pops: int = pydantic.Field(
        2, ge=2, description="PoPs down on each of border_uplinks uplinks for a border-wide fault."
    )


class DegradedRule(RuleTiming):
    """Path degraded: the path breaks its PoP's SLA class in both windows."""

    hold: Seconds | None = pydantic.Field(
        None, ge=0, description="Overrides [alerts] hold (default: that hold)."
    )
    short: Seconds = pydantic.Field(
        10.0,
        gt=0,
        description="Short window over which the path's own loss, RTT p95 and jitter must "
        "also break the class (the selector's long-window verdict alone never pages).",
    )
    min_probes: int = pydantic.Field(
        10, ge=1, description="Probes the short window needs before it can agree."
    )


class InterferenceRule(RuleTiming):
    """Some protocols failing while others answer: UDP/QUIC interference, injected resets."""

    lost_in_row: int = pydantic.Field(
        3,
        ge=1,
        description="A protocol is failing once its last this-many probes are lost (quic "
        "runs every 5 s by default: three lost in a row take 15 s).",
    )
    window: Seconds = pydantic.Field(
        30.0, gt=0, description="Window of the loss and forged-reset counts below."
    )
    loss: float = pydantic.Field(
        0.5,
        gt=0,
        le=1,
        description="...or a protocol is failing when it lost this fraction in the window "
        "while icmp and tcp lost less than others_loss (UDP policed, not blocked).",
    )
    others_loss: float = pydantic.Field(
        0.1, ge=0, le=1, description="Loss below which the other protocols count as answering."
    )
    uplink_pops: int = pydantic.Field(
        2,
        ge=1,
        description="PoPs of one uplink showing the same interference that make it one "
        "alert for the uplink (the carrier polices UDP or injects resets, not each path).",
    )
    resets: int = pydantic.Field(
        3,
        ge=1,
        description="Forged TCP resets (ProbeResult.forged on tcp and http probes) in the "
        "window that make 'TCP resets injected' (the injector sends three per SYN).",
    )


class SteeringRule(RuleTiming):
    """Route switches (info), flap storms, and PoPs with no path meeting their SLA."""

    switch_clear: Seconds = pydantic.Field(
        300.0, gt=0, description="A route-switch alert resolves this long after the last switch."
    )
    flap_switches: int = pydantic.Field(
        4, ge=2, description="Switches of one PoP within flap_window that make a flap storm."
    )
    flap_window: Seconds = pydantic.Field(
        600.0, gt=0, description="Window of the flap-storm count."
    )


class LabelRule(RuleTiming):
    """A path's backbone label changed (from traces): CN2 GIA now over 163."""

    premium: list[str] = pydantic.Field(
        ["ct-cn2-gia", "cu-9929", "cm-cmin2"],
        description="Labels of premium backbones: leaving one for another label is a warning, "
        "any other change is info.",
    )


class HealthRule(RuleTiming):
    """The agent's own health: export backlog, spool drops, route write failures."""

    backlog_rows: int = pydantic.Field(
        1_000_000,
        ge=1,
        description="Rows waiting for InfluxDB above which the NOC is told the export is "
        "stuck (about 20 minutes of a 15-path branch's results at 200 ms).",
    )


class AlertsConfig(StrictModel):
    """Alert rules and webhooks."""

    enabled: bool = pydantic.Field(True, description="Evaluate the rules at all.")
    hold: Seconds = pydantic.Field(
        20.0,
        ge=0,
        description="How long a condition must last before its alert fires, unless its rule "
        "says otherwise (one bad probe round never pages anyone).",
    )
    clear: Seconds = pydantic.Field(
        60.0,
        ge=0,
        description="How long a condition must be gone before its alert resolves, so a "
        "flapping path does not chatter.",
    )
    interval: Seconds = pydantic.Field(1.0, gt=0, description="How often the rules are evaluated.")
    group_window: Seconds = pydantic.Field(
        5.0,
        ge=0,
        description="Notifications for a receiver are gathered this long after the first one "
        "and sent in one POST (the three paths of a fault arrive together).",
    )
    repeat_interval: Seconds = pydantic.Field(
        14400.0,
        gt=0,
        description="An alert still firing is sent again this often (4 h).",
    )
    alertmanager_resend: Seconds = pydantic.Field(
        60.0,
        gt=0,
        description="Every alert still firing is posted again this often to alertmanager "
        "receivers, each with endsAt four resends ahead: if the agent dies, Alertmanager "
        "resolves its alerts on its own within four resends.",
    )
    generator_url: str = pydantic.Field(
        "",
        description="Alertmanager's generatorURL of each alert (the link back from the "
        "notification), with {site}, {uplink}, {carrier}, {pop}, {protocol}, {scope}, {class}, "
        "{alertname} and {severity} filled in from the alert (empty when it has no such "
        "label), e.g. the NOC's Grafana path-detail dashboard: 'https://grafana.example.net/"
        "d/borderpath-path-detail/?var-site={site}&var-uplink={uplink}&var-pop={pop}'. "
        "Empty: no generatorURL.",
    )
    timeout: Seconds = pydantic.Field(
        5.0, gt=0, description="Timeout of one POST to a receiver (delivery never blocks probing)."
    )
    retry_min: Seconds = pydantic.Field(
        1.0, gt=0, description="First wait after a failed POST; it doubles each time..."
    )
    retry_max: Seconds = pydantic.Field(
        60.0, gt=0, description="...up to this wait; the notification stays queued until sent."
    )
    max_age: Seconds = pydantic.Field(
        86400.0,
        gt=0,
        description="Queued notifications older than this are dropped (and counted) when a "
        "receiver stays down, so a revived receiver is not paged with last week.",
    )
    batch: int = pydantic.Field(100, ge=1, description="Most notifications in one POST.")
    refused_retries: int = pydantic.Field(
        3,
        ge=0,
        description="A group the receiver refuses for good (a 4xx other than 408 and 429) is "
        "retried this many times, then moved to the receiver's dead letters (the store's queue "
        "alerts-dead) with an event, so it never blocks the notifications behind it.",
    )
    webhooks: list[WebhookConfig] = pydantic.Field([], description="Receivers of alerts.")
    down: DownRule = DownRule()
    degraded: DegradedRule = DegradedRule()
    interference: InterferenceRule = InterferenceRule()
    steering: SteeringRule = SteeringRule()
    label: LabelRule = LabelRule()
    health: HealthRule = HealthRule()

    @pydantic.model_validator(mode="after")
    def _unique_receivers(self) -> "AlertsConfig":
        keys = [w.key for w in self.webhooks]
        for key in keys:
            if keys.count(key) > 1:
                raise ValueError(f"two webhooks are both {key!r}; give them distinct names")
        require_order(self, "retry_min", "retry_max")
        return self

    @pydantic.field_validator("generator_url")
    @classmethod
    def _known_fields(cls, url: str) -> str:
        for _, field, spec, conversion in string.Formatter().parse(url):
            if field is not None and (field not in URL_FIELDS or spec or conversion):
                raise ValueError(
                    f"{{{field}}} is not one of {', '.join('{' + f + '}' for f in URL_FIELDS)}"
                )
        return url

    def timing(self, rule: RuleTiming) -> tuple[float, float]:
        """(hold, clear) of a rule, falling back to the section's."""
        hold = self.hold if rule.hold is None else rule.hold
        clear = self.clear if rule.clear is None else rule.clear
        return hold, clear
