"""Text normalisation, script checks and the string filters of the data build."""

from __future__ import annotations

import hashlib
import re
import unicodedata

__all__ = [
    "clean",
    "has_accelerator",
    "has_placeholder",
    "in_language",
    "is_sentence",
    "join_lines",
    "letter_ratio",
    "split_key",
    "stable_hash",
    "word_count",
]

_WS = re.compile(r"\s+")
# Invisible format characters that only get in the way (bidi marks stay: ar needs none).
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff\u200e\u200f\u202a-\u202e]")

_PLACEHOLDER = re.compile(
    r"""
      %(?:\([^)\s]*\))?[-+#0]*\d*(?:\.\d+)?[sdifuxXeEgGcr]\b   # %s  %d  %(name)s  %.2f
    | %\d                                                    # %1
    | %[A-Z][A-Z_]{2,}                                       # %PRODUCTNAME, %VERSION
    | \{[^{}]*\}                                             # {0}  {name}  { n }  ICU
    | \$\{[^}]*\} | \$\(?[A-Za-z_][A-Za-z0-9_]*\)?           # ${X}  $VAR  $(ARG1)
    | <[^<>]+>                                               # <tags>
    | &(?:[a-zA-Z]+|\#\d+);                                  # &amp; &#160;
    | \\[nt]                                                 # escaped newlines, tabs
    | \#\#\#|@@                                              # LibreOffice / Kolibri tokens
    """,
    re.VERBOSE,
)
_ACCELERATOR = re.compile(r"~\w|&(?=\w)(?!\w+;)|(?<!\w)_(?=\w)|\w_\w\b")
_URL = re.compile(r"https?://|www\.|\S+@\S+\.\w")

# Letters of each built-in language's script (Latin languages are not checked by script).
_SCRIPTS = {
    "ru": re.compile(r"[\u0400-\u04FF]"),
    "ar": re.compile(r"[\u0600-\u06FF\u0750-\u077F\uFB50-\uFDFF\uFE70-\uFEFF]"),
    "hi": re.compile(r"[\u0900-\u097F]"),
    "ko": re.compile(r"[\uAC00-\uD7AF\u1100-\u11FF\u3130-\u318F]"),
    "ja": re.compile(r"[\u3040-\u30FF\u4E00-\u9FFF\u3400-\u4DBF\uFF66-\uFF9F]"),
    "zh": re.compile(r"[\u4E00-\u9FFF\u3400-\u4DBF]"),
}
_KANA = re.compile(r"[\u3040-\u30FF]")
_CJK_CHAR = re.compile(r"[\u3000-\u30FF\u3400-\u4DBF\u4E00-\u9FFF\uAC00-\uD7AF\uFF00-\uFFEF]")
# A few very frequent function words per Latin-script language: enough to tell an
# untranslated English fallback paragraph from a translated one.
_STOPWORDS = {
    "en": {"the", "of", "and", "to", "is", "in", "that", "for", "with", "this", "you", "are"},
    "de": {"der", "die", "das", "und", "ist", "nicht", "mit", "ein", "eine", "sie", "zu", "den"},
    "fr": {"le", "la", "les", "et", "est", "des", "une", "un", "pour", "dans", "du", "vous"},
    "es": {"el", "la", "los", "las", "y", "es", "que", "para", "una", "un", "del", "por"},
    "sw": {"na", "ya", "wa", "kwa", "la", "za", "katika", "ni", "cha", "kama", "hii", "au"},
}
_WORD = re.compile(r"[^\W\d_]+")


def clean(text: str) -> str:
    """NFC-normalise, drop invisible characters and collapse all whitespace to one space."""
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text).replace("\u00a0", " ")
    return _WS.sub(" ", text).strip()


def join_lines(lines: list[str]) -> str:
    """Join wrapped lines with a space, except between two CJK characters."""
    out = ""
    for line in lines:
        line = line.strip()
        if not line:
            continue
        if out and not (_CJK_CHAR.match(out[-1]) and _CJK_CHAR.match(line[0])):
            out += " "
        out += line
    return out


def split_key(english: str) -> str:
    """The normalised English source that decides a pair's split.

    Case, compatibility forms, whitespace and final punctuation are folded, so
    "Open the file." and "open the file" always land in the same split.
    """
    text = unicodedata.normalize("NFKC", english).casefold()
    return _WS.sub(" ", text).strip().rstrip(".:!?…;, ").strip()


def stable_hash(text: str) -> int:
    """A platform-independent 64-bit hash (sha256 prefix) used for every ordering."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def has_placeholder(text: str) -> bool:
    """Whether the text holds a format placeholder, a tag, an entity or an escape."""
    return bool(_PLACEHOLDER.search(text))


def has_accelerator(text: str) -> bool:
    """Whether the text holds a menu mnemonic marker (``~``, ``&`` or ``_`` before a letter)."""
    return bool(_ACCELERATOR.search(text))


def has_url(text: str) -> bool:
    """Whether the text holds a web address or an e-mail address."""
    return bool(_URL.search(text))


def letter_ratio(text: str) -> float:
    """Share of non-space characters that are letters or combining marks (any script)."""
    chars = [c for c in text if not c.isspace()]
    if not chars:
        return 0.0
    # Combining marks count as letters: Devanagari vowel signs are not isalpha().
    return sum(unicodedata.category(c)[0] in "LM" for c in chars) / len(chars)


def word_count(text: str) -> int:
    """Whitespace-separated words (used on English text only)."""
    return len(text.split())


def native_length(text: str) -> int:
    """Length in "words": whitespace words, or CJK characters / 2 for zh, ja and ko."""
    cjk = len(_CJK_CHAR.findall(text))
    return len(text.split()) + cjk // 2


def in_language(text: str, lang: str) -> bool:
    """Heuristic check that a string is written in ``lang`` rather than left in English.

    Non-Latin languages need at least half of their letters in their script
    (Japanese also needs some kana, Chinese none). Latin-script languages need more
    of their own frequent function words than English ones, when any are present.
    """
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return False
    script = _SCRIPTS.get(lang)
    if script is not None:
        share = len(script.findall(text)) / len(letters)
        if lang == "ja" and not _KANA.search(text) and len(letters) > 8:
            return False
        if lang == "zh" and _KANA.search(text):
            return False
        return share >= 0.5
    ascii_share = sum(c.isascii() for c in letters) / len(letters)
    if ascii_share < 0.8:  # Latin languages here are (near-)ASCII letters
        return False
    words = [w.casefold() for w in _WORD.findall(text)]
    own = sum(w in _STOPWORDS[lang] for w in words)
    others = max(
        (sum(w in stop for w in words) for code, stop in _STOPWORDS.items() if code != lang),
        default=0,
    )
    return own >= others if lang != "en" else own > 0 or len(words) < 6


def is_sentence(text: str) -> bool:
    """Whether an English string reads as a sentence, not a UI label."""
    return bool(text) and (text[0].isupper() or text[0].isdigit()) and text[-1] in ".!?"
