"""Exceptions that the CLI turns into one-line messages and exit codes.

Library code raises these at its public boundary; the CLI prints
``error: <message>`` and exits with :attr:`SpecAuditError.exit_code`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = [
    "MODEL_PAIR_MESSAGE",
    "RuntimeFailure",
    "SpecAuditError",
    "UserInputError",
    "validation_line",
    "validation_problems",
]

#: The one wording for a target given without a drafter, or the reverse.
MODEL_PAIR_MESSAGE = "give both --target and --drafter, or neither for the built-in demo pair"


class SpecAuditError(Exception):
    """Base class for errors that carry their own exit code."""

    exit_code = 3


class UserInputError(SpecAuditError, ValueError):
    """Bad input: a path, file, option or model pair the user supplied (exit 2).

    The message names the problem and what to do about it, in one line.
    """

    exit_code = 2


class RuntimeFailure(SpecAuditError, RuntimeError):
    """A failure while running that is not the user's input (exit 3)."""

    exit_code = 3


def validation_problems(
    errors: Iterable[Mapping[str, Any]],
    *,
    name: Callable[[str], str] = lambda field: field,
    allowed: Iterable[str] | None = None,
) -> list[str]:
    """Describe pydantic validation errors, one ``field: message`` each, typos first.

    Parameters
    ----------
    errors : iterable of dict
        ``ValidationError.errors()``.
    name : callable, optional
        How to show a field (e.g. as its ``--flag``); gets the dotted location.
    allowed : iterable of str, optional
        The fields an unknown field could have been (named in its message).

    Returns
    -------
    list of str
        An unknown field (usually a typo) comes first, since it also shows up
        as a missing one.
    """
    known = list(allowed) if allowed is not None else None
    out = []
    for e in sorted(errors, key=lambda x: x["type"] != "extra_forbidden"):
        field = name(".".join(str(x) for x in e["loc"]) or "config")
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "missing":
            msg = "missing required field"
        elif e["type"] == "extra_forbidden" and known is not None:
            msg = f"unknown field (allowed: {', '.join(known)})"
        out.append(f"{field}: {msg}")
    return out


def validation_line(errors: Iterable[Mapping[str, Any]], **options: Any) -> str:
    """Describe pydantic validation errors in one line: the first, and how many more.

    Takes the options of :func:`validation_problems`.
    """
    problems = validation_problems(errors, **options)
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return problems[0] + more
