"""Contrasts against the reference group: design, Holm, simultaneous intervals."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from specaudit.metrics import compute_metrics
from specaudit.metrics._load import prompt_frame
from specaudit.metrics.contrasts import acceptance_diff, holm, resampling_design, speedup_ratio
from specaudit.metrics.synthetic import GroupSpec, synthetic_records


def test_contrast_figures_by_hand():
    assert speedup_ratio(3.0, 2.0, 4.0, 2.0) == pytest.approx(0.75)
    assert acceptance_diff(6, 4, 3, 1) == pytest.approx(0.6 - 0.75)


def test_holm_matches_statsmodels_and_skips_untested(monkeypatch):
    # multipletests runs a full gc.collect() on every call: in a suite-sized
    # process that made these 200 calls take 100 s. It changes no result.
    monkeypatch.setattr(gc, "collect", lambda *args, **kwargs: 0)
    p = np.array([0.01, 0.04, np.nan, 0.03])
    expected = multipletests([0.01, 0.04, 0.03], method="holm")[1]
    got = holm(p)
    np.testing.assert_allclose(got[[0, 1, 3]], expected)
    assert np.isnan(got[2])
    np.testing.assert_allclose(expected, [0.03, 0.06, 0.06])
    # Random families, with ties and adjusted values clipped at 1.
    rng = np.random.default_rng(0)
    for size in (1, 2, 5, 12):
        for _ in range(50):
            q = rng.choice([0.001, 0.01, 0.02, 0.3, 0.9], size) * rng.uniform(0.5, 1.5, size)
            q[rng.random(size) < 0.2] = 0.01  # ties
            np.testing.assert_allclose(holm(q), multipletests(q, method="holm")[1])


def _frames(parallel, n_other=20):
    specs = [GroupSpec("en", n_prompts=20), GroupSpec("sw", alpha=0.5, n_prompts=n_other)]
    frame = prompt_frame(synthetic_records(specs, parallel=parallel, seed=3), gamma=4)
    return frame[frame.language == "sw"], frame[frame.language == "en"]


def test_parallel_prompts_are_resampled_as_item_clusters():
    design = resampling_design(*_frames(parallel=True))
    assert design.resampling == "cluster" and design.n_clusters == 20
    assert len(design.data) == 1


def test_non_parallel_prompts_are_resampled_independently():
    design = resampling_design(*_frames(parallel=False))
    assert design.resampling == "stratified" and design.n_clusters is None
    assert len(design.data) == 2


def test_mostly_disjoint_items_fall_back_to_stratified():
    group, reference = _frames(parallel=True)
    group = group.assign(item_id=[f"other-{i}" for i in range(len(group))])
    assert resampling_design(group, reference).resampling == "stratified"


def test_cluster_and_stratified_statistics_agree_on_the_estimate():
    group, reference = _frames(parallel=True)
    cluster = resampling_design(group, reference)
    stratified = resampling_design(group.assign(item_id=None), reference)
    np.testing.assert_allclose(
        cluster.statistic(*cluster.data), stratified.statistic(*stratified.data)
    )


def test_contrasts_in_the_result():
    specs = [
        GroupSpec("en", n_prompts=20),
        GroupSpec("de", alpha=0.68, n_prompts=20),
        GroupSpec("sw", alpha=0.3, n_prompts=20),
        GroupSpec("fr", alpha=0.7, n_prompts=5),
    ]
    result = compute_metrics(synthetic_records(specs, seed=1), n_boot=1000)
    contrasts = {c.group: c for c in result.disparity.contrasts}
    assert set(contrasts) == {"de/translation", "sw/translation", "fr/translation"}
    sw = contrasts["sw/translation"]
    assert sw.reference == "en/translation" and sw.resampling == "cluster"
    ratio = sw.speedup_ratio
    g_sw, g_en = result.group("sw/translation"), result.group("en/translation")
    assert ratio.estimate == pytest.approx(g_sw.speedup.estimate / g_en.speedup.estimate)
    assert sw.acceptance_diff.estimate == pytest.approx(
        g_sw.acceptance_rate.estimate - g_en.acceptance_rate.estimate
    )
    # sw is much slower than en: significant after Holm, interval below 1.
    assert ratio.ci_high < 1 and ratio.p_value < 0.05 and ratio.p_adjusted < 0.05
    # Simultaneous intervals are wider; family of 2 tested contrasts (fr is too small).
    assert ratio.simultaneous_level == pytest.approx(1 - 0.05 / 2)
    assert ratio.sim_ci_low <= ratio.ci_low and ratio.sim_ci_high >= ratio.ci_high
    de = contrasts["de/translation"].speedup_ratio
    assert de.p_adjusted >= de.p_value
    assert de.p_adjusted == pytest.approx(
        min(1.0, max(2 * min(de.p_value, ratio.p_value), de.p_value))
    )
    # p < 0.05 exactly when the 95% interval excludes 1.
    for c in (sw, contrasts["de/translation"]):
        for figure, null in ((c.speedup_ratio, 1.0), (c.acceptance_diff, 0.0)):
            excludes = not figure.ci_low <= null <= figure.ci_high
            assert (figure.p_value < 0.05) == excludes
    fr = contrasts["fr/translation"]
    assert fr.speedup_ratio.status == "insufficient data"
    assert fr.speedup_ratio.p_value is None and fr.speedup_ratio.ci_low is None


def test_explicit_reference_group_spans_tasks():
    specs = [GroupSpec(lang, task, n_prompts=12) for task in ("a", "b") for lang in ("en", "sw")]
    result = compute_metrics(synthetic_records(specs, seed=2), reference="sw/b", n_boot=200)
    assert result.disparity.reference == "sw/b"
    assert {c.group for c in result.disparity.contrasts} == {"en/a", "sw/a", "en/b"}
    assert {c.reference for c in result.disparity.contrasts} == {"sw/b"}
    # Different tasks share no items: independent resampling.
    assert {c.resampling for c in result.disparity.contrasts if c.task == "a"} == {"stratified"}


def test_task_without_reference_language_is_noted():
    specs = [
        GroupSpec("en", "a", n_prompts=12),
        GroupSpec("sw", "a", n_prompts=12),
        GroupSpec("sw", "b", n_prompts=12),
        GroupSpec("de", "b", n_prompts=12),
    ]
    result = compute_metrics(synthetic_records(specs, seed=2), n_boot=200)
    assert [c.group for c in result.disparity.contrasts] == ["sw/a"]
    assert any("task 'b' has no 'en' group" in note for note in result.notes)
