"""Serving backends without vLLM: records from counts, shorthands, the openai error paths."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from specaudit.audit.backends.completion import Completion, build_record, steps_from_counts
from specaudit.audit.backends.openai_client import parse_spec_counts
from specaudit.audit.backends.spec_config import resolve_speculative_config
from specaudit.audit.prompts import Prompt
from specaudit.cli import app
from specaudit.errors import UserInputError
from specaudit.metrics import compute_metrics, load_records
from tests.audit.fake_server import FakeServer

runner = CliRunner()
EXAMPLE_POLICY = Path(__file__).parents[2] / "specaudit" / "gate" / "example_policy.yaml"


def test_steps_from_counts_marks_rejections_and_leaves_divergences_absent():
    steps = steps_from_counts([4, 4, 0], [4, 1, 0])
    assert [s.rejected for s in steps] == [False, True, False]
    assert [s.emitted for s in steps] == [5, 2, 1]
    assert steps[1].position_accepted == [True, False]
    assert all(s.alpha is None and s.kl is None and s.verify_time_s is None for s in steps)
    # The output ends 2 tokens into the second step: it emits them, and no more steps.
    cut = steps_from_counts([4, 4, 4], [4, 3, 2], n_emitted=7)
    assert [(s.accepted, s.emitted, s.rejected) for s in cut] == [(4, 5, False), (2, 2, False)]
    # A budget of 6 step tokens: the native engine drafts at most 6 - 0 - 1 = 5,
    # then 6 - 5 - 1 = 0 (the last token is the target's own), as counted here.
    capped = steps_from_counts([8, 8], [8, 0], n_emitted=6, budget=6)
    assert [(s.drafted, s.accepted, s.emitted, s.rejected) for s in capped] == [(5, 5, 6, False)]
    capped = steps_from_counts([4, 4, 4], [1, 4, 3], n_emitted=6, budget=6)
    assert [(s.drafted, s.accepted, s.emitted, s.rejected) for s in capped] == [
        (4, 1, 2, True),
        (3, 3, 4, False),
    ]
    with pytest.raises(ValueError, match="accepted 3 of 2"):
        steps_from_counts([2], [3])


def test_build_record_compares_greedy_outputs_without_failing():
    prompt = Prompt(id="p", language="en", task="t", prompt="hi")
    spec = Completion([1, 2, 3], "abc", "max_new_tokens", 0.5, 0.1, [2], [1])
    plain = Completion([1, 2, 4], "abd", "max_new_tokens", 0.9, 0.1)
    record = build_record(
        prompt, [7], spec, plain, greedy=True, seed=0, device_name="cpu", neural_drafter=True
    )
    assert record.lossless is False
    assert (record.spec_time_s, record.baseline_time_s) == (0.5, 0.9)
    assert record.n_draft_forwards == 2 and record.c is None
    no_plain = build_record(
        prompt, [7], spec, None, greedy=True, seed=0, device_name="cpu", neural_drafter=False
    )
    assert no_plain.lossless is None and no_plain.baseline_time_s is None
    assert no_plain.n_draft_forwards == 0


def test_shorthands_build_vllm_configs():
    assert resolve_speculative_config(None, "ngram", drafter=None, gamma=3) == {
        "method": "ngram",
        "num_speculative_tokens": 3,
        "prompt_lookup_min": 1,
        "prompt_lookup_max": 4,
    }
    assert resolve_speculative_config(None, None, drafter="d", gamma=4) == {
        "method": "draft_model",
        "num_speculative_tokens": 4,
        "model": "d",
    }
    given = {"method": "suffix", "num_speculative_tokens": 8}
    assert resolve_speculative_config(given, None, drafter=None, gamma=4) == given
    with pytest.raises(UserInputError, match="needs --drafter"):
        resolve_speculative_config(None, "eagle3", drafter=None, gamma=4)
    with pytest.raises(UserInputError, match="not both"):
        resolve_speculative_config(given, "ngram", drafter=None, gamma=4)


def test_parse_spec_counts_reads_vllm_and_refuses_totals():
    vllm = {
        "choices": [{}],
        "metrics": {
            "speculative_decoding": {"per_step_drafted": [4, 4], "per_step_accepted": [2, 4]}
        },
    }
    assert parse_spec_counts(vllm) == ([4, 4], [2, 4])
    assert parse_spec_counts({"choices": [{"text": "x"}]}) is None
    with pytest.raises(UserInputError, match="SGLang"):
        parse_spec_counts({"choices": [{}], "meta_info": {"spec_accept_length": 2.5}})
    with pytest.raises(UserInputError, match=r"llama\.cpp"):
        parse_spec_counts({"choices": [{}], "timings": {"draft_n": 9, "draft_n_accepted": 4}})


@pytest.fixture()
def served(tiny_dirs):
    servers = []

    def start(**kwargs):
        server = FakeServer(str(tiny_dirs["target"]), **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        try:
            server.stop()
        except OSError:
            pass


def openai_args(prompt_file, out, url, *extra):
    return [
        "run",
        "--backend",
        "openai",
        "--base-url",
        url,
        "--prompts",
        str(prompt_file),
        "--out",
        str(out),
        "--max-new-tokens",
        "9",
        "--no-progress",
        *extra,
    ]


def test_server_without_metrics_names_the_flag(served, prompt_file, tmp_path):
    server = served(metrics=False)
    result = runner.invoke(app, openai_args(prompt_file, tmp_path / "run", server.url))
    assert result.exit_code == 2
    assert "--per-request-spec-decode-metrics detailed" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "run" / "records.jsonl").exists()


def test_timeouts_are_retried_then_exit_2(served, prompt_file, tmp_path):
    server = served(delay_s=1.0)
    args = openai_args(
        prompt_file, tmp_path / "run", server.url, "--request-timeout", "0.2", "--retries", "1"
    )
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "failed 2 time(s)" in result.output and "--resume" in result.output
    assert server.requests == 2  # the first try and one retry


def test_dead_server_keeps_whole_records_and_resumes(served, prompt_file, tmp_path, tiny_dirs):
    out = tmp_path / "run"
    # Each chunk of 2 prompts sends 2 speculative and 2 plain requests.
    dying = served(die_after=6)
    args = openai_args(
        prompt_file,
        out,
        dying.url,
        "--baseline-url",
        dying.url,
        "--concurrency",
        "2",
        "--retries",
        "1",
        "--request-timeout",
        "2",
    )
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "continue with --out" in result.output
    saved = load_records(out / "records.jsonl")
    assert len(saved) == 2  # the one whole chunk; nothing half-written
    port = int(dying.url.rsplit(":", 1)[1])
    served(port=port)  # the server comes back where it was
    result = runner.invoke(app, [*args, "--resume"])
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in load_records(out / "records.jsonl")][:2] == [r["id"] for r in saved]
    assert len(load_records(out / "records.jsonl")) == 8


def test_metrics_of_backend_records_say_not_available(served, prompt_file, tmp_path):
    server = served()
    out = tmp_path / "run"
    result = runner.invoke(
        app, openai_args(prompt_file, out, server.url, "--baseline-url", server.url)
    )
    assert result.exit_code == 0, result.output
    records = load_records(out / "records.jsonl")
    assert all(s["alpha"] is None for r in records for s in r["steps"])
    metrics = json.loads((out / "metrics.json").read_text())
    group = metrics["groups"][0]
    # 9 tokens: the first from the prefill, 8 from steps that each accept 1 of 2
    # drafts. The 4th step has room for 1 draft before the budget's last token
    # and accepts it: 4 accepted of 7 verified positions.
    assert group["acceptance_rate"]["estimate"] == pytest.approx(4 / 7)
    assert group["distributional_alpha_token"]["estimate"] is None
    assert group["kl"]["estimate"] is None
    assert any("not available for this backend" in n for n in metrics["notes"])
    assert any("identical outputs (greedy): 8/8" in n for n in metrics["notes"])
    assert metrics["timing"]["verdict"] == "unknown"
    assert "serving backend" in metrics["timing"]["reasons"][0]
    assert (out / "report.html").exists()
    # The gate runs unchanged on them.
    gate = runner.invoke(
        app, ["gate", str(out), "--policy", str(EXAMPLE_POLICY), "--inconclusive", "pass"]
    )
    assert gate.exit_code in (0, 1), gate.output
    assert "Traceback" not in gate.output
    direct = compute_metrics(records)
    assert direct.groups[0].acceptance_rate.estimate == pytest.approx(4 / 7)


def test_a_run_without_baseline_measures_acceptance_only(served, prompt_file, tmp_path):
    server = served()
    out = tmp_path / "run"
    result = runner.invoke(app, openai_args(prompt_file, out, server.url))
    assert result.exit_code == 0, result.output
    records = load_records(out / "records.jsonl")
    assert all(r["baseline_time_s"] is None and r["lossless"] is None for r in records)
    metrics = json.loads((out / "metrics.json").read_text())
    group = metrics["groups"][0]
    assert group["acceptance_rate"]["estimate"] == pytest.approx(4 / 7)
    assert group["speedup"]["estimate"] is None
    assert any("without a plain baseline" in n for n in metrics["notes"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backend", "vllm", "--speculative-config", "{bad"], "is not valid JSON"),
        (["--backend", "vllm", "--speculative-config", "[1]"], "must be a JSON object"),
        (["--backend", "vllm", "--shard", "0/2"], "--shard needs the native backend"),
        (["--backend", "openai"], "needs base_url"),
        (["--concurrency", "4"], "needs a serving backend"),
        (["--backend", "openai", "--base-url", "http://x", "--routing", "r.yaml"], "routing needs"),
    ],
)
def test_backend_option_mistakes_exit_2_with_one_line(args, message, tmp_path):
    result = runner.invoke(app, ["run", *args, "--out", str(tmp_path / "run"), "--no-progress"])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "run" / "records.jsonl").exists()
