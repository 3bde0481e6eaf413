"""The rules: what is wrong now, as Conditions, from the facts the engine gathered.

Each rule reads a Scene (the facts at ``now``) and returns Conditions; the engine
holds, fires and resolves them. Path symptoms are found first, one per path, the
worst winning (down > UDP/QUIC interference or injected resets > degraded), then
localised (alerts/localise.py) so one fault is one alert.
"""

import dataclasses
from collections.abc import Callable, Mapping, Sequence

from borderpath.alerts.alert import Condition, Path
from borderpath.alerts.config import AlertsConfig, Severity
from borderpath.alerts.facts import Facts, Window
from borderpath.alerts.localise import Group, localise
from borderpath.core.figures import median, percentile, wilson
from borderpath.core.protocols import PROTOCOLS, names
from borderpath.core.records import PathSnapshot
from borderpath.selector.config import SelectorConfig, SlaClass

UDP_CLASS = names(lambda protocol: protocol.layer == "udp")
ANSWERING = names(lambda protocol: protocol.witness)
"""Protocols that show the path itself still carries packets when UDP/QUIC fail."""
RESET_PROTOCOLS = names(lambda protocol: protocol.layer == "tcp")
SINGLE_RTT = names(lambda protocol: not protocol.handshake)
"""Protocols the short windows time (quic and http probes are handshakes)."""
EXPLAINED_ACTIONS = frozenset({"initial", "failover", "sla", "best-effort", "keep-last-good"})
"""Decisions a fault alert already explains (left a down or SLA-breaking path); only
voluntary moves ('improve') raise a route-switch alert of their own."""

DOWN_NAMES = {
    "path": "path_down",
    "pop": "pop_fault",
    "uplink": "uplink_fault",
    "border": "border_fault",
}
DOWN_SEVERITY: dict[str, Severity] = {
    "path": "warning",
    "pop": "critical",
    "uplink": "warning",
    "border": "critical",
}


@dataclasses.dataclass(frozen=True, slots=True)
class Switch:
    time: float
    pop: str
    action: str
    text: str
    uplink: str


@dataclasses.dataclass
class Scene:
    """What the rules see at ``now``."""

    now: float
    site: str
    config: AlertsConfig
    selector: SelectorConfig
    uplinks: Sequence[str]
    carriers: Mapping[str, str]
    pops: Sequence[str]
    facts: Facts
    snapshots: Mapping[Path, PathSnapshot]
    switches: Sequence[Switch]
    labels: Mapping[Path, tuple[str, str]]
    """Path -> (label when first traced, label now)."""
    backlog: int
    failing_parts: Mapping[str, str]
    """The agent's parts failing now -> their last error."""
    happenings: Sequence[Condition]
    """One-off conditions observed since the last evaluation (drops, route failures)."""
    choices: Mapping[str, str]
    """PoP -> the uplink(s) its traffic takes now, for summaries."""

    def since_ns(self, path: Path, window: float) -> int:
        """Start of a window ending now, after the path's last outage."""
        return max(int((self.now - window) * 1e9), self.facts.recovered_ns(path))

    def labels_of(self, scope: str, **labels: str) -> dict[str, str]:
        if "uplink" in labels and labels["uplink"] in self.carriers:
            labels["carrier"] = self.carriers[labels["uplink"]]
        return {"site": self.site, "scope": scope, **labels}

    def sla_class(self, pop: str) -> tuple[str, SlaClass]:
        name = self.selector.pop_policy(pop).sla_class or self.selector.sla_class
        return name, self.selector.limits(pop, name)


