"""Text to shingle hashes and MinHash signature in one compiled pass (with a numpy fallback).

`Fingerprinter` turns a text into what dedup needs from it: the sorted unique uint32 hashes of
its shingles (for exact Jaccard and containment) and its MinHash signature (for LSH). Shingles
are exactly `cleaner.minhash`'s: word or character n-grams of `canonical(text)`. Every word or
character n-gram is a contiguous run of the canonical text's UTF-8 bytes, so the kernel never
builds shingle strings: it canonicalises the text into a byte buffer, finds the n-gram byte
ranges, hashes each range, sorts and uniques the hashes, then applies datasketch's `affine32`
permutations (MurmurHash3 `fmix32` pre-mix, then `a*h + b mod 2**32`, parameters drawn exactly as
`datasketch.MinHash(num_perm, seed)` draws them).

Two shingle hash functions (`hash=`):

- `"sha1"`: datasketch's default `sha1_hash32` (the first four bytes of SHA-1, little-endian).
  Signatures equal `datasketch.MinHash(num_perm, seed).update_batch(shingles)` exactly, and
  hashes equal `cleaner.minhash.Shingling.hashes` (tests/test_fastminhash.py checks both).
- `"poly64"` (the default; the faster family): a polynomial hash of the shingle's UTF-8 bytes
  modulo 2**64, `sum(byte_j * B**(L-1-j))`, with the length xor-ed in, MurmurHash3's 64-bit
  finaliser `fmix64` applied and the low 32 bits kept (`poly64_hash32` is the reference). With a
  prefix array over the canonical bytes, each shingle costs one multiply and one subtraction
  whatever its length, and the same arithmetic vectorises in numpy, so both backends agree bit
  for bit. Why this is as sound as sha1_hash32 for MinHash and exact Jaccard:

  * Dedup only needs the hash to be injective on the shingles that are compared; the permutation
    family (datasketch's affine32 over fmix32) is unchanged, so signatures are ordinary datasketch
    signatures with another `hashfunc`: `MinHash(num_perm, seed, hashfunc=poly64_hash32)` gives
    the same values (tested), and `LeanMinHash(seed=..., hashvalues=sig, scheme="affine32")`
    works in `MinHashLSH`.
  * Two distinct shingles collide modulo 2**64 only when B is a root of their difference
    polynomial. B is a fixed odd constant (so B is invertible and no byte is multiplied by a
    power of two that kills it); the known structured collisions for power-of-two moduli
    (Thue-Morse strings) need strings of 1,024 bytes or more, while shingles are word 3-grams
    and character 5-grams of a few dozen bytes. Measured (bench/run.py --collisions): no 64-bit
    collision among the 808,798 distinct word 3-gram and character 5-gram shingles of the BBC
    corpus, nor among the 7.2 million of the 10k-document bench corpus.
  * Keeping 32 bits after fmix64 (an avalanching bijection) makes the output as good as a random
    32-bit value for distinct 64-bit inputs: two sets of m and n shingles share a spurious value
    with probability about m*n / 2**32 (1e-4 for two 700-shingle documents), the same birthday
    bound as sha1_hash32, which also keeps 32 bits. On the BBC shingles poly64 has 39 and 1
    32-bit collisions (word 3-grams, character 5-grams) where the birthday bound expects 46.3
    and 3.7 and sha1_hash32 has 50 and 4.

Backends: `c`, a small C kernel compiled with the system C compiler on first use and cached
(`$CLEANER_CACHE_DIR`, else `$XDG_CACHE_HOME/cleaner`, else `~/.cache/cleaner`), loaded through
ctypes (no Python headers, no new dependency; it releases the GIL); `numpy`, the same algorithm
with `canonical()` in Python and numpy arithmetic, used when no compiler is available or when
`CLEANER_FASTMINHASH=numpy` is set. Both give identical hashes and signatures.

Canonicalisation in C is exact because it is table-driven: `canonical()` is a per-character map
(quote folding, `str.casefold`, `[\\W_]` to a separator) followed by collapsing separators, so
the table holds Python's own output for every character of the Basic Multilingual Plane; a text
with a character beyond it (emoji, rare scripts) is canonicalised by `canonical()` itself.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import struct
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Sequence

import numpy as np

from . import arrays
from .minhash import _NON_WORD, _QUOTES, SCHEME, canonical, permutations

if TYPE_CHECKING:
    from datasketch import LeanMinHash

HASHES = ("poly64", "sha1")  # the kernel's hash codes are these positions
BACKENDS = ("c", "numpy")
POLY_BASE = 0x9E3779B97F4A7C15  # odd (invertible modulo 2**64), bits spread over the whole word
_MASK64 = (1 << 64) - 1
_POLY_INVERSE = pow(POLY_BASE, -1, 1 << 64)
_TABLE_SIZE = 0x10000
_KERNEL_MAX_CHARS = (1 << 31) // 16  # the kernel's offsets are 32-bit; longer texts go to numpy


def poly64_hash32(data: bytes) -> int:
    """The `poly64` shingle hash of some bytes, usable as datasketch's `hashfunc`.

    >>> poly64_hash32(b"the cat sat")
    3971588575
    """
    h = 0
    for byte in data:
        h = (h * POLY_BASE + byte) & _MASK64
    return _fmix64(h ^ len(data)) & 0xFFFFFFFF


def sha1_hash32(data: bytes) -> int:
    """datasketch's default `sha1_hash32`: the first four bytes of SHA-1, little-endian."""
    return struct.unpack_from("<I", hashlib.sha1(data).digest())[0]


def _fmix64(k: int) -> int:
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & _MASK64
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & _MASK64
    return k ^ (k >> 33)


class Fingerprint(NamedTuple):
    """What dedup keeps of a text: sorted unique shingle hashes and the MinHash signature."""

    hashes: np.ndarray
    signature: np.ndarray


