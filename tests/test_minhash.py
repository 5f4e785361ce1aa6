from __future__ import annotations

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH

from cleaner.minhash import MinHasher, Shingling, char_shingles, containment, hash_shingles, jaccard, permutations, word_shingles

TEXT = "Relations between the two former Soviet republics have been tense since 1991."


@pytest.mark.parametrize("shingles", [char_shingles(TEXT, 5), word_shingles(TEXT, 3), ["one"], []])
@pytest.mark.parametrize(("num_perm", "seed"), [(128, 1), (64, 42)])
def test_signatures_equal_datasketch_minhash(shingles, num_perm, seed):
    reference = MinHash(num_perm=num_perm, seed=seed)
    reference.update_batch([s.encode("utf-8") for s in shingles])
    hasher = MinHasher(num_perm, seed)
    assert np.array_equal(hasher.signature(hash_shingles(shingles)), reference.hashvalues)


@pytest.mark.parametrize(("num_perm", "seed"), [(128, 1), (64, 42), (256, 0), (9, 2**31 - 1)])
def test_permutations_are_drawn_as_datasketch_draws_them(num_perm, seed):
    a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    mine = permutations(num_perm, seed)
    assert [values.dtype for values in mine] == [np.uint32, np.uint32]
    assert np.array_equal(mine[0], a) and np.array_equal(mine[1], b)


def test_lean_signatures_work_in_datasketch_lsh():
    hasher = MinHasher()
    shingling = Shingling("char", 5)
    lsh = MinHashLSH(threshold=0.5, num_perm=128)
    lsh.insert("a", hasher.to_lean(hasher.signature(shingling.hashes(TEXT))))
    near = TEXT.replace("1991", "1993").replace("republics", "nations")
    far = "The football club announced a new manager on Monday after a poor season."
    assert lsh.query(hasher.to_lean(hasher.signature(shingling.hashes(near)))) == ["a"]
    assert lsh.query(hasher.to_lean(hasher.signature(shingling.hashes(far)))) == []


def test_exact_jaccard_and_containment_of_hash_sets():
    a = hash_shingles(["w", "x", "y", "z"])
    b = hash_shingles(["y", "z"])
    assert jaccard(a, b) == 0.5
    assert containment(a, b) == 1.0
    assert jaccard(a, a) == 1.0 and containment(a, hash_shingles([])) == 0.0


def test_quote_dash_and_case_styles_do_not_change_shingles():
    plain = Shingling("char", 5).hashes("Azerbaijan's parliament - co-chaired")
    styled = Shingling("char", 5).hashes("AZERBAIJAN’S parliament – co chaired")
    assert np.array_equal(plain, styled)