def evaluate(scene: Scene) -> list[Condition]:
    """Every condition true at ``scene.now``."""
    down = _down_paths(scene)
    udp = {protocol: _udp_interfered(scene, down, protocol) for protocol in UDP_CLASS}
    interfered = {path for paths in udp.values() for path in paths}
    resets = _reset_paths(scene, down)
    degraded = _degraded(scene, set(down) | interfered | set(resets))
    no_sla = _no_sla_pops(scene, set(down), set(degraded))
    degraded = {path: d for path, d in degraded.items() if path[1] not in no_sla}
    return [
        *_down_conditions(scene, down),
        *(
            condition
            for protocol, paths in udp.items()
            for condition in _grouped(
                scene, "udp_interference", paths, _udp_summary, protocol=protocol
            )
        ),
        *_grouped(scene, "tcp_resets", resets, _reset_summary, protocol="tcp"),
        *_grouped(scene, "path_degraded", degraded, _degraded_summary),
        *(_no_sla_condition(scene, pop, why) for pop, why in no_sla.items()),
        *_steering(scene),
        *_label_changes(scene),
        *_health(scene),
        *scene.happenings,
    ]


# -- path symptoms ------------------------------------------------------------------

Numbers = dict[str, float]
Summarize = Callable[[str, Numbers, Mapping[str, str]], str]


def _every_path(scene: Scene) -> list[Path]:
    return [(u, p) for u in scene.uplinks for p in scene.pops]


def _down_paths(scene: Scene) -> dict[Path, Numbers]:
    rule = scene.config.down
    down: dict[Path, Numbers] = {}
    for path in _every_path(scene):
        silent_s, lost = scene.facts.silence(path)
        if silent_s >= rule.silence and lost >= rule.lost:
            down[path] = {"silent_s": round(silent_s, 1), "lost": lost}
    return down


def _windows(scene: Scene, path: Path, protocols: Sequence[str]) -> dict[str, Window]:
    since = scene.since_ns(path, scene.config.interference.window)
    found = {proto: scene.facts.window(path, proto, since) for proto in protocols}
    return {proto: window for proto, window in found.items() if window is not None}


def _udp_interfered(
    scene: Scene, down: Mapping[Path, Numbers], protocol: str
) -> dict[Path, Numbers]:
    """Paths where ``protocol`` (udp or quic) fails while icmp or tcp answers: one alert
    per protocol, so that its ``protocol`` label holds one value to route and silence."""
    rule = scene.config.interference
    hit: dict[Path, Numbers] = {}
    for path in _every_path(scene):
        if path in down:
            continue
        windows = _windows(scene, path, UDP_CLASS + ANSWERING)
        tried = windows.get(protocol)
        failing = tried is not None and (
            tried.run_lost >= rule.lost_in_row
            or (tried.summary.sent >= rule.lost_in_row and tried.summary.loss >= rule.loss)
        )
        answering = [
            proto
            for proto, w in windows.items()
            if proto in ANSWERING and w.run_lost == 0 and w.summary.loss < rule.others_loss
        ]
        if failing and answering:
            hit[path] = {f"{proto}_loss": round(w.summary.loss, 3) for proto, w in windows.items()}
    return hit


def _reset_paths(scene: Scene, down: Mapping[Path, Numbers]) -> dict[Path, Numbers]:
    hit: dict[Path, Numbers] = {}
    for path in _every_path(scene):
        if path in down:
            continue
        forged = sum(w.summary.forged for w in _windows(scene, path, RESET_PROTOCOLS).values())
        if forged >= scene.config.interference.resets:
            hit[path] = {"forged_resets": forged}
    return hit


def _degraded(scene: Scene, excluded: set[Path]) -> dict[Path, Numbers]:
    """Paths whose snapshot (the selector's long window) breaks the PoP's class and whose
    own short window agrees: one noisy figure on either side pages no one. The short
    window's loss counts at the lower bound of its Wilson 95 % interval: 1 lost of 50
    on a path with 1 % loss is luck, 8 of 50 is a brownout."""
    rule = scene.config.degraded
    hit: dict[Path, Numbers] = {}
    for path in _every_path(scene):
        since = scene.since_ns(path, rule.short)
        snapshot = scene.snapshots.get(path)
        name, limits = scene.sla_class(path[1])
        if path in excluded or snapshot is None or snapshot.sla.get(name, True):
            continue
        figures = _short_figures(scene, path, limits.protocols, since)
        if figures is None or figures["sent"] < rule.min_probes:
            continue
        breaks = (
            figures["loss_lower"] > limits.loss
            or figures["rtt_p95_ms"] > limits.rtt_p95_ms
            or figures["jitter_ms"] > limits.jitter_ms
        )
        if breaks:
            hit[path] = {
                **figures,
                "limit_loss": limits.loss,
                "limit_rtt_p95_ms": limits.rtt_p95_ms,
                "limit_jitter_ms": limits.jitter_ms,
            }
    return hit


