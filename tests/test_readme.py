"""The README's Python example runs as written, and the README stays short."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_readme_fits_on_a_few_screens_and_keeps_the_ci_test_command():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200
    assert "make test" in text  # .ci/run calls it
    assert "docs/assets/report.png" in text
    assert (README.parent / "docs" / "assets" / "report.png").is_file()


def test_readme_python_example_runs(tmp_path, monkeypatch, capsys):
    blocks = _python_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) == 1
    monkeypatch.chdir(tmp_path)
    exec(compile(blocks[0], str(README), "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    assert re.search(r"^en/story speed-up \d+\.\d\dx$", out, flags=re.MULTILINE), out
    assert re.search(r"^sw/story speed-up \d+\.\d\dx$", out, flags=re.MULTILINE), out
    assert (tmp_path / "runs" / "example" / "metrics.json").is_file()
    assert (tmp_path / "runs" / "example" / "report.html").is_file()
