"""Fault localisation: path-level symptoms grouped into the fault that explains them.

    several uplinks each with several PoPs affected   -> border   (one alert)
    one PoP affected on every uplink                  -> pop      (PoP fault)
    one uplink affected to every PoP                  -> uplink   (carrier or local link)
      (or to at least ``uplink_pops`` PoPs, for symptoms of the carrier's own doing
       such as UDP policing, which rarely reach every PoP at the same instant)
    what is left                                      -> path     (one alert per path)

The on-call engineer gets one page per fault, not one per path: a PoP blackholed from
every uplink is one "PoP fault", not three "path down". A path may belong to both a
PoP group and an uplink group (the PoP dead and, separately, one uplink dead).
"""

import dataclasses
from collections.abc import Collection, Sequence

from borderpath.alerts.alert import Path


@dataclasses.dataclass(frozen=True, slots=True)
class Group:
    scope: str
    """border | pop | uplink | path."""
    paths: tuple[Path, ...]

    @property
    def uplinks(self) -> list[str]:
        return list(dict.fromkeys(u for u, _ in self.paths))

    @property
    def pops(self) -> list[str]:
        return list(dict.fromkeys(p for _, p in self.paths))


def localise(
    affected: Collection[Path],
    uplinks: Sequence[str],
    pops: Sequence[str],
    *,
    border_uplinks: int = 2,
    border_pops: int = 2,
    uplink_pops: int | None = None,
) -> list[Group]:
    """The groups that explain ``affected`` paths, in the order of ``uplinks`` x ``pops``."""
    ordered = tuple(path for path in _every(uplinks, pops) if path in affected)
    if not ordered:
        return []
    per_uplink = {u: [p for p in pops if (u, p) in affected] for u in uplinks}
    wide = [u for u in uplinks if len(per_uplink[u]) >= border_pops]
    if len(wide) >= border_uplinks:
        return [Group("border", ordered)]
    groups: list[Group] = []
    covered: set[Path] = set()
    if len(uplinks) > 1:
        for pop in pops:
            column = tuple((u, pop) for u in uplinks)
            if all(path in affected for path in column):
                groups.append(Group("pop", column))
                covered.update(column)
    needed = len(pops) if uplink_pops is None else min(uplink_pops, len(pops))
    if len(pops) > 1:
        for uplink in uplinks:
            row = tuple((uplink, p) for p in per_uplink[uplink])
            if len(row) >= max(2, needed):
                groups.append(Group("uplink", row))
                covered.update(row)
    groups += [Group("path", (path,)) for path in ordered if path not in covered]
    return groups


def _every(uplinks: Sequence[str], pops: Sequence[str]) -> list[Path]:
    return [(u, p) for u in uplinks for p in pops]
