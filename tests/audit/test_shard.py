"""Shard assignment, plans, merging and the run directory's shard files (no models)."""

from __future__ import annotations

import json

import pytest

from specaudit.audit.rundir import RunDir
from specaudit.audit.shard import ShardPlan, ShardSpec, assign_shards, merge_records
from specaudit.errors import UserInputError
from specaudit.metrics.devices import device_notes, group_devices


def test_whole_groups_balanced_by_prompt_count():
    # Group sizes 5, 3, 2, 2 over 2 shards: LPT puts 5 on shard 0, 3 on 1,
    # the first 2 on 1 (3 < 5), the next 2 on 0 (5 = 5, lowest index).
    groups = ["a"] * 5 + ["b"] * 3 + ["c"] * 2 + ["d"] * 2
    shards = assign_shards(groups, 2)
    by_group = {g: {s for g2, s in zip(groups, shards, strict=True) if g2 == g} for g in "abcd"}
    assert by_group == {"a": {0}, "b": {1}, "c": {1}, "d": {0}}
    assert shards.count(0) == 7 and shards.count(1) == 5


def test_equal_groups_are_dealt_in_first_seen_order():
    interleaved = ["x", "y", "z", "x", "y", "z"]  # round-robin, as select_prompts orders
    assert assign_shards(interleaved, 3) == [0, 1, 2, 0, 1, 2]
    assert assign_shards(interleaved, 2) == [0, 1, 0, 0, 1, 0]
    assert assign_shards(interleaved, 2) == assign_shards(list(interleaved), 2)  # deterministic


def test_more_shards_than_groups_leaves_shards_empty_unless_by_prompt():
    groups = ["a", "a", "b", "b"]
    assert set(assign_shards(groups, 4)) == {0, 1}
    assert assign_shards(groups, 4, by="prompt") == [0, 1, 2, 3]


@pytest.mark.parametrize("text", ["2/2", "-1/2", "1", "a/b", "0/0"])
def test_bad_shard_spec_is_a_user_error(text):
    with pytest.raises(UserInputError, match="--shard"):
        ShardSpec.parse(text)


def test_shard_spec_parses_and_prints():
    spec = ShardSpec.parse(" 3 / 4 ")
    assert (spec.index, spec.count, str(spec)) == (3, 4, "3/4")


def test_plan_round_trips_and_reports_missing_by_shard():
    plan = ShardPlan.build(["p1", "p2", "p3", "p4"], ["a", "b", "a", "b"], 2)
    assert plan.shards == (0, 1, 0, 1)
    assert ShardPlan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan
    assert plan.missing({"p1", "p2"}) == {0: ["p3"], 1: ["p4"]}
    assert plan.missing(plan.ids) == {}
    with pytest.raises(ValueError, match="version-1"):
        ShardPlan.from_dict({"plan_version": 2})


def test_merge_orders_by_plan_and_keeps_first_copy():
    merged = merge_records(
        ["p1", "p2", "p3"],
        [[("p3", "rank0-p3")], [("p1", "rank1-p1"), ("p3", "rank1-p3"), ("zz", "other")]],
    )
    assert merged.lines == ("rank1-p1", "rank0-p3")
    assert merged.missing == ("p2",)
    assert (merged.n_duplicates, merged.n_extra) == (1, 1)


def _line(prompt_id: str, **extra) -> str:
    return json.dumps({"id": prompt_id, **extra})


def test_shard_run_dir_reads_every_shard_and_truncates_only_its_own(tmp_path):
    config = {"seed": 0}
    (tmp_path / "records.rank-1.jsonl").write_text(_line("b") + "\n" + '{"id": "c", "x')
    rank0 = RunDir(tmp_path, shard=0)
    assert rank0.start(config, resume=False) == {"b"}  # c is unfinished, not done
    assert (tmp_path / "records.rank-1.jsonl").read_text().endswith('"x')  # not ours to cut
    (tmp_path / "records.rank-0.jsonl").write_text(_line("a") + "\n" + '{"id": "d"')
    assert RunDir(tmp_path, shard=0).start(config, resume=True) == {"a", "b"}
    assert (tmp_path / "records.rank-0.jsonl").read_text() == _line("a") + "\n"


