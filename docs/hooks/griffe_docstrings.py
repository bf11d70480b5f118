"""Griffe extension for the API reference: read this codebase's docstring habits.

specaudit's docstrings are numpydoc, with two reStructuredText habits that
Markdown does not understand, and its fields are documented with ``#:``
comments, which griffe does not read. Both are translated here, at build
time, so the source keeps one style:

- ``#: text`` after a field (or on the lines just above it) becomes the
  field's docstring;
- roles such as ``:class:`~specaudit.metrics.Estimate``` become code spans
  (``Estimate``), and a paragraph ending in ``::`` ends in ``:``.
"""

from __future__ import annotations

import re

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|mod|func|meth|attr|data|exc|obj|ref):`~?([^`]+)`")
LITERAL_INTRO = re.compile(r"(?<=\S)::$", re.MULTILINE)


def _markdown(text: str) -> str:
    """Turn the reStructuredText roles and ``::`` of a docstring into Markdown."""

    def code(match: re.Match) -> str:
        target = match.group(1)
        shown = target.rsplit(".", 1)[-1] if match.group(0).find("`~") != -1 else target
        return f"`{shown}`"

    return LITERAL_INTRO.sub(":", ROLE.sub(code, text))


def _comment_doc(attr: griffe.Attribute) -> str | None:
    """Return the ``#:`` comment of a field: trailing on its line, or on the lines above."""
    collection = attr.lines_collection
    if not attr.lineno or attr.filepath not in collection:
        return None
    lines = collection[attr.filepath]
    line = lines[attr.lineno - 1]
    if "#:" in line:
        return line.split("#:", 1)[1].strip()
    above = []
    index = attr.lineno - 2
    while index >= 0 and lines[index].strip().startswith("#:"):
        above.insert(0, lines[index].strip()[2:].strip())
        index -= 1
    return " ".join(above) or None


class SpecauditDocstrings(griffe.Extension):
    """Field comments as docstrings, and reStructuredText roles as Markdown."""

    def on_attribute_instance(self, *, attr: griffe.Attribute, **kwargs) -> None:
        """Give a field without a docstring the text of its ``#:`` comment."""
        if attr.docstring is None:
            text = _comment_doc(attr)
            if text:
                attr.docstring = griffe.Docstring(text, parent=attr)

    def on_object(self, *, obj: griffe.Object, **kwargs) -> None:
        """Rewrite every docstring's roles once the tree is complete."""
        if obj.docstring is not None:
            obj.docstring.value = _markdown(obj.docstring.value)
