"""s-CDF on a toy with known per-group divergences, against balanced fine-tuning.

The toy drafter is one shared next-token distribution q = softmax(θ) for three
groups whose targets p_i are fixed: like a small drafter that cannot tell the
groups apart, it must trade one group's fit for another's. Groups 0 and 1 have
similar targets; group 2 is an outlier. θ starts at log p_0, so at step 0 the
divergences are known: KL_0 = 0 and KL_1, KL_2 > 0.

Each step computes every group's D_i exactly (full batch, as the probe does)
with the audit's :func:`position_divergences`, weights the groups with
:func:`shift_by_minimum` (s-CDF) or uniformly (balanced), and descends on
``Σ w_i D_i`` with Adam, the loss form of the trainer
(:mod:`specaudit.mitigation.trainer`). Balanced drives q to the groups'
mixture, which fits the outlier worst, so its U stays well above 0; s-CDF
pushes q towards the worst-fit group until the divergences level out.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from specaudit.audit.divergence import position_divergences
from specaudit.metrics.disparity import unfairness_u
from specaudit.mitigation.weights import shift_by_minimum, uniform_weights

TARGETS = torch.tensor(
    [
        [0.50, 0.30, 0.10, 0.05, 0.03, 0.02],
        [0.40, 0.40, 0.10, 0.05, 0.03, 0.02],
        [0.02, 0.03, 0.05, 0.10, 0.30, 0.50],  # the outlier
    ]
)
STEPS = 150
#: s-CDF must remove at least this share of the objective's U from step 0 ...
MIN_REDUCTION = 0.9
#: ... and end with at most this fraction of balanced fine-tuning's U.
MAX_RATIO_TO_BALANCED = 0.1


def _divergences(theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    m = TARGETS.shape[0]
    alpha, ce, kl = position_divergences(TARGETS.log(), theta.expand(m, -1))
    return alpha, ce, kl


def _train(strategy: str, divergence: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Return the objective's per-group divergence and the weights at every step."""
    theta = TARGETS[0].log().clone().requires_grad_(True)
    opt = torch.optim.Adam([theta], lr=0.05)
    history, weights = [], []
    for _ in range(STEPS + 1):
        _, ce, kl = _divergences(theta)
        d = kl if divergence == "kl" else ce
        estimate = d.detach().numpy().astype(float)
        w = shift_by_minimum(estimate) if strategy == "scdf" else uniform_weights(3)
        history.append(estimate)
        weights.append(w)
        # KL and CE differ by H(p), which has no gradient: the step is the
        # trainer's, on the cross-entropy, weighted by the chosen divergence.
        loss = (torch.as_tensor(w, dtype=ce.dtype) * ce).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return history, weights


def test_the_toy_starts_from_known_divergences():
    _, ce, kl = _divergences(TARGETS[0].log())
    entropy = -(TARGETS * TARGETS.log()).sum(-1)
    assert kl[0].item() == pytest.approx(0.0, abs=1e-6)
    assert kl[1].item() == pytest.approx(
        float((TARGETS[1] * (TARGETS[1] / TARGETS[0]).log()).sum()), rel=1e-5
    )
    assert kl[2].item() > 10 * kl[1].item()  # the outlier is served far worse
    torch.testing.assert_close(ce, entropy + kl, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("divergence", ["kl", "cross_entropy"])
def test_scdf_lowers_the_objectives_u_by_a_margin_and_beats_balanced(divergence):
    scdf, scdf_w = _train("scdf", divergence)
    balanced, _ = _train("balanced", divergence)
    u_start = float(unfairness_u(scdf[0]))
    u_scdf = float(unfairness_u(scdf[-1]))
    u_balanced = float(unfairness_u(balanced[-1]))
    assert u_start > 0.1
    assert u_scdf <= (1 - MIN_REDUCTION) * u_start, (u_start, u_scdf)
    assert u_scdf <= MAX_RATIO_TO_BALANCED * u_balanced, (u_scdf, u_balanced)
    # The weights follow shift-by-minimum: the best-fit group gets 0, the
    # others in proportion to how far they are above it.
    for d, w in zip(scdf[:50], scdf_w[:50], strict=True):
        if np.ptp(d) > 0:
            assert w[np.argmin(d)] == 0.0
            np.testing.assert_allclose(w, (d - d.min()) / (d - d.min()).sum())
    assert np.argmax(scdf_w[0]) == 2  # at step 0, the outlier gets the most weight
