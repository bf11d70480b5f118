import pytest
import torch

from specaudit.audit.drafters.neural import NeuralDrafter
from specaudit.audit.drafters.ngram import NGramDrafter
from specaudit.audit.engine import SpeculativeEngine
from specaudit.audit.forward import cache_kwargs, new_cache, prefill
from specaudit.audit.ngram import NGramModel
from specaudit.audit.sampling import Decoding, TokenSampler

from ..conftest import make_model

VOCAB = 97
PROMPTS = [[5], [1, 5, 9, 22, 40], [3, 3, 3, 3, 7, 8, 9, 10, 11, 12, 13]]


@pytest.fixture(scope="module")
def target():
    return make_model(VOCAB, layers=2, hidden=64, seed=0)


@pytest.fixture(scope="module")
def small_drafter():
    return make_model(VOCAB, layers=1, hidden=32, seed=1)


def greedy():
    return TokenSampler(Decoding("greedy"))


def neural(target, drafter_model, gamma, eos_ids=()):
    """An engine with a neural drafter over the test vocabulary."""
    drafter = NeuralDrafter(drafter_model, vocab_size=VOCAB)
    return SpeculativeEngine(target, drafter, gamma=gamma, eos_ids=set(eos_ids))


def check_steps(outcome, gamma):
    assert sum(s.emitted for s in outcome.steps) == len(outcome.output_ids)
    for s in outcome.steps:
        assert 0 <= s.accepted <= s.drafted <= gamma
        assert s.emitted in (s.accepted, s.accepted + 1)
        assert s.rejected == (s.accepted < s.drafted) or s.emitted == s.accepted
        verified = s.accepted + int(s.rejected)
        assert s.position_accepted == [True] * s.accepted + [False] * int(s.rejected)
        assert len(s.alpha) == len(s.cross_entropy) == len(s.kl) == verified
        assert all(0.0 <= a <= 1.0 for a in s.alpha)
        assert all(k >= 0.0 for k in s.kl)


@pytest.mark.parametrize("gamma", [1, 3, 5])
@pytest.mark.parametrize("prompt", PROMPTS)
def test_greedy_lossless_with_neural_drafter(target, small_drafter, gamma, prompt):
    engine = neural(target, small_drafter, gamma)
    spec = engine.speculative(prompt, 30, greedy())
    plain = engine.plain(prompt, 30, greedy())
    assert spec.output_ids == plain.output_ids
    assert len(spec.output_ids) == 30
    check_steps(spec, gamma)


def test_self_drafting_accepts_everything(target):
    engine = neural(target, target, 4)
    spec = engine.speculative(PROMPTS[1], 25, greedy())
    assert spec.output_ids == engine.plain(PROMPTS[1], 25, greedy()).output_ids
    # 25 tokens at 5 per step; the last step drafts fewer to respect the budget.
    assert [(s.drafted, s.accepted) for s in spec.steps] == [(4, 4)] * 5
    assert all(abs(a - 1.0) < 1e-5 for s in spec.steps for a in s.alpha)


def test_drafter_with_wider_embedding_is_aligned(target):
    wide = make_model(VOCAB + 31, layers=1, hidden=32, seed=5)
    engine = neural(target, wide, 3)
    spec = engine.speculative(PROMPTS[1], 20, greedy())
    assert spec.output_ids == engine.plain(PROMPTS[1], 20, greedy()).output_ids
    assert max(spec.output_ids) < VOCAB


def test_greedy_lossless_with_ngram_drafter(target):
    plain_engine = neural(target, target, 1)
    # Count n-grams on the target's own outputs for some prompts, plus noise,
    # so the drafter both hits and misses, and meets unseen contexts.
    corpus = [p + plain_engine.plain(p, 40, greedy()).output_ids for p in PROMPTS[1:]]
    corpus.append(list(range(60)))
    model = NGramModel.build(corpus, order=3, vocab_size=VOCAB, tokenizer_fingerprint="t")
    drafter = NGramDrafter(model, vocab_size=VOCAB, device=torch.device("cpu"))
    engine = SpeculativeEngine(target, drafter, gamma=4, eos_ids=set())
    unseen = sorted(set(range(VOCAB)) - {t for seq in corpus for t in seq})[:3]
    assert len(unseen) == 3
    for prompt in [*PROMPTS, unseen]:
        spec = engine.speculative(prompt, 30, greedy())
        assert spec.output_ids == engine.plain(prompt, 30, greedy()).output_ids
        check_steps(spec, 4)
    drafted = [s.drafted for s in engine.speculative(PROMPTS[1], 30, greedy()).steps]
    assert max(drafted) == 4  # seen contexts: full drafts
    spec = engine.speculative(unseen, 30, greedy())
    assert spec.steps[0].drafted == 0  # unseen context: stop instead of junk


def test_stops_at_eos(target, small_drafter):
    plain = neural(target, small_drafter, 3)
    reference = plain.plain(PROMPTS[1], 30, greedy()).output_ids
    eos = reference[7]
    first = reference.index(eos)
    engine = neural(target, small_drafter, 3, {eos})
    spec = engine.speculative(PROMPTS[1], 30, greedy())
    assert spec.output_ids == reference[: first + 1]
    assert spec.stop_reason == "eos"
    assert engine.plain(PROMPTS[1], 30, greedy()).output_ids == spec.output_ids


