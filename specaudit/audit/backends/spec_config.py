"""vLLM's ``speculative_config`` from ``--speculative-config`` JSON or a shorthand.

``--speculative-config`` is passed to vLLM as given, so any method vLLM takes
works. ``--spec-method`` builds the common ones from the run's other options:
the drafter (``--drafter``) and the draft length (``--gamma``).
"""

from __future__ import annotations

from typing import Any

from specaudit.errors import UserInputError

__all__ = ["LOOKUP_METHODS", "MODEL_METHODS", "resolve_speculative_config"]

#: Methods whose drafter is a model (or a head) named by --drafter.
MODEL_METHODS = ("draft_model", "eagle", "eagle3", "medusa", "mlp_speculator")
#: Methods that draft by looking tokens up: no drafter model, no drafter forwards.
LOOKUP_METHODS = ("ngram", "suffix")
#: Methods that draft with layers shipped inside the target (no --drafter).
BUILTIN_METHODS = ("mtp",)


def resolve_speculative_config(
    speculative_config: dict[str, Any] | None,
    spec_method: str | None,
    *,
    drafter: str | None,
    gamma: int,
) -> dict[str, Any]:
    """Return the ``speculative_config`` dict to give vLLM.

    Parameters
    ----------
    speculative_config : dict or None
        Passed through as given (``--speculative-config``).
    spec_method : str or None
        Shorthand (``--spec-method``); ``None`` with no config means
        ``draft_model`` with ``drafter``.
    drafter : str or None
        The drafter model for the model methods.
    gamma : int
        ``num_speculative_tokens`` of a shorthand.

    Raises
    ------
    UserInputError
        If both forms are given, or a shorthand lacks its drafter.
    """
    if speculative_config is not None:
        if spec_method is not None:
            raise UserInputError("give --speculative-config or --spec-method, not both")
        if "method" not in speculative_config and "model" not in speculative_config:
            raise UserInputError('--speculative-config needs a "method" (or a "model")')
        return dict(speculative_config)
    method = spec_method or "draft_model"
    known = MODEL_METHODS + LOOKUP_METHODS + BUILTIN_METHODS
    if method not in known:
        raise UserInputError(
            f"--spec-method {method!r} is not a shorthand ({', '.join(known)}); "
            "pass any other method with --speculative-config JSON"
        )
    config: dict[str, Any] = {"method": method, "num_speculative_tokens": gamma}
    if method in MODEL_METHODS:
        if drafter is None:
            raise UserInputError(f"--spec-method {method} needs --drafter (the draft model)")
        config["model"] = drafter
    elif drafter is not None:
        raise UserInputError(f"--spec-method {method} takes no --drafter")
    if method == "ngram":
        # vLLM's own defaults; spelled out so config.yaml says what ran.
        config.update(prompt_lookup_min=1, prompt_lookup_max=4)
    return config


def drafts_with_model(config: dict[str, Any]) -> bool:
    """Whether the method runs a drafter model (which costs forwards)."""
    return config.get("method", "draft_model") not in LOOKUP_METHODS
