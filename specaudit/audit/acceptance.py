"""The speculative acceptance rule (Leviathan et al. 2023; Chen et al. 2023).

Both rules are pure functions of the target's distributions ``p``, the
drafter's ``q``, the draft tokens and a random generator. They return how
many drafts were accepted and the one token the target contributes: the
correction at the first rejection, or a bonus token when all were accepted.
See docs/method.md#speculative-step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["Verdict", "greedy_accept", "sampling_accept"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """Outcome of verifying one draft block."""

    n_accepted: int  #: drafts accepted before the first rejection
    next_token: int  #: the target's token emitted after them
    rejected: bool  #: whether a draft was rejected (n_accepted < drafted)


def _leading_true(flags: torch.Tensor) -> int:
    """Length of the leading run of ``True`` in a 1-D bool tensor."""
    return int(flags.to(torch.int64).cumprod(0).sum())


def greedy_accept(target_logits: torch.Tensor, draft: torch.Tensor) -> Verdict:
    """Accept drafts while they equal the target's argmax.

    Parameters
    ----------
    target_logits : Tensor, shape (k + 1, V)
        Target logits at the k draft positions and the bonus position.
    draft : Tensor, shape (k,)
        Draft token ids.

    Returns
    -------
    Verdict
        The output is token-for-token the target's own greedy output.
    """
    choice = target_logits.argmax(dim=-1)  # (k+1,)
    k = draft.numel()
    n = _leading_true(choice[:k] == draft) if k else 0
    return Verdict(n_accepted=n, next_token=int(choice[n]), rejected=n < k)


def sampling_accept(
    p: torch.Tensor,
    q: torch.Tensor,
    draft: torch.Tensor,
    generator: torch.Generator | None,
) -> Verdict:
    """Accept draft i with probability min(1, p(x_i) / q(x_i)).

    On the first rejection the target's token is drawn from
    norm(max(0, p - q)); when every draft is accepted it is drawn from the
    bonus position's p. The emitted sequence is then distributed exactly as
    sampling from p.

    Parameters
    ----------
    p : Tensor, shape (k + 1, V)
        Target distributions actually sampled from (after temperature,
        top-k, top-p).
    q : Tensor, shape (k, V)
        Drafter distributions the drafts were sampled from.
    draft : Tensor, shape (k,)
        Draft token ids, x_i ~ q_i.
    generator : torch.Generator or None
        Source of randomness (on p's device).
    """
    k = draft.numel()
    n = 0
    if k:
        rows = torch.arange(k, device=p.device)
        p_x, q_x = p[rows, draft], q[rows, draft]  # (k,)
        u = torch.rand(k, generator=generator, device=p.device, dtype=p.dtype)
        # u < p/q, written without a division: q_x > 0 since x_i ~ q_i.
        n = _leading_true(u * q_x < p_x)
    if n < k:
        residual = (p[n] - q[n]).clamp_min(0.0)  # (V,)
        total = residual.sum()
        # p == q leaves no residual mass; a rejection is then impossible in
        # exact arithmetic, so fall back to p for float round-off.
        dist = residual / total if total > 0 else p[n]
    else:
        dist = p[k]
    token = torch.multinomial(dist, 1, generator=generator)
    return Verdict(n_accepted=n, next_token=int(token), rejected=n < k)
