"""Build an n-gram drafter file from plain text with a target's tokenizer."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

from specaudit.audit.loading import load_tokenizer, vocab_fingerprint
from specaudit.audit.ngram import NGramModel
from specaudit.errors import UserInputError

__all__ = ["build_ngram_file", "read_documents"]


def read_documents(path: str | Path) -> Iterator[str]:
    """Yield the blank-line-separated documents of a text file (``.gz`` allowed)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError, EOFError) as err:
        raise UserInputError(f"cannot read text file {path}: {err}") from None
    for doc in text.split("\n\n"):
        if doc.strip():
            yield doc.strip()


def build_ngram_file(tokenizer_spec: str, texts: list[str], *, order: int, out: str | Path) -> str:
    """Tokenise ``texts`` with the target's tokenizer, count n-grams, save to ``out``.

    Returns
    -------
    str
        A one-line summary (tokens counted, contexts per order).
    """
    if order < 2:
        raise UserInputError(f"--order must be at least 2, got {order}")
    tokenizer = load_tokenizer(tokenizer_spec)
    documents = [doc for path in texts for doc in read_documents(path)]
    if not documents:
        raise UserInputError("the --text files hold no text")
    ids = tokenizer(documents, add_special_tokens=False)["input_ids"]
    model = NGramModel.build(
        ids,
        order=order,
        vocab_size=len(tokenizer),
        tokenizer_fingerprint=vocab_fingerprint(tokenizer),
    )
    model.save(out)
    contexts = ", ".join(
        f"{len(t.keys)} {n}-token contexts" for n, t in sorted(model.tables.items())
    )
    return f"{model.tokens} tokens, {contexts}"
