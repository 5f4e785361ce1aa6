"""The `poly64` fingerprint kernel of cleaner/fastminhash.py written with numba, for comparison.

Same algorithm as the C kernel (table-driven canonicalisation over UTF-8 bytes, prefix-sum
polynomial hash per shingle, sort + unique, datasketch affine32 MinHash), so its output must
equal `Fingerprinter(hash="poly64")`; bench/run.py checks that before timing it. Bench-only: numba
(~50 MB with llvmlite) is not a dependency of cleaner.
"""

from __future__ import annotations

import time

import numpy as np

IMPORT_STARTED = time.perf_counter()
import numba  # noqa: E402
from numba import njit  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - IMPORT_STARTED

from cleaner.fastminhash import POLY_BASE, _POLY_INVERSE, Fingerprint, _canonical_table  # noqa: E402
from cleaner.minhash import canonical  # noqa: E402

_BASE = np.uint64(POLY_BASE)


@njit(cache=True, nogil=True)
def _fmix64(k):
    k ^= k >> np.uint64(33)
    k *= np.uint64(0xFF51AFD7ED558CCD)
    k ^= k >> np.uint64(33)
    k *= np.uint64(0xC4CEB9FE1A85EC53)
    return k ^ (k >> np.uint64(33))


@njit(cache=True, nogil=True)
def _fingerprint(text, is_canonical, ascii_map, table, pool, a, b, unit, n, powers, inverse_powers):
    size_in = text.size
    if is_canonical:
        canon = text
        size = size_in
    else:
        canon = np.empty(3 * size_in + 16, np.uint8)
        o = 0
        i = 0
        pending = False
        while i < size_in:
            c = np.uint32(text[i])
            if c < 0x80:
                m = ascii_map[c]
                if m != 0:
                    if pending and o > 0:
                        canon[o] = 32
                        o += 1
                    pending = False
                    canon[o] = m
                    o += 1
                else:
                    pending = True
                i += 1
                continue
            if c < 0xE0:
                if i + 1 >= size_in:
                    return np.zeros(0, np.uint32), np.zeros(0, np.uint32), False
                cp = ((c & 0x1F) << 6) | (np.uint32(text[i + 1]) & 0x3F)
                i += 2
            elif c < 0xF0:
                if i + 2 >= size_in:
                    return np.zeros(0, np.uint32), np.zeros(0, np.uint32), False
                cp = ((c & 0x0F) << 12) | ((np.uint32(text[i + 1]) & 0x3F) << 6) | (np.uint32(text[i + 2]) & 0x3F)
                i += 3
            else:
                return np.zeros(0, np.uint32), np.zeros(0, np.uint32), False
            e = table[cp]
            if e < 0:
                pending = True
                continue
            offset = e >> 4
            for k in range(e & 15):
                byte = pool[offset + k]
                if byte == 32:
                    pending = True
                else:
                    if pending and o > 0:
                        canon[o] = 32
                        o += 1
                    pending = False
                    canon[o] = byte
                    o += 1
        size = o
    starts = np.empty(size + 2, np.int64)
    ends = np.empty(size + 2, np.int64)
    count = 0
    if size > 0:
        if unit == 0:
            starts[0] = 0
            for i in range(size):
                if canon[i] == 32:
                    ends[count] = i
                    count += 1
                    starts[count] = i + 1
            ends[count] = size
            count += 1
        else:
            for i in range(size):
                if (canon[i] & 0xC0) != 0x80:
                    starts[count] = i
                    count += 1
            for i in range(count - 1):
                ends[i] = starts[i + 1]
            ends[count - 1] = size
        if count <= n:
            starts[0] = 0
            ends[0] = size
            count = 1
        else:
            for i in range(count - n + 1):
                ends[i] = ends[i + n - 1]
            count = count - n + 1
    q = np.empty(size + 1, np.uint64)
    q[0] = 0
    for i in range(size):
        q[i + 1] = q[i] + np.uint64(canon[i]) * inverse_powers[i]
    values = np.empty(count, np.uint32)
    for i in range(count):
        s0 = starts[i]
        e0 = ends[i]
        h = powers[e0 - 1] * (q[e0] - q[s0])
        values[i] = np.uint32(_fmix64(h ^ np.uint64(e0 - s0)) & np.uint64(0xFFFFFFFF))
    values.sort()
    m = 0
    for i in range(count):
        if m == 0 or values[i] != values[m - 1]:
            values[m] = values[i]
            m += 1
    hashes = values[:m].copy()
    perms = a.size
    sig = np.full(perms, np.uint32(0xFFFFFFFF), np.uint32)
    # numba widens uint32 arithmetic to 64 bits, so wrap modulo 2**32 explicitly.
    mask = np.uint64(0xFFFFFFFF)
    a64 = a.astype(np.uint64)
    b64 = b.astype(np.uint64)
    best = np.full(perms, mask, np.uint64)
    for i in range(m):
        x = np.uint64(hashes[i])
        x ^= x >> np.uint64(16)
        x = (x * np.uint64(0x85EBCA6B)) & mask
        x ^= x >> np.uint64(13)
        x = (x * np.uint64(0xC2B2AE35)) & mask
        x ^= x >> np.uint64(16)
        for k in range(perms):
            y = (a64[k] * x + b64[k]) & mask
            if y < best[k]:
                best[k] = y
    for k in range(perms):
        sig[k] = np.uint32(best[k])
    return hashes, sig, True


class NumbaFingerprinter:
    """`Fingerprinter(unit, n, hash="poly64")` with the numba kernel."""

    def __init__(self, unit: str, n: int, a: np.ndarray, b: np.ndarray) -> None:
        self.unit = 0 if unit == "word" else 1
        self.n = n
        self.a, self.b = a, b
        self.ascii, self.table, self.pool = _canonical_table()
        self._powers(1 << 16)

    def _powers(self, size: int) -> None:
        powers = np.empty(size, np.uint64)
        inverse = np.empty(size, np.uint64)
        p, q, mask = 1, 1, (1 << 64) - 1
        for k in range(size):
            powers[k], inverse[k] = p, q
            p, q = (p * POLY_BASE) & mask, (q * _POLY_INVERSE) & mask
        self.powers, self.inverse = powers, inverse

    def fingerprint(self, text: str) -> Fingerprint:
        data = np.frombuffer(text.encode("utf-8", "surrogatepass"), np.uint8)
        if 3 * data.size + 2 > self.powers.size:
            self._powers(3 * data.size + 2)
        hashes, sig, ok = _fingerprint(data, False, self.ascii, self.table, self.pool, self.a, self.b, self.unit, self.n,
                                       self.powers, self.inverse)
        if not ok:
            data = np.frombuffer(canonical(text).encode("utf-8", "surrogatepass"), np.uint8)
            hashes, sig, ok = _fingerprint(data, True, self.ascii, self.table, self.pool, self.a, self.b, self.unit, self.n,
                                           self.powers, self.inverse)
        return Fingerprint(hashes, sig)


def compile_seconds(fingerprinter: NumbaFingerprinter) -> float:
    started = time.perf_counter()
    fingerprinter.fingerprint("warm up the jit")
    return time.perf_counter() - started


__all__ = ["IMPORT_SECONDS", "NumbaFingerprinter", "compile_seconds", "numba"]
