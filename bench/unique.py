"""np.unique against cleaner.arrays.unique (sort, then drop repeats) on the sizes the hot paths see.

NumPy 2.3+ answers `np.unique` on integers with a hash set (numpy/numpy#31969); this prints how
the two compare here, per dtype and size, median of 5 timings each, with the ratio.

Run:
  python bench/unique.py [--sizes 50 500 5000 50000 500000 4000000]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from cleaner.arrays import unique


def seconds(function, values: np.ndarray, repeats: int) -> float:
    timings = []
    for _ in range(5):
        clock = time.perf_counter()
        for _ in range(repeats):
            function(values)
        timings.append((time.perf_counter() - clock) / repeats)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 500, 5000, 50000, 500000, 4000000])
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"numpy {np.__version__}")
    print("| dtype | values | np.unique us | arrays.unique us | ratio |")
    print("|---|---|---|---|---|")
    for dtype in (np.uint32, np.uint64, np.int64):
        for size in args.sizes:
            values = rng.integers(0, 2**31, size=size).astype(dtype)
            assert np.array_equal(np.unique(values), unique(values))
            repeats = max(1, 1_000_000 // size)
            numpy_s, ours_s = seconds(np.unique, values, repeats), seconds(unique, values, repeats)
            print(f"| {np.dtype(dtype).name} | {size:,} | {numpy_s * 1e6:,.1f} | {ours_s * 1e6:,.1f} | {numpy_s / ours_s:.1f}x |")


if __name__ == "__main__":
    main()