def test_shard_start_tolerates_a_sibling_but_not_an_earlier_run(tmp_path):
    RunDir(tmp_path, shard=1).start({"seed": 0}, resume=False)  # a sibling shard wrote config
    assert RunDir(tmp_path, shard=0).start({"seed": 0}, resume=False) == set()
    with pytest.raises(UserInputError, match="already holds a run"):
        RunDir(tmp_path, shard=0).start({"seed": 1}, resume=False)  # another config
    (tmp_path / "records.rank-0.jsonl").write_text(_line("a") + "\n")
    with pytest.raises(UserInputError, match="already holds a run"):
        RunDir(tmp_path, shard=0).start({"seed": 0}, resume=False)  # our own earlier records


def test_merge_writes_plan_order_and_every_rank_environment(tmp_path):
    rank0, rank1 = RunDir(tmp_path, shard=0), RunDir(tmp_path, shard=1)
    for rank, device in ((rank0, "cpu"), (rank1, "cuda:1")):
        rank.start({"seed": 0}, resume=False)
        rank.write_environment({"device": device})
    (tmp_path / "records.rank-0.jsonl").write_text(_line("p3") + "\n" + _line("p1") + "\n")
    (tmp_path / "records.rank-1.jsonl").write_text(_line("p2") + "\n")
    summary = RunDir(tmp_path).merge(["p1", "p2", "p3"])
    lines = (tmp_path / "records.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["p1", "p2", "p3"]
    assert (summary.n_records, summary.n_shard_files, summary.n_duplicates) == (3, 2, 0)
    assert not list(tmp_path.glob("records.rank-*"))
    env = json.loads((tmp_path / "environment.json").read_text())
    assert env["device"] == "cpu"
    assert [(r["rank"], r["device"]) for r in env["ranks"]] == [(0, "cpu"), (1, "cuda:1")]


def test_incomplete_merge_names_the_shard_and_changes_nothing(tmp_path):
    rank1 = RunDir(tmp_path, shard=1)
    rank1.start({"seed": 0}, resume=False)
    plan = ShardPlan.build(["p1", "p2", "p3"], ["a", "b", "b"], 2)
    assert plan.shards == (1, 0, 0)  # the larger group b goes first, to shard 0
    rank1.write_plan(plan)
    (tmp_path / "records.rank-0.jsonl").write_text(_line("p2") + "\n")
    (tmp_path / "records.rank-1.jsonl").write_text(_line("p1") + "\n")
    with pytest.raises(UserInputError, match=r"1 prompts have no record \(shard 0/2: 1\)"):
        RunDir(tmp_path).merge(["p1", "p2", "p3"])
    assert not (tmp_path / "records.jsonl").exists()
    assert len(list(tmp_path.glob("records.rank-*"))) == 2


def test_device_note_only_when_groups_differ():
    same = [
        {"language": "en", "task": "t", "device_name": "NVIDIA H100"},
        {"language": "sw", "task": "t", "device_name": "NVIDIA H100"},
        {"language": "de", "task": "t"},  # an older record: no device_name
    ]
    assert device_notes(same) == []
    mixed = [*same, {"language": "sw", "task": "t", "device_name": "NVIDIA A100"}]
    assert group_devices(mixed) == {
        "en/t": ("NVIDIA H100",),
        "sw/t": ("NVIDIA A100", "NVIDIA H100"),
    }
    (note,) = device_notes(mixed)
    assert "2 different device types" in note
    assert "en/t: NVIDIA H100; sw/t: NVIDIA A100 + NVIDIA H100" in note


def test_finish_markers_are_cleared_on_start_and_removed_by_the_merge(tmp_path):
    # A rank still re-timing rewrites its records file: the merging rank waits
    # for its finish marker, which each launch clears and the merge removes.
    rank1 = RunDir(tmp_path, shard=1)
    rank1.start({"seed": 0}, resume=False)
    assert rank1.shard_files("finished") == {}
    rank1.mark_finished()
    assert list(rank1.shard_files("finished")) == [1]
    rank1.start({"seed": 0}, resume=True)  # a resumed launch has not finished yet
    assert rank1.shard_files("finished") == {}
    rank1.mark_finished()
    (tmp_path / "records.rank-1.jsonl").write_text(_line("p1") + "\n")
    RunDir(tmp_path).merge(["p1"])
    assert not list(tmp_path.glob("finished.rank-*"))
