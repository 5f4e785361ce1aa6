"""Shingles and MinHash signatures, identical to datasketch's `MinHash` (scheme `affine32`).

A signature here is the `hashvalues` array that `datasketch.MinHash(num_perm, seed)` would hold
after `update_batch` over the same shingles, computed in one vectorised numpy step; `to_lean`
wraps it as a `LeanMinHash` for datasketch's LSH. Shingle hashes are kept as a sorted unique
uint32 array, which is also what verification uses to compute exact Jaccard and containment.
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

import numpy as np

from . import arrays

if TYPE_CHECKING:
    from datasketch import LeanMinHash

SCHEME = "affine32"
_MAX_HASH = np.uint32(0xFFFFFFFF)

# Canonical form for comparison: case, quote, dash and spacing styles do not make text different.
_QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "“": '"', "”": '"', "„": '"', "«": '"', "»": '"'})
_NON_WORD = re.compile(r"[\W_]+")


def canonical(text: str) -> str:
    """Fold case, quote/dash styles and punctuation so only wording is compared.

    >>> canonical("Azerbaijan’s  parliament – co-chaired, “war”")
    'azerbaijan s parliament co chaired war'
    """
    return _NON_WORD.sub(" ", text.translate(_QUOTES).casefold()).strip()


def word_shingles(text: str, n: int) -> list[str]:
    """Word n-grams of the canonical text (the whole text when it has fewer than n words).

    >>> word_shingles("The cat sat on the mat", 5)
    ['the cat sat on the', 'cat sat on the mat']
    """
    words = canonical(text).split()
    if len(words) <= n:
        return [" ".join(words)] if words else []
    return [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]


def char_shingles(text: str, n: int) -> list[str]:
    """Character n-grams of the canonical text (the whole text when it is shorter than n).

    >>> char_shingles("Ab, c!", 3)
    ['ab ', 'b c']
    """
    form = canonical(text)
    if len(form) <= n:
        return [form] if form else []
    return [form[i : i + n] for i in range(len(form) - n + 1)]


def hash_shingles(shingles: Iterable[str]) -> np.ndarray:
    """Hash shingles as datasketch's default `sha1_hash32` does; return them sorted and unique."""
    unpack = struct.Struct("<I").unpack_from
    hashes = np.fromiter(
        (unpack(hashlib.sha1(s.encode("utf-8", "surrogatepass")).digest())[0] for s in shingles), dtype=np.uint32
    )
    return arrays.unique(hashes)


def _fmix32(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser, the pre-mix datasketch applies before its permutations."""
    values = values ^ (values >> np.uint32(16))
    values = values * np.uint32(0x85EBCA6B)
    values = values ^ (values >> np.uint32(13))
    values = values * np.uint32(0xC2B2AE35)
    return values ^ (values >> np.uint32(16))


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The (a, b) of `datasketch.MinHash(num_perm, seed, scheme="affine32").permutations` as
    uint32, drawn as datasketch draws them (tested equal) without importing datasketch: its
    package import pulls in scipy for its LSH, ~0.5 s of every command's start."""
    draw = np.random.RandomState(seed)
    a = draw.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)  # odd: a bijection
    b = draw.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


@dataclass(frozen=True)
class MinHasher:
    """Signatures with datasketch's permutations for (num_perm, seed)."""

    num_perm: int = 128
    seed: int = 1
    _permutations: tuple[np.ndarray, np.ndarray] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_permutations", permutations(self.num_perm, self.seed))

    def signature(self, hashes: np.ndarray) -> np.ndarray:
        """Return the MinHash values of a set of shingle hashes (all max-hash when empty)."""
        if hashes.size == 0:
            return np.full(self.num_perm, _MAX_HASH, dtype=np.uint32)
        a, b = self._permutations
        mixed = _fmix32(hashes.astype(np.uint32, copy=False))
        with np.errstate(over="ignore"):
            return (np.outer(mixed, a) + b).min(axis=0)

    def to_lean(self, signature: np.ndarray) -> LeanMinHash:
        """Wrap a signature as datasketch's `LeanMinHash` (for `MinHashLSH` and friends)."""
        from datasketch import LeanMinHash

        return LeanMinHash(seed=self.seed, hashvalues=signature, scheme=SCHEME)


def shared_count(a: np.ndarray, b: np.ndarray) -> int:
    """How many values two sorted unique hash arrays share (binary search of the smaller in the larger).

    >>> shared_count(np.array([1, 3, 5], np.uint32), np.array([3, 4, 5, 6], np.uint32))
    2
    """
    if a.size > b.size:
        a, b = b, a
    if a.size == 0:
        return 0
    positions = np.searchsorted(b, a)
    positions[positions == b.size] = 0
    return int(np.count_nonzero(b[positions] == a))


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two sorted unique hash arrays."""
    if a.size == 0 and b.size == 0:
        return 1.0
    shared = shared_count(a, b)
    return shared / (a.size + b.size - shared)


def containment(a: np.ndarray, b: np.ndarray) -> float:
    """Share of the smaller set found in the larger one."""
    if a.size == 0 or b.size == 0:
        return 0.0
    return shared_count(a, b) / min(a.size, b.size)


@dataclass(frozen=True)
class Shingling:
    """How a level turns text into shingles: `word` or `char` n-grams of the canonical text."""

    unit: str
    n: int

    def __post_init__(self) -> None:
        if self.unit not in ("word", "char") or self.n < 1:
            raise ValueError(f"shingling must be word or char with n >= 1, not {self.unit} {self.n}")

    def hashes(self, text: str) -> np.ndarray:
        shingles = word_shingles(text, self.n) if self.unit == "word" else char_shingles(text, self.n)
        return hash_shingles(shingles)

    @property
    def label(self) -> str:
        return f"{self.unit}-{self.n}"
