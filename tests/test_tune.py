"""`specaudit tune` and `specaudit run --routing`: bad input, the table, a routed demo run."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from specaudit.audit.ngram_build import build_ngram_file
from specaudit.audit.prompts import builtin_prompt_dir
from specaudit.audit.runner import builtin_pair
from specaudit.cli import app
from specaudit.metrics.routing import load_routing
from tests.metrics.test_tuning import _synthetic_records

TARGET, _ = builtin_pair()
FAST = ["--max-new-tokens", "12", "--warmup", "0", "--retime", "0", "--no-progress"]


def _one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    return lines[0]


GOOD = {
    "drafters": {"neural": None},
    "routes": {"en": {"drafter": "neural", "gamma": 2}, "sw/story": {"drafter": "none"}},
    "default": {"drafter": "neural", "gamma": 3},
}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["routes"].update({"xx/story": {"drafter": "neural", "gamma": 2}}), "xx/story"),
        (lambda d: d["routes"].update({"en": {"drafter": "medusa", "gamma": 2}}), "medusa"),
        (lambda d: d["routes"].update({"en": {"drafter": "neural", "gamma": 0}}), "at least 1"),
        (lambda d: d["routes"].update({"en": {"drafter": "neural", "gamma": "4"}}), "gamma"),
        (lambda d: d["routes"].update({"en": {"drafter": "neural"}}), "gamma"),
        (lambda d: d.pop("default"), "no route"),
        (lambda d: d.update({"colour": "red"}), "colour"),
        (lambda d: d["drafters"].update({"none": "x"}), "reserved"),
    ],
)
def test_every_routing_file_mistake_exits_2_with_one_line(tmp_path, edit, message):
    data = json.loads(json.dumps(GOOD))
    edit(data)
    path = tmp_path / "routing.yaml"
    path.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--routing",
            str(path),
            "--languages",
            "en,sw",
            "--n-prompts",
            "1",
            *FAST,
            "--out",
            str(tmp_path / "run"),
        ],
    )
    assert message in _one_line_error(result)
    assert not (tmp_path / "run" / "records.jsonl").exists()


def test_unreadable_routing_files_and_drafter_conflict_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("routes: [unclosed\n")
    for args in (
        ["--routing", str(bad)],
        ["--routing", str(tmp_path / "missing.yaml")],
        ["--routing", str(bad), "--drafter", "x", "--target", "y"],
    ):
        result = CliRunner().invoke(
            app, ["run", *args, "--n-prompts", "1", *FAST, "--out", str(tmp_path / "r")]
        )
        _one_line_error(result)


def _write_run(path: Path, records: list[dict], **config) -> Path:
    path.mkdir(parents=True)
    with (path / "records.jsonl").open("w") as fh:
        for r in records:
            fh.write(json.dumps(r) + "\n")
    cfg = {"target": None, "drafter": None, "gamma": 8, "max_new_tokens": 10**6, "mode": "greedy"}
    cfg.update(config)
    (path / "config.yaml").write_text(yaml.safe_dump(cfg))
    return path


def _two_groups(gamma: int, slow: str) -> list[dict]:
    """Two groups from the synthetic profile; group ``slow`` pays 3x for each draft."""
    out = []
    for language in ("en", "sw"):
        for r in _synthetic_records(gamma):
            r = json.loads(json.dumps(r))
            r["id"], r["language"] = f"{language}-{r['id']}", language
            if language == slow:
                for s in r["steps"]:
                    s["draft_time_s"] *= 3 * 10
                r["device_name"] = "slow"
                r["spec_time_s"] = sum(s["draft_time_s"] + s["verify_time_s"] for s in r["steps"])
            out.append(r)
    return out


def test_tune_writes_a_routing_table_and_checks_its_runs(tmp_path):
    a = _write_run(tmp_path / "fast", _two_groups(8, slow="sw"), drafter="a")
    b = _write_run(tmp_path / "slowen", _two_groups(8, slow="en"), drafter="ngram:b.ngram")
    out = tmp_path / "routing.yaml"
    result = CliRunner().invoke(app, ["tune", str(a), str(b), "--out", str(out), "--n-boot", "50"])
    assert result.exit_code == 0, result.output
    table = load_routing(out)
    # Each group goes to the run where its drafting is cheap.
    assert table.routes["en/t"].drafter == "fast"
    assert table.routes["sw/t"].drafter == "slowen"
    assert table.drafters == {"fast": "a", "slowen": "ngram:b.ngram"}
    assert table.tune["summary"]["routed"]["worst"] > table.tune["summary"]["single"]["worst"]
    assert "worst group" in result.output

    other = _write_run(tmp_path / "other", _two_groups(8, slow="sw")[:-1])
    assert "different prompt sets" in _one_line_error(
        CliRunner().invoke(app, ["tune", str(a), str(other), "--out", str(out)])
    )
    target = _write_run(tmp_path / "target", _two_groups(8, slow="sw"), target="other/model")
    assert "different targets" in _one_line_error(
        CliRunner().invoke(app, ["tune", str(a), str(target), "--out", str(out)])
    )
    routed = _write_run(tmp_path / "routed", _two_groups(8, slow="sw"), routing="r.yaml")
    assert "routed run" in _one_line_error(
        CliRunner().invoke(app, ["tune", str(a), str(routed), "--out", str(out)])
    )
    assert "--objective" in _one_line_error(
        CliRunner().invoke(app, ["tune", str(a), "--objective", "median", "--out", str(out)])
    )


def test_routed_demo_run_is_lossless_and_names_each_prompts_setting(tmp_path):
    text = tmp_path / "en.txt"
    with gzip.open(builtin_prompt_dir().parent / "text" / "en.train.txt.gz", "rt") as fh:
        text.write_text(fh.read()[:200_000])
    ngram = tmp_path / "en.ngram"
    build_ngram_file(str(TARGET), [str(text)], order=3, out=ngram)
    runs = {}
    for name, drafter in (
        ("neural", []),
        ("ngram", ["--target", str(TARGET), "--drafter", f"ngram:{ngram}"]),
    ):
        runs[name] = tmp_path / name
        result = CliRunner().invoke(
            app,
            [
                "run",
                *drafter,
                "--languages",
                "en,sw",
                "--n-prompts",
                "2",
                "--gamma",
                "3",
                *FAST,
                "--out",
                str(runs[name]),
            ],
        )
        assert result.exit_code == 0, result.output
    # The default target and `--target <its path>` are one target to tune.
    routing = tmp_path / "routing.yaml"
    tuned = CliRunner().invoke(
        app,
        ["tune", str(runs["neural"]), str(runs["ngram"]), "--out", str(routing), "--n-boot", "20"],
    )
    assert tuned.exit_code == 0, tuned.output
    # Keep tune's predictions, but make sure both drafters and no speculation are used.
    data = yaml.safe_load(routing.read_text())
    data["drafters"] = {"neural": None, "ngram": f"ngram:{ngram}"}
    data["routes"] = {
        "en/story": {"drafter": "neural", "gamma": 2},
        "en/translation": {"drafter": "ngram", "gamma": 4},
        "sw": {"drafter": "none"},
    }
    routing.write_text(yaml.safe_dump(data))
    out = tmp_path / "routed"
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--routing",
            str(routing),
            "--languages",
            "en,sw",
            "--n-prompts",
            "2",
            *FAST,
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert len(records) == 8
    assert all(r["lossless"] for r in records)
    expected = {
        "en/story": ("neural", 2),
        "en/translation": ("ngram", 4),
        "sw/story": ("none", 0),
        "sw/translation": ("none", 0),
    }
    for r in records:
        group = f"{r['language']}/{r['task']}"
        assert (r["drafter"], r["gamma"]) == expected[group]
        drafted = [s["drafted"] for s in r["steps"]]
        assert max(drafted) <= expected[group][1]
        if r["drafter"] == "neural":
            assert max(drafted) == 2
    env = json.loads((out / "environment.json").read_text())
    assert {"drafter neural", "drafter ngram", "drafter none"} <= set(env["models"])
    assert env["models"]["drafter neural"]["parameters"] > 0
    assert env["models"]["drafter ngram"]["kind"] == "ngram"
    assert (out / "routing.yaml").is_file()
    html = (out / "report.html").read_text()
    assert 'id="tuning"' in html and "ngram γ=4" in html and "Median |predicted" in html
