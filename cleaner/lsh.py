"""MinHash LSH over signature arrays: band keys hashed in numpy, buckets in a compiled hash map.

`BandIndex` finds the same candidates as datasketch's `MinHashLSH` with the same (bands, rows):
two signatures are candidates when all `rows` values of some band are equal. datasketch keys a
bucket by the band's bytes, one band and one Python call at a time; here each band is folded
into one 64-bit key with a multiply-add per row and MurmurHash3's `fmix64`, for all bands (and
for a batch of signatures) in one numpy step, and the buckets live in one open-addressing map in
the compiled kernel (~30 bytes a stored value; a Python dict, ~100, where no C compiler is). Two
different bands can share a 64-bit key only by a hash collision (about n**2 / 2**64 for n keys);
that adds a candidate, which verification then rejects, and never loses one. On the BBC corpus
this makes dedup's LSH work about 10x cheaper (bench/run.py measures both).

`lsh_bands` chooses (bands, rows) for a threshold with recall first: verification is exact, so
a pair the LSH misses is lost for good while a spare candidate costs one comparison. Where that
leaves fewer than MIN_ROWS rows a band, `lsh_layout` bands the signature's values more than once
instead (see there): chance candidates grow with the square of the corpus, and at 3 rows they
made most of dedup's work past 100k news documents.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Iterable

import numpy as np

from . import arrays
from .fastminhash import chosen_kernel, fmix64_array

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


# Fewest rows a band may have before `lsh_layout` bands the values again, and the most rounds.
MIN_ROWS = 4
MAX_ROUNDS = 3


@lru_cache(maxsize=None)
def lsh_layout(threshold: float, num_perm: int, recall: float = LSH_RECALL) -> tuple[int, int, int]:
    """(bands, rows, rounds): the layout of `lsh_bands`, in one round, unless its bands have
    fewer than MIN_ROWS rows; then the most rows (up to MIN_ROWS) that some number of rounds
    (at most MAX_ROUNDS, the fewest) keeps at `recall` for the threshold (`band_positions`
    says which values each band takes).

    A pair of unrelated news paragraphs shares 2-5% of its character 5-grams, so it shares a
    3-row band with probability ~35 * J**3, ~4e-4 a pair on average: each item meets a chance
    candidate for every 2,500 kept copies, and their number grows with the square of the corpus.
    At 4 rows (96 bands in 3 rounds for J = 0.5 at 128 permutations) that is ~14 times fewer,
    for the same recall. Bands of different rounds share values, so a pair's bands are not
    independent and recall is measured by simulation (`layout_recall`).

    >>> lsh_layout(0.5, 128), lsh_layout(0.8, 128), lsh_layout(0.3, 128)
    ((96, 4, 3), (16, 6, 1), (49, 2, 1))
    """
    bands, rows = lsh_bands(threshold, num_perm, recall)
    for more in range(MIN_ROWS, rows, -1):  # as many rows as recall allows, up to MIN_ROWS
        each = num_perm // more
        for rounds in range(2, MAX_ROUNDS + 1):
            if each > (rounds - 1) * (more - 1) and layout_recall(band_positions(num_perm, each * rounds, more, rounds), threshold) >= recall:
                return each * rounds, more, rounds
    return bands, rows, 1


def band_positions(num_perm: int, bands: int, rows: int, rounds: int = 1) -> np.ndarray:
    """Which signature values each band folds into its key, shape (bands, rows).

    One round: consecutive values, band after band. More: the first rows * (num_perm // rows)
    values are a grid of `rows` lines; band j of round k takes value (j + k * i) mod columns of
    line i. Round 0's bands are its columns, each later round's its diagonals of another slope,
    so two bands share at most one value.

    >>> band_positions(8, 2, 3).tolist(), band_positions(8, 8, 2, 2).tolist()
    ([[0, 1, 2], [3, 4, 5]], [[0, 4], [1, 5], [2, 6], [3, 7], [0, 5], [1, 6], [2, 7], [3, 4]])
    """
    if rounds == 1:
        return np.arange(bands * rows).reshape(bands, rows)
    columns = num_perm // rows
    if bands != rounds * columns or columns <= (rounds - 1) * (rows - 1):
        raise ValueError(f"{rounds} rounds of {rows}-row bands need {rounds * columns} bands and more columns than {(rounds - 1) * (rows - 1)}")
    line = np.arange(rows)
    return np.array([line * columns + (band + round_ * line) % columns for round_ in range(rounds) for band in range(columns)])


def layout_recall(positions: np.ndarray, jaccard: float, samples: int = 1 << 16) -> float:
    """The share of pairs of this Jaccard that share a band of `positions`, by simulation: each
    signature value agrees with probability `jaccard`, independently (fixed seed, so the same
    every run; ~0.0004 standard error near 0.99)."""
    width = int(positions.max()) + 1
    agree = np.random.Generator(np.random.PCG64(_ROW_SEED)).random((samples, width)) < jaccard
    return float(agree[:, positions].all(axis=2).any(axis=1).mean())


class BandIndex:
    """Numbers stored under the band keys of their signatures; a query returns the numbers that
    share at least one band with a signature."""

    def __init__(self, threshold: float, num_perm: int, layout: tuple[int, int] | None = None) -> None:
        """`layout` (bands, rows), in one round, overrides the one `lsh_layout` picks."""
        self.bands, self.rows, self.rounds = (*layout, 1) if layout else lsh_layout(threshold, num_perm)
        self.num_perm = num_perm
        self._positions = band_positions(num_perm, self.bands, self.rows, self.rounds)
        state = np.random.default_rng(_ROW_SEED)
        # Odd multipliers per row, and a distinct offset per band so equal bands at different
        # positions never share a key.
        self._multipliers = state.integers(1, 2**63, size=self.rows, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        self._offsets = state.integers(0, 2**63, size=self.bands, dtype=np.uint64)
        self._buckets = _buckets()

    def keys(self, signatures: np.ndarray) -> np.ndarray:
        """Band keys of one signature (shape (bands,)) or of a batch (shape (n, bands))."""
        signatures = np.asarray(signatures)
        if signatures.shape[-1] != self.num_perm:
            raise ValueError(f"signatures have {signatures.shape[-1]} values, the index expects {self.num_perm}")
        if self.rounds == 1:
            used = signatures[..., : self.bands * self.rows].astype(np.uint64)
            grouped = used.reshape(*signatures.shape[:-1], self.bands, self.rows)
        else:
            grouped = signatures[..., self._positions].astype(np.uint64)
        with np.errstate(over="ignore"):
            folded = (grouped * self._multipliers).sum(axis=-1, dtype=np.uint64) + self._offsets
            return fmix64_array(folded)

    def insert(self, value: int, keys: np.ndarray) -> None:
        """Store `value` (an int in [0, 2**31)) under each of `keys`."""
        self._buckets.insert(value, keys)

    def query(self, keys: np.ndarray) -> set[int]:
        """The values stored under any of `keys`."""
        return set(self._buckets.query(keys).tolist())

    def query_array(self, keys: np.ndarray) -> np.ndarray:
        """The values stored under any of `keys` (one row, or several), sorted, each once."""
        return self._buckets.query_sorted(keys)

    def query_many(self, keys: Iterable[np.ndarray]) -> set[int]:
        return set(self.query_array(np.asarray(keys)).tolist())

    @property
    def nbytes(self) -> int:
        """Memory the buckets hold, roughly."""
        return self._buckets.nbytes

    @property
    def native_map(self) -> int | None:
        """The address of the compiled bucket map, or None (buckets in a dict)."""
        return getattr(self._buckets, "address", None)


class _NativeBuckets:
    """Buckets in the compiled kernel's open-addressing map (cleaner/fastminhash.py): ~30 bytes
    a stored value."""

    def __init__(self, kernel) -> None:
        self._kernel = kernel
        self._map = kernel.bm_new()
        if not self._map:
            raise MemoryError("no memory for LSH buckets")
        self._out = np.empty(4096, dtype=np.int32)

    @property
    def address(self) -> int:
        return self._map

    def __del__(self) -> None:
        if getattr(self, "_map", None):
            self._kernel.bm_free(self._map)
            self._map = None

    def insert(self, value: int, keys: np.ndarray) -> None:
        keys = np.ascontiguousarray(keys, dtype=np.uint64)
        if self._kernel.bm_insert(self._map, keys.ctypes.data, keys.size, value) != 0:
            raise MemoryError("no memory for LSH buckets")

    def query(self, keys: np.ndarray) -> np.ndarray:
        return self._ask(self._kernel.bm_query, keys)

    def query_sorted(self, keys: np.ndarray) -> np.ndarray:
        return self._ask(self._kernel.bm_query_sorted, keys)

    def _ask(self, function, keys: np.ndarray) -> np.ndarray:
        """Call a kernel query, growing the output buffer until the values fit (a count above
        its size says how much room they need)."""
        keys = np.ascontiguousarray(keys, dtype=np.uint64)
        while True:
            found = function(self._map, keys.ctypes.data, keys.size, self._out.ctypes.data, self._out.size)
            if found <= self._out.size:
                return self._out[:found].copy()
            self._out = np.empty(2 * found, dtype=np.int32)

    @property
    def nbytes(self) -> int:
        return int(self._kernel.bm_bytes(self._map))


class _DictBuckets:
    """Buckets in one dict, for when the kernel cannot be built: the same candidates, slower."""

    def __init__(self) -> None:
        self._buckets: dict[int, int | list[int]] = {}

    def insert(self, value: int, keys: np.ndarray) -> None:
        # Most keys are seen once: a bucket holds its first value bare and becomes a list only
        # on a second one (4x faster than a list per key).
        buckets = self._buckets
        get = buckets.get
        for key in np.ravel(keys).tolist():
            held = get(key)
            if held is None:
                buckets[key] = value
            elif type(held) is list:
                held.append(value)
            else:
                buckets[key] = [held, value]

    def query(self, keys: np.ndarray) -> np.ndarray:
        found: list[int] = []
        get = self._buckets.get
        for key in np.ravel(keys).tolist():
            held = get(key)
            if held is None:
                continue
            if type(held) is list:
                found.extend(held)
            else:
                found.append(held)
        return np.array(found, dtype=np.int32)

    def query_sorted(self, keys: np.ndarray) -> np.ndarray:
        return arrays.unique(self.query(keys))

    @property
    def nbytes(self) -> int:
        import sys

        return sys.getsizeof(self._buckets) + sum(sys.getsizeof(v) for v in self._buckets.values() if type(v) is list)


def _buckets() -> _NativeBuckets | _DictBuckets:
    kernel = chosen_kernel()
    return _DictBuckets() if kernel is None else _NativeBuckets(kernel)
