import numpy as np
import pytest

from specaudit.audit.ngram import NGramModel


def build(seqs, order=3):
    return NGramModel.build(seqs, order=order, vocab_size=50, tokenizer_fingerprint="fp")


def as_dict(found):
    nxt, cnt = found
    return dict(zip(nxt.tolist(), cnt.tolist(), strict=True))


def test_counts_longest_context_first():
    m = build([[1, 2, 3, 1, 2, 4, 1, 2, 3]])
    assert as_dict(m.lookup([1, 2])) == {3: 2, 4: 1}
    # Most frequent first: greedy drafting takes the first entry.
    assert m.lookup([1, 2])[0][0] == 3


def test_backs_off_to_shorter_context():
    m = build([[1, 2, 3], [7, 2, 5]])
    # Context (9, 2) is unseen; back off to (2,) which saw 3 and 5.
    assert as_dict(m.lookup([9, 2])) == {3: 1, 5: 1}


def test_unseen_context_returns_none():
    m = build([[1, 2, 3]])
    assert m.lookup([40]) is None
    assert m.lookup([]) is None


def test_ngrams_do_not_cross_documents():
    m = build([[1, 2], [3, 4]])
    assert m.lookup([2]) is None  # 2 ends a document: nothing follows it


def test_save_load_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    seqs = [rng.integers(0, 50, size=200).tolist() for _ in range(5)]
    m = build(seqs, order=4)
    path = tmp_path / "d.ngram"
    m.save(path)
    loaded = NGramModel.load(path)
    assert (loaded.order, loaded.vocab_size, loaded.tokens) == (4, 50, 1000)
    assert loaded.tokenizer_fingerprint == "fp"
    for seq in seqs:
        for i in range(3, 30):
            a, b = m.lookup(seq[:i]), loaded.lookup(seq[:i])
            assert as_dict(a) == as_dict(b)


def test_load_rejects_other_files(tmp_path):
    bad = tmp_path / "bad.ngram"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="not a readable n-gram file"):
        NGramModel.load(bad)


def test_order_must_be_at_least_two():
    with pytest.raises(ValueError, match="order"):
        build([[1, 2]], order=1)
