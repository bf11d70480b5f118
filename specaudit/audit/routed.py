"""A routed run: each group decoded with the drafter and draft length its routing file names.

``specaudit tune`` writes the routing file (:mod:`specaudit.metrics.routing`);
``specaudit run --routing FILE`` loads every drafter it uses once, side by
side on the target's device, and builds one engine per (drafter, gamma)
setting. All engines share the target, so a routed run costs one target's
memory plus each drafter's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from specaudit.audit.drafters.base import Drafter
from specaudit.audit.drafters.none import NoDrafter
from specaudit.audit.engine import SpeculativeEngine
from specaudit.errors import UserInputError
from specaudit.metrics.routing import Route, RoutingTable, load_routing

__all__ = ["Setting", "build_settings", "read_routing"]


@dataclass(frozen=True)
class Setting:
    """One routed setting: its drafter name, draft length and engine."""

    drafter: str  #: name in the routing file; "none" for no speculation
    gamma: int  #: 0 for no speculation
    engine: SpeculativeEngine


def read_routing(path: str | Path, groups: Iterable[tuple[str, str]]) -> tuple[RoutingTable, dict]:
    """Load a routing file and resolve every (language, task) group's route.

    Raises
    ------
    UserInputError
        One line: unreadable file, bad YAML, unknown drafter, gamma < 1, a
        route naming no group of the run, or a group with no route.
    """
    try:
        table = load_routing(path)
        routes = table.resolve(f"{lang}/{task}" for lang, task in groups)
    except ValueError as err:
        message = str(err)
        if not message.startswith("routing file"):
            message = f"routing file {path}: {message}"
        raise UserInputError(message) from None
    return table, routes


def build_settings(
    table: RoutingTable,
    routes: dict[str, Route],
    load_drafter: Callable[[str | None], tuple[Drafter, dict]],
    make_engine: Callable[[Drafter, int], SpeculativeEngine],
    *,
    vocab_size: int,
    device,
) -> tuple[dict[str, Setting], dict[str, dict]]:
    """Load the drafters ``routes`` use (once each) and build one engine per setting.

    Parameters
    ----------
    table : RoutingTable
        The routing file.
    routes : dict
        ``language/task`` -> its :class:`Route` (from :func:`read_routing`).
    load_drafter : callable
        Drafter spec (None: the built-in drafter) -> (drafter, facts).
    make_engine : callable
        (drafter, gamma) -> engine on the run's target.
    vocab_size, device
        The target's logit width and device (for the no-speculation drafter).

    Returns
    -------
    dict
        ``language/task`` -> :class:`Setting`.
    dict
        Drafter name -> facts for ``environment.json``.
    """
    drafters: dict[str, Drafter] = {}
    facts: dict[str, dict] = {}
    engines: dict[Route, Setting] = {}
    out = {}
    for group, route in routes.items():
        if route not in engines:
            if route.speculative:
                if route.drafter not in drafters:
                    drafters[route.drafter], facts[route.drafter] = load_drafter(
                        table.drafters[route.drafter]
                    )
                drafter, gamma = drafters[route.drafter], route.gamma
            else:
                drafter, gamma = NoDrafter(vocab_size=vocab_size, device=device), 1
                facts.setdefault(route.drafter, drafter.describe())
            engines[route] = Setting(route.drafter, route.gamma, make_engine(drafter, gamma))
        out[group] = engines[route]
    return out, facts
