"""English→X string pairs from LibreOffice help and UI, Django and Kolibri.

Each reader yields raw ``(english, native)`` pairs for one language; ``collect_pairs``
cleans and filters them and keeps one translation per normalised English source.
"""

from __future__ import annotations

import gettext
import html
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from . import sources
from .textnorm import (
    clean,
    has_accelerator,
    has_placeholder,
    has_url,
    in_language,
    is_sentence,
    letter_ratio,
    split_key,
    word_count,
)

__all__ = ["Pair", "collect_pairs", "lo_help_paragraphs"]

#: Preference among origins when one English source has several translations.
ORIGINS = ("libreoffice-help", "libreoffice-ui", "django", "kolibri")

# A help paragraph: <p|h1..h6 id="par_id…|hd_id…" …>inner</same tag>.
_HELP_PARA = re.compile(
    r'<(p|h[1-6]?)\s+id="((?:par|hd)_id[^"]*)"[^>]*>(.*?)</\1>', re.DOTALL | re.IGNORECASE
)
_TAG = re.compile(r"<[^>]*>")
# Paragraphs whose text differs per platform or is code: not a clean sentence.
_HELP_SKIP = re.compile(r'switchinline|class="(?:bascode|input|literal)"|<img|<pre', re.I)


@dataclass(frozen=True)
class Pair:
    """One English source with its chosen translation into ``language``."""

    language: str  # the translation's language
    english: str  # cleaned English source (the representative surface form)
    native: str  # cleaned translation
    origin: str  # one of ORIGINS
    key: str  # split_key(english)

    @property
    def promptable(self) -> bool:
        """Good enough for an eval/heldout prompt: 4–40 words, no URL."""
        return 4 <= word_count(self.english) <= 40 and not has_url(self.english + self.native)

    @property
    def sentence(self) -> bool:
        """A real sentence rather than a UI label (preferred for eval/heldout)."""
        return self.promptable and is_sentence(self.english)


def _html_text(inner: str) -> str:
    return clean(html.unescape(_TAG.sub(" ", inner.replace("<br>", " "))))


@cache
def lo_help_paragraphs(lang_dir: Path) -> dict[tuple[str, str], str]:
    """Paragraphs of one LibreOffice help language, keyed by (file, paragraph id).

    Platform switches, code and images are skipped; within a file the first
    paragraph with an id wins.
    """
    out: dict[tuple[str, str], str] = {}
    for path in sorted((lang_dir / "text").rglob("*.html")):
        rel = path.relative_to(lang_dir).as_posix()
        page = path.read_text(encoding="utf-8", errors="replace")
        for _tag, pid, inner in _HELP_PARA.findall(page):
            if (rel, pid) in out or _HELP_SKIP.search(inner):
                continue
            text = _html_text(inner)
            if text:
                out[(rel, pid)] = text
    return out


def _mo_catalog(path: Path) -> Iterator[tuple[str, str]]:
    with path.open("rb") as fh:
        catalog = gettext.GNUTranslations(fh)._catalog
    for key, value in catalog.items():
        if not isinstance(key, str) or not key or not isinstance(value, str):
            continue  # plural forms are (msgid, n) tuples: skipped
        yield key.split("\x04")[-1], value


def _lo_help(roots: dict[str, Path], lang: str) -> Iterator[tuple[str, str]]:
    def folder(code: str) -> Path:
        pkg = "libreoffice-help-" + (
            "en-us" if code == "en" else sources.LO_HELP_DIRS[code].lower()
        )
        return roots[pkg] / "usr/share/libreoffice/help" / sources.LO_HELP_DIRS[code]

    english = lo_help_paragraphs(folder("en"))
    native = lo_help_paragraphs(folder(lang))
    for key in sorted(english.keys() & native.keys()):
        yield english[key], native[key]


def _lo_ui(roots: dict[str, Path], lang: str) -> Iterator[tuple[str, str]]:
    pkg = "libreoffice-l10n-" + sources.LO_UI_DIRS[lang].lower().replace("_", "-")
    base = roots[pkg] / "usr/lib/libreoffice/program/resource" / sources.LO_UI_DIRS[lang]
    for path in sorted(base.rglob("*.mo")):
        yield from _mo_catalog(path)


def _django(roots: dict[str, Path], lang: str) -> Iterator[tuple[str, str]]:
    code = sources.DJANGO_DIRS[lang]
    for path in sorted(roots["django"].rglob(f"locale/{code}/LC_MESSAGES/*.mo")):
        yield from _mo_catalog(path)


def _kolibri(roots: dict[str, Path], lang: str) -> Iterator[tuple[str, str]]:
    base = roots["kolibri"] / "kolibri/locale"
    native_dir = base / sources.KOLIBRI_DIRS[lang] / "LC_MESSAGES"
    for path in sorted(native_dir.glob("*.json")):
        english_path = base / "en/LC_MESSAGES" / path.name
        if not english_path.exists():
            continue
        english = json.loads(english_path.read_text(encoding="utf-8"))
        native = json.loads(path.read_text(encoding="utf-8"))
        for key in sorted(english.keys() & native.keys()):
            if isinstance(english[key], str) and isinstance(native[key], str):
                yield english[key], native[key]
    for path in sorted(native_dir.glob("*.mo")):
        yield from _mo_catalog(path)


_READERS = {
    "libreoffice-help": (_lo_help, sources.LO_HELP_DIRS),
    "libreoffice-ui": (_lo_ui, sources.LO_UI_DIRS),
    "django": (_django, sources.DJANGO_DIRS),
    "kolibri": (_kolibri, sources.KOLIBRI_DIRS),
}


def _usable(english: str, native: str, lang: str) -> bool:
    if not english or not native or english.casefold() == native.casefold():
        return False  # empty or untranslated (help pages fall back to English)
    both = english + " " + native
    if has_placeholder(both) or has_accelerator(both):
        return False
    if letter_ratio(english) < 0.6 or letter_ratio(native) < 0.5:
        return False  # mostly markup, numbers or symbols
    if word_count(english) > 80:
        return False
    return in_language(native, lang)


def collect_pairs(roots: dict[str, Path], languages: list[str]) -> dict[str, list[Pair]]:
    """All usable pairs per language, one per normalised English source, sorted by key.

    The translation kept for a source is the most frequent one (ties: earlier origin
    in ``ORIGINS``, then the smaller string). The English surface form kept for a key
    is chosen once across all languages, so parallel rows share one source text.
    """
    raw: dict[str, dict[str, Counter]] = {}
    surfaces: dict[str, Counter] = defaultdict(Counter)
    for lang in languages:
        by_key: dict[str, Counter] = defaultdict(Counter)
        for rank, origin in enumerate(ORIGINS):
            reader, dirs = _READERS[origin]
            if lang not in dirs:
                continue
            for english, native in reader(roots, lang):
                english = clean(english.replace("%PRODUCTNAME", "LibreOffice"))
                native = clean(native.replace("%PRODUCTNAME", "LibreOffice"))
                if not _usable(english, native, lang):
                    continue
                key = split_key(english)
                by_key[key][(native, rank)] += 1
                surfaces[key][english] += 1
        raw[lang] = by_key
    out: dict[str, list[Pair]] = {}
    for lang, by_key in raw.items():
        pairs = []
        for key in sorted(by_key):
            english = min(surfaces[key].items(), key=lambda kv: (-kv[1], kv[0]))[0]
            (native, rank), _ = min(
                by_key[key].items(), key=lambda kv: (-kv[1], kv[0][1], kv[0][0])
            )
            pairs.append(Pair(lang, english, native, ORIGINS[rank], key))
        out[lang] = pairs
    return out
