"""Running text from man pages (groff), Debian Handbook HTML and LibreOffice help.

Each reader returns documents: ``(doc_id, [paragraph, …])`` with paragraphs in
reading order, cleaned, and checked to be in the requested language (help pages,
the handbook and man pages all fall back to English where untranslated).
"""

from __future__ import annotations

import gzip
import re
from html.parser import HTMLParser
from pathlib import Path

from . import sources
from .parallel import lo_help_paragraphs
from .textnorm import clean, in_language, join_lines, letter_ratio, native_length

__all__ = ["handbook_documents", "lo_help_documents", "man_documents", "paragraph_ok"]

Document = tuple[str, list[str]]
_EMAIL = re.compile(r"\S+@\S+\.\w")  # translator credits, bug-report addresses


def paragraph_ok(text: str, lang: str, *, min_words: int = 5) -> bool:
    """A paragraph worth keeping as running text: long enough, mostly letters, in ``lang``.

    ``min_words`` counts whitespace words, or two CJK characters as one word.
    """
    return (
        native_length(text) >= min_words
        and not _EMAIL.search(text)
        and len(text) >= 4 * min_words
        and letter_ratio(text) >= 0.6
        and in_language(text, lang)
    )


# --- groff -----------------------------------------------------------------------------

_GROFF_SPECIAL = {
    "em": "—", "en": "–", "lq": "“", "rq": "”", "oq": "‘", "cq": "’", "aq": "'", "dq": '"',
    "bu": "•", "co": "©", "rg": "®", "mu": "×", ">=": "≥", "<=": "≤", "->": "→", "<-": "←",
    "hy": "-", "ti": "~", "ha": "^", "rs": "\\", "Fo": "«", "Fc": "»", "fo": "‹", "fc": "›",
    "R": "®", "Tm": "™", "ga": "`", "pl": "+", "mi": "-", "eq": "=", "sl": "/", "de": "°",
}  # fmt: skip
_GROFF_ESCAPE = re.compile(
    r"""\\(?:
        f(?:\[[^\]]*\]|\(..|.)          # font changes
      | s[-+]?(?:\d+|\(\d\d|\[\d+\])   # size changes
      | \(..                           # \(xx special character
      | \*(?:\(..|\[[^\]]*\]|.)         # \*x, \*(xx, \*[name] strings
      | \[[^\]]*\]                     # \[name] special char
      | [nk](?:\(..|\[[^\]]*\]|.)      # registers, marks
      | [hvwlLoxXbDHSRzZNCY]'[^']*'    # motions, boxes and the like
      | .                              # any other one-letter escape
    )""",
    re.VERBOSE,
)
_FONT_ALTERNATING = {"BR", "RB", "BI", "IB", "IR", "RI"}
_FONT_SINGLE = {"B", "I", "SM", "SB"}
_BREAKS = {"PP", "P", "LP", "TP", "TQ", "IP", "HP", "sp", "br", "RS", "RE", "SH", "SS", "Pp"}


def _groff_escape(match: re.Match) -> str:
    esc = match.group(0)
    body = esc[1:]
    simple = {"-": "-", "e": "\\", " ": " ", "~": " ", "0": " ", "\\": "\\", ".": ".", "'": "'"}
    if body in simple:
        return simple[body]
    body = body.removeprefix("*")
    if body.startswith("("):
        name = body[1:3]
    elif body.startswith("["):
        name = body[1:-1]
    else:
        name = body
    return _GROFF_SPECIAL.get(name, "")


def _macro_args(arg: str) -> list[str]:
    return [a[1:-1] if a.startswith('"') else a for a in re.findall(r'"[^"]*"|\S+', arg)]


