"""How reports word unfairness U, its decomposition and the total-variation U.

Shared by the console summary, the HTML verdict, the before/after comparison
and the strategies table, so that every place says the same thing
(``docs/method.md#u-decomposition``, ``docs/method.md#floor``):

- U on cross-entropy splits into ``Var(H) + Var(KL) + 2 Cov(H, KL)``; Var(H)
  is the spread of the target's own entropy, which no drafter can change;
- where the drafter gives probability 0 to tokens the target rates, the
  cross-entropy and KL figures are set by the log-q floor, so the view leads
  with U on the total variation instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from specaudit.metrics.result import Disparity, Estimate, TaskDisparity
from specaudit.reports.formatting import Value, value

__all__ = ["UnfairnessCard", "entropy_share", "unfairness_cards", "unfairness_sentences"]


@dataclass(frozen=True)
class UnfairnessCard:
    """One headline figure: title, formatted value, one-line detail."""

    title: str
    value: str
    detail: str


def entropy_share(d: Disparity | TaskDisparity) -> float | None:
    """Var(H) / U (``None`` where either is undefined or U is 0)."""
    return _share(d.unfairness_u_entropy, d.unfairness_u)


def _share(part: Estimate, whole: Estimate) -> float | None:
    if part.estimate is None or not whole.estimate:
        return None
    return part.estimate / whole.estimate


def _with_interval(v: Value) -> str:
    return f"{v.text} {v.interval}".strip()


def unfairness_cards(d: Disparity) -> list[UnfairnessCard]:
    """Headline cards: U_TV first when the figures are floor-dominated, else U and its parts."""
    u, u_kl, u_tv = (value(e, 4) for e in (d.unfairness_u, d.unfairness_u_kl, d.unfairness_u_tv))
    tv_card = UnfairnessCard(
        "U on total variation",
        u_tv.text,
        f"Var(1 − α) over groups; interval {u_tv.interval or 'n/a'}; 0 = no disparity",
    )
    if d.floor_dominated:
        return [
            tv_card,
            UnfairnessCard(
                "Unfairness U (floor-dominated)",
                u.text,
                f"cross-entropy set by the log-q floor in {len(d.floor_dominated)} of "
                f"{len(d.groups)} groups: not a measure of the drafter's fit",
            ),
        ]
    share = entropy_share(d)
    detail = f"interval {u.interval or 'n/a'}; 0 = no disparity"
    if share is not None:
        detail += f"; {share:.0%} is the target's own entropy spread"
    cards = [UnfairnessCard("Unfairness U", u.text, detail)]
    if d.unfairness_u_kl.estimate is not None:
        cards.append(
            UnfairnessCard(
                "U on KL (the drafter's part)",
                u_kl.text,
                f"Var(KL) over groups; interval {u_kl.interval or 'n/a'}",
            )
        )
    return cards


def unfairness_sentences(d: Disparity) -> list[str]:
    """Return the verdict's sentences about U, its parts and U_TV."""
    u, u_tv = value(d.unfairness_u, 4), value(d.unfairness_u_tv, 4)
    tv = f"U on the total variation, Var(1 − α) over groups, is {_with_interval(u_tv)}"
    if d.floor_dominated:
        return [
            f"The drafter gives probability 0 to tokens the target rates in "
            f"{', '.join(d.floor_dominated)}, so its cross-entropy and KL there are set by the "
            f"log-q floor, not by its fit: U on cross-entropy ({u.text}) and its parts are "
            f"floor-dominated. {tv}."
        ]
    sentences = [
        f"Unfairness U (variance of the groups' mean cross-entropy) is {u.text}"
        + (f", interval {u.interval}." if u.interval else " (no interval).")
    ]
    share = entropy_share(d)
    if share is not None:
        h, kl, cov = (
            value(e, 4)
            for e in (d.unfairness_u_entropy, d.unfairness_u_kl, d.unfairness_u_covariance)
        )
        sentences.append(
            f"{share:.0%} of U is the spread of the target's own entropy, which no drafter can "
            f"change (Var(H) = {_with_interval(h)}); the drafter's part, U on KL, is "
            f"{_with_interval(kl)}, and 2 Cov(H, KL) = {_with_interval(cov)}. {tv}."
        )
    return sentences
