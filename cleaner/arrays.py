"""Array helpers the hot paths share."""

from __future__ import annotations

import mmap

import numpy as np
import numpy.typing as npt


def sparse_zeros(shape: int | tuple[int, ...], dtype: npt.DTypeLike) -> np.ndarray:
    """Zeros whose memory the OS gives a page at a time, as it is first written.

    For arrays filled in part, as the rows a lookup reads of a Bloom filter or of the sketch
    table are. `np.zeros` does the same, but NumPy asks Linux for huge pages for an array of
    4 MB or more (madvise), so a write anywhere in 2 MB makes all 2 MB resident: a check of 10
    documents that read 15% of a 200k-document index's filter rows held all 650 MB of them.
    An anonymous mapping gets 4 KB pages unless the system forces huge pages on every mapping.

    >>> sparse_zeros((2, 3), np.int32).tolist()
    [[0, 0, 0], [0, 0, 0]]
    """
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    size = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    if not size:
        return np.zeros(shape, dtype=dtype)
    return np.frombuffer(mmap.mmap(-1, size), dtype=dtype).reshape(shape)


def unique(values: np.ndarray) -> np.ndarray:
    """The distinct values, ascending: `np.unique` without its hash table.

    NumPy 2.3+ finds the distinct values of an integer array with a node-based hash set before
    sorting them (numpy/numpy#31969): on this machine 740 ns a value at 1M uint64 values, against
    13 ns to sort them, and 8-18x slower at 500-5,000 values (a text's shingle hashes). Sorting
    and dropping repeats gives the same array.

    >>> unique(np.array([3, 1, 3, 2], dtype=np.uint64)).tolist()
    [1, 2, 3]
    """
    ordered = np.sort(np.ravel(values))
    if ordered.size < 2:
        return ordered
    first = np.empty(ordered.size, dtype=bool)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    return ordered[first]
