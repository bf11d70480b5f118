"""specaudit: audit and mitigate disparate speed-ups of speculative decoding."""

__version__ = "0.1.0"
