"""Which earlier items share an LSH band key with each item: a shuffle of (key, item) pairs on disk.

Dedup compares each item with the kept copies before it that share a band key. Holding every
kept copy's keys in an in-memory map cost ~30 bytes a key: ~300 MB at 10k news documents, about
30 GB at a million, though two thirds of the keys are held by no other item and can never bring
a candidate. Instead, as a level's items are fingerprinted in the order dedup visits them, their
(key, item) pairs are appended to files by the key's top bits (`KeyShuffle.add`), 8 bytes a pair:
the 32 key bits below the partition's over the item. Each of those partitions is then sorted;
for every key two or more items hold, its items go, ascending, into one `members` array, and
every item but the first gets a reference to the items before it there. The references are
regrouped by item (`KeyShuffle.earlier`), so the matching reads, a chunk of items at a time,
every earlier item that shares a key with each (`EarlierItems.chunk`). Whether those were kept
is only known as the matching goes, so it filters them then, and finds the candidates the
in-memory map would have held: exactly those, plus, where two keys of a partition agree on the
32 bits kept (about n**2 / 2**33 pairs of keys in a partition of n pairs: ~200 in a partition of
1.3M), the items of both, which the sketch or verification then rejects. None is ever lost.

Memory during the matching: one offset per item, and the members (4 bytes an entry under a
shared key) of the chunk being matched, copied from their file with pread; the rest stays on
disk. This is also the shape of the distributed step: the partitions are independent, a sort each.
"""

from __future__ import annotations

import os
from array import array
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Callable, Iterable, Iterator, TypeVar

import numpy as np

from . import arrays
from .arena import append_to, read_at
from .fastminhash import fmix64_array, load_kernel

Job = TypeVar("Job")
Done = TypeVar("Done")

# A pair: 32 bits of the key (those below the partition's bits) over the item's 32 bits.
PAIR = np.dtype("<u8")
# An item, how many earlier items share one of its keys, and where they start in `members`.
REF = np.dtype([("item", "<i4"), ("count", "<i4"), ("start", "<i8")])
# A reference with a hash of the earlier items it names (see `_distinct`), until its item's
# references are brought together.
HASHED_REF = np.dtype([("item", "<i4"), ("count", "<i4"), ("start", "<i8"), ("earlier", "<u8")])

# Documents a partition of pairs is sized for (a paragraph level's sentence keys: ~1M pairs, a
# quick sort), and the most partitions (a power of two each).
DOCUMENTS_PER_PARTITION = 1024
MAX_PARTITIONS = 4096
# Records a spill gathers in memory before writing them out, ordered by partition.
SPILL_BUFFER_BYTES = 32 << 20


