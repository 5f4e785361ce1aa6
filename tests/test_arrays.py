from pathlib import Path

import numpy as np
import pytest

from cleaner import arrays
from cleaner.arrays import unique


@pytest.mark.parametrize("dtype", [np.uint32, np.uint64, np.int32, np.int64])
@pytest.mark.parametrize("size", [0, 1, 2, 7, 1000])
def test_unique_gives_what_np_unique_gives(dtype, size):
    rng = np.random.default_rng(size)
    for high in (3, 2**31):  # many repeats, and few
        values = rng.integers(0, high, size=size).astype(dtype)
        found = unique(values)
        assert found.dtype == values.dtype
        assert np.array_equal(found, np.unique(values))


def test_unique_flattens_like_np_unique():
    values = np.array([[5, 1], [1, 5]], dtype=np.uint64)
    assert unique(values).tolist() == [1, 5]


def _resident_mb() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        return next(int(line.split()[1]) // 1024 for line in status if line.startswith("VmRSS"))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads resident memory from /proc (Linux)")
def test_sparse_zeros_hold_only_the_pages_written():
    """A filter read in part holds the pages of its rows, not the whole array (np.zeros asks
    for huge pages: a byte written in each MB of 256 MB made all of it resident)."""
    thp = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    if thp.exists() and "[always]" in thp.read_text():
        pytest.skip("the system gives huge pages to every mapping (transparent_hugepage=always)")
    before = _resident_mb()
    filled = arrays.sparse_zeros(256 << 20, np.uint8)
    filled[:: 1 << 20] = 1
    assert _resident_mb() - before < 32
    assert int(filled.sum()) == 256 and filled.flags.writeable
    rows = arrays.sparse_zeros((4, 3), "<i4")
    memoryview(rows).cast("B")[12:16] = np.array([7], dtype="<i4").tobytes()  # as rows are copied in
    assert rows.tolist() == [[0, 0, 0], [7, 0, 0], [0, 0, 0], [0, 0, 0]]
