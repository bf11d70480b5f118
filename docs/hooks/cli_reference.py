"""MkDocs hook: render the CLI reference from the typer app at build time.

``docs/cli.md`` holds the marker ``<!-- cli-reference -->``; this hook replaces
it with one section per command, built from the command objects that typer
makes of :data:`specaudit.cli.app`. Nothing is copied by hand, so the page
cannot drift from the CLI. Help rows come from each parameter's own
``get_help_record``, the same text ``--help`` prints (defaults, ranges and
``[required]`` included).

:func:`walk_commands` is also what ``tests/test_docs.py`` uses to check the
commands and options that the pages mention.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import typer

#: The checkout these docs describe (``docs/hooks/`` is two levels down).
ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- cli-reference -->"
PROG = "specaudit"


def root_command():
    """Return the command object typer builds from ``specaudit.cli.app``.

    Returns
    -------
    object
        The root command group (a click-style ``Group``).
    """
    # Document this checkout's CLI, even when `mkdocs` runs from an environment
    # where another copy of specaudit is installed.
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from specaudit.cli import app

    return typer.main.get_command(app)


def _context(command, name: str, parent=None):
    """Make the context a command's help rendering needs."""
    return command.context_class(command, info_name=name, parent=parent)


def walk_commands(root=None) -> Iterator[tuple[tuple[str, ...], object, object]]:
    """Yield ``root`` and every command and group below it, depth first, in CLI order.

    Parameters
    ----------
    root : object, optional
        A click-style group; by default :func:`root_command`.

    Yields
    ------
    tuple
        ``(path, command, context)``, where ``path`` is the words after
        ``specaudit`` that name the command (``()`` for the root).
    """
    root = root_command() if root is None else root
    yield from _walk((), root, _context(root, PROG))


def _walk(path: tuple[str, ...], command, ctx):
    """Yield ``command`` then, recursively, its subcommands."""
    yield path, command, ctx
    children = getattr(command, "commands", None) or {}
    for name in command.list_commands(ctx) if children else ():
        child = children[name]
        yield from _walk((*path, name), child, _context(child, name, ctx))


def option_names(command) -> set[str]:
    """Return every option spelling a command accepts (``--out``, ``--no-progress``, ``-n``).

    Parameters
    ----------
    command : object
        A click-style command.

    Returns
    -------
    set of str
        Primary and secondary option names, plus ``--help``.
    """
    names = {"--help"}
    for param in command.params:
        if param.param_type_name == "option":
            names.update(param.opts)
            names.update(param.secondary_opts)
    return names


def _cell(text: str) -> str:
    """Escape a help text for one Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def _usage(path: tuple[str, ...], command) -> str:
    """Write a usage line: options first, then arguments, then a subcommand."""
    words = [PROG, *path, "[OPTIONS]"]
    for param in command.params:
        if param.param_type_name == "argument":
            words.append(param.name.upper())
    if getattr(command, "commands", None):
        words.append("COMMAND [ARGS]...")
    return " ".join(words)


def _section(path: tuple[str, ...], command, ctx) -> str:
    """Render one command as Markdown: title, help, usage, arguments, options."""
    title = " ".join((PROG, *path))
    lines = [f"## `{title}`" if path else f"## `{PROG}`", ""]
    if command.help:
        lines += [command.help.strip(), ""]
    lines += ["```text", _usage(path, command), "```", ""]
    for kind, heading in (("argument", "Argument"), ("option", "Option")):
        rows = []
        for param in command.params:
            if param.param_type_name != kind or getattr(param, "hidden", False):
                continue
            record = param.get_help_record(ctx)
            if record is None:
                continue
            names, text = record
            rows.append(f"| `{_cell(names)}` | {_cell(text)} |")
        if rows:
            lines += [f"| {heading} | Description |", "|---|---|", *rows, ""]
    children = getattr(command, "commands", None)
    if children:
        lines += ["| Command | Description |", "|---|---|"]
        for name in command.list_commands(ctx):
            child = children[name]
            anchor = "-".join((PROG, *path, name))
            summary = _cell((child.help or "").strip().split("\n\n")[0])
            lines.append(f"| [`{name}`](#{anchor}) | {summary} |")
        lines.append("")
    return "\n".join(lines)


def render_reference() -> str:
    """Render the whole CLI reference as Markdown.

    Returns
    -------
    str
        One ``##`` section per command and group, in the order ``--help`` lists them.
    """
    return "\n".join(_section(path, command, ctx) for path, command, ctx in walk_commands())


def on_page_markdown(markdown: str, page, config, files) -> str:
    """MkDocs event: put the rendered reference where the marker stands."""
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, render_reference())