def groff_paragraphs(source: str) -> list[str]:
    """Paragraphs of running text from one man page; code (``.nf``/``.EX``) is skipped."""
    paragraphs: list[str] = []
    lines: list[str] = []
    nofill = False

    def flush() -> None:
        if lines:
            paragraphs.append(clean(_GROFF_ESCAPE.sub(_groff_escape, join_lines(lines))))
            lines.clear()

    for raw in source.splitlines():
        line = raw.rstrip()
        if line.startswith(('.\\"', "'\\\"", '\\"', ".\\#")):
            continue
        if line.startswith((".", "'")):
            macro, _, arg = line[1:].strip().partition(" ")
            if macro in ("nf", "EX"):
                flush()
                nofill = True
            elif macro in ("fi", "EE"):
                nofill = False
            elif macro in _BREAKS:
                flush()  # headings, list tags and breaks all end a paragraph
            elif not nofill and macro in _FONT_SINGLE:
                lines.append(" ".join(_macro_args(arg)))
            elif not nofill and macro in _FONT_ALTERNATING:
                lines.append("".join(_macro_args(arg)))
            continue
        if not nofill:
            lines.append(line)
    flush()
    return paragraphs


def man_documents(roots: dict[str, Path], lang: str) -> list[Document]:
    """Man pages of ``lang`` as documents (symlinks and ``.so`` stubs skipped)."""
    if lang not in sources.MAN_DIRS:
        return []
    package, folder = sources.MAN_DIRS[lang]
    base = roots[package] / "usr/share/man" / folder
    pattern = "man*/*.gz"
    docs = []
    for path in sorted(base.glob(pattern)):
        if path.is_symlink():
            continue
        text = gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")
        paragraphs = [p for p in groff_paragraphs(text) if paragraph_ok(p, lang)]
        if paragraphs:
            docs.append((f"man/{path.relative_to(base).as_posix()}", paragraphs))
    return docs


# --- HTML ------------------------------------------------------------------------------


class _Blocks(HTMLParser):
    """Text of block-level elements; ``pre``, scripts and the head are skipped."""

    BLOCK = frozenset(
        "p div h1 h2 h3 h4 h5 h6 li dt dd td th tr table pre br blockquote ul ol dl title".split()
    )
    SKIP = frozenset(["pre", "script", "style", "head"])

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self._parts: list[str] = []
        self._skip = 0

    def _flush(self) -> None:
        text = clean("".join(self._parts))
        if text:
            self.blocks.append(text)
        self._parts = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.BLOCK:
            self._flush()
        if tag in self.SKIP:
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self._skip = max(0, self._skip - 1)
        if tag in self.BLOCK:
            self._flush()

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._parts.append(data)


def html_blocks(page: str) -> list[str]:
    """Cleaned text blocks of one HTML page, in reading order."""
    parser = _Blocks()
    parser.feed(page)
    parser.close()
    parser._flush()
    return parser.blocks


def handbook_documents(roots: dict[str, Path], lang: str) -> list[Document]:
    """Chapters of The Debian Administrator's Handbook in ``lang``."""
    if lang not in sources.HANDBOOK_DIRS:
        return []
    base = (
        roots["debian-handbook"]
        / "usr/share/doc/debian-handbook/html"
        / sources.HANDBOOK_DIRS[lang]
    )
    docs = []
    for path in sorted(base.glob("*.html")):
        blocks = html_blocks(path.read_text(encoding="utf-8", errors="replace"))
        paragraphs = [b for b in blocks if paragraph_ok(b, lang)]
        if paragraphs:
            docs.append((f"handbook/{path.name}", paragraphs))
    return docs


def lo_help_documents(roots: dict[str, Path], lang: str) -> list[Document]:
    """LibreOffice help pages in ``lang``, one document per page."""
    if lang not in sources.LO_HELP_DIRS:
        return []
    code = sources.LO_HELP_DIRS[lang]
    package = "libreoffice-help-" + ("en-us" if lang == "en" else code.lower())
    paragraphs = lo_help_paragraphs(roots[package] / "usr/share/libreoffice/help" / code)
    by_file: dict[str, list[str]] = {}
    for (rel, _pid), text in paragraphs.items():
        if paragraph_ok(text, lang):
            by_file.setdefault(rel, []).append(text)
    return [(f"help/{rel}", paras) for rel, paras in sorted(by_file.items())]