def _short_figures(
    scene: Scene, path: Path, protocols: Sequence[str], since: int
) -> Numbers | None:
    """Loss over the class's protocols (every protocol if the PoP probes none of them);
    RTT p95 pooled and jitter (RFC 3550, as the selector judges it) as the median of the
    series' over the one-round-trip protocols (a handshake's two or three round trips
    would break every RTT limit, and one retransmitted SYN on one series must not make
    the whole path jittery). Probes
    lost after the path's last answer are left out: an outage beginning is judged by the
    down rule, not paged as a brownout first."""
    until = scene.facts.last_answer_ns(path)
    found = {p: scene.facts.window(path, p, since, until) for p in PROTOCOLS}
    windows = {p: w for p, w in found.items() if w is not None}
    judged = {p: w for p, w in windows.items() if p in protocols} or windows
    timed = {p: w for p, w in windows.items() if p in SINGLE_RTT} or windows
    if not judged:
        return None
    sent = sum(w.summary.sent for w in judged.values())
    lost = sum(w.summary.sent - w.summary.received for w in judged.values())
    lower, _ = wilson(lost, sent)
    rtts = sorted(rtt for w in timed.values() for rtt in w.rtts)
    jitter = median(w.summary.jitter_ms for w in timed.values())
    return {
        "sent": sent,
        "loss": round(lost / sent, 4),
        "loss_lower": round(lower, 4),
        "rtt_p95_ms": round(percentile(rtts, 0.95), 1) if rtts else 0.0,
        "jitter_ms": round(jitter, 1) if jitter is not None else 0.0,
    }


def _no_sla_pops(scene: Scene, down: set[Path], degraded: set[Path]) -> dict[str, str]:
    """PoPs where no path meets the class, some path still up (all down is a PoP fault)."""
    found = {}
    for pop in scene.pops:
        paths = {(u, pop) for u in scene.uplinks}
        if paths <= down | degraded and not paths <= down:
            found[pop] = scene.sla_class(pop)[0]
    return found


# -- localised conditions -----------------------------------------------------------


def _groups(
    scene: Scene, paths: Mapping[Path, Numbers], uplink_pops: int | None = None
) -> list[Group]:
    rule = scene.config.down
    return localise(
        paths,
        scene.uplinks,
        scene.pops,
        border_uplinks=rule.border_uplinks,
        border_pops=rule.border_pops,
        uplink_pops=uplink_pops,
    )


def _scope_labels(scene: Scene, group: Group, **extra: str) -> dict[str, str]:
    if group.scope == "path":
        ((uplink, pop),) = group.paths
        return scene.labels_of("path", uplink=uplink, pop=pop, **extra)
    if group.scope == "uplink":
        return scene.labels_of("uplink", uplink=group.paths[0][0], **extra)
    if group.scope == "pop":
        return scene.labels_of("pop", pop=group.paths[0][1], **extra)
    return scene.labels_of("border", **extra)


def _where(scene: Scene, group: Group) -> str:
    if group.scope == "path":
        uplink, pop = group.paths[0]
        return f"path {uplink} -> {pop}"
    if group.scope == "uplink":
        uplink = group.paths[0][0]
        every = len(group.paths) == len(scene.pops)
        to = "every PoP" if every else f"PoPs {', '.join(group.pops)}"
        return f"uplink {uplink} ({scene.carriers.get(uplink, '?')}) to {to}"
    if group.scope == "pop":
        return f"PoP {group.paths[0][1]} on every uplink"
    return f"uplinks {', '.join(group.uplinks)} to PoPs {', '.join(group.pops)}"


