"""Scale-out: a sharded run (accelerate launch, --shard + merge) equals a single-process one.

The launch tests start ``accelerate launch`` with 2 CPU processes (gloo) on the
tiny models of ``conftest``. accelerate's ``--cpu`` flag alone starts one
process (its multi-CPU path goes through mpirun); ``--multi_gpu`` on a
machine without GPUs starts two through torchrun, which is what users of a
CPU box or a CI runner get.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from specaudit.metrics import compute_metrics, load_records
from tests.conftest import write_prompt_file
from tests.test_cli import TIMING_FIELDS, read_records, run_cli, without_timings
from tests.test_cli import pair_args as cli_pair_args

pytest.importorskip("accelerate")

# Per-group figures that depend on tokens and logits only, never on a clock.
TIMING_FREE_FIGURES = (
    "n_prompts",
    "n_steps",
    "acceptance_rate",
    "draft_acceptance_rate",
    "mean_accepted_length",
    "position_acceptance",
    "distributional_alpha_token",
    "cross_entropy",
    "kl",
)


def pair_args(tiny_dirs, prompt_file, out, *extra):
    """The CLI arguments of every run here, on one thread like each launched rank.

    Launched ranks run with ``OMP_NUM_THREADS=1``. A different thread count
    splits float sums differently, and on some CPUs (AVX2 AMD EPYC here) that
    moves the recorded divergences in the last bits, so every run pins one.
    """
    return cli_pair_args(tiny_dirs, prompt_file, out, "--threads", "1", *extra)


@pytest.fixture(scope="module")
def reference(tiny_dirs, tmp_path_factory):
    """A single-process run over the 8-prompt set: what every sharded run must equal."""
    root = tmp_path_factory.mktemp("scale_out")
    prompts = write_prompt_file(root / "prompts.jsonl")
    out = root / "single"
    result = run_cli(*pair_args(tiny_dirs, prompts, out))
    assert result.exit_code == 0, result.output
    return out, prompts


def assert_same_run(run_dir, reference_dir):
    """Records equal timings aside, in the same order; metrics equal timings aside."""
    records = read_records(run_dir / "records.jsonl")
    expected = read_records(reference_dir / "records.jsonl")
    assert [r["id"] for r in records] == [r["id"] for r in expected]  # order, no duplicates
    assert [without_timings(r) for r in records] == [without_timings(r) for r in expected]
    assert not list(run_dir.glob("records.rank-*.jsonl"))  # merged and removed

    groups = {g["group"]: g for g in json.loads((run_dir / "metrics.json").read_text())["groups"]}
    ref = json.loads((reference_dir / "metrics.json").read_text())["groups"]
    assert len(ref) == len(groups) == 4
    for expected_group in ref:
        got = groups[expected_group["group"]]
        for name in TIMING_FREE_FIGURES:
            assert got[name] == expected_group[name], (expected_group["group"], name)
    # With the reference's clock readings swapped in, every figure is identical.
    clock = {r["id"]: r for r in load_records(reference_dir / "records.jsonl")}
    swapped = []
    for record in load_records(run_dir / "records.jsonl"):
        record.update({k: clock[record["id"]][k] for k in TIMING_FIELDS})
        record["steps"] = clock[record["id"]]["steps"]
        swapped.append(record)
    assert compute_metrics(swapped).to_dict() == compute_metrics(list(clock.values())).to_dict()


def launch(args, *, script=("-m", "specaudit"), timeout=240):
    """Run ``accelerate launch`` with 2 CPU processes; return the finished process."""
    with socket.socket() as s:  # a free port, so parallel launches do not collide
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [
        sys.executable, "-m", "accelerate.commands.launch",
        "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(port),
        *script, *map(str, args),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


# Rank 1 is killed with SIGKILL half-way through writing its second record.
KILL_RANK_1 = textwrap.dedent(
    """
    import os, signal, sys
    from specaudit.audit.rundir import RunDir

    if os.environ["RANK"] == "1":
        real_append, written = RunDir.append, []

        def append_then_die(self, record):
            written.append(record.id)
            if len(written) == 2:
                with open(self.records_path, "a") as fh:
                    fh.write(record.to_json()[:40])
                os.kill(os.getpid(), signal.SIGKILL)
            real_append(self, record)

        RunDir.append = append_then_die

    from specaudit.cli import main

    main()
    """
)


def test_killed_rank_resumes_under_accelerate_to_the_single_process_run(
    reference, tiny_dirs, tmp_path
):
    ref_dir, prompts = reference
    out = tmp_path / "launched"
    args = pair_args(tiny_dirs, prompts, out)
    script = tmp_path / "kill_rank_1.py"
    script.write_text(KILL_RANK_1)

    crashed = launch(args, script=(script,))
    assert crashed.returncode != 0, crashed.stdout + crashed.stderr
    rank1 = (out / "records.rank-1.jsonl").read_text()
    assert rank1.count("\n") == 1 and not rank1.endswith("\n")  # one record and a torn line
    assert not (out / "records.jsonl").exists()

    resumed = launch([*args, "--resume"])
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "merged 2 shard files" in resumed.stdout
    assert_same_run(out, ref_dir)

    env = json.loads((out / "environment.json").read_text())
    assert [r["rank"] for r in env["ranks"]] == [0, 1]
    for rank in env["ranks"]:
        assert rank["device_name"].startswith("cpu") and rank["shard"]["count"] == 2
        assert len(rank["resumes"]) == 1  # the first launch and the resume, per rank
    plan = json.loads((out / "shards.json").read_text())
    shard_of = {p["id"]: p["shard"] for p in plan["prompts"]}
    for record in read_records(out / "records.jsonl"):  # whole groups per shard
        assert shard_of[record["id"]] == shard_of[f"{record['task']}-{record['language']}-0"]


def test_shard_then_merge_equals_single_process(reference, tiny_dirs, tmp_path):
    ref_dir, prompts = reference
    out = tmp_path / "array"
    first = run_cli(*pair_args(tiny_dirs, prompts, out, "--shard", "1/2"))
    assert first.exit_code == 0, first.output
    assert "specaudit merge" in first.output and not (out / "metrics.json").exists()

    early = run_cli("merge", out)
    assert early.exit_code == 2
    assert "4 prompts have no record (shard 0/2: 4)" in early.output

    second = run_cli(*pair_args(tiny_dirs, prompts, out, "--shard", "0/2"))
    assert second.exit_code == 0, second.output
    merged = run_cli("merge", out)
    assert merged.exit_code == 0, merged.output
    assert (out / "report.html").is_file()
    assert_same_run(out, ref_dir)


def test_plain_resume_finishes_and_merges_a_sharded_run(reference, tiny_dirs, tmp_path):
    ref_dir, prompts = reference
    out = tmp_path / "half"
    assert run_cli(*pair_args(tiny_dirs, prompts, out, "--shard", "1/2")).exit_code == 0
    resumed = run_cli(*pair_args(tiny_dirs, prompts, out, "--resume"))
    assert resumed.exit_code == 0, resumed.output
    assert "merged 1 shard file into" in resumed.output and "4 decoded now" in resumed.output
    assert_same_run(out, ref_dir)


def test_report_says_when_groups_were_timed_on_different_devices(reference, tmp_path):
    ref_dir, _ = reference
    out = tmp_path / "mixed"
    out.mkdir()
    lines = []
    for record in read_records(ref_dir / "records.jsonl"):
        if record["language"] == "sw":
            record["device_name"] = "NVIDIA A100-SXM4-80GB"
        lines.append(json.dumps(record) + "\n")
    (out / "records.jsonl").write_text("".join(lines))
    assert run_cli("report", out).exit_code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    (note,) = [n for n in metrics["notes"] if "device types" in n]
    assert "sw/story: NVIDIA A100-SXM4-80GB" in note and "en/story: cpu (" in note
    assert "different device types" in (out / "report.html").read_text()
    plain = compute_metrics(load_records(ref_dir / "records.jsonl"))
    assert not [n for n in plain.notes if "device types" in n]


def test_shard_option_errors_are_one_line(reference, tiny_dirs, tmp_path):
    _, prompts = reference
    bad = run_cli(*pair_args(tiny_dirs, prompts, tmp_path / "x", "--shard", "2/2"))
    assert bad.exit_code == 2 and "0 <= K < N" in bad.output
    by = run_cli(*pair_args(tiny_dirs, prompts, tmp_path / "y", "--shard-by", "language"))
    assert by.exit_code == 2 and "--shard-by 'language'" in by.output
    none = run_cli("merge", tmp_path)
    assert none.exit_code == 2 and "not a sharded run" in none.output


def test_merge_applies_a_gate_policy(reference, tiny_dirs, tmp_path):
    from specaudit.gate import example_policy_path

    _, prompts = reference
    out = tmp_path / "gated"
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nchecks:\n  - metric: min_speedup_ratioo\n")
    for k in (0, 1):
        assert run_cli(*pair_args(tiny_dirs, prompts, out, "--shard", f"{k}/2")).exit_code == 0
    refused = run_cli("merge", out, "--gate", bad)
    assert refused.exit_code == 2 and "min_speedup_ratioo" in refused.output
    assert not (out / "records.jsonl").exists()  # a bad policy stops before the merge
    merged = run_cli("merge", out, "--gate", example_policy_path())
    # Few prompts per group: no interval, so the gate cannot decide (exit 4), as with `run`.
    assert merged.exit_code == 4, merged.output
    assert "inconclusive" in merged.output and (out / "report.html").is_file()
