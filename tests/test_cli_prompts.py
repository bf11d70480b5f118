import json

from typer.testing import CliRunner

from specaudit.cli import app
from specaudit.languages import BUILTIN_LANGUAGES

runner = CliRunner()


def test_prompts_list_json_counts_builtin_sets():
    result = runner.invoke(app, ["prompts", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert set(rows[0]) == {"language", "task", "split", "count"}
    cells = {(r["language"], r["task"], r["split"]): r["count"] for r in rows}
    for lang in BUILTIN_LANGUAGES:
        for task in ("translation", "story"):
            assert cells[(lang, task, "eval")] >= 60
            assert cells[(lang, task, "heldout")] >= 60


def test_prompts_show_prints_prompts_of_one_group():
    result = runner.invoke(app, ["prompts", "show", "sw", "story", "-n", "2"])
    assert result.exit_code == 0, result.output
    assert result.output.count("--- story-sw-eval-") == 2


def test_prompts_show_unknown_language_is_exit_2():
    result = runner.invoke(app, ["prompts", "show", "xx", "story"])
    assert result.exit_code == 2
    assert "unknown language 'xx'" in result.stderr


def test_prompts_validate_reports_every_bad_line(tmp_path):
    good = {"id": "a", "language": "en", "task": "story", "prompt": "Once"}
    path = tmp_path / "p.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps(good),
                "{broken",
                json.dumps({**good, "id": "b", "language": "English"}),
                json.dumps({**good, "id": "c", "prompt": ""}),
            ]
        )
        + "\n"
    )
    result = runner.invoke(app, ["prompts", "validate", str(path)])
    assert result.exit_code == 2
    for line in (2, 3, 4):
        assert f"line {line}:" in result.stderr
    assert "3 problem(s)" in result.stderr
    path.write_text(json.dumps(good) + "\n")
    ok = runner.invoke(app, ["prompts", "validate", str(path)])
    assert ok.exit_code == 0 and "ok" in ok.output