def test_rolled_back_cache_equals_fresh_prefill(target, small_drafter):
    """After rejections and crops, the caches give the same logits as a fresh prefill."""
    drafter = NeuralDrafter(small_drafter, vocab_size=VOCAB)
    engine = SpeculativeEngine(target, drafter, gamma=4, eos_ids=set())
    prompt = PROMPTS[2]
    spec = engine.speculative(prompt, 17, greedy())
    assert any(s.rejected for s in spec.steps)
    sequence = prompt + spec.output_ids
    # Drafter: propose again; its rolled-back cache must match a fresh one.
    proposal = drafter.propose(sequence, 1, greedy())
    fresh = new_cache(small_drafter)
    prefill(small_drafter, sequence[:-1], fresh)
    with torch.inference_mode():
        last = torch.tensor([sequence[-1:]])
        ref = small_drafter(last, **cache_kwargs(small_drafter, fresh)).logits[0, -1]
    assert torch.allclose(proposal.logits[0], ref, atol=1e-4)


def test_target_cache_crop_matches_fresh_prefill(target):
    ids = [1, 5, 9, 22, 40, 41, 42, 43, 44]
    cache = new_cache(target)
    with torch.inference_mode():
        target(torch.tensor([ids]), **cache_kwargs(target, cache))
        cache.crop(-4)  # keep ids[:5]
        cropped = target(torch.tensor([[7]]), **cache_kwargs(target, cache)).logits[0, -1]
        fresh = target(torch.tensor([[*ids[:5], 7]])).logits[0, -1]
    assert torch.allclose(cropped, fresh, atol=1e-4)


def test_sampling_mode_is_reproducible_and_budgeted(target, small_drafter):
    engine = neural(target, small_drafter, 3)
    decoding = Decoding("sampling", temperature=0.9, top_k=40, top_p=0.95)

    def run(seed):
        sampler = TokenSampler(decoding, torch.Generator().manual_seed(seed))
        return engine.speculative(PROMPTS[1], 25, sampler)

    a, b, c = run(0), run(0), run(1)
    assert a.output_ids == b.output_ids and len(a.output_ids) == 25
    assert [s.accepted for s in a.steps] == [s.accepted for s in b.steps]
    assert a.output_ids != c.output_ids
    check_steps(a, 3)


def test_sampling_with_self_drafter_accepts_everything(target):
    # p == q: min(1, p/q) = 1, so every draft is accepted.
    engine = neural(target, target, 3)
    sampler = TokenSampler(Decoding("sampling", temperature=0.8), torch.Generator().manual_seed(0))
    spec = engine.speculative(PROMPTS[1], 20, sampler)
    assert all(not s.rejected for s in spec.steps)


def test_timings_are_recorded(target, small_drafter):
    engine = neural(target, small_drafter, 3)
    spec = engine.speculative(PROMPTS[1], 12, greedy())
    assert 0 < spec.prefill_time_s < spec.total_time_s
    assert 0 < spec.forward_time_s <= spec.total_time_s
    assert sum(s.draft_time_s + s.verify_time_s for s in spec.steps) <= spec.total_time_s
    assert spec.n_draft_forwards == sum(s.drafted for s in spec.steps)
    plain = engine.plain(PROMPTS[1], 12, greedy())
    assert plain.forward_s > 0


def test_accepted_eos_ends_the_step_without_a_target_token(target):
    # Self-drafting accepts everything; make the 3rd output token the EOS.
    reference = neural(target, target, 4).plain(PROMPTS[1], 20, greedy()).output_ids
    eos = reference[2]
    engine = neural(target, target, 4, {eos})
    spec = engine.speculative(PROMPTS[1], 20, greedy())
    assert spec.output_ids == reference[: reference.index(eos) + 1]
    last = spec.steps[-1]
    assert last.accepted == last.emitted == reference.index(eos) + 1
    assert not last.rejected and last.drafted == 4
    assert last.position_accepted == [True] * last.accepted
    assert sum(s.emitted for s in spec.steps) == len(spec.output_ids)


@pytest.mark.parametrize("prompt", PROMPTS)
def test_first_token_from_prefill_shifts_the_steps_by_one_token(target, small_drafter, prompt):
    """With first_token="prefill" the steps are those of the prompt extended by that token."""
    drafter = NeuralDrafter(small_drafter, vocab_size=VOCAB)
    engine = SpeculativeEngine(target, drafter, gamma=3, eos_ids=set(), first_token="prefill")
    spec = engine.speculative(prompt, 20, greedy())
    assert spec.output_ids == engine.plain(prompt, 20, greedy()).output_ids
    assert sum(s.emitted for s in spec.steps) == len(spec.output_ids) - 1
    first, rest = spec.output_ids[0], spec.output_ids[1:]
    shifted = neural(target, small_drafter, 3).speculative([*prompt, first], 19, greedy())
    assert shifted.output_ids == rest
    as_counts = [(s.drafted, s.accepted, s.rejected, s.emitted) for s in spec.steps]
    assert as_counts == [(s.drafted, s.accepted, s.rejected, s.emitted) for s in shifted.steps]


def test_first_token_from_prefill_can_end_the_output(target, small_drafter):
    engine = neural(target, small_drafter, 3)
    first = engine.plain([5], 1, greedy()).output_ids[0]
    drafter = NeuralDrafter(small_drafter, vocab_size=VOCAB)
    prefill_first = SpeculativeEngine(
        target, drafter, gamma=3, eos_ids={first}, first_token="prefill"
    )
    outcome = prefill_first.speculative([5], 20, greedy())
    assert (outcome.output_ids, outcome.steps, outcome.stop_reason) == ([first], [], "eos")
    with pytest.raises(ValueError, match="first_token"):
        SpeculativeEngine(target, drafter, gamma=3, eos_ids=set(), first_token="bonus")
