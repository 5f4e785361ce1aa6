"""Reading the shuffle's members for a chunk of items (cleaner/shuffle.py): pread, by the
compiled kernel and by numpy's fallback, against reads through the file's map, in the same run.

Matching reads, for each chunk of 1,024 items, the earlier items under every band key each
item shares: slices scattered over a `members` file that is GBs at 1M documents. The ways:

- map, whole (baseline: the code of f43ff99): one numpy gather over a memory map of the file
  for the whole chunk, then every page dropped (madvise). A read fault maps a whole 2 MB
  page-cache folio on this kernel, so the chunk holds up to the whole file while it reads;
- pread, kernel (now): the compiled kernel copies each slice from the page cache; nothing is
  mapped, nothing of the file is resident;
- pread, no kernel (now, where gcc is missing): one os.preadv a slice, from Python.

The file is synthetic (random item numbers, reference lengths geometric around --mean), so it
needs no corpus. It is written under $TMPDIR and read once before timing (page cache warm, as in
a run: the shuffle has just written it). Resident MB is the baseline map's, read from
/proc/self/smaps before each drop.

  python bench/shuffle_read.py --gb 2 --mean 200          # ~30 s
  python bench/shuffle_read.py --gb 6 --mean 400          # ~1 min, ~1M documents' paragraphs
"""

from __future__ import annotations

import argparse
import mmap
import statistics
import time

import numpy as np

import cleaner.shuffle as shuffle
from cleaner.fastminhash import load_kernel
from cleaner.shuffle import REF, EarlierItems, _Members

ITEMS_PER_CHUNK = 1024
REFS_PER_ITEM = 21  # paragraphs of bench/corpus.py news at 30k documents: 21.3 keys shared a paragraph


def resident_kib(address: int) -> int:
    found = False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            head = line.split()[0]
            if "-" in head and not head.endswith(":"):
                found = int(head.split("-")[0], 16) == address
            elif found and head == "Rss:":
                return int(line.split()[1])
    return 0


def whole(mapped: np.ndarray, handle, earlier: EarlierItems, first: int, last: int, held: list[int]) -> np.ndarray:
    """The code before: one gather over the map for the chunk, then all its pages dropped."""
    refs = earlier._refs[earlier._offsets[first] : earlier._offsets[last]]
    counts = refs["count"].astype(np.int64)
    ends = np.cumsum(counts)
    index = np.arange(int(ends[-1]), dtype=np.int64) - np.repeat(ends - counts - refs["start"], counts)
    items = mapped[index]
    held.append(resident_kib(mapped.ctypes.data))
    handle.madvise(mmap.MADV_DONTNEED)
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gb", type=float, default=2.0, help="size of the members file (default 2)")
    parser.add_argument("--mean", type=float, default=200.0, help="mean earlier items a reference names (default 200)")
    parser.add_argument("--chunks", type=int, default=20, help="chunks of 1,024 items timed (default 20)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each way; the median is shown (default 3)")
    args = parser.parse_args()
    if load_kernel() is None:
        raise SystemExit("bench/shuffle_read.py: the compiled kernel is not available (it needs gcc)")
    rng = np.random.default_rng(0)
    entries = int(args.gb * 2**30 / 4)
    members = _Members(None)
    for start in range(0, entries, 1 << 26):
        members.write(rng.integers(0, 1 << 30, min(1 << 26, entries - start), dtype=np.int32))
    items = args.chunks * ITEMS_PER_CHUNK
    refs = np.empty(items * REFS_PER_ITEM, dtype=REF)
    refs["item"] = np.repeat(np.arange(items), REFS_PER_ITEM)
    refs["count"] = np.minimum(rng.geometric(1 / args.mean, refs.size), 1 << 20)
    refs["start"] = rng.integers(0, entries - (1 << 20), refs.size)
    written = _Members(None)
    written.write(refs)
    offsets = np.arange(0, refs.size + 1, REFS_PER_ITEM, dtype=np.int64)
    earlier = EarlierItems(members.reader(np.int32), written.reader(REF), offsets)
    handle = mmap.mmap(earlier._members.handle.fileno(), entries * 4, access=mmap.ACCESS_READ)
    mapped = np.frombuffer(handle, dtype=np.int32)
    np.sum(mapped[::1024])  # the file through the page cache once
    handle.madvise(mmap.MADV_DONTNEED)
    kernel = shuffle.load_kernel
    chunks = [(first, first + ITEMS_PER_CHUNK) for first in range(0, items, ITEMS_PER_CHUNK)]
    rows, expected = [], None
    for name in ("map, whole (before)", "pread, kernel (now)", "pread, no kernel (now)"):
        times, held = [], [0]
        shuffle.load_kernel = (lambda: None) if "no kernel" in name else kernel
        for _ in range(args.runs):
            started = time.perf_counter()
            for first, last in chunks:
                found = whole(mapped, handle, earlier, first, last, held) if name.startswith("map") else earlier.chunk(first, last)[1]
                if first == 0:
                    expected = found if expected is None else expected
                    assert np.array_equal(found, expected), name
            times.append(time.perf_counter() - started)
        shuffle.load_kernel = kernel
        rows.append((name, statistics.median(times) / len(chunks), max(held)))
    total = int(refs["count"].sum())
    print(f"members file {args.gb:g} GB; {len(chunks)} chunks of {ITEMS_PER_CHUNK:,} items, {REFS_PER_ITEM} references an item, "
          f"{total / len(chunks) / 1e6:.1f}M members a chunk; median of {args.runs} runs")
    print("| way | ms a chunk | x the baseline's time | file pages resident at most (MB) |")
    print("|---|---|---|---|")
    base = rows[0][1]
    for name, seconds, kib in rows:
        print(f"| {name} | {seconds * 1e3:.1f} | {seconds / base:.2f} | {kib / 1024:.0f} |")
    del mapped
    handle.close()
    earlier.close()


if __name__ == "__main__":
    main()
