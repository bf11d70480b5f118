import json

import pytest

from specaudit.audit.prompts import load_prompts, select_prompts, validate_prompt_file
from specaudit.errors import UserInputError


def write(tmp_path, lines, name="p.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def row(**kw):
    base = {"id": "a", "language": "en", "task": "story", "prompt": "Once"}
    base.update(kw)
    return json.dumps(base)


def test_loads_valid_rows_with_optional_fields(tmp_path):
    path = write(tmp_path, [row(), row(id=2, item_id=7, split="eval", reference="x", extra=1)])
    prompts = load_prompts([path])
    assert [p.id for p in prompts] == ["a", "2"]
    assert prompts[1].item_id == "7" and prompts[1].reference == "x"


@pytest.mark.parametrize(
    "line,message",
    [
        ("{not json", "line 2: not valid JSON"),
        ("[1, 2]", "line 2: not a JSON object"),
        (
            json.dumps({"id": "b", "language": "en", "task": "story"}),
            "prompt: missing required field",
        ),
        (row(id="b", language="English"), "not a language code"),
        (row(id="b", prompt="   "), "prompt is blank"),
        (row(id="b", task="two words"), "plain name"),
    ],
)
def test_bad_lines_name_their_line(tmp_path, line, message):
    path = write(tmp_path, [row(), line])
    with pytest.raises(UserInputError, match=message):
        load_prompts([path])
    problems = validate_prompt_file(path)
    assert len(problems) == 1 and problems[0].line == 2


def test_validate_reports_every_problem(tmp_path):
    path = write(tmp_path, [row(), "{", row(id="a"), row(id="c", language="?")])
    problems = validate_prompt_file(path)
    assert sorted(p.line for p in problems) == [0, 2, 4]  # 0: duplicate id


def test_missing_empty_and_duplicate(tmp_path):
    with pytest.raises(UserInputError, match="does not exist"):
        load_prompts([tmp_path / "nope.jsonl"])
    with pytest.raises(UserInputError, match="holds no prompts"):
        load_prompts([write(tmp_path, [""], "empty.jsonl")])
    a, b = write(tmp_path, [row()], "a.jsonl"), write(tmp_path, [row()], "b.jsonl")
    with pytest.raises(UserInputError, match="ids must be unique"):
        load_prompts([a, b])


def test_gzip_and_directories(tmp_path):
    import gzip

    d = tmp_path / "sets"
    d.mkdir()
    with gzip.open(d / "x.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write(row(id="g") + "\n")
    write(d, [row(id="p")], "y.jsonl")
    assert sorted(p.id for p in load_prompts([d])) == ["g", "p"]


def test_selection_round_robin_and_limits(tmp_path):
    lines = [row(id=f"{lang}{i}", language=lang) for lang in ("en", "sw") for i in range(3)]
    lines.append(row(id="h", language="en", split="heldout"))
    prompts = load_prompts([write(tmp_path, lines)])
    chosen = select_prompts(prompts, split="eval", n_per_group=2)
    assert [p.id for p in chosen] == ["en0", "sw0", "en1", "sw1"]
    assert [p.id for p in select_prompts(prompts, languages=["sw"])] == ["sw0", "sw1", "sw2"]


def test_unknown_language_or_task(tmp_path):
    prompts = load_prompts([write(tmp_path, [row()])])
    with pytest.raises(UserInputError, match="unknown language 'xx'"):
        select_prompts(prompts, languages=["xx"])
    with pytest.raises(UserInputError, match="unknown task 'poem'"):
        select_prompts(prompts, tasks=["poem"])
