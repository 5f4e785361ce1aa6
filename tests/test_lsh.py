"""The LSH over signature arrays: same candidates as datasketch's MinHashLSH, recall first."""

from __future__ import annotations

import numpy as np
import pytest
from datasketch import MinHashLSH

from cleaner.fastminhash import Fingerprinter
from cleaner.lsh import LSH_RECALL, MIN_ROWS, BandIndex, band_positions, layout_recall, lsh_bands, lsh_layout


def random_signatures(count: int, num_perm: int, seed: int) -> np.ndarray:
    """Signatures with many shared bands: values drawn from a small alphabet."""
    return np.random.default_rng(seed).integers(0, 3, size=(count, num_perm), dtype=np.uint32)


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.8])
def test_candidates_equal_datasketch_minhashlsh_with_the_same_bands(threshold):
    fingerprinter = Fingerprinter("word", 1)
    signatures = random_signatures(300, 128, seed=int(threshold * 10))
    ours: BandIndex = BandIndex(threshold, 128, layout=lsh_bands(threshold, 128))  # one round, as datasketch bands
    theirs = MinHashLSH(num_perm=128, params=(ours.bands, ours.rows))
    keys = ours.keys(signatures)
    for number, signature in enumerate(signatures[:200]):
        ours.insert(number, keys[number])
        theirs.insert(number, fingerprinter.to_lean(signature))
    found_any = 0
    for number in range(200, 300):
        expected = set(theirs.query(fingerprinter.to_lean(signatures[number])))
        assert ours.query(keys[number]) == expected
        found_any += bool(expected)
    assert found_any  # the data shares bands, so the comparison means something


def test_keys_of_one_signature_equal_its_row_in_a_batch_and_differ_by_band():
    index: BandIndex = BandIndex(0.5, 128)
    signatures = random_signatures(5, 128, seed=1)
    batch = index.keys(signatures)
    assert batch.shape == (5, index.bands)
    assert np.array_equal(index.keys(signatures[3]), batch[3])
    same = np.zeros(128, np.uint32)
    assert len(set(index.keys(same).tolist())) == index.bands  # equal bands, different positions
    with pytest.raises(ValueError, match="expects 128"):
        index.keys(np.zeros(64, np.uint32))


@pytest.mark.parametrize("num_perm", [64, 128, 256])
@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7, 0.8, 0.9])
def test_bands_let_a_pair_at_the_threshold_through_with_the_promised_recall(threshold, num_perm):
    bands, rows = lsh_bands(threshold, num_perm)
    assert bands * rows <= num_perm
    assert 1 - (1 - threshold**rows) ** bands >= LSH_RECALL


@pytest.mark.parametrize("num_perm", [64, 128, 256])
@pytest.mark.parametrize("threshold", [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
def test_layouts_of_several_rounds_keep_the_recall_with_more_rows(threshold, num_perm):
    bands, rows, rounds = lsh_layout(threshold, num_perm)
    one_round = lsh_bands(threshold, num_perm)
    if rounds == 1:
        assert (bands, rows) == one_round
        return
    assert one_round[1] < rows <= MIN_ROWS
    positions = band_positions(num_perm, bands, rows, rounds)
    assert positions.shape == (bands, rows) and positions.max() < num_perm
    assert layout_recall(positions, threshold) >= LSH_RECALL
    shared = [len(set(a) & set(b)) for i, a in enumerate(positions.tolist()) for b in positions.tolist()[:i]]
    assert max(shared) <= 1  # two bands share at most one value


def test_the_recall_simulation_agrees_with_the_formula_for_independent_bands():
    for threshold, (bands, rows) in ((0.5, (35, 3)), (0.6, (10, 4)), (0.8, (16, 6))):
        exact = 1 - (1 - threshold**rows) ** bands
        assert abs(layout_recall(band_positions(128, bands, rows), threshold) - exact) < 0.005


def test_bands_of_several_rounds_find_exactly_the_pairs_sharing_a_band():
    index: BandIndex = BandIndex(0.5, 128)
    assert index.rounds > 1
    signatures = random_signatures(300, 128, seed=4)
    positions = band_positions(128, index.bands, index.rows, index.rounds)
    keys = index.keys(signatures)
    assert keys.shape == (300, index.bands) and np.array_equal(index.keys(signatures[7]), keys[7])
    for number in range(200):
        index.insert(number, keys[number])
    found_any = 0
    for number in range(200, 300):
        expected = {
            other for other in range(200)
            if (signatures[other][positions] == signatures[number][positions]).all(axis=1).any()
        }
        assert index.query(keys[number]) == expected
        found_any += bool(expected)
    assert found_any


def test_a_pair_at_the_threshold_is_found_in_practice():
    """Texts at Jaccard 0.504 against a kept copy: nearly all become candidates (datasketch's
    balanced choice for 128 permutations, 32 bands of 4 rows, would miss about one in eight)."""
    fingerprinter = Fingerprinter("word", 1, 128, 1)
    words = [f"w{i}" for i in range(400)]
    base = " ".join(words[:200])
    index: BandIndex = BandIndex(0.5, 128)
    index.insert(0, index.keys(fingerprinter.signature(base)))
    found = 0
    for trial in range(200):
        # 134 shared words and 66 new ones on each side: Jaccard 134 / 266
        other = " ".join(words[66:200] + [f"x{trial}_{i}" for i in range(66)])
        found += 0 in index.query(index.keys(fingerprinter.signature(other)))
    assert found >= 194


def test_compiled_buckets_hold_the_same_values_as_the_dict_fallback():
    from cleaner.fastminhash import load_kernel
    from cleaner.lsh import _DictBuckets, _NativeBuckets

    kernel = load_kernel()
    if kernel is None:
        pytest.skip("no C compiler: the compiled kernel is unavailable")
    rng = np.random.default_rng(5)
    # few distinct keys, so buckets hold many values and the map grows through several sizes
    keys = rng.integers(0, 3000, size=(5000, 7)).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    native, fallback = _NativeBuckets(kernel), _DictBuckets()
    for value, row in enumerate(keys):
        native.insert(value, row)
        fallback.insert(value, row)
    for row in keys[::97]:
        assert sorted(native.query(row).tolist()) == sorted(fallback.query(row).tolist())
        assert native.query_sorted(row).tolist() == fallback.query_sorted(row).tolist() == sorted(set(fallback.query(row).tolist()))
    assert native.query(np.array([12345], dtype=np.uint64)).size == 0
    everything = native.query(keys[:50])  # more values than the first output buffer holds
    assert everything.size == fallback.query(keys[:50]).size > 4096
    assert native.query_sorted(keys[:60]).tolist() == sorted(set(fallback.query(keys[:60]).tolist()))