def partitions_for(documents: int) -> int:
    """How many partitions to spread the pairs of `documents` documents' items over."""
    wanted = max(1, -(-documents // DOCUMENTS_PER_PARTITION))
    return min(MAX_PARTITIONS, 1 << (wanted - 1).bit_length())


class _Spill:
    """Records of one dtype, by partition, in one temporary file.

    Records wait in memory until SPILL_BUFFER_BYTES of them have come; they are then ordered by
    partition and written in one piece, each partition's run of it noted as a block (where it
    starts, how many). Reading a partition back reads its blocks, in order. One file, however
    many partitions: partitions can be small (a quick sort each) without thousands of open files.
    """

    def __init__(self, dtype: np.dtype, partitions: int, folder: str | None, buffer_bytes: int | None = None) -> None:
        self.dtype = dtype
        self.partitions = partitions
        self.folder = folder
        self.buffer_bytes = SPILL_BUFFER_BYTES if buffer_bytes is None else buffer_bytes
        self._waiting: list[tuple[np.ndarray | None, np.ndarray]] = []
        self._waiting_bytes = 0
        self._starts = [array("q") for _ in range(partitions)]  # blocks of each partition: first record
        self._counts = [array("q") for _ in range(partitions)]  # and how many
        self._written = 0  # records in the file
        self._file: IO[bytes] | None = None

    def scatter(self, parts: np.ndarray | None, records: np.ndarray) -> None:
        """Append each record to its partition (`parts`: one each; None with one partition),
        keeping their order within each."""
        if records.size:
            self._waiting.append((parts, records))
            self._waiting_bytes += records.nbytes
            if self._waiting_bytes >= self.buffer_bytes:
                self._flush()

    def _flush(self) -> None:
        if not self._waiting:
            return
        records = np.concatenate([records for _, records in self._waiting])
        if self.partitions == 1:
            bounds = np.array([0, records.size])
        else:
            parts = np.concatenate([parts for parts, _ in self._waiting])
            order = np.argsort(parts, kind="stable")
            records = records[order]
            bounds = np.searchsorted(parts[order], np.arange(self.partitions + 1))
        self._waiting, self._waiting_bytes = [], 0
        self._file = append_to(self._file, records.tobytes(), self.folder)
        for part in np.flatnonzero(np.diff(bounds)).tolist():
            self._starts[part].append(self._written + int(bounds[part]))
            self._counts[part].append(int(bounds[part + 1] - bounds[part]))
        self._written += records.size

    def finish(self) -> None:
        """Write out what waits: every record has come (partitions can then be taken at once)."""
        self._flush()
        if self._file is not None:
            self._file.flush()

    def take(self, part: int) -> np.ndarray:
        """The records of one partition, in the order they came (after `finish`)."""
        assert not self._waiting, "finish() a spill before taking its partitions"
        if not self._counts[part]:
            return np.empty(0, dtype=self.dtype)
        assert self._file is not None
        size = self.dtype.itemsize
        blocks = [read_at(self._file, start * size, count * size) for start, count in zip(self._starts[part], self._counts[part])]
        self._starts[part], self._counts[part] = array("q"), array("q")
        return np.frombuffer(b"".join(blocks), dtype=self.dtype)

    def close(self) -> None:
        self._waiting = []
        if self._file is not None:
            self._file.close()
            self._file = None


class KeyShuffle:
    """(band key, item) pairs of one level, one namespace per band index (a key of one never
    meets a key of another). Items are numbered from 0 in visit order and must be added in that
    order."""

    def __init__(self, namespaces: int, partitions: int = 1, folder: str | None = None, threads: int = 1) -> None:
        """`threads` sort that many partitions at once (numpy lets go of the GIL to sort)."""
        if partitions < 1 or partitions & (partitions - 1):
            raise ValueError(f"partitions must be a power of two, not {partitions}")
        self.partitions = partitions
        self.folder = folder
        self.threads = max(1, threads)
        bits = partitions.bit_length() - 1
        self._shift = np.uint64(64 - bits)
        self._bits = np.uint64(bits)
        self._spills = [_Spill(PAIR, partitions, folder) for _ in range(namespaces)]

    def add(self, namespace: int, keys: np.ndarray, items: np.ndarray) -> None:
        """Pairs keys[i] with items[i] (ascending, none below an item added before)."""
        keys = np.ravel(keys).astype(np.uint64, copy=False)
        pairs = ((keys << self._bits) >> np.uint64(32)) << np.uint64(32) | np.asarray(items).astype(np.uint64)
        parts = (keys >> self._shift).astype(np.uint16) if self.partitions > 1 else None  # radix-sorted
        self._spills[namespace].scatter(parts, pairs)

    def earlier(self, items: int) -> EarlierItems:
        """Group the pairs by key and the references by item, for `items` items in all; the
        pairs' files are let go as they are read."""
        members = _Members(self.folder)
        ranges = self.partitions
        shift = max(0, (max(items, 1) - 1).bit_length() - (ranges.bit_length() - 1))
        refs = _Spill(HASHED_REF, ranges, self.folder)
        try:
            for spill in self._spills:
                spill.finish()
            jobs = [(spill, part) for spill in self._spills for part in range(spill.partitions)]
            for held, position, before in _in_order(jobs, lambda job: _group(job[0].take(job[1])), self.threads):
                at = members.write(held) + np.arange(held.size, dtype=np.int64) - position  # where each group starts
                later = position > 0
                found = np.empty(int(np.count_nonzero(later)), dtype=HASHED_REF)
                found["item"] = held[later]
                found["count"] = position[later]
                found["start"] = at[later]
                found["earlier"] = before[later]
                refs.scatter((found["item"] >> shift).astype(np.uint16), found)
            refs.finish()
            offsets = np.zeros(items + 1, dtype=np.int64)
            ordered = _Members(self.folder)
            for part, found in enumerate(_in_order(range(ranges), lambda part: _distinct(refs.take(part)), self.threads)):
                if found.size:
                    ordered.write(found)
                    base = part << shift
                    counts = np.bincount(found["item"] - base)
                    offsets[1 + base : 1 + base + counts.size] = counts
            np.cumsum(offsets, out=offsets)
            return EarlierItems(members.reader(np.int32), ordered.reader(REF), offsets)
        finally:
            refs.close()
            self.close()

    def close(self) -> None:
        for spill in self._spills:
            spill.close()


def _in_order(jobs: Iterable[Job], work: Callable[[Job], Done], threads: int) -> Iterator[Done]:
    """work(job) for each job, in order, `threads` at a time (no more done than one ahead each)."""
    if threads == 1:
        yield from map(work, jobs)
        return
    with ThreadPoolExecutor(max_workers=threads) as pool:
        pending: deque[Future[Done]] = deque()
        for job in jobs:
            pending.append(pool.submit(work, job))
            if len(pending) > threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _distinct(refs: np.ndarray) -> np.ndarray:
    """The references (HASHED_REF) by item, each item's naming the same earlier items once.

    Items that are copies of each other share most of their band keys, and an item's keys in
    the same band of its sentences all name the same earlier items: at 10k news documents the
    references named each earlier item of a document 29 times, of a paragraph 14 times. Two
    references of an item with the same count and the same sum of their items' 64-bit hashes
    name the same items (unless 64-bit sums collide, ~2**-64 a pair), so one is kept."""
    refs = refs[np.lexsort((refs["earlier"], refs["count"], refs["item"]))]
    repeat = np.zeros(refs.size, dtype=bool)
    repeat[1:] = refs["item"][1:] == refs["item"][:-1]
    for field in ("count", "earlier"):
        repeat[1:] &= refs[field][1:] == refs[field][:-1]
    distinct = refs[~repeat]
    out = np.empty(distinct.size, dtype=REF)
    for field in REF.names:
        out[field] = distinct[field]
    return out


_NO_GROUPS = (np.empty(0, dtype=np.int32), np.empty(0, dtype=np.int64), np.empty(0, dtype=np.uint64))


def _group(pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort one partition's pairs (key over item); return the items of every key two or more
    items hold, ascending within each key, key after key, the position of each within its key,
    and the sum of the 64-bit hashes (`fmix64`) of the items before it there. An item holding
    a key twice (two equal sentences) counts once."""
    if pairs.size < 2:
        return _NO_GROUPS
    pairs = arrays.unique(pairs)  # one sort: by key, then item
    key = pairs >> np.uint64(32)
    first = np.empty(key.size, dtype=bool)
    first[0] = True
    np.not_equal(key[1:], key[:-1], out=first[1:])
    del key
    starts = np.flatnonzero(first)
    sizes = np.diff(np.append(starts, first.size))
    keep = np.repeat(sizes >= 2, sizes)
    if not keep.any():
        return _NO_GROUPS
    held = (pairs[keep] & np.uint64(0xFFFFFFFF)).astype(np.int32)
    position = (np.arange(first.size, dtype=np.int64) - np.repeat(starts, sizes))[keep]
    mixed = fmix64_array(held.astype(np.uint64))
    with np.errstate(over="ignore"):
        before = np.cumsum(mixed, dtype=np.uint64) - mixed  # wraps: a sum modulo 2**64
        before -= np.repeat(before[position == 0], sizes[sizes >= 2])
    return held, position, before


class _Members:
    """An array written to a temporary file in pieces, then read back from it."""

    def __init__(self, folder: str | None) -> None:
        self.folder = folder
        self.count = 0
        self._file: IO[bytes] | None = None

    def write(self, values: np.ndarray) -> int:
        """Append values; return where the first of them lies."""
        at = self.count
        self._file = append_to(self._file, values.tobytes(), self.folder)
        self.count += len(values)
        return at

    def reader(self, dtype: type | np.dtype) -> _Reader:
        """The values written, read back a range at a time."""
        if self._file is not None:
            self._file.flush()
        return _Reader(self._file, np.dtype(dtype))


class _Reader:
    """A file's records, read back with pread: never mapped, so none of the file's pages count
    in the process's memory (a read fault on a mapped file maps more than its page: 64 KB of
    fault-around, or the page cache's whole 2 MB folio on newer kernels; the members of one
    chunk of 1,024 paragraphs lie all over the file and held ~0.3 GB so at 100k documents,
    up to the whole file at 1M)."""

    def __init__(self, handle: IO[bytes] | None, dtype: np.dtype) -> None:
        self._file = handle
        self.dtype = dtype

    def __getitem__(self, bounds: slice) -> np.ndarray:
        start, stop = int(bounds.start), int(bounds.stop)
        if self._file is None or stop <= start:
            return np.empty(0, dtype=self.dtype)
        size = self.dtype.itemsize
        return np.frombuffer(read_at(self._file, start * size, (stop - start) * size), dtype=self.dtype)

    def gather(self, begins: np.ndarray, counts: np.ndarray, dest: np.ndarray, out: np.ndarray) -> None:
        """out[dest[i] : dest[i] + counts[i]] = records[begins[i] : begins[i] + counts[i]], read
        in file order: by the compiled kernel, else one os.preadv a range."""
        if not out.size:
            return
        if self._file is None:
            raise OSError("the shuffle's members file came back short")
        order = np.argsort(begins, kind="stable")
        at, sizes, to = (np.ascontiguousarray(values[order], dtype=np.int64) for values in (begins, counts, dest))
        width, fd, kernel = self.dtype.itemsize, self._file.fileno(), load_kernel()
        if kernel is not None:
            if kernel.sh_gather(fd, width, at.ctypes.data, sizes.ctypes.data, to.ctypes.data, at.size, out.ctypes.data):
                raise OSError("the shuffle's members file came back short")
            return
        view = memoryview(out).cast("B")
        for start, size, place in zip(at.tolist(), sizes.tolist(), to.tolist()):
            got, want = 0, size * width
            while got < want:
                read = os.preadv(fd, [view[place * width + got : (place + size) * width]], start * width + got)
                if read <= 0:
                    raise OSError("the shuffle's members file came back short")
                got += read

    @property
    def handle(self) -> IO[bytes] | None:
        """The open file (None: nothing was written)."""
        return self._file

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class EarlierItems:
    """For each item, the earlier items that share a band key with it (repeats included)."""

    def __init__(self, members: _Reader, refs: _Reader, offsets: np.ndarray) -> None:
        self._members = members
        self._refs = refs
        self._offsets = offsets  # refs of item i: refs[offsets[i] : offsets[i + 1]]

    def chunk(self, first: int, last: int) -> tuple[np.ndarray, np.ndarray]:
        """(starts, items) for items first..last-1: the earlier items of item first + j are
        items[starts[j] : starts[j + 1]]."""
        refs = self._refs[self._offsets[first] : self._offsets[last]]
        counts = refs["count"].astype(np.int64)
        per_ref = np.zeros(counts.size + 1, dtype=np.int64)  # where each reference's items go
        np.cumsum(counts, out=per_ref[1:])
        starts = per_ref[self._offsets[first : last + 1] - self._offsets[first]]
        items = np.empty(int(per_ref[-1]), dtype=self._members.dtype)
        self._members.gather(refs["start"], counts, per_ref[:-1], items)
        return starts, items

    def close(self) -> None:
        self._members.close()
        self._refs.close()

    def __enter__(self) -> EarlierItems:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
