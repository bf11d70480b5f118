"""The built-in languages and the fixed translation prompt template.

The template is shared by the data build (prompt sets), the demo target's
training recipe and mitigation, so that prompts look exactly like what the
demo target was trained on.
"""

from __future__ import annotations

__all__ = [
    "BUILTIN_LANGUAGES",
    "LANGUAGE_NAMES",
    "STORY_CUT",
    "TASKS",
    "story_opening",
    "translation_prompt",
]

#: English names of the eleven built-in languages, in report order.
LANGUAGE_NAMES: dict[str, str] = {
    "en": "English",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "ru": "Russian",
    "zh": "Chinese",
    "ja": "Japanese",
    "ar": "Arabic",
    "hi": "Hindi",
    "ko": "Korean",
    "sw": "Swahili",
}

BUILTIN_LANGUAGES: tuple[str, ...] = tuple(LANGUAGE_NAMES)

#: Built-in tasks: ``translation`` (into the group's language) and ``story``
#: (open continuation; the held-out task, never in any training split).
TASKS: tuple[str, ...] = ("translation", "story")


def translation_prompt(source: str, *, source_language: str, target_language: str) -> str:
    """Render the one fixed translation template for a direction.

    The model's answer follows the final colon after a single space, e.g.::

        Translate from English to German.
        English: Open the file.
        German:

    Parameters
    ----------
    source : str
        The sentence to translate.
    source_language, target_language : str
        Built-in language codes.
    """
    src = LANGUAGE_NAMES[source_language]
    tgt = LANGUAGE_NAMES[target_language]
    return f"Translate from {src} to {tgt}.\n{src}: {source}\n{tgt}:"


#: Where a text is cut: a story prompt is its first ~70%, ending mid-sentence.
STORY_CUT = 0.7
_NO_SPACES = {"zh", "ja"}
_PUNCTUATION = set("。、，．！？,.;:!?」』）)।؟،")


def story_opening(text: str, lang: str) -> str:
    """Cut a text mid-sentence, so that the prompt asks to be continued.

    A premise ends with a full sentence, and a small model trained on
    paragraphs ends its output right there; cut at a word boundary (a
    character for zh and ja) near ``STORY_CUT`` of the text, never right
    after punctuation, the model continues the text instead. Shared by the
    story prompt sets and mitigation's text-continuation training prompts.
    """
    cut = int(len(text) * STORY_CUT)
    if lang in _NO_SPACES:
        while cut > 1 and text[cut - 1] in _PUNCTUATION:
            cut -= 1
        return text[:cut]
    head = text[:cut].rsplit(" ", 1)[0].rstrip()
    while head and head[-1] in _PUNCTUATION:
        if " " not in head:  # one word left: drop its punctuation, or loop forever
            return head.rstrip("".join(_PUNCTUATION))
        head = head.rsplit(" ", 1)[0].rstrip()
    return head