def _totals(group: Group, numbers: Mapping[Path, Numbers]) -> Numbers:
    """Figures of a group: the worst path's for each number, and how many paths."""
    totals: Numbers = {"paths": len(group.paths)}
    for path in group.paths:
        for key, value in numbers[path].items():
            totals[key] = max(totals.get(key, value), value)
    return totals


def _down_conditions(scene: Scene, down: Mapping[Path, Numbers]) -> list[Condition]:
    hold, clear = scene.config.timing(scene.config.down)
    conditions = []
    for group in _groups(scene, down):
        values = _totals(group, down)
        silent = f"no genuine answer on any protocol for {values['silent_s']:.0f} s"
        text = {
            "path": f"Path {group.paths[0][0]} -> {group.paths[0][1]} is down: {silent}",
            "pop": f"PoP fault: {group.paths[0][1]} is unreachable on every uplink "
            f"({', '.join(group.uplinks)}), {silent}; the carriers reach the other PoPs",
            "uplink": f"Carrier or local link fault: uplink {group.paths[0][0]} "
            f"({scene.carriers.get(group.paths[0][0], '?')}) reaches no PoP, {silent}",
            "border": f"Border-wide outage: {len(group.paths)} paths down over uplinks "
            f"{', '.join(group.uplinks)} to PoPs {', '.join(group.pops)}, {silent}",
        }[group.scope]
        conditions.append(
            Condition(
                name=DOWN_NAMES[group.scope],
                severity=DOWN_SEVERITY[group.scope],
                labels=_scope_labels(scene, group),
                summary=text + _steering_note(scene, group) + ".",
                values=values,
                paths=group.paths,
                hold=hold,
                clear=clear,
            )
        )
    return conditions


def _steering_note(scene: Scene, group: Group) -> str:
    notes = [f"{pop} now via {scene.choices[pop]}" for pop in group.pops if scene.choices.get(pop)]
    return f" ({'; '.join(notes)})" if notes and group.scope == "path" else ""


def _grouped(
    scene: Scene,
    name: str,
    paths: Mapping[Path, Numbers],
    summary: Summarize,
    **labels: str,
) -> list[Condition]:
    degraded = name == "path_degraded"
    rule = scene.config.degraded if degraded else scene.config.interference
    hold, clear = scene.config.timing(rule)
    conditions = []
    uplink_pops = None if degraded else scene.config.interference.uplink_pops
    for group in _groups(scene, paths, uplink_pops):
        values = _totals(group, paths)
        extra = dict(labels)
        if name == "path_degraded":
            extra["class"] = scene.sla_class(group.paths[0][1])[0]
        conditions.append(
            Condition(
                name=name,
                severity="warning",
                labels=_scope_labels(scene, group, **extra),
                summary=summary(_where(scene, group), values, extra),
                values=values,
                paths=group.paths,
                hold=hold,
                clear=clear,
            )
        )
    return conditions


def _udp_summary(where: str, values: Numbers, labels: Mapping[str, str]) -> str:
    losses = ", ".join(
        f"{proto} lost {values[f'{proto}_loss'] * 100:.0f} %"
        for proto in (*UDP_CLASS, *ANSWERING)
        if f"{proto}_loss" in values
    )
    return (
        f"{labels['protocol'].upper()} interference on {where}: {losses}; "
        "icmp and tcp still answer."
    )


def _reset_summary(where: str, values: Numbers, labels: Mapping[str, str]) -> str:
    return (
        f"TCP resets injected on {where}: {values['forged_resets']:.0f} forged RSTs "
        "(wrong TTL) answered our SYNs; HTTPS sessions there are cut."
    )


def _degraded_summary(where: str, values: Numbers, labels: Mapping[str, str]) -> str:
    return (
        f"{where[0].upper()}{where[1:]} breaks the {labels['class']} SLA: loss "
        f"{values['loss'] * 100:.1f} % (limit {values['limit_loss'] * 100:g} %), RTT p95 "
        f"{values['rtt_p95_ms']:.0f} ms (limit {values['limit_rtt_p95_ms']:g}), jitter "
        f"{values['jitter_ms']:.0f} ms (limit {values['limit_jitter_ms']:g})."
    )


