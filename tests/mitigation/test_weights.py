"""Shift-by-minimum weights, the EMA that stabilises them, and the probes' U."""

from __future__ import annotations

import numpy as np
import pytest

from specaudit.mitigation.probe import ProbeResult
from specaudit.mitigation.weights import Ema, shift_by_minimum, uniform_weights


def test_shift_by_minimum_is_nonnegative_zero_for_the_best_group_and_sums_to_one():
    d = [4.9, 2.5, 5.3, 4.0]
    w = shift_by_minimum(d)
    assert np.all(w >= 0)
    assert w[1] == 0.0  # the best-fit group
    assert w.sum() == pytest.approx(1.0)
    assert np.argmax(w) == 2  # the worst-fit group gets the most
    np.testing.assert_allclose(w, (np.array(d) - 2.5) / (np.array(d) - 2.5).sum())


def test_equal_groups_get_uniform_weights_instead_of_none():
    np.testing.assert_allclose(shift_by_minimum([3.0, 3.0, 3.0]), uniform_weights(3))


@pytest.mark.parametrize("bad", [[], [1.0, np.nan], [[1.0, 2.0]]])
def test_shift_by_minimum_refuses_bad_input(bad):
    with pytest.raises(ValueError):
        shift_by_minimum(bad)


def test_probe_u_is_the_audits_u_and_decomposes():
    # H = 1, 2, 4 and KL = 0.5, 0.5, 0.2: D = 1.5, 2.5, 4.2.
    probe = ProbeResult(cross_entropy=(1.5, 2.5, 4.2), kl=(0.5, 0.5, 0.2), alpha=(0.9, 0.7, 0.5))
    assert probe.unfairness_u == pytest.approx(np.var([1.5, 2.5, 4.2]))
    assert probe.unfairness_u_kl == pytest.approx(np.var([0.5, 0.5, 0.2]))
    assert probe.unfairness_u_entropy == pytest.approx(np.var([1.0, 2.0, 4.0]))
    assert probe.unfairness_u_tv == pytest.approx(np.var([0.1, 0.3, 0.5]))
    cov = np.mean((np.array([1.0, 2.0, 4.0]) - 7 / 3) * (np.array([0.5, 0.5, 0.2]) - 0.4))
    assert probe.unfairness_u == pytest.approx(
        probe.unfairness_u_entropy + probe.unfairness_u_kl + 2 * cov
    )
    assert ProbeResult((2.0, 2.0), (0.1, 0.1), (0.5, 0.5)).unfairness_u == 0.0


def test_ema_starts_at_the_first_estimate_and_keeps_unobserved_groups():
    ema = Ema(3, decay=0.5)
    assert not ema.ready
    np.testing.assert_allclose(ema.update([2.0, np.nan, 4.0])[[0, 2]], [2.0, 4.0])
    assert not ema.ready
    v = ema.update([4.0, 1.0, np.nan])
    np.testing.assert_allclose(v, [3.0, 1.0, 4.0])
    assert ema.ready
    state = ema.state_dict()
    other = Ema(3)
    other.load_state_dict(state)
    np.testing.assert_allclose(other.value, v)
    assert other.decay == 0.5
