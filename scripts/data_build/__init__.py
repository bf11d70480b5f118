"""Helpers for ``scripts/build_data.py``: the offline data build of specaudit.

One module per concept: ``sources`` (pins, fetching, unpacking), ``textnorm``
(normalisation and filters), ``parallel`` (English→X pairs), ``monolingual``
(running text from man pages and HTML), ``splits`` (split assignment and prompt
rows), ``textsets`` (monolingual train/heldout files) and ``writers``
(byte-deterministic output).
"""
