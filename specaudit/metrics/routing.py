"""The routing file: which drafter and draft length serve each group.

``specaudit tune`` writes it; ``specaudit run --routing`` audits with it; the
report reads its predictions back. Format (YAML)::

    version: 1
    drafters:                  # name -> drafter spec as for `run --drafter`
      neural: null             # null: the built-in demo drafter
      ngram: ngram:demo.ngram
    routes:                    # "language/task" or "language" -> setting
      en/story: {drafter: neural, gamma: 5}
      sw: {drafter: ngram, gamma: 3}
      ar/story: {drafter: none}  # no speculation: plain decoding
    default: {drafter: neural, gamma: 4}  # optional: groups no route names
    tune: {...}                # optional: what `tune` predicted (for the report)

A ``language/task`` route wins over its ``language`` route. ``none`` is the
reserved name for no speculation. Pure Python and yaml: the audit, the CLI
and the report all read it through :func:`load_routing`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["NO_DRAFTER", "ROUTING_VERSION", "Route", "RoutingTable", "load_routing"]

#: Drafter name of "no speculation".
NO_DRAFTER = "none"
#: Version of the routing file format.
ROUTING_VERSION = 1
_TOP = ("version", "drafters", "routes", "default", "tune")


@dataclass(frozen=True)
class Route:
    """One setting: a drafter name (or ``none``) and its draft length (0 for none)."""

    drafter: str
    gamma: int

    @property
    def speculative(self) -> bool:
        """Whether this setting drafts at all."""
        return self.drafter != NO_DRAFTER

    def label(self) -> str:
        """Short text such as ``ngram γ=3`` or ``none``."""
        return f"{self.drafter} γ={self.gamma}" if self.speculative else NO_DRAFTER

    def to_dict(self) -> dict[str, Any]:
        """Return the YAML form."""
        return (
            {"drafter": self.drafter, "gamma": self.gamma}
            if self.speculative
            else {"drafter": NO_DRAFTER}
        )


@dataclass(frozen=True)
class RoutingTable:
    """A parsed routing file.

    Attributes
    ----------
    drafters : dict
        Drafter name -> spec (``None``: the built-in drafter).
    routes : dict
        ``language/task`` or ``language`` -> :class:`Route`.
    default : Route or None
        Setting of groups no route names.
    tune : dict
        What ``specaudit tune`` recorded (objective, predictions); may be empty.
    """

    drafters: dict[str, str | None]
    routes: dict[str, Route]
    default: Route | None = None
    tune: dict[str, Any] = field(default_factory=dict)

    def resolve(self, groups: Iterable[str]) -> dict[str, Route]:
        """Each ``language/task`` group's setting.

        Raises
        ------
        ValueError
            If a route names no group of ``groups``, or a group has no route
            and there is no default.
        """
        groups = list(dict.fromkeys(groups))
        languages = {g.split("/", 1)[0] for g in groups}
        for key in self.routes:
            if key not in groups and key not in languages:
                raise ValueError(
                    f"route {key!r} names no group or language of this run "
                    f"(groups: {', '.join(groups)})"
                )
        out = {}
        for g in groups:
            route = self.routes.get(g) or self.routes.get(g.split("/", 1)[0]) or self.default
            if route is None:
                raise ValueError(f"group {g!r} has no route and the file has no default")
            out[g] = route
        return out

    def to_yaml(self) -> str:
        """Return the file's text."""
        data: dict[str, Any] = {
            "version": ROUTING_VERSION,
            "drafters": dict(self.drafters),
            "routes": {k: r.to_dict() for k, r in self.routes.items()},
        }
        if self.default is not None:
            data["default"] = self.default.to_dict()
        if self.tune:
            data["tune"] = self.tune
        head = "# specaudit routing table: audit it with `specaudit run --routing FILE`\n"
        body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=None)
        return head + body


def _route(value: Any, where: str, drafters: Mapping[str, Any]) -> Route:
    if value == NO_DRAFTER:
        return Route(NO_DRAFTER, 0)
    if not isinstance(value, Mapping) or "drafter" not in value:
        raise ValueError(f"{where} must be {{drafter: NAME, gamma: N}} or none")
    extra = set(value) - {"drafter", "gamma"}
    if extra:
        raise ValueError(f"{where} has unknown field(s) {', '.join(sorted(map(str, extra)))}")
    name = str(value["drafter"])
    if name == NO_DRAFTER:
        return Route(NO_DRAFTER, 0)
    if name not in drafters:
        known = ", ".join([*map(str, drafters), NO_DRAFTER])
        raise ValueError(f"{where} names unknown drafter {name!r} (known: {known})")
    gamma = value.get("gamma")
    if isinstance(gamma, bool) or not isinstance(gamma, int):
        raise ValueError(f"{where}: gamma must be a whole number >= 1, got {gamma!r}")
    if gamma < 1:
        raise ValueError(f"{where}: gamma must be at least 1, got {gamma}")
    return Route(name, gamma)


def parse_routing(data: Any) -> RoutingTable:
    """Validate parsed YAML as a routing table; raises ValueError with one line."""
    if not isinstance(data, Mapping):
        raise ValueError("must be a mapping with drafters and routes")
    extra = set(data) - set(_TOP)
    if extra:
        raise ValueError(
            f"unknown field(s) {', '.join(sorted(map(str, extra)))} (allowed: {', '.join(_TOP)})"
        )
    version = data.get("version", ROUTING_VERSION)
    if version != ROUTING_VERSION:
        raise ValueError(f"version {version!r} is not supported (this specaudit reads 1)")
    drafters = data.get("drafters") or {}
    if not isinstance(drafters, Mapping):
        raise ValueError("drafters must map names to drafter specs")
    if NO_DRAFTER in drafters:
        raise ValueError(f"drafter name {NO_DRAFTER!r} is reserved for no speculation")
    for name, spec in drafters.items():
        if spec is not None and not isinstance(spec, str):
            raise ValueError(f"drafter {name!r}: spec must be a string or null")
    drafters = {str(k): v for k, v in drafters.items()}
    routes = data.get("routes")
    if not isinstance(routes, Mapping) or not routes:
        raise ValueError("routes must map groups (language/task) or languages to settings")
    parsed = {str(k): _route(v, f"route {k!r}", drafters) for k, v in routes.items()}
    default = data.get("default")
    default = _route(default, "default", drafters) if default is not None else None
    tune = data.get("tune") or {}
    if not isinstance(tune, Mapping):
        raise ValueError("tune must be a mapping")
    return RoutingTable(drafters, parsed, default, dict(tune))


def load_routing(path: str | Path) -> RoutingTable:
    """Read and validate a routing file.

    Raises
    ------
    ValueError
        One line naming the file and the problem: unreadable, not YAML, or
        not a valid table (unknown drafters, gamma < 1, ...).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise ValueError(f"cannot read routing file {path}: {err.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ValueError(f"routing file {path} is not valid YAML: {err}".splitlines()[0]) from None
    try:
        return parse_routing(data)
    except ValueError as err:
        raise ValueError(f"routing file {path}: {err}") from None
