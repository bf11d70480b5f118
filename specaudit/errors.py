"""Exceptions that the CLI turns into one-line messages and exit codes.

Library code raises these at its public boundary; the CLI prints
``error: <message>`` and exits with :attr:`SpecAuditError.exit_code`.
"""

from __future__ import annotations

__all__ = ["RuntimeFailure", "SpecAuditError", "UserInputError"]


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