def _no_sla_condition(scene: Scene, pop: str, sla_class: str) -> Condition:
    hold, clear = scene.config.timing(scene.config.steering)
    via = scene.choices.get(pop) or "its last good path"
    return Condition(
        name="no_sla_path",
        severity="critical",
        labels=scene.labels_of("pop", pop=pop, **{"class": sla_class}),
        summary=f"No path to {pop} meets the {sla_class} SLA; traffic stays on {via}.",
        values={"paths": len(scene.uplinks)},
        paths=tuple((u, pop) for u in scene.uplinks),
        hold=hold,
        clear=clear,
    )


# -- steering, labels, the agent ----------------------------------------------------


def _steering(scene: Scene) -> list[Condition]:
    rule = scene.config.steering
    hold, clear = scene.config.timing(rule)
    conditions = []
    for pop in scene.pops:
        mine = [s for s in scene.switches if s.pop == pop]
        recent = [s for s in mine if scene.now - s.time < rule.flap_window]
        if len(recent) >= rule.flap_switches:
            conditions.append(
                Condition(
                    name="flap_storm",
                    severity="warning",
                    labels=scene.labels_of("pop", pop=pop),
                    summary=f"Flap storm: {pop} switched uplinks {len(recent)} times in "
                    f"{rule.flap_window / 60:g} min (last: {recent[-1].text}).",
                    values={"switches": len(recent)},
                    hold=hold,
                    clear=clear,
                )
            )
        voluntary = [
            s
            for s in mine
            if s.action not in EXPLAINED_ACTIONS and scene.now - s.time < rule.switch_clear
        ]
        if voluntary:
            last = voluntary[-1]
            conditions.append(
                Condition(
                    name="route_switch",
                    severity="info",
                    labels=scene.labels_of("pop", pop=pop),
                    summary=f"Traffic to {pop} moved to {last.uplink}: {last.text}",
                    values={"switches": len(voluntary)},
                    hold=0.0,
                    clear=0.0,
                )
            )
    return conditions


def _label_changes(scene: Scene) -> list[Condition]:
    _, clear = scene.config.timing(scene.config.label)
    premium = set(scene.config.label.premium)
    conditions = []
    for (uplink, pop), (first, now) in scene.labels.items():
        if first == now:
            continue
        downgraded = first in premium and now not in premium
        what = "a premium circuit now crosses on a standard backbone" if downgraded else "changed"
        conditions.append(
            Condition(
                name="path_label_changed",
                severity="warning" if downgraded else "info",
                labels=scene.labels_of("path", uplink=uplink, pop=pop),
                summary=f"Path {uplink} -> {pop}: border crossing {what}: {first} -> {now}.",
                values={},
                paths=((uplink, pop),),
                hold=0.0,
                clear=clear,
            )
        )
    return conditions


def _health(scene: Scene) -> list[Condition]:
    rule = scene.config.health
    hold, clear = scene.config.timing(rule)
    conditions = [
        Condition(
            name="agent_part_failing",
            severity="warning",
            labels=scene.labels_of("agent", part=part),
            summary=f"The agent's {part} fails and is restarted with backoff ({error}); "
            "probing and steering go on: see docs/operations.md, reading part failures.",
            values={},
            hold=0.0,  # it failed already: the supervisor's backoff is the wait
            clear=clear,
        )
        for part, error in scene.failing_parts.items()
    ]
    if scene.backlog > rule.backlog_rows:
        conditions.append(
            Condition(
                name="export_backlog",
                severity="warning",
                labels=scene.labels_of("agent"),
                summary=f"{scene.backlog} rows wait for InfluxDB (threshold {rule.backlog_rows}): "
                "the NOC's dashboards are behind; check the InfluxDB server and token.",
                values={"rows": scene.backlog},
                hold=hold,
                clear=clear,
            )
        )
    return conditions
