"""MinHash LSH over signature arrays: band keys hashed in numpy, buckets in one dict.

`BandIndex` finds the same candidates as datasketch's `MinHashLSH` with the same (bands, rows):
two signatures are candidates when all `rows` values of some band are equal. datasketch keys a
bucket by the band's bytes, one band and one Python call at a time; here each band is folded
into one 64-bit key with a multiply-add per row and MurmurHash3's `fmix64`, for all bands (and
for a batch of signatures) in one numpy step, and the buckets live in a single dict. Two
different bands can share a 64-bit key only by a hash collision (about n**2 / 2**64 for n keys);
that adds a candidate, which verification then rejects, and never loses one. On the BBC corpus
this makes dedup's LSH work about 10x cheaper (bench/run.py measures both).

`lsh_bands` chooses (bands, rows) for a threshold with recall first: verification is exact, so
a pair the LSH misses is lost for good while a spare candidate costs one comparison.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Generic, Hashable, Iterable, TypeVar

import numpy as np

from .fastminhash import fmix64_array

Value = TypeVar("Value", bound=Hashable)

# LSH lets through a pair whose Jaccard is exactly the threshold with at least this probability
# (more above it); verification then applies the threshold exactly.
LSH_RECALL = 0.99

_ROW_SEED = 0x9E3779B97F4A7C15


@lru_cache(maxsize=None)
def lsh_bands(threshold: float, num_perm: int, recall: float = LSH_RECALL) -> tuple[int, int]:
    """(bands, rows) for LSH: among the layouts that let a pair at the threshold through with
    probability >= `recall`, the one that lets the fewest pairs at half the threshold through
    (the candidates verification pays for); the most permissive layout when none fits.

    A pair of Jaccard J shares a band with probability 1 - (1 - J**rows)**bands. datasketch's
    `_optimal_param` balances false positives and false negatives instead, which at 128
    permutations and J = 0.5 misses one pair in eight.

    >>> lsh_bands(0.5, 128), lsh_bands(0.8, 128), lsh_bands(0.9, 256)
    ((35, 3), (16, 6), (18, 14))
    """
    best: tuple[float, int, int] | None = None
    for rows in range(1, num_perm + 1):
        chance = threshold**rows
        if chance <= 0.0:
            break
        bands = 1 if chance >= 1.0 else max(1, math.ceil(math.log(1.0 - recall) / math.log1p(-chance)))
        if bands * rows > num_perm:
            continue
        candidates = 1.0 - (1.0 - (threshold / 2) ** rows) ** bands
        if best is None or candidates < best[0]:
            best = (candidates, bands, rows)
    return (num_perm, 1) if best is None else (best[1], best[2])


class BandIndex(Generic[Value]):
    """Values stored under the band keys of their signatures; query returns the values that
    share at least one band with a signature."""

    def __init__(self, threshold: float, num_perm: int, layout: tuple[int, int] | None = None) -> None:
        """`layout` (bands, rows) overrides the one `lsh_bands` picks for the threshold."""
        self.bands, self.rows = layout or lsh_bands(threshold, num_perm)
        self.num_perm = num_perm
        state = np.random.default_rng(_ROW_SEED)
        # Odd multipliers per row, and a distinct offset per band so equal bands at different
        # positions never share a key.
        self._multipliers = state.integers(1, 2**63, size=self.rows, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        self._offsets = state.integers(0, 2**63, size=self.bands, dtype=np.uint64)
        self._buckets: dict[int, Value | list[Value]] = {}

    def keys(self, signatures: np.ndarray) -> np.ndarray:
        """Band keys of one signature (shape (bands,)) or of a batch (shape (n, bands))."""
        signatures = np.asarray(signatures)
        if signatures.shape[-1] != self.num_perm:
            raise ValueError(f"signatures have {signatures.shape[-1]} values, the index expects {self.num_perm}")
        used = signatures[..., : self.bands * self.rows].astype(np.uint64)
        grouped = used.reshape(*signatures.shape[:-1], self.bands, self.rows)
        with np.errstate(over="ignore"):
            folded = (grouped * self._multipliers).sum(axis=-1, dtype=np.uint64) + self._offsets
            return fmix64_array(folded)

    def insert(self, value: Value, keys: np.ndarray) -> None:
        # Most keys are seen once: a bucket holds its first value bare and becomes a list only
        # on a second one (4x faster than a list per key; values are never lists).
        buckets = self._buckets
        get = buckets.get
        for key in keys.tolist():
            held = get(key)
            if held is None:
                buckets[key] = value
            elif type(held) is list:
                held.append(value)
            else:
                buckets[key] = [held, value]

    def query(self, keys: np.ndarray) -> set[Value]:
        found: set[Value] = set()
        get = self._buckets.get
        for key in keys.tolist():
            held = get(key)
            if held is None:
                continue
            if type(held) is list:
                found.update(held)
            else:
                found.add(held)
        return found

    def query_many(self, keys: Iterable[np.ndarray]) -> set[Value]:
        found: set[Value] = set()
        for row in keys:
            found |= self.query(row)
        return found
