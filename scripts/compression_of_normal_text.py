"""Compression ratio of normal text: why it is not part of the ``degenerate`` flag.

For each built-in language, draws 30 random passages of 500 and of 1000
characters from the held-out monolingual text (``specaudit/data/text``) and
prints the largest compression ratio (:func:`specaudit.metrics.degeneracy.
compression_ratio`) among them. Ratios above Whisper's 2.4 cut-off on normal
text show that the ratio grows with length and bytes per character.

    python scripts/compression_of_normal_text.py
"""

from __future__ import annotations

import gzip
import random
from importlib import resources
from pathlib import Path

from specaudit.languages import BUILTIN_LANGUAGES
from specaudit.metrics.degeneracy import compression_ratio

LENGTHS = (500, 1000)
N_PASSAGES = 30


def main() -> None:
    rng = random.Random(0)
    above = []
    for language in BUILTIN_LANGUAGES:
        path = Path(str(resources.files("specaudit") / "data" / "text"))
        path = path / f"{language}.heldout.txt.gz"
        lines = gzip.open(path, "rt", encoding="utf-8").read().split("\n")
        largest = {}
        for length in LENGTHS:
            ratios = []
            for _ in range(N_PASSAGES):
                start, text = rng.randrange(len(lines) - 200), ""
                while len(text) < length:
                    text += lines[start] + " "
                    start += 1
                ratios.append(compression_ratio(text[:length]))
            largest[length] = max(ratios)
        print(language, "  ".join(f"{n} chars: {r:.2f}" for n, r in largest.items()))
        if max(largest.values()) > 2.4:
            above.append(language)
    print(f"above 2.4: {len(above)} of {len(BUILTIN_LANGUAGES)} ({', '.join(above)})")


if __name__ == "__main__":
    main()
