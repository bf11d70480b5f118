import math

import numpy as np
import pytest
import torch
from scipy.stats import chisquare

from specaudit.audit.acceptance import greedy_accept, sampling_accept
from specaudit.audit.sampling import Decoding, TokenSampler


def one_hot_logits(rows: list[int], vocab: int = 5) -> torch.Tensor:
    logits = torch.full((len(rows), vocab), -5.0)
    for i, t in enumerate(rows):
        logits[i, t] = 5.0
    return logits


def test_greedy_accepts_prefix_and_emits_correction():
    # Target's argmax per position: 2, 3, 0, 4 (bonus). Drafts 2, 3, 1.
    verdict = greedy_accept(one_hot_logits([2, 3, 0, 4]), torch.tensor([2, 3, 1]))
    assert (verdict.n_accepted, verdict.next_token, verdict.rejected) == (2, 0, True)


def test_greedy_all_accepted_emits_bonus():
    verdict = greedy_accept(one_hot_logits([2, 3, 0, 4]), torch.tensor([2, 3, 0]))
    assert (verdict.n_accepted, verdict.next_token, verdict.rejected) == (3, 4, False)


def test_greedy_first_rejected():
    verdict = greedy_accept(one_hot_logits([1, 3]), torch.tensor([2]))
    assert (verdict.n_accepted, verdict.next_token, verdict.rejected) == (0, 1, True)


def test_greedy_no_drafts_is_plain_step():
    verdict = greedy_accept(one_hot_logits([4]), torch.empty(0, dtype=torch.long))
    assert (verdict.n_accepted, verdict.next_token, verdict.rejected) == (0, 4, False)


def test_sampling_accepts_when_p_covers_q():
    # p(x) >= q(x) at every draft: always accepted, whatever the generator.
    p = torch.tensor([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    q = torch.tensor([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0]])
    for seed in range(20):
        g = torch.Generator().manual_seed(seed)
        v = sampling_accept(p, q, torch.tensor([1, 0]), g)
        assert (v.n_accepted, v.next_token, v.rejected) == (2, 2, False)


def test_sampling_rejects_impossible_draft_and_resamples_residual():
    # The target gives the draft token 0 probability: always rejected, and
    # the correction comes from norm(max(0, p - q)) = token 2 only.
    p = torch.tensor([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])
    q = torch.tensor([[0.5, 0.5, 0.0]])
    for seed in range(20):
        g = torch.Generator().manual_seed(seed)
        v = sampling_accept(p, q, torch.tensor([0]), g)
        assert (v.n_accepted, v.next_token, v.rejected) == (0, 2, True)


def test_sampling_acceptance_probability_is_min_one_p_over_q():
    p = torch.tensor([[0.2, 0.8], [0.5, 0.5]])
    q = torch.tensor([[0.8, 0.2]])
    g = torch.Generator().manual_seed(0)
    n = 20_000
    accepted = sum(sampling_accept(p, q, torch.tensor([0]), g).n_accepted for _ in range(n))
    # Accept token 0 with probability 0.2 / 0.8 = 0.25.
    assert abs(accepted / n - 0.25) < 4 * math.sqrt(0.25 * 0.75 / n)


def test_first_emitted_token_follows_p_exactly():
    """Draft from q, verify against p: the first emitted token is distributed as p."""
    rng = np.random.default_rng(0)
    vocab = 6
    p = torch.tensor(rng.dirichlet(np.ones(vocab)), dtype=torch.float32)
    q = torch.tensor(rng.dirichlet(np.ones(vocab) * 0.5), dtype=torch.float32)
    g = torch.Generator().manual_seed(1)
    n = 30_000
    drafts = torch.multinomial(q.expand(n, vocab), 1, replacement=True, generator=g).view(-1)
    counts = np.zeros(vocab)
    p_block = torch.stack([p, p])  # (k + 1, V) with k = 1
    for x in drafts.tolist():
        v = sampling_accept(p_block, q.view(1, -1), torch.tensor([x]), g)
        counts[x if v.n_accepted else v.next_token] += 1
    stat = chisquare(counts, n * p.double().numpy() / p.double().sum().item())
    assert stat.pvalue > 0.001, (counts / n, p)


# softmax([2, 1, 0.5, 0, -1] / 0.7) = [0.700, 0.168, 0.082, 0.040, 0.010]:
# top-p 0.6 keeps the first token alone, top-p 0.9 the first three.
@pytest.mark.parametrize("top_k,top_p,expected", [(3, 1.0, 3), (0, 0.6, 1), (0, 0.9, 3)])
def test_sampler_distribution_filters_like_transformers(top_k, top_p, expected):
    sampler = TokenSampler(Decoding("sampling", temperature=0.7, top_k=top_k, top_p=top_p))
    logits = torch.tensor([[2.0, 1.0, 0.5, 0.0, -1.0]])
    dist = sampler.distribution(logits)
    assert torch.isclose(dist.sum(), torch.tensor(1.0))
    assert int((dist > 0).sum()) == expected
    # Surviving tokens keep the temperature-softmax proportions.
    ref = torch.softmax(logits / 0.7, dim=-1)
    mask = dist > 0
    assert torch.allclose(dist[mask] / dist[mask].sum(), ref[mask] / ref[mask].sum())