@dataclass(frozen=True)
class Fingerprinter:
    """Shingle hashes and MinHash signatures of texts for one shingling (`word`/`char`, n).

    `backend="auto"` uses the compiled kernel when it can be built, else numpy; results are the
    same either way. One instance may be shared by threads.
    """

    unit: str = "word"
    n: int = 3
    num_perm: int = 128
    seed: int = 1
    hash: str = "poly64"
    backend: str = "auto"
    _a: np.ndarray = field(init=False, repr=False, compare=False)
    _b: np.ndarray = field(init=False, repr=False, compare=False)
    _kernel: _Kernel | None = field(init=False, repr=False, compare=False)
    _arguments: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.unit not in ("word", "char") or self.n < 1:
            raise ValueError(f"shingling must be word or char with n >= 1, not {self.unit} {self.n}")
        if self.hash not in HASHES:
            raise ValueError(f"hash must be one of {', '.join(HASHES)}, not {self.hash!r}")
        if self.backend not in ("auto", *BACKENDS):
            raise ValueError(f"backend must be auto, c or numpy, not {self.backend!r}")
        a, b = permutations(self.num_perm, self.seed)
        object.__setattr__(self, "_a", np.ascontiguousarray(a, dtype=np.uint32))
        object.__setattr__(self, "_b", np.ascontiguousarray(b, dtype=np.uint32))
        arguments = (self._a.ctypes.data, self._b.ctypes.data, self.num_perm, 0 if self.unit == "word" else 1, self.n,
                     HASHES.index(self.hash), _POLY_INVERSE)
        object.__setattr__(self, "_arguments", arguments)
        kernel = None
        if self.backend == "c" or (self.backend == "auto" and os.environ.get("CLEANER_FASTMINHASH") != "numpy"):
            kernel = load_kernel()
            if kernel is None and self.backend == "c":
                raise RuntimeError(f"the compiled MinHash kernel is unavailable: {_KERNEL_STATE.error}")
        object.__setattr__(self, "_kernel", kernel)

    @property
    def active_backend(self) -> str:
        return "c" if self._kernel is not None else "numpy"

    @property
    def label(self) -> str:
        return f"{self.unit}-{self.n}"

    def fingerprint(self, text: str) -> Fingerprint:
        """Return the sorted unique shingle hashes and the signature of one text."""
        if self._kernel is not None and len(text) < _KERNEL_MAX_CHARS:
            return self._kernel.one(self, text)
        return self._numpy_fingerprint(text)

    def hashes(self, text: str) -> np.ndarray:
        """Sorted unique shingle hashes (a drop-in for `Shingling.hashes`)."""
        return self.fingerprint(text).hashes

    def signature(self, text: str) -> np.ndarray:
        return self.fingerprint(text).signature

    def fingerprints(self, texts: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Signatures (one row per text) and sorted unique hashes of many texts in one call."""
        if self._kernel is not None and sum(map(len, texts)) < _KERNEL_MAX_CHARS:
            return self._kernel.many(self, texts)
        signatures = np.empty((len(texts), self.num_perm), dtype=np.uint32)
        hashes = []
        for row, text in enumerate(texts):
            found = self._numpy_fingerprint(text)
            signatures[row] = found.signature
            hashes.append(found.hashes)
        return signatures, hashes

    def to_lean(self, signature: np.ndarray) -> LeanMinHash:
        """Wrap a signature as datasketch's `LeanMinHash` (for `MinHashLSH` and friends)."""
        from datasketch import LeanMinHash

        return LeanMinHash(seed=self.seed, hashvalues=signature, scheme=SCHEME)

    # numpy backend -------------------------------------------------------------------------

    def _numpy_fingerprint(self, text: str) -> Fingerprint:
        data = np.frombuffer(canonical(text).encode("utf-8", "surrogatepass"), dtype=np.uint8)
        starts, ends = shingle_ranges(data, self.unit, self.n)
        if self.hash == "sha1":
            raw = data.tobytes()
            values = np.fromiter((sha1_hash32(raw[s:e]) for s, e in zip(starts.tolist(), ends.tolist())), np.uint32, len(starts))
        else:
            values = poly64_hashes(data, starts, ends)
        hashes = arrays.unique(values)
        return Fingerprint(hashes, minhash_signature(hashes, self._a, self._b))


def shingle_ranges(data: np.ndarray, unit: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Byte ranges of the word or character n-grams of canonical UTF-8 bytes.

    >>> shingle_ranges(np.frombuffer(b"the cat sat", np.uint8), "word", 2)
    (array([0, 4]), array([ 7, 11]))
    """
    size = data.size
    if size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if unit == "word":
        spaces = np.flatnonzero(data == 32)
        starts = np.concatenate(([0], spaces + 1))
        ends = np.concatenate((spaces, [size]))
    else:
        starts = np.flatnonzero((data & 0xC0) != 0x80)
        ends = np.concatenate((starts[1:], [size]))
    count = starts.size
    if count <= n:
        return np.array([0], np.int64), np.array([size], np.int64)
    return starts[: count - n + 1].astype(np.int64), ends[n - 1 :].astype(np.int64)


def poly64_hashes(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """`poly64_hash32` of each byte range, vectorised through prefix sums modulo 2**64."""
    if starts.size == 0:
        return np.zeros(0, np.uint32)
    size = data.size
    powers = _powers(POLY_BASE, size + 1)
    inverse_powers = _powers(pow(POLY_BASE, -1, 1 << 64), size)
    with np.errstate(over="ignore"):
        # prefix[k] = sum(data[j] * B**(k-1-j), j < k) = B**(k-1) * sum(data[j] * B**-j)
        scaled = np.cumsum(data.astype(np.uint64) * inverse_powers, dtype=np.uint64)
        prefix = np.zeros(size + 1, np.uint64)
        prefix[1:] = scaled * powers[:size]
        lengths = (ends - starts).astype(np.int64)
        values = prefix[ends] - prefix[starts] * powers[lengths]
        return (fmix64_array(values ^ lengths.astype(np.uint64)) & np.uint64(0xFFFFFFFF)).astype(np.uint32)


def _powers(base: int, count: int) -> np.ndarray:
    powers = np.full(count, np.uint64(base), np.uint64)
    powers[0] = 1
    with np.errstate(over="ignore"):
        return np.cumprod(powers, dtype=np.uint64)


def fmix64_array(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser (an avalanching bijection), element-wise."""
    with np.errstate(over="ignore"):
        values = values ^ (values >> np.uint64(33))
        values = values * np.uint64(0xFF51AFD7ED558CCD)
        values = values ^ (values >> np.uint64(33))
        values = values * np.uint64(0xC4CEB9FE1A85EC53)
        return values ^ (values >> np.uint64(33))


def minhash_signature(hashes: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """datasketch's affine32 MinHash of some 32-bit shingle hashes (all max-hash when empty)."""
    if hashes.size == 0:
        return np.full(a.size, 0xFFFFFFFF, dtype=np.uint32)
    values = hashes.astype(np.uint32)
    with np.errstate(over="ignore"):
        values = values ^ (values >> np.uint32(16))
        values = values * np.uint32(0x85EBCA6B)
        values = values ^ (values >> np.uint32(13))
        values = values * np.uint32(0xC2B2AE35)
        values = values ^ (values >> np.uint32(16))
        return (np.outer(values, a) + b).min(axis=0)


# The compiled kernel --------------------------------------------------------------------------

_C_SOURCE = r"""
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POLY_BASE 0x9E3779B97F4A7C15ULL

static inline uint32_t fmix32(uint32_t h) {
    h ^= h >> 16; h *= 0x85EBCA6Bu; h ^= h >> 13; h *= 0xC2B2AE35u; return h ^ (h >> 16);
}

static inline uint64_t fmix64(uint64_t k) {
    k ^= k >> 33; k *= 0xFF51AFD7ED558CCDULL; k ^= k >> 33; k *= 0xC4CEB9FE1A85EC53ULL; return k ^ (k >> 33);
}

/* Scratch space per thread, grown as needed and reused across calls. */
typedef struct {
    uint8_t *canon; int64_t canon_cap;
    int32_t *starts; int32_t *ends; uint32_t *values; uint32_t *tmp; uint64_t *prefix;
    int64_t cap;
    uint64_t *powers; uint64_t *inverse_powers; int64_t powers_cap;
} scratch_t;

static __thread scratch_t S;

static int reserve_canon(int64_t need) {
    if (need <= S.canon_cap) return 0;
    uint8_t *p = (uint8_t *)realloc(S.canon, (size_t)need);
    if (!p) return -1;
    S.canon = p; S.canon_cap = need;
    return 0;
}

static int reserve(int64_t need) {
    if (need <= S.cap) return 0;
    need = need + need / 2 + 64;
    void *a = realloc(S.starts, need * 4); if (!a) return -1; S.starts = (int32_t *)a;
    a = realloc(S.ends, need * 4); if (!a) return -1; S.ends = (int32_t *)a;
    a = realloc(S.values, need * 4); if (!a) return -1; S.values = (uint32_t *)a;
    a = realloc(S.tmp, need * 4); if (!a) return -1; S.tmp = (uint32_t *)a;
    a = realloc(S.prefix, (need + 1) * 8); if (!a) return -1; S.prefix = (uint64_t *)a;
    S.cap = need;
    return 0;
}

/* B**k and B**-k modulo 2**64 for k < need (B**-1 is POLY_INVERSE). */
static int reserve_powers(int64_t need, uint64_t inverse) {
    if (need <= S.powers_cap) return 0;
    need = need + need / 2 + 64;
    void *a = realloc(S.powers, need * 8); if (!a) return -1; S.powers = (uint64_t *)a;
    a = realloc(S.inverse_powers, need * 8); if (!a) return -1; S.inverse_powers = (uint64_t *)a;
    uint64_t p = 1, q = 1;
    for (int64_t k = 0; k < need; k++) { S.powers[k] = p; S.inverse_powers[k] = q; p *= POLY_BASE; q *= inverse; }
    S.powers_cap = need;
    return 0;
}

/* canonical(): table[cp] < 0 is a separator, else (offset << 4 | length) of its folded UTF-8
   bytes in pool, where a space byte is a separator. Returns the length, or -1 when a character
   lies beyond the table (the caller canonicalises in Python). */
static int64_t canonicalise(const uint8_t *s, int64_t len, const uint8_t *ascii,
                            const int32_t *table, const uint8_t *pool, uint8_t *out) {
    int64_t o = 0, i = 0;
    int pending = 0;
    while (i < len) {
        uint32_t c = s[i];
        if (c < 0x80) {
            /* Branch-free: write a space when a word follows a separator, then the byte. */
            uint8_t m = ascii[c];
            int word = m != 0;
            out[o] = ' ';
            o += pending & word & (o != 0);
            out[o] = m;
            o += word;
            pending = !word;
            i++;
            continue;
        }
        uint32_t cp;
        if (c < 0xE0) {
            if (i + 1 >= len) return -1;
            cp = ((c & 0x1Fu) << 6) | (s[i + 1] & 0x3Fu); i += 2;
        } else if (c < 0xF0) {
            if (i + 2 >= len) return -1;
            cp = ((c & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3Fu); i += 3;
        } else return -1;
        int32_t e = table[cp];
        if (e < 0) { pending = 1; continue; }
        const uint8_t *p = pool + (e >> 4);
        int n = e & 15;
        for (int k = 0; k < n; k++) {
            uint8_t b = p[k];
            if (b == ' ') pending = 1;
            else {
                if (pending) { if (o) out[o++] = ' '; pending = 0; }
                out[o++] = b;
            }
        }
    }
    return o;
}

int64_t fm_canonicalise(const uint8_t *s, int64_t len, const uint8_t *ascii, const int32_t *table,
                        const uint8_t *pool, uint8_t *out) {
    return canonicalise(s, len, ascii, table, pool, out);
}

/* ---- SHA-1 (datasketch's sha1_hash32: first 4 digest bytes, little-endian) ---- */
#define ROL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))

static inline uint32_t load_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Portable SHA-1 compression: rounds unrolled, 16-word circular message schedule. */
static void sha1_block_portable(uint32_t h[5], const uint8_t *p) {
    uint32_t w[16];
    for (int t = 0; t < 16; t++) w[t] = load_be32(p + 4 * t);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
#define W(t) (w[(t) & 15] = ROL(w[((t) + 13) & 15] ^ w[((t) + 8) & 15] ^ w[((t) + 2) & 15] ^ w[(t) & 15], 1))
#define R(a, b, c, d, e, f, k, x) do { e += ROL(a, 5) + (f) + (k) + (x); b = ROL(b, 30); } while (0)
#define F1(b, c, d) (d ^ (b & (c ^ d)))
#define F2(b, c, d) (b ^ c ^ d)
#define F3(b, c, d) ((b & c) | (d & (b | c)))
#define ROUND5(F, k, t0, XW) \
    R(a, b, c, d, e, F(b, c, d), k, XW(t0)); R(e, a, b, c, d, F(a, b, c), k, XW(t0 + 1)); \
    R(d, e, a, b, c, F(e, a, b), k, XW(t0 + 2)); R(c, d, e, a, b, F(d, e, a), k, XW(t0 + 3)); \
    R(b, c, d, e, a, F(c, d, e), k, XW(t0 + 4));
#define W0(t) (w[t])
    ROUND5(F1, 0x5A827999u, 0, W0) ROUND5(F1, 0x5A827999u, 5, W0) ROUND5(F1, 0x5A827999u, 10, W0)
    R(a, b, c, d, e, F1(b, c, d), 0x5A827999u, w[15]);
    R(e, a, b, c, d, F1(a, b, c), 0x5A827999u, W(16)); R(d, e, a, b, c, F1(e, a, b), 0x5A827999u, W(17));
    R(c, d, e, a, b, F1(d, e, a), 0x5A827999u, W(18)); R(b, c, d, e, a, F1(c, d, e), 0x5A827999u, W(19));
    ROUND5(F2, 0x6ED9EBA1u, 20, W) ROUND5(F2, 0x6ED9EBA1u, 25, W) ROUND5(F2, 0x6ED9EBA1u, 30, W) ROUND5(F2, 0x6ED9EBA1u, 35, W)
    ROUND5(F3, 0x8F1BBCDCu, 40, W) ROUND5(F3, 0x8F1BBCDCu, 45, W) ROUND5(F3, 0x8F1BBCDCu, 50, W) ROUND5(F3, 0x8F1BBCDCu, 55, W)
    ROUND5(F2, 0xCA62C1D6u, 60, W) ROUND5(F2, 0xCA62C1D6u, 65, W) ROUND5(F2, 0xCA62C1D6u, 70, W) ROUND5(F2, 0xCA62C1D6u, 75, W)
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
}

/* SHA-NI (x86 SHA extensions) when the CPU has them: same digest, ~1.6x faster per shingle. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <cpuid.h>
#define HAVE_SHANI_CODE 1
__attribute__((target("sha,sse4.1")))
static void sha1_block_shani(uint32_t state[5], const uint8_t *data) {
    __m128i ABCD, ABCD_SAVE, E0, E0_SAVE, E1, MSG0, MSG1, MSG2, MSG3;
    const __m128i MASK = _mm_set_epi64x(0x0001020304050607ULL, 0x08090a0b0c0d0e0fULL);
    ABCD = _mm_loadu_si128((const __m128i *)state);
    E0 = _mm_set_epi32((int)state[4], 0, 0, 0);
    ABCD = _mm_shuffle_epi32(ABCD, 0x1B);
    ABCD_SAVE = ABCD; E0_SAVE = E0;
    MSG0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 0)), MASK);
    E0 = _mm_add_epi32(E0, MSG0); E1 = ABCD; ABCD = _mm_sha1rnds4_epu32(ABCD, E0, 0);
    MSG1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16)), MASK);
    E1 = _mm_sha1nexte_epu32(E1, MSG1); E0 = ABCD; ABCD = _mm_sha1rnds4_epu32(ABCD, E1, 0);
    MSG0 = _mm_sha1msg1_epu32(MSG0, MSG1);
    MSG2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 32)), MASK);
    E0 = _mm_sha1nexte_epu32(E0, MSG2); E1 = ABCD; ABCD = _mm_sha1rnds4_epu32(ABCD, E0, 0);
    MSG1 = _mm_sha1msg1_epu32(MSG1, MSG2); MSG0 = _mm_xor_si128(MSG0, MSG2);
    MSG3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 48)), MASK);
    E1 = _mm_sha1nexte_epu32(E1, MSG3); E0 = ABCD; MSG0 = _mm_sha1msg2_epu32(MSG0, MSG3);
    ABCD = _mm_sha1rnds4_epu32(ABCD, E1, 0); MSG2 = _mm_sha1msg1_epu32(MSG2, MSG3); MSG1 = _mm_xor_si128(MSG1, MSG3);
#define QUAD(EA, EB, M0, M1, M2, M3, F) \
    EA = _mm_sha1nexte_epu32(EA, M0); EB = ABCD; M1 = _mm_sha1msg2_epu32(M1, M0); \
    ABCD = _mm_sha1rnds4_epu32(ABCD, EA, F); M3 = _mm_sha1msg1_epu32(M3, M0); M2 = _mm_xor_si128(M2, M0);
    QUAD(E0, E1, MSG0, MSG1, MSG2, MSG3, 0)   /* 16-19 */
    QUAD(E1, E0, MSG1, MSG2, MSG3, MSG0, 1)   /* 20-23 */
    QUAD(E0, E1, MSG2, MSG3, MSG0, MSG1, 1)   /* 24-27 */
    QUAD(E1, E0, MSG3, MSG0, MSG1, MSG2, 1)   /* 28-31 */
    QUAD(E0, E1, MSG0, MSG1, MSG2, MSG3, 1)   /* 32-35 */
    QUAD(E1, E0, MSG1, MSG2, MSG3, MSG0, 1)   /* 36-39 */
    QUAD(E0, E1, MSG2, MSG3, MSG0, MSG1, 2)   /* 40-43 */
    QUAD(E1, E0, MSG3, MSG0, MSG1, MSG2, 2)   /* 44-47 */
    QUAD(E0, E1, MSG0, MSG1, MSG2, MSG3, 2)   /* 48-51 */
    QUAD(E1, E0, MSG1, MSG2, MSG3, MSG0, 2)   /* 52-55 */
    QUAD(E0, E1, MSG2, MSG3, MSG0, MSG1, 2)   /* 56-59 */
    QUAD(E1, E0, MSG3, MSG0, MSG1, MSG2, 3)   /* 60-63 */
    QUAD(E0, E1, MSG0, MSG1, MSG2, MSG3, 3)   /* 64-67 */
    E1 = _mm_sha1nexte_epu32(E1, MSG1); E0 = ABCD; MSG2 = _mm_sha1msg2_epu32(MSG2, MSG1);
    ABCD = _mm_sha1rnds4_epu32(ABCD, E1, 3); MSG3 = _mm_xor_si128(MSG3, MSG1);   /* 68-71 */
    E0 = _mm_sha1nexte_epu32(E0, MSG2); E1 = ABCD; MSG3 = _mm_sha1msg2_epu32(MSG3, MSG2);
    ABCD = _mm_sha1rnds4_epu32(ABCD, E0, 3);   /* 72-75 */
    E1 = _mm_sha1nexte_epu32(E1, MSG3); E0 = ABCD; ABCD = _mm_sha1rnds4_epu32(ABCD, E1, 3);   /* 76-79 */
    E0 = _mm_sha1nexte_epu32(E0, E0_SAVE);
    ABCD = _mm_add_epi32(ABCD, ABCD_SAVE);
    ABCD = _mm_shuffle_epi32(ABCD, 0x1B);
    _mm_storeu_si128((__m128i *)state, ABCD);
    state[4] = (uint32_t)_mm_extract_epi32(E0, 3);
}
static int cpu_has_sha(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    if (!((b >> 29) & 1)) return 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    return (c >> 19) & 1;  /* SSE4.1 */
}
#else
#define HAVE_SHANI_CODE 0
#endif

typedef void (*sha1_block_fn)(uint32_t *, const uint8_t *);
static sha1_block_fn sha1_block = 0;  /* chosen once; a race only stores the same pointer twice */

static void choose_sha1_block(void) {
#if HAVE_SHANI_CODE
    sha1_block = cpu_has_sha() ? sha1_block_shani : sha1_block_portable;
#else
    sha1_block = sha1_block_portable;
#endif
}

int fm_sha1_uses_cpu_extensions(void) {
    if (!sha1_block) choose_sha1_block();
    return sha1_block != sha1_block_portable;
}

/* For tests: force the portable compression (1) or choose by CPU again (0). */
void fm_sha1_force_portable(int portable) {
    if (portable) sha1_block = sha1_block_portable; else choose_sha1_block();
}

static uint32_t sha1_hash32(const uint8_t *m, int64_t len) {
    uint32_t h[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
    int64_t i = 0;
    for (; i + 64 <= len; i += 64) sha1_block(h, m + i);
    uint8_t block[128];
    int64_t rest = len - i;
    memcpy(block, m + i, (size_t)rest);
    block[rest] = 0x80;
    int64_t total = rest + 1 + 8 <= 64 ? 64 : 128;
    memset(block + rest + 1, 0, (size_t)(total - rest - 1));
    uint64_t bits = (uint64_t)len * 8;
    for (int k = 0; k < 8; k++) block[total - 1 - k] = (uint8_t)(bits >> (8 * k));
    sha1_block(h, block);
    if (total == 128) sha1_block(h, block + 64);
    uint32_t x = h[0];
    return (x >> 24) | ((x >> 8) & 0xFF00u) | ((x << 8) & 0xFF0000u) | (x << 24);
}

/* ---- sort + unique (LSD radix, 8-bit digits) ---- */
static int64_t sort_unique(uint32_t *v, uint32_t *tmp, int64_t n) {
    if (n < 48) {
        for (int64_t i = 1; i < n; i++) {
            uint32_t x = v[i]; int64_t j = i - 1;
            while (j >= 0 && v[j] > x) { v[j + 1] = v[j]; j--; }
            v[j + 1] = x;
        }
    } else {
        uint32_t count[4][256];
        memset(count, 0, sizeof count);
        for (int64_t i = 0; i < n; i++) {
            uint32_t x = v[i];
            count[0][x & 255]++; count[1][(x >> 8) & 255]++; count[2][(x >> 16) & 255]++; count[3][x >> 24]++;
        }
        uint32_t *src = v, *dst = tmp;
        for (int d = 0; d < 4; d++) {
            uint32_t sum = 0;
            for (int k = 0; k < 256; k++) { uint32_t c = count[d][k]; count[d][k] = sum; sum += c; }
            int shift = 8 * d;
            for (int64_t i = 0; i < n; i++) { uint32_t x = src[i]; dst[count[d][(x >> shift) & 255]++] = x; }
            uint32_t *t = src; src = dst; dst = t;
        }
    }
    if (n == 0) return 0;
    int64_t m = 1;
    for (int64_t i = 1; i < n; i++) if (v[i] != v[m - 1]) v[m++] = v[i];
    return m;
}

/* ---- MinHash, datasketch affine32 ---- */
static void minhash128(const uint32_t *h, int64_t m, const uint32_t *a, const uint32_t *b, uint32_t *sig) {
    uint32_t s[128];
    for (int k = 0; k < 128; k++) s[k] = 0xFFFFFFFFu;
    for (int64_t i = 0; i < m; i++) {
        uint32_t x = fmix32(h[i]);
        for (int k = 0; k < 128; k++) { uint32_t y = a[k] * x + b[k]; s[k] = y < s[k] ? y : s[k]; }
    }
    memcpy(sig, s, sizeof s);
}

static void minhash_any(const uint32_t *h, int64_t m, const uint32_t *a, const uint32_t *b, int perms, uint32_t *sig) {
    for (int k = 0; k < perms; k++) sig[k] = 0xFFFFFFFFu;
    for (int64_t i = 0; i < m; i++) {
        uint32_t x = fmix32(h[i]);
        for (int k = 0; k < perms; k++) { uint32_t y = a[k] * x + b[k]; sig[k] = y < sig[k] ? y : sig[k]; }
    }
}

/* One text: returns the number of unique hashes written to out (at most capacity); -1 when the
   text needs canonicalising in Python; -2 when out of memory; -3 - m when out has room for
   fewer than the m hashes. */
int64_t fm_one(const uint8_t *text, int64_t len, int is_canonical, const uint8_t *ascii,
               const int32_t *table, const uint8_t *pool, const uint32_t *a, const uint32_t *b,
               int perms, int unit, int n, int hash, uint64_t poly_inverse, uint32_t *sig, uint32_t *out, int64_t capacity) {
    const uint8_t *c;
    int64_t size;
    if (is_canonical) { c = text; size = len; }
    else {
        if (reserve_canon(3 * len + 16)) return -2;
        size = canonicalise(text, len, ascii, table, pool, S.canon);
        if (size < 0) return -1;
        c = S.canon;
    }
    if (reserve(size + 2)) return -2;
    int32_t *st = S.starts, *en = S.ends;
    int64_t count = 0;
    if (size > 0) {
        if (unit == 0) {
            /* Canonical text is words joined by single spaces: branch-free boundary scan. */
            st[0] = 0;
            for (int64_t i = 0; i < size; i++) {
                int space = c[i] == ' ';
                en[count] = (int32_t)i;
                st[count + 1] = (int32_t)(i + 1);
                count += space;
            }
            en[count++] = (int32_t)size;
        } else {
            for (int64_t i = 0; i < size; i++) { st[count] = (int32_t)i; count += (c[i] & 0xC0) != 0x80; }
            for (int64_t i = 0; i + 1 < count; i++) en[i] = st[i + 1];
            en[count - 1] = (int32_t)size;
        }
        if (count <= n) { st[0] = 0; en[0] = (int32_t)size; count = 1; }
        else {
            for (int64_t i = 0; i + n <= count; i++) en[i] = en[i + n - 1];
            count = count - n + 1;
        }
    }
    uint32_t *v = S.values;
    if (hash == 0) {
        /* q[k] = sum(c[j] * B**-j, j < k), so the hash of c[s:e] is B**(e-1) * (q[e] - q[s]):
           one multiply per byte off the critical path, one per shingle. */
        if (reserve_powers(size + 1, poly_inverse)) return -2;
        uint64_t *q = S.prefix;
        const uint64_t *inv = S.inverse_powers, *pw = S.powers;
        q[0] = 0;
        for (int64_t i = 0; i < size; i++) q[i + 1] = q[i] + c[i] * inv[i];
        for (int64_t i = 0; i < count; i++) {
            int64_t s0 = st[i], e0 = en[i];
            uint64_t h = pw[e0 - 1] * (q[e0] - q[s0]);
            v[i] = (uint32_t)fmix64(h ^ (uint64_t)(e0 - s0));
        }
    } else {
        if (!sha1_block) choose_sha1_block();
        for (int64_t i = 0; i < count; i++) v[i] = sha1_hash32(c + st[i], en[i] - st[i]);
    }
    int64_t m = sort_unique(v, S.tmp, count);
    if (m > capacity) return -3 - m;
    memcpy(out, v, (size_t)m * 4);
    if (perms == 128) minhash128(v, m, a, b, sig); else minhash_any(v, m, a, b, perms, sig);
    return m;
}

/* Many texts, concatenated with offsets[count + 1]; hashes go to out at hash_offsets[i]. Stops
   at the first text that needs Python (status -1) or more room; returns how many were done. */
int64_t fm_many(const uint8_t *data, const int64_t *offsets, int64_t count, const uint8_t *ascii,
                const int32_t *table, const uint8_t *pool, const uint32_t *a, const uint32_t *b,
                int perms, int unit, int n, int hash, uint64_t poly_inverse, uint32_t *sigs, uint32_t *out, int64_t capacity,
                int64_t *hash_offsets, int64_t *status) {
    int64_t used = hash_offsets[0];
    for (int64_t i = 0; i < count; i++) {
        int64_t r = fm_one(data + offsets[i], offsets[i + 1] - offsets[i], 0, ascii, table, pool, a, b,
                           perms, unit, n, hash, poly_inverse, sigs + i * perms, out + used, capacity - used);
        if (r < 0) { *status = r; return i; }
        used += r;
        hash_offsets[i + 1] = used;
    }
    *status = 0;
    return count;
}
/* Band buckets for LSH: 64-bit band keys to int32 values, several values a key. Open addressing
   (linear probing, load <= 0.7) over 12-byte slots: the key and either its one value or,
   negative, the head of a chain of its values in two growing arrays. Most band keys hold one
   value, so a stored value costs ~25 bytes (~46 with separate key and head arrays at load 1/2
   and a chain for every key), and a lookup reads one slot. */
#define BM_EMPTY INT32_MIN
typedef struct __attribute__((packed)) { uint64_t key; int32_t ref; } bmslot_t;
typedef struct {
    bmslot_t *slots; int64_t cap, used;
    int32_t *values; int32_t *links; int64_t vcap, vused;
} bandmap_t;

bandmap_t *bm_new(void) {
    bandmap_t *m = calloc(1, sizeof(bandmap_t));
    if (!m) return NULL;
    m->cap = 1024; m->vcap = 1024;
    m->slots = malloc(m->cap * sizeof(bmslot_t));
    m->values = malloc(m->vcap * sizeof(int32_t)); m->links = malloc(m->vcap * sizeof(int32_t));
    if (!m->slots || !m->values || !m->links) { free(m->slots); free(m->values); free(m->links); free(m); return NULL; }
    for (int64_t i = 0; i < m->cap; i++) m->slots[i].ref = BM_EMPTY;
    return m;
}

void bm_free(bandmap_t *m) {
    if (!m) return;
    free(m->slots); free(m->values); free(m->links); free(m);
}

/* The slot holding `key`, or the empty slot where it would go. */
static int64_t bm_slot(const bmslot_t *slots, int64_t cap, uint64_t key) {
    int64_t mask = cap - 1, slot = (int64_t)(fmix64(key) & (uint64_t)mask);
    while (slots[slot].ref != BM_EMPTY && slots[slot].key != key) slot = (slot + 1) & mask;
    return slot;
}

static int bm_grow(bandmap_t *m) {
    int64_t cap = m->cap * 2;
    bmslot_t *slots = malloc(cap * sizeof(bmslot_t));
    if (!slots) return -1;
    for (int64_t i = 0; i < cap; i++) slots[i].ref = BM_EMPTY;
    for (int64_t i = 0; i < m->cap; i++) {
        if (m->slots[i].ref == BM_EMPTY) continue;
        slots[bm_slot(slots, cap, m->slots[i].key)] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots; m->cap = cap;
    return 0;
}

static int bm_reserve_values(bandmap_t *m, int64_t n) {
    if (m->vused + n <= m->vcap) return 0;
    int64_t vcap = m->vcap;
    while (m->vused + n > vcap) vcap *= 2;
    int32_t *values = realloc(m->values, vcap * sizeof(int32_t));
    if (!values) return -1;
    m->values = values;
    int32_t *links = realloc(m->links, vcap * sizeof(int32_t));
    if (!links) return -1;
    m->links = links; m->vcap = vcap;
    return 0;
}

/* Store `value` under each of `n` keys; 0, or -1 when memory runs out (nothing half-stored). */
int bm_insert(bandmap_t *m, const uint64_t *keys, int64_t n, int32_t value) {
    while (10 * (m->used + n) > 7 * m->cap) if (bm_grow(m) < 0) return -1;
    if (bm_reserve_values(m, 2 * n) < 0) return -1;
    if (m->vused + 2 * n > 0x7FFFFFFE) return -1;
    for (int64_t i = 0; i < n; i++) {
        bmslot_t *slot = &m->slots[bm_slot(m->slots, m->cap, keys[i])];
        if (slot->ref == BM_EMPTY) { slot->key = keys[i]; slot->ref = value; m->used++; continue; }
        if (slot->ref >= 0) {  /* a second value: the first moves into a chain */
            int32_t first = (int32_t)m->vused++;
            m->values[first] = slot->ref; m->links[first] = -1;
            slot->ref = -1 - first;
        }
        int32_t v = (int32_t)m->vused++;
        m->values[v] = value; m->links[v] = -1 - slot->ref;
        slot->ref = -1 - v;
    }
    return 0;
}

/* Call `EMIT(value)` for each value stored under `key` in map `m`. */
#define BM_EACH(m, key, EMIT) do { \
    const bmslot_t *found_ = &(m)->slots[bm_slot((m)->slots, (m)->cap, (key))]; \
    int32_t ref_ = found_->ref; \
    if (ref_ == BM_EMPTY) break; \
    if (ref_ >= 0) { int32_t value_ = ref_; EMIT; break; } \
    for (int32_t v_ = -1 - ref_; v_ >= 0; v_ = (m)->links[v_]) { int32_t value_ = (m)->values[v_]; EMIT; } \
} while (0)

/* Write the values stored under any of `n` keys to `out` (repeats included); return how many
   there are, which may exceed `capacity` (then only `capacity` were written: call again). */
int64_t bm_query(const bandmap_t *m, const uint64_t *keys, int64_t n, int32_t *out, int64_t capacity) {
    int64_t found = 0;
    for (int64_t i = 0; i < n; i++) {
        BM_EACH(m, keys[i], { if (found < capacity) out[found] = value_; found++; });
    }
    return found;
}

static int bm_compare(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* As bm_query, but `out` gets each value once, in ascending order, and the return value is how
   many; when they do not fit, the room needed, as bm_query says it (call again with that much). */
int64_t bm_query_sorted(const bandmap_t *m, const uint64_t *keys, int64_t n, int32_t *out, int64_t capacity) {
    int64_t found = bm_query(m, keys, n, out, capacity);
    if (found > capacity) return found;
    if (found < 2) return found;
    qsort(out, (size_t)found, sizeof(int32_t), bm_compare);
    int64_t unique = 1;
    for (int64_t i = 1; i < found; i++) if (out[i] != out[unique - 1]) out[unique++] = out[i];
    return unique;
}

/* Whether kept copy `row` may match (dedup.py's `Sketches._passing` decides the same in numpy).
   Its sketch (sketches + row * perms, order-keeping codes of the signature's values) must agree
   with `query` on at least least[grid] codes, grid = (int)(1000 * wanted) clipped to [0, 1000],
   wanted = threshold, or, with contain > 0, the lower Jaccard that containment implies from the
   sizes: inside / max(size + sizes[row] - inside, 1), inside = contain * size. With contain > 0
   and fewer agreements than the threshold needs, containment must be possible too: agreements
   >= least[1001 + agreements + codes where the query is lower]. */
static inline int64_t sk_grid(double wanted) {
    int64_t grid = (int64_t)(wanted * 1000.0);
    return grid < 0 ? 0 : (grid > 1000 ? 1000 : grid);
}

static inline int sk_may_match_at(const uint8_t *sketch, int64_t other, int perms, const uint8_t *query,
                                  double threshold, double contain, int64_t size, const int64_t *least) {
    int agree = 0, lower = 0;
    for (int p = 0; p < perms; p++) {
        agree += sketch[p] == query[p];
        lower += query[p] < sketch[p];
    }
    int64_t grid = sk_grid(threshold);
    if (contain <= 0.0) return agree >= least[grid];
    if (agree >= least[grid]) return 1;
    double inside = contain * (double)size;
    double room = (double)(size + other) - inside;
    double implied = inside / (room > 1.0 ? room : 1.0);
    return agree >= least[sk_grid(implied < threshold ? implied : threshold)] && agree >= least[1001 + agree + lower];
}

static inline int sk_may_match(int32_t row, const uint8_t *sketches, int perms, const int64_t *sizes,
                               const uint8_t *query, double threshold, double contain, int64_t size,
                               const int64_t *least) {
    return sk_may_match_at(sketches + (int64_t)row * perms, sizes[row], perms, query, threshold, contain, size, least);
}

/* Pairs of a batch's items and a persistent index's stored copies, tested at once (dedup.py's
   `sketch_passing` decides the same in numpy, from gathered rows): pair i is item items[i] (its
   sketch at queries + items[i] * perms, its shingle count sizes[items[i]], its containment
   contains[items[i]]) and the copy whose sketch is row copies[i] of `held` (its shingle count
   held_sizes[copies[i]]). out[i] = 1 when the pair may match (an empty item always may); returns
   how many may. Pairs come ordered by copy, so `held` is read near in order; the items' sketches
   are a few MB. */
int64_t sk_pairs(const int64_t *items, const int64_t *copies, int64_t n, const uint8_t *queries, const int64_t *sizes,
                 const double *contains, const uint8_t *held, const int32_t *held_sizes, int perms, double threshold,
                 const int64_t *least, uint8_t *out) {
    int64_t passed = 0;
    for (int64_t i = 0; i < n; i++) {
        if (i + 4 < n) {
            __builtin_prefetch(held + copies[i + 4] * perms);
            __builtin_prefetch(held + copies[i + 4] * perms + 64);
        }
        int64_t item = items[i];
        int may = sizes[item] == 0 ||
                  sk_may_match_at(held + copies[i] * perms, held_sizes[copies[i]], perms, queries + item * perms,
                                  threshold, contains[item], sizes[item], least);
        out[i] = (uint8_t)may;
        passed += may;
    }
    return passed;
}

/* The candidates of one item that its sketch does not rule out (`sk_may_match`), each
   once, ascending. Candidates are the values under `na` keys of map `a` and `nb` keys of map
   `b` (NULL: none), all >= `first`; row = value - first. stamps[row] == stamp marks a row seen
   in this call. `out` must hold one value per row. */
int64_t bm_plausible(const bandmap_t *a, const uint64_t *ka, int64_t na, const bandmap_t *b, const uint64_t *kb,
                     int64_t nb, int32_t first, int32_t *stamps, int32_t stamp, const uint8_t *sketches, int perms,
                     const int64_t *sizes, const uint8_t *query, double threshold, double contain, int64_t size,
                     const int64_t *least, int32_t *out) {
    int64_t found = 0;
    for (int side = 0; side < 2; side++) {
        const bandmap_t *m = side ? b : a;
        const uint64_t *keys = side ? kb : ka;
        int64_t n = side ? nb : na;
        if (!m) continue;
        for (int64_t i = 0; i < n; i++) {
            BM_EACH(m, keys[i], {
                int32_t row = value_ - first;
                if (stamps[row] != stamp) {
                    stamps[row] = stamp;
                    if (sk_may_match(row, sketches, perms, sizes, query, threshold, contain, size, least)) out[found++] = value_;
                }
            });
        }
    }
    if (found > 1) qsort(out, (size_t)found, sizeof(int32_t), bm_compare);
    return found;
}

/* As bm_plausible, for candidates given as the `n` earlier items (repeats allowed) that share a
   band key with the item (cleaner/shuffle.py): rows[item] is the kept copy row of each, -1 for
   an item that was not kept. */
int64_t sk_plausible(const int32_t *items, int64_t n, const int32_t *rows, int32_t first, int32_t *stamps, int32_t stamp,
                     const uint8_t *sketches, int perms, const int64_t *sizes, const uint8_t *query, double threshold,
                     double contain, int64_t size, const int64_t *least, int32_t *out) {
    int64_t found = 0;
    for (int64_t i = 0; i < n; i++) {
        /* Candidates lie anywhere in arrays of GBs at 1M documents: ask for an item's row
           16 candidates ahead and for its stamp and sketch 8 ahead, when the row is in. */
        if (i + 16 < n) __builtin_prefetch(rows + items[i + 16]);
        if (i + 8 < n) {
            int32_t ahead = rows[items[i + 8]];
            if (ahead >= 0) {
                __builtin_prefetch(stamps + ahead);
                __builtin_prefetch(sketches + (int64_t)ahead * perms);
                __builtin_prefetch(sketches + (int64_t)ahead * perms + 64);
                __builtin_prefetch(sizes + ahead);
            }
        }
        int32_t row = rows[items[i]];
        if (row < 0 || stamps[row] == stamp) continue;
        stamps[row] = stamp;
        if (sk_may_match(row, sketches, perms, sizes, query, threshold, contain, size, least)) out[found++] = row + first;
    }
    if (found > 1) qsort(out, (size_t)found, sizeof(int32_t), bm_compare);
    return found;
}

/* How many values two sorted unique arrays share (one merge, no branches on the values). */
static int64_t shared_sorted(const uint32_t *a, int64_t na, const uint32_t *b, int64_t nb) {
    int64_t i = 0, j = 0, count = 0;
    while (i < na && j < nb) {
        uint32_t x = a[i], y = b[j];
        count += x == y;
        i += x <= y;
        j += y <= x;
    }
    return count;
}

/* out[i]: how many of the `nq` sorted unique `query` values kept copy rows[i] holds. A copy's
   sorted unique hashes are the first 4 * sizes[row] bytes of its blob in an arena (arena.py),
   which starts at starts[row]: in the file `fd` below `written`, else in `buffer` at
   starts[row] - written. `scratch` holds the largest copy. Returns 0, or -1 when the file came
   back short. */
int64_t kc_shared(int fd, int64_t written, const uint8_t *buffer, const int64_t *starts, const int64_t *sizes,
                  const int64_t *rows, int64_t n, const uint32_t *query, int64_t nq, uint32_t *scratch, int64_t *out) {
    for (int64_t i = 0; i < n; i++) {
        int64_t row = rows[i], start = starts[row];
        size_t want = (size_t)sizes[row] * 4, got = 0;
        if (start >= written) {
            memcpy(scratch, buffer + (start - written), want);
        } else {
            while (got < want) {
                ssize_t read = pread(fd, (char *)scratch + got, want - got, (off_t)(start + (int64_t)got));
                if (read <= 0) return -1;
                got += (size_t)read;
            }
        }
        out[i] = shared_sorted(query, nq, scratch, sizes[row]);
    }
    return 0;
}

/* Range i of `width`-byte records of file `fd`, counts[i] records from record starts[i], to
   out + dest[i] records (cleaner/shuffle.py's members, read for a chunk of items): pread
   copies them from the page cache and maps nothing. Returns 0, or -1 when the file came back
   short. */
int64_t sh_gather(int fd, int64_t width, const int64_t *starts, const int64_t *counts, const int64_t *dest, int64_t n,
                  char *out) {
    for (int64_t i = 0; i < n; i++) {
        size_t want = (size_t)(counts[i] * width), got = 0;
        char *to = out + dest[i] * width;
        while (got < want) {
            ssize_t read = pread(fd, to + got, want - got, (off_t)(starts[i] * width + (int64_t)got));
            if (read <= 0) return -1;
            got += (size_t)read;
        }
    }
    return 0;
}

/* Bytes held: slots and value arrays. */
int64_t bm_bytes(const bandmap_t *m) {
    return m->cap * (int64_t)sizeof(bmslot_t) + m->vcap * (int64_t)(2 * sizeof(int32_t));
}

/* Blocked Bloom filters of bandruns.py (`bloom_probes` is the reference): a key's probes all fall
   in one 64-byte block, block ((key mod 2**32) * blocks) >> 32; probe j sets or tests bit
   (a + j * c) mod 512 of it, a the key's bits 32-40 and c its bits 41-49, made odd. Bit p of a
   block is bit p % 8 of its byte p / 8. A test stops at the first clear bit. */
#define BL_BLOCK(key, blocks) ((((key) & 0xffffffffULL) * (blocks)) >> 32)
#define BL_BIT(key, j) ((((key) >> 32) + (uint64_t)(j) * ((((key) >> 41) & 511ULL) | 1ULL)) & 511ULL)

void bl_add(uint8_t *bloom, uint64_t blocks, int probes, const uint64_t *keys, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        uint8_t *block = bloom + 64 * BL_BLOCK(keys[i], blocks);
        for (int j = 0; j < probes; j++) {
            uint64_t p = BL_BIT(keys[i], j);
            block[p >> 3] |= (uint8_t)(1u << (p & 7));
        }
    }
}

/* out[i] = 1 when every probe of keys[i] finds its bit set; return how many. */
int64_t bl_test(const uint8_t *bloom, uint64_t blocks, int probes, const uint64_t *keys, int64_t n, uint8_t *out) {
    int64_t passed = 0;
    for (int64_t i = 0; i < n; i++) {
        const uint8_t *block = bloom + 64 * BL_BLOCK(keys[i], blocks);
        int all = 1;
        for (int j = 0; j < probes; j++) {
            uint64_t p = BL_BIT(keys[i], j);
            if (!((block[p >> 3] >> (p & 7)) & 1)) { all = 0; break; }
        }
        out[i] = (uint8_t)all;
        passed += all;
    }
    return passed;
}

/* Block rows of bandruns.py packed at one pair of widths (`_unpack_blocks` is the reference):
   block b holds counts[b] pairs, its first key fences[b] and each later one the key before plus
   its gap, gaps gap_width bytes and copy numbers number_width bytes each, little-endian. Both
   buffers run 8 bytes past their last value, so each value is one 8-byte load, masked. */
static inline uint64_t bl_word(const uint8_t *bytes, uint64_t mask) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t value;
    memcpy(&value, bytes, 8);
    return value & mask;
#else
    uint64_t value = 0;
    for (int w = 0; w < 8; w++) value |= (uint64_t)bytes[w] << (8 * w);
    return value & mask;
#endif
}

void bl_unpack(const uint8_t *gaps, int gap_width, const uint8_t *numbers, int number_width, const uint64_t *fences,
               const int64_t *counts, int64_t blocks, uint64_t *keys_out, uint64_t *numbers_out) {
    uint64_t gap_mask = gap_width >= 8 ? ~0ULL : (1ULL << (8 * gap_width)) - 1;
    uint64_t number_mask = number_width >= 8 ? ~0ULL : (1ULL << (8 * number_width)) - 1;
    for (int64_t b = 0; b < blocks; b++) {
        uint64_t key = fences[b];
        for (int64_t j = 0; j < counts[b]; j++) {
            if (j) {
                key += bl_word(gaps, gap_mask);
                gaps += gap_width;
            }
            *keys_out++ = key;
            *numbers_out++ = bl_word(numbers, number_mask);
            numbers += number_width;
        }
    }
}
"""

# No fused multiply-add: sk_may_match must round as numpy does.
_C_FLAGS = ("-O3", "-march=native", "-ffp-contract=off", "-shared", "-fPIC")
_C_FLAGS_PORTABLE = ("-O3", "-ffp-contract=off", "-shared", "-fPIC")


class _KernelState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.loaded = False
        self.kernel: _Kernel | None = None
        self.error = "not loaded yet"


_KERNEL_STATE = _KernelState()


def load_kernel() -> _Kernel | None:
    """Build (or reuse) and load the compiled kernel; None, with the reason kept, when impossible."""
    state = _KERNEL_STATE
    with state.lock:
        if not state.loaded:
            state.loaded = True
            try:
                state.kernel = _Kernel(_build_library())
                state.kernel.check()
                state.error = ""
            except (OSError, RuntimeError, subprocess.SubprocessError, AssertionError) as error:
                state.kernel, state.error = None, str(error)
        return state.kernel


def chosen_kernel() -> _Kernel | None:
    """The compiled kernel, or None where it cannot be loaded or `CLEANER_FASTMINHASH=numpy`
    asks for the numpy backend (which computes the same)."""
    return load_kernel() if os.environ.get("CLEANER_FASTMINHASH") != "numpy" else None


def canonical_utf8(text: str) -> bytes:
    """`minhash.canonical(text)` as UTF-8, from the kernel when it is loaded (3-4x faster)."""
    kernel = chosen_kernel()
    found = None if kernel is None else kernel.canonical_utf8(text)
    return canonical(text).encode("utf-8", "surrogatepass") if found is None else found


def kernel_error() -> str:
    """Why the compiled kernel is unavailable ('' when it is loaded)."""
    load_kernel()
    return _KERNEL_STATE.error


def cache_dir() -> Path:
    configured = os.environ.get("CLEANER_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cleaner"


def _cpu_signature() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            lines = [line for line in handle if line.startswith(("flags", "model name", "Features"))]
        return "".join(sorted(set(lines)))
    except OSError:
        return platform.processor()


def _build_library() -> Path:
    key = hashlib.sha256("\0".join([_C_SOURCE, " ".join(_C_FLAGS), platform.machine(), platform.system(), _cpu_signature()]).encode())
    name = f"fastminhash-{key.hexdigest()[:16]}.so"
    for folder in (cache_dir(), Path(tempfile.gettempdir()) / f"cleaner-{os.getuid() if hasattr(os, 'getuid') else 'user'}"):
        library = folder / name
        if library.is_file():
            return library
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not compiler:
        raise RuntimeError("no C compiler found (set CC, or install gcc); using the numpy backend")
    errors = []
    for folder in (cache_dir(), Path(tempfile.gettempdir()) / f"cleaner-{os.getuid() if hasattr(os, 'getuid') else 'user'}"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=folder) as work:
                source = Path(work) / "fastminhash.c"
                source.write_text(_C_SOURCE, encoding="utf-8")
                built = Path(work) / name
                for flags in (_C_FLAGS, _C_FLAGS_PORTABLE):
                    result = subprocess.run([compiler, *flags, "-o", str(built), str(source)], capture_output=True, text=True, timeout=120)
                    if result.returncode == 0:
                        break
                    errors.append(result.stderr.strip()[-500:])
                else:
                    continue
                os.replace(built, folder / name)
                return folder / name
        except OSError as error:
            errors.append(str(error))
    raise RuntimeError(f"could not build the MinHash kernel with {compiler}: {'; '.join(errors)}")


def _canonical_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-character `canonical()` for the BMP: (ascii map, entries, pool of folded UTF-8 bytes)."""
    table = np.full(_TABLE_SIZE, -1, dtype=np.int32)
    pool = bytearray()
    offsets: dict[bytes, int] = {}
    for cp in range(_TABLE_SIZE):
        folded = _NON_WORD.sub(" ", chr(cp).translate(_QUOTES).casefold())
        if folded == " ":
            continue
        data = folded.encode("utf-8", "surrogatepass")
        if len(data) > min(15, 3 * len(chr(cp).encode("utf-8", "surrogatepass"))):
            # The kernel sizes its buffer as 3 bytes out per byte in.
            raise RuntimeError(f"casefold of U+{cp:04X} is too long for the kernel's table")
        offset = offsets.get(data)
        if offset is None:
            offset = offsets[data] = len(pool)
            pool.extend(data)
        table[cp] = (offset << 4) | len(data)
    ascii_map = np.zeros(128, dtype=np.uint8)
    for cp in range(128):
        entry = int(table[cp])
        if entry >= 0:
            data = bytes(pool[entry >> 4 : (entry >> 4) + (entry & 15)])
            if len(data) != 1 or data == b" ":
                raise RuntimeError(f"ASCII U+{cp:04X} does not fold to one character")
            ascii_map[cp] = data[0]
    return ascii_map, table, np.frombuffer(bytes(pool) + b"\0", dtype=np.uint8)


_u8p = ctypes.POINTER(ctypes.c_uint8)
_i64 = ctypes.c_int64
_ptr = ctypes.c_void_p


class _Kernel:
    """The loaded library, its canonicalisation table, and the Python side of its calls."""

    def __init__(self, path: Path) -> None:
        library = ctypes.CDLL(str(path))
        self.one_fn = library.fm_one
        self.one_fn.restype = _i64
        self.one_fn.argtypes = [ctypes.c_char_p, _i64, ctypes.c_int, _ptr, _ptr, _ptr, _ptr, _ptr,
                                ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_uint64, _ptr, _ptr, _i64]
        self.many_fn = library.fm_many
        self.many_fn.restype = _i64
        self.many_fn.argtypes = [_ptr, _ptr, _i64, _ptr, _ptr, _ptr, _ptr, _ptr,
                                 ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_uint64, _ptr, _ptr, _i64, _ptr, _ptr]
        self.canonicalise_fn = library.fm_canonicalise
        self.canonicalise_fn.restype = _i64
        self.canonicalise_fn.argtypes = [ctypes.c_char_p, _i64, _ptr, _ptr, _ptr, _ptr]
        self.sha1_uses_cpu_extensions = bool(library.fm_sha1_uses_cpu_extensions())
        self.sha1_force_portable = library.fm_sha1_force_portable
        self.sha1_force_portable.argtypes = [ctypes.c_int]
        self.bm_new = library.bm_new
        self.bm_new.restype = _ptr
        self.bm_free = library.bm_free
        self.bm_free.argtypes = [_ptr]
        self.bm_insert = library.bm_insert
        self.bm_insert.restype = ctypes.c_int
        self.bm_insert.argtypes = [_ptr, _ptr, _i64, ctypes.c_int32]
        self.bm_query = library.bm_query
        self.bm_query.restype = _i64
        self.bm_query.argtypes = [_ptr, _ptr, _i64, _ptr, _i64]
        self.bm_query_sorted = library.bm_query_sorted
        self.bm_query_sorted.restype = _i64
        self.bm_query_sorted.argtypes = [_ptr, _ptr, _i64, _ptr, _i64]
        self.bm_bytes = library.bm_bytes
        self.bm_bytes.restype = _i64
        self.bm_bytes.argtypes = [_ptr]
        self.bm_plausible = library.bm_plausible
        self.bm_plausible.restype = _i64
        self.bm_plausible.argtypes = [_ptr, _ptr, _i64, _ptr, _ptr, _i64, ctypes.c_int32, _ptr, ctypes.c_int32, _ptr, ctypes.c_int,
                                      _ptr, _ptr, ctypes.c_double, ctypes.c_double, _i64, _ptr, _ptr]
        self.sk_plausible = library.sk_plausible
        self.sk_plausible.restype = _i64
        self.sk_plausible.argtypes = [_ptr, _i64, _ptr, ctypes.c_int32, _ptr, ctypes.c_int32, _ptr, ctypes.c_int, _ptr, _ptr,
                                      ctypes.c_double, ctypes.c_double, _i64, _ptr, _ptr]
        self.sk_pairs = library.sk_pairs
        self.sk_pairs.restype = _i64
        self.sk_pairs.argtypes = [_ptr, _ptr, _i64, _ptr, _ptr, _ptr, _ptr, _ptr, ctypes.c_int, ctypes.c_double, _ptr, _ptr]
        self.kc_shared = library.kc_shared
        self.kc_shared.restype = _i64
        self.kc_shared.argtypes = [ctypes.c_int, _i64, _ptr, _ptr, _ptr, _ptr, _i64, _ptr, _i64, _ptr, _ptr]
        self.sh_gather = library.sh_gather
        self.sh_gather.restype = _i64
        self.sh_gather.argtypes = [ctypes.c_int, _i64, _ptr, _ptr, _ptr, _i64, _ptr]
        self.bl_add = library.bl_add
        self.bl_add.restype = None
        self.bl_add.argtypes = [_ptr, ctypes.c_uint64, ctypes.c_int, _ptr, _i64]
        self.bl_test = library.bl_test
        self.bl_test.restype = _i64
        self.bl_test.argtypes = [_ptr, ctypes.c_uint64, ctypes.c_int, _ptr, _i64, _ptr]
        self.bl_unpack = library.bl_unpack
        self.bl_unpack.restype = None
        self.bl_unpack.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, _ptr, _ptr, _i64, _ptr, _ptr]
        self.ascii, self.table, self.pool = _canonical_table()
        self.tables = (self.ascii.ctypes.data, self.table.ctypes.data, self.pool.ctypes.data)
        self.local = threading.local()

    def _buffers(self, perms: int, capacity: int) -> tuple[np.ndarray, int, np.ndarray, int]:
        """Per-thread output buffers (and their addresses), reused across calls."""
        local = self.local
        buffers = getattr(local, "buffers", None)
        if buffers is None or buffers[0].size != perms or buffers[2].size < capacity:
            signature = np.empty(perms, np.uint32)
            out = np.empty(max(capacity, 8192), np.uint32)
            local.buffers = buffers = (signature, signature.ctypes.data, out, out.ctypes.data)
        return buffers

    def one(self, owner: Fingerprinter, text: str) -> Fingerprint:
        data = text.encode("utf-8", "surrogatepass")
        size = len(data)
        signature, signature_address, out, out_address = self._buffers(owner.num_perm, size + 8)
        canonical_input = 0
        while True:
            found = self.one_fn(data, size, canonical_input, *self.tables, *owner._arguments, signature_address, out_address, out.size)
            if found >= 0:
                return Fingerprint(out[:found].copy(), signature.copy())
            if found == -1:
                data = canonical(text).encode("utf-8", "surrogatepass")
                size, canonical_input = len(data), 1
            elif found <= -3:
                signature, signature_address, out, out_address = self._buffers(owner.num_perm, -3 - found)
            else:
                raise MemoryError("the MinHash kernel ran out of memory")

    def many(self, owner: Fingerprinter, texts: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        count = len(texts)
        encoded = [text.encode("utf-8", "surrogatepass") for text in texts]
        data = np.frombuffer(b"".join(encoded) or b"\0", dtype=np.uint8)
        offsets = np.zeros(count + 1, np.int64)
        np.cumsum([len(item) for item in encoded], out=offsets[1:])
        perms = owner.num_perm
        signatures = np.empty((count, perms), np.uint32)
        out = np.empty(int(offsets[-1]) + 8 * count + 8, np.uint32)
        hash_offsets = np.zeros(count + 1, np.int64)
        status = np.zeros(1, np.int64)
        done = 0
        while done < count:
            finished = self.many_fn(data.ctypes.data, offsets[done:].ctypes.data, count - done, *self.tables, *owner._arguments,
                                    signatures[done:].ctypes.data, out.ctypes.data, out.size, hash_offsets[done:].ctypes.data,
                                    status.ctypes.data)
            done += finished
            if done == count:
                break
            code = int(status[0])
            if code == -1:
                found = self.one(owner, texts[done])
                start = int(hash_offsets[done])
                if start + found.hashes.size > out.size:
                    out = np.concatenate((out, np.empty(found.hashes.size + out.size, np.uint32)))
                out[start : start + found.hashes.size] = found.hashes
                hash_offsets[done + 1] = start + found.hashes.size
                signatures[done] = found.signature
                done += 1
            elif code <= -3:
                out = np.concatenate((out, np.empty(max(-3 - code, out.size), np.uint32)))
            else:
                raise MemoryError("the MinHash kernel ran out of memory")
        hashes = out[: int(hash_offsets[-1])].copy()
        bounds = hash_offsets.tolist()
        return signatures, [hashes[bounds[i] : bounds[i + 1]] for i in range(count)]

    def canonical(self, text: str) -> str | None:
        """The kernel's canonical form of a text (None when it defers to Python); for tests."""
        found = self.canonical_utf8(text)
        return None if found is None else found.decode("utf-8", "surrogatepass")

    def canonical_utf8(self, text: str) -> bytes | None:
        """The UTF-8 of the kernel's canonical form of a text (None when it defers to Python)."""
        data = text.encode("utf-8", "surrogatepass")
        out = getattr(self.local, "canonical", None)
        if out is None or len(out) < 3 * len(data) + 16:  # one buffer per thread, grown as needed
            out = self.local.canonical = ctypes.create_string_buffer(max(3 * len(data) + 16, 1 << 16))
        ascii_map, table, pool = self.tables
        size = self.canonicalise_fn(data, len(data), ascii_map, table, pool, ctypes.addressof(out))
        return None if size < 0 else ctypes.string_at(out, size)

    def check(self) -> None:
        """Refuse a library that disagrees with the numpy backend on a small known text."""
        text = "Azerbaijan’s parliament – co-chaired, “war” İstanbul straße ﬁ 1994"
        for unit, n in (("word", 3), ("char", 5)):
            for hash_name in HASHES:
                owner = Fingerprinter(unit, n, 128, 1, hash_name, backend="numpy")
                expected = owner._numpy_fingerprint(text)
                found = self.one(owner, text)
                if not (np.array_equal(found.hashes, expected.hashes) and np.array_equal(found.signature, expected.signature)):
                    raise RuntimeError("the compiled MinHash kernel disagrees with the numpy backend; not using it")
