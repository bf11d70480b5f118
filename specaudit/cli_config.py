"""The ``specaudit run`` options that set RunConfig fields, generated from RunConfig.

Each :class:`~specaudit.audit.config.RunConfig` field is declared once, in
the model: its type, its default and its ``#:`` comment. This module turns
every field into a typer option ``--field-name`` (help: the comment, with the
model's default), so a new field is a new flag without any CLI edit.

Option values default to ``None`` ("not given"), so a ``--config`` file's
value survives unless the flag is passed; the model's own default applies
when neither gives one.

Four spellings differ from the generic rule and are declared here:
``--prompts`` is repeatable, list fields are otherwise comma-separated,
mapping fields take a JSON object, and booleans are ``--x/--no-x`` switches.
"""

from __future__ import annotations

import inspect
import json
import re
import types
import typing
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel

from specaudit.cli_common import csv_list
from specaudit.errors import UserInputError

__all__ = ["config_overrides", "config_parameters", "field_help", "json_object"]

#: List fields given by repeating the flag (the others take ``a,b,c``).
REPEATED = frozenset({"prompts"})

_COMMENT = re.compile(r"^\s+(\w+)\s*:.*#:\s*(.+?)\s*$")


def field_help(model: type[BaseModel]) -> dict[str, str]:
    """Map each field of ``model`` (and its bases) to its ``#:`` comment."""
    helps: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)) or cls is BaseModel:
            continue
        for line in inspect.getsource(cls).splitlines():
            match = _COMMENT.match(line)
            if match:
                helps[match.group(1)] = match.group(2)
    return helps


def _base_type(annotation: Any) -> Any:
    """Drop ``None`` from an optional annotation; Literal becomes its values' type."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        annotation = args[0] if len(args) == 1 else annotation
    if typing.get_origin(annotation) is typing.Literal:
        return type(typing.get_args(annotation)[0])
    return annotation


def _choices(annotation: Any) -> tuple[str, ...]:
    """Return the allowed values of a Literal field (also inside ``X | None``), else ()."""
    for candidate in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(candidate) is typing.Literal:
            return tuple(str(v) for v in typing.get_args(candidate))
    return ()


def _is_list(annotation: Any) -> bool:
    return typing.get_origin(annotation) is list


def _is_mapping(annotation: Any) -> bool:
    return typing.get_origin(annotation) is dict


def json_object(text: str, flag: str) -> dict[str, Any]:
    """Parse a JSON object given on the command line.

    Raises
    ------
    UserInputError
        One line naming ``flag``, for text that is not JSON or not an object.
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise UserInputError(f"{flag} is not valid JSON: {err.msg} at char {err.pos}") from None
    if not isinstance(value, dict):
        raise UserInputError(f'{flag} must be a JSON object, e.g. \'{{"method": "ngram"}}\'')
    return value


def _option(name: str, annotation: Any, default: Any, help_text: str) -> inspect.Parameter:
    flag = "--" + name.replace("_", "-")
    # Parentheses, not brackets: rich would read "[default: 4]" as markup.
    shown = f" (default: {default})" if default not in (None, [], "") else ""
    if annotation is bool:
        kind: Any = bool | None
        info = typer.Option(f"{flag}/--no-{flag[2:]}", help=help_text, show_default=False)
        if default is not None:
            info.help += f" (default: {'on' if default else 'off'})"
    elif _is_list(annotation) and name in REPEATED:
        kind = list[Path] | None
        info = typer.Option(flag, help=f"{help_text} (repeatable)", show_default=False)
    elif _is_list(annotation):
        kind = str | None
        info = typer.Option(flag, help=f"{help_text} (comma-separated){shown}", show_default=False)
    elif _is_mapping(annotation):
        kind = str | None
        info = typer.Option(flag, help=f"{help_text} (a JSON object)", show_default=False)
    else:
        kind = annotation | None
        info = typer.Option(flag, help=help_text + shown, show_default=False)
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[kind, info]
    )


def config_parameters(model: type[BaseModel]) -> list[inspect.Parameter]:
    """One keyword-only typer parameter per field of ``model``, in field order.

    Parameters
    ----------
    model : type of pydantic.BaseModel
        :class:`~specaudit.audit.config.RunConfig` (or a model like it).

    Returns
    -------
    list of inspect.Parameter
        Annotated with ``typer.Option``; every default is ``None``.
    """
    helps = field_help(model)
    params = []
    for name, field in model.model_fields.items():
        default = field.get_default(call_default_factory=True)
        help_text = helps.get(name, name.replace("_", " "))
        choices = _choices(field.annotation)
        if choices:
            help_text = f"{', '.join(choices)}: {help_text}"
        params.append(_option(name, _base_type(field.annotation), default, help_text))
    return params


def config_overrides(model: type[BaseModel], values: dict[str, Any]) -> dict[str, Any]:
    """Turn the parsed option values of ``model``'s fields into config overrides.

    ``None`` means "not given" (see :func:`specaudit.audit.config.load_config`).
    """
    out: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        value = values.get(name)
        base = _base_type(field.annotation)
        if value is not None and _is_list(base):
            value = [str(v) for v in value] or None if name in REPEATED else csv_list(value)
        elif value is not None and _is_mapping(base):
            value = json_object(value, "--" + name.replace("_", "-"))
        out[name] = value
    return out
