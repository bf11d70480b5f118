import json
import math

import pytest
import torch
import yaml
from typer.testing import CliRunner

from specaudit.audit.loading import load_tokenizer
from specaudit.cli import app
from specaudit.metrics import compute_metrics

runner = CliRunner()

TIMING_FIELDS = {
    "prefill_time_s",
    "spec_time_s",
    "baseline_time_s",
    "baseline_prefill_time_s",
    "draft_forward_s",
    "target_forward_s",
    "forward_time_s",
    "c",
    "plain_step_times_s",
    "timing_attempts",
    "timing_chosen",
}


def run_cli(*args):
    return runner.invoke(app, [str(a) for a in args])


def pair_args(tiny_dirs, prompt_file, out, *extra):
    return [
        "run",
        "--target",
        tiny_dirs["target"],
        "--drafter",
        tiny_dirs["drafter"],
        "--prompts",
        prompt_file,
        "--max-new-tokens",
        "12",
        "--gamma",
        "3",
        "--warmup",
        "0",
        "--out",
        out,
        "--no-progress",
        *extra,
    ]


def read_records(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def without_timings(record):
    record = {k: v for k, v in record.items() if k not in TIMING_FIELDS}
    record["steps"] = [
        {k: v for k, v in s.items() if k not in {"draft_time_s", "verify_time_s"}}
        for s in record["steps"]
    ]
    return record


def test_run_writes_a_complete_run_directory(tiny_dirs, prompt_file, tmp_path):
    out = tmp_path / "run"
    result = run_cli(*pair_args(tiny_dirs, prompt_file, out))
    assert result.exit_code == 0, result.output
    records = read_records(out / "records.jsonl")
    assert len(records) == 8
    tokenizer = load_tokenizer(str(tiny_dirs["target"]))
    # Round-robin over the four groups.
    assert [(r["language"], r["task"]) for r in records[:4]] == [
        ("en", "translation"),
        ("sw", "translation"),
        ("en", "story"),
        ("sw", "story"),
    ]
    for r in records:
        assert r["record_version"] == 2
        assert r["lossless"] is True
        assert r["output_ids"] == r["baseline_output_ids"]
        assert len(r["output_ids"]) <= 12
        assert r["steps"] and {
            "drafted",
            "accepted",
            "rejected",
            "position_accepted",
            "alpha",
            "cross_entropy",
            "kl",
        } <= set(r["steps"][0])
        assert r["prompt_ids"] == tokenizer(r["prompt"])["input_ids"]  # what was fed
        assert r["spec_time_s"] > 0 and r["baseline_time_s"] > 0 and r["target_forward_s"] > 0
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["gamma"] == 3 and config["max_new_tokens"] == 12 and config["seed"] == 0
    env = json.loads((out / "environment.json").read_text())
    assert env["device"] == "cpu" and env["threads"] >= 1 and env["packages"]["torch"]
    assert env["models"]["target"]["parameters"] > env["models"]["drafter"]["parameters"]


def test_threads_apply_to_the_run_only(tiny_dirs, prompt_file, tmp_path):
    before = torch.get_num_threads()
    want = 1 if before > 1 else 2
    out = tmp_path / "threads"
    result = run_cli(*pair_args(tiny_dirs, prompt_file, out, "--threads", str(want)))
    assert result.exit_code == 0, result.output
    assert json.loads((out / "environment.json").read_text())["threads"] == want
    assert torch.get_num_threads() == before  # the caller's thread count is back


def test_same_seed_same_records(tiny_dirs, prompt_file, tmp_path):
    extra = ["--mode", "sampling", "--temperature", "0.9", "--top-k", "50"]
    a, b = tmp_path / "a", tmp_path / "b"
    assert run_cli(*pair_args(tiny_dirs, prompt_file, a, *extra)).exit_code == 0
    assert run_cli(*pair_args(tiny_dirs, prompt_file, b, *extra)).exit_code == 0
    ra, rb = read_records(a / "records.jsonl"), read_records(b / "records.jsonl")
    assert [without_timings(r) for r in ra] == [without_timings(r) for r in rb]
    assert all(r["lossless"] is None for r in ra)
    # The sampling baseline decodes as many tokens as the speculative run.
    assert all(len(r["baseline_output_ids"]) == len(r["output_ids"]) for r in ra)


def test_resume_after_kill_redoes_nothing(tiny_dirs, prompt_file, tmp_path):
    out = tmp_path / "run"
    assert run_cli(*pair_args(tiny_dirs, prompt_file, out)).exit_code == 0
    full = (out / "records.jsonl").read_text().splitlines(keepends=True)
    # Simulate a hard kill: three finished lines and half of the fourth.
    (out / "records.jsonl").write_text("".join(full[:3]) + full[3][:40])
    result = run_cli(*pair_args(tiny_dirs, prompt_file, out, "--resume"))
    assert result.exit_code == 0, result.output
    assert "5 decoded now" in result.output
    resumed = (out / "records.jsonl").read_text().splitlines(keepends=True)
    assert resumed[:3] == full[:3]  # finished prompts untouched
    ids = [json.loads(line)["id"] for line in resumed]
    assert len(ids) == len(set(ids)) == 8
    env = json.loads((out / "environment.json").read_text())
    assert len(env["resumes"]) == 1 and env["resumes"][0]["device"] == "cpu"
    original = {r["id"]: without_timings(r) for r in map(json.loads, full)}
    assert all(
        without_timings(json.loads(line)) == original[json.loads(line)["id"]] for line in resumed
    )


def test_resume_refuses_changed_config_and_existing_run(tiny_dirs, prompt_file, tmp_path):
    out = tmp_path / "run"
    assert run_cli(*pair_args(tiny_dirs, prompt_file, out)).exit_code == 0
    again = run_cli(*pair_args(tiny_dirs, prompt_file, out))
    assert again.exit_code == 2 and "already holds a run" in again.output
    changed = run_cli(*pair_args(tiny_dirs, prompt_file, out, "--resume", "--seed", "3"))
    assert changed.exit_code == 2 and "differs in seed" in changed.output


def test_resume_of_a_run_started_before_a_config_field_existed(tiny_dirs, prompt_file, tmp_path):
    out = tmp_path / "run"
    args = pair_args(tiny_dirs, prompt_file, out)
    assert run_cli(*args).exit_code == 0
    # An older specaudit wrote config.yaml without the timing fields; their
    # defaults are what that run did, so resuming it is no change of config.
    config = yaml.safe_load((out / "config.yaml").read_text())
    del config["repeats"], config["retime"]
    (out / "config.yaml").write_text(yaml.safe_dump(config))
    assert run_cli(*args, "--resume").exit_code == 0
    changed = run_cli(*args, "--resume", "--repeats", "2")
    assert changed.exit_code == 2 and "differs in repeats" in changed.output


def test_ctrl_c_stops_cleanly_and_resumes(tiny_dirs, prompt_file, tmp_path, monkeypatch):
    import specaudit.audit.runner as runner_module

    real = runner_module._decode_prompt
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(runner_module, "_decode_prompt", flaky)
    out = tmp_path / "run"
    result = run_cli(*pair_args(tiny_dirs, prompt_file, out))
    assert result.exit_code == 130
    assert "2/8 prompts saved" in result.output
    assert len(read_records(out / "records.jsonl")) == 2
    monkeypatch.setattr(runner_module, "_decode_prompt", real)
    assert run_cli(*pair_args(tiny_dirs, prompt_file, out, "--resume")).exit_code == 0
    assert len(read_records(out / "records.jsonl")) == 8


def test_config_file_and_flag_override(tiny_dirs, prompt_file, tmp_path):
    cfg = tmp_path / "audit.yaml"
    cfg.write_text(yaml.safe_dump({"gamma": 2, "max_new_tokens": 6, "languages": ["sw"]}))
    out = tmp_path / "run"
    args = pair_args(tiny_dirs, prompt_file, out, "--config", cfg)
    args[args.index("--gamma") + 1] = "1"  # the flag wins over the file
    assert run_cli(*args).exit_code == 0
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["gamma"] == 1 and saved["languages"] == ["sw"]
    records = read_records(out / "records.jsonl")
    assert {r["language"] for r in records} == {"sw"}
    assert all(s["drafted"] <= 1 for r in records for s in r["steps"])


def test_ngram_build_and_run(tiny_dirs, prompt_file, tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("the cat sat on the mat\n\nmbwa anakula jikoni na paka analala\n")
    ngram = tmp_path / "d.ngram"
    built = run_cli(
        "ngram",
        "build",
        "--tokenizer",
        tiny_dirs["target"],
        "--text",
        text,
        "--order",
        "3",
        "--out",
        ngram,
    )
    assert built.exit_code == 0, built.output
    out = tmp_path / "run"
    args = pair_args(tiny_dirs, prompt_file, out)
    args[args.index("--drafter") + 1] = f"ngram:{ngram}"
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    records = read_records(out / "records.jsonl")
    assert all(r["lossless"] for r in records)
    assert any(s["drafted"] > 0 for r in records for s in r["steps"])
    # The n-gram's q is zero off its counts: cross-entropy and KL are set by
    # the log-q floor, so every group is marked, and U on TV stays finite.
    metrics = compute_metrics(records, min_prompts=2, n_boot=200)
    d = metrics.disparity
    assert set(d.floor_dominated) == {g.group for g in metrics.groups}
    assert d.unfairness_u_tv.estimate is not None and math.isfinite(d.unfairness_u_tv.estimate)
    # Beside it, the neural drafter of the same pair has full support: not marked.
    neural = tmp_path / "neural"
    assert run_cli(*pair_args(tiny_dirs, prompt_file, neural)).exit_code == 0
    fitted = compute_metrics(read_records(neural / "records.jsonl"), min_prompts=2, n_boot=200)
    assert fitted.disparity.floor_dominated == ()


def test_ngram_from_another_tokenizer_is_refused(tiny_dirs, prompt_file, tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("the cat sat on the mat\n")
    ngram = tmp_path / "d.ngram"
    assert (
        run_cli(
            "ngram", "build", "--tokenizer", tiny_dirs["foreign"], "--text", text, "--out", ngram
        ).exit_code
        == 0
    )
    args = pair_args(tiny_dirs, prompt_file, tmp_path / "run")
    args[args.index("--drafter") + 1] = f"ngram:{ngram}"
    result = run_cli(*args)
    assert result.exit_code == 2 and "another tokenizer" in result.output


GOOD_LINE = '{"id": "a", "language": "en", "task": "s", "prompt": "x"}\n'


def bad_prompts(tmp_path, text):
    path = tmp_path / "bad.jsonl"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda d, p, t: ["--prompts", t / "missing.jsonl"], "does not exist"),
        (
            lambda d, p, t: ["--prompts", bad_prompts(t, GOOD_LINE + "{oops\n")],
            "line 2: not valid JSON",
        ),
        (lambda d, p, t: ["--prompts", bad_prompts(t, "\n")], "holds no prompts"),
        (lambda d, p, t: ["--languages", "en,xx"], "unknown language 'xx'"),
        (lambda d, p, t: ["--drafter", d["foreign"]], "tokenizer differs from the target's"),
        (
            lambda d, p, t: ["--drafter", d["short_context"], "--max-new-tokens", "30"],
            "drafter's context is 24",
        ),
        (lambda d, p, t: ["--gamma", "0"], "gamma"),
        (lambda d, p, t: ["--max-new-tokens", "-5"], "max_new_tokens"),
        (lambda d, p, t: ["--device", "cuda:7"], "no such CUDA device"),
        (lambda d, p, t: ["--target", t / "no-model"], "could not load"),
        (lambda d, p, t: ["--config", bad_prompts(t, "gamma: [1\n")], "not valid YAML"),
        (lambda d, p, t: ["--config", bad_prompts(t, "gama: 3\n")], "gama: unknown field"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tiny_dirs, prompt_file, tmp_path, change, message):
    out = tmp_path / "run"
    args = pair_args(tiny_dirs, prompt_file, out)
    extra = change(tiny_dirs, prompt_file, tmp_path)
    for i in range(0, len(extra), 2):  # replace the option if present, else append
        key, value = extra[i], extra[i + 1]
        if key in args:
            args[args.index(key) + 1] = value
        else:
            args += [key, value]
    result = run_cli(*args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], lines
    assert "Traceback" not in result.output
    assert not (out / "records.jsonl").exists()


def test_run_with_gate_is_inconclusive_on_an_underpowered_run(tiny_dirs, prompt_file, tmp_path):
    from specaudit.gate import example_policy_path

    out = tmp_path / "run"
    junit = tmp_path / "gate.xml"
    result = run_cli(*pair_args(tiny_dirs, prompt_file, out, "--gate", example_policy_path()))
    # Two prompts per group: no group has an interval, so nothing can be decided.
    assert result.exit_code == 4, result.output
    assert "inconclusive" in result.output
    assert (out / "metrics.json").exists()
    gated = run_cli(
        "gate", out, "--policy", example_policy_path(), "--junit", junit, "--inconclusive", "fail"
    )
    assert gated.exit_code == 1 and junit.exists()


def test_run_checks_the_gate_policy_before_decoding(tiny_dirs, prompt_file, tmp_path):
    policy = tmp_path / "gate.yaml"
    policy.write_text("version: 1\nchecks:\n  - metric: min_speedup_ratioo\n")
    out = tmp_path / "run"
    result = run_cli(*pair_args(tiny_dirs, prompt_file, out, "--gate", policy))
    assert result.exit_code == 2 and "min_speedup_ratioo" in result.stderr
    assert not out.exists()
