import numpy as np
import pytest

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
