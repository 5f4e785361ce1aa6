"""A persistent index's band keys as sorted, immutable runs in SQLite, each with a Bloom filter.

The question a persistent index answers is "which stored copies share one of these band keys?",
for a batch of new items against every copy stored so far: ~2,600 (key, copy) pairs a news
document at the default settings (nearly half of them its sentences'), so ~2.6 billion at 1M
documents. A B-tree row per pair (the index's format 5) made each asked key a B-tree search and
each stored pair an insert at a random place: fine at 10k documents, not once the tree outgrows
memory.

Here a save writes the pairs it adds, one space at a time, as one sorted run: block rows of
packed pairs (`band_blocks`: each key's gap from the one before and each copy number, at the
fewest bytes the block needs), a Bloom filter over its keys (`band_filters`: BLOOM_BITS bits a
pair, BLOOM_PROBES probes, ~1% false positives) and one row (`band_runs`) with the first key of
each block (its fences). A lookup takes a batch's distinct keys, tests them against each run's
filter, finds by the fences the blocks that may hold those that pass, reads only those blocks
and keeps the pairs whose key was asked. A key no run holds, most of them for new text, costs
no read at all.

A run stores a key's top KEY_BITS bits, not all 64: sorted, their gaps fit in 2 bytes at a
1M-document index, and with 3-byte copy numbers a pair takes ~5.3 bytes of a page where whole
keys and numbers took 12.2. A batch that the page cache does not hold reads a page for each key
that passes a filter (~550k at 1M documents), so the smaller the blocks, the more of them stay
cached between batches. Keys that share their top bits are one key to the runs: a lookup of one
names the pairs of the other (below).

The filters are blocked (a key's probes all fall in one 64-byte block) and stored FILTER_ROW
blocks to a row, a 4 KB page's worth: a lookup reads only the rows its keys fall in, so a check
of a few documents reads a few thousand pages of a 1M index's ~3 GB of filters, where a filter
in one blob was read whole (an overflow chain is read page after page to reach any part of
it); a batch whose keys fall in most rows reads them all in one pass.

Runs are merged as they pile up: after a save, the two smallest runs of a space are merged
while the larger is at most twice the smaller and the two fit in MAX_RUN pairs, as a binary
counter carries. So a space holds O(log n) runs below MAX_RUN (plus full ones), a lookup tests
that many filters, and a pair is rewritten O(log n) times. A merge writes a new run under a new
number (never given again) and deletes the old two in the same transaction. A reader reads the
catalogue again when SQLite's `data_version` says another connection committed, and when a run
it asks for has gone meanwhile (`Vanished`).

Copies deleted from the index (`drop`) leave their pairs in the runs until a merge drops them;
lookups leave them out meanwhile (`band_gone`).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from . import arrays
from .fastminhash import chosen_kernel

# The bits of a band key a run stores: its top KEY_BITS. Two keys that share them are one key
# here. The largest space of a 1M-document index holds ~1.3 billion pairs, so an asked key no
# copy holds shares its top bits with a stored one about once in 3,400 (a filter's false
# positive: once in 100), and the copies it names are tested as every candidate is. Fewer bits,
# smaller gaps: at 42, those of a 1M index's key ranges fit in 2 bytes.
KEY_BITS = 42
_SHIFT = np.uint64(64 - KEY_BITS)
# Bytes of packed pairs a block row holds (its keys' gaps and its copy numbers), at most: four
# rows and their headers (~25 bytes each: a 9-byte row id, sizes, a cell pointer) fill a 4 KB
# page. A lookup reads a row for each key that passes a filter and decodes its pairs, so a row is
# a quarter page: as many pages read as with larger rows, and half the pairs decoded of two a
# page. Readers take blocks of any size (the fences say where each begins).
ROW_BYTES = 996
BLOOM_BITS = 10
BLOOM_PROBES = 7
FILTER_ROW = 62  # 64-byte filter blocks a row: 3,968 bytes, one row a 4 KB page
# A lookup that needs more than this share of a filter's rows reads them all, in one pass.
_DENSE = 0.25
MAX_RUN = 1 << 25  # pairs: a merge holds two runs' pairs in memory (~400 MB at most)
_MAX_PARAMETERS = 900
_BLOOM_SLICE = 1 << 20  # keys whose filter positions are computed at once
_MASK32 = np.uint64(0xFFFFFFFF)
_MIX = np.uint64(0x9E3779B97F4A7C15)  # 2**64 / golden ratio, odd
_PAST_END = bytes(8)  # after packed values the kernel unpacks: each is read as 8 bytes

# a block of a run's pairs, its row id `block_id(space, run, block)`: the gap of each key after
# the first (the run's fence for the block) from the one before, and each copy number, packed
# at key_bytes and number_bytes bytes each, little-endian (`pack`)
BLOCKS_TABLE = """
CREATE TABLE IF NOT EXISTS band_blocks (
    id INTEGER PRIMARY KEY,
    key_bytes INTEGER NOT NULL,
    number_bytes INTEGER NOT NULL,
    keys BLOB NOT NULL,
    numbers BLOB NOT NULL
);"""
SCHEMA = BLOCKS_TABLE + """
-- a run of one space: its pairs, its Bloom filter's bits and its blocks' first keys
CREATE TABLE IF NOT EXISTS band_runs (
    space INTEGER NOT NULL,
    run INTEGER NOT NULL,
    pairs INTEGER NOT NULL,
    bits INTEGER NOT NULL,
    fences BLOB NOT NULL,
    PRIMARY KEY (space, run)
) WITHOUT ROWID;
-- a run's Bloom filter, FILTER_ROW 64-byte blocks a row; a row's id is `block_id(space, run, row)`
CREATE TABLE IF NOT EXISTS band_filters (id INTEGER PRIMARY KEY, bits BLOB NOT NULL);
-- the last run number given: a merged-away run's number is never given again
CREATE TABLE IF NOT EXISTS band_counter (id INTEGER PRIMARY KEY CHECK (id = 0), last INTEGER NOT NULL);
-- copies deleted from the index whose pairs some run may still hold
CREATE TABLE IF NOT EXISTS band_gone (
    space INTEGER NOT NULL,
    number INTEGER NOT NULL,
    PRIMARY KEY (space, number)
) WITHOUT ROWID;
"""


class Vanished(Exception):
    """A run was merged away while it was being read (another connection saved meanwhile)."""


@dataclass
class Run:
    run: int
    pairs: int
    bits: int  # its filter's: 512 a block
    fences: np.ndarray  # uint64, the first (stored) key of each block
    last: int  # the run's last key: its keys are fences[0] to last
    bloom: np.ndarray | None = None  # its filter (uint8), the rows read so far in place, zeros elsewhere
    read: np.ndarray | None = None  # which of its filter's rows are read

    @property
    def rows(self) -> int:
        """Rows its filter takes."""
        return -(-self.bits // (512 * FILTER_ROW))

    def within(self, keys: np.ndarray) -> np.ndarray:
        """Those of `keys` (ascending) between the run's first and last key: all of them for a
        run of new pairs, a slice for one of the key ranges `partition` writes."""
        low, high = np.uint64(self.fences[0]), np.uint64(self.last)
        return keys[np.searchsorted(keys, low, side="left") : np.searchsorted(keys, high, side="right")]


class BandRuns:
    """The (band key, copy number) pairs of one space of an SQLite index."""

    def __init__(self, connection: sqlite3.Connection, space: int) -> None:
        self.connection = connection
        self.space = space
        self._runs: list[Run] | None = None
        self._gone: set[int] | None = None
        self._version: int | None = None  # the database's data_version when the catalogue was read
        self._scratch: np.ndarray | None = None  # a filter read for one lookup only (`_maybe`)
        self._unpacked = np.empty((2, 0), dtype=np.uint64)  # the pairs of the blocks a lookup read

    @property
    def runs(self) -> list[Run]:
        version = self.connection.execute("PRAGMA data_version").fetchone()[0]
        if version != self._version:  # another connection committed since: its runs may differ
            self.forget()
            self._version = version
        if self._runs is None:
            rows = self.connection.execute("SELECT run, pairs, bits, fences FROM band_runs WHERE space = ? ORDER BY run", (self.space,)).fetchall()
            self._runs = []
            for run, pairs, bits, fences in rows:
                fences = np.frombuffer(fences, dtype=np.uint64)
                # the last key: the last block's first plus its gaps (one row read a run)
                last = self.connection.execute("SELECT key_bytes, keys FROM band_blocks WHERE id = ?", (block_id(self.space, run, fences.size - 1),)).fetchone()
                if last is None:
                    raise Vanished(run)
                with np.errstate(over="ignore"):
                    self._runs.append(Run(run, pairs, bits, fences, int(fences[-1] + unpack(last[1], last[0]).sum(dtype=np.uint64))))
        return self._runs

    @property
    def gone(self) -> set[int]:
        if self._gone is None:
            rows = self.connection.execute("SELECT number FROM band_gone WHERE space = ?", (self.space,))
            self._gone = {number for (number,) in rows}
        return self._gone

    def forget(self) -> None:
        """Read the catalogue again when next asked (after a save, or another writer's)."""
        self._runs = None
        self._gone = None

    def pairs(self) -> int:
        """How many pairs the runs hold, those of gone copies not yet merged away too."""
        return sum(run.pairs for run in self.runs)

    def live_pairs(self) -> int:
        """How many pairs of copies still stored the runs hold (reads every block unless no
        copy of the space is gone)."""
        if not self.gone:
            return self.pairs()
        live = 0
        for run in self.runs:
            live += self._without_gone(*self._pairs(run, np.arange(run.fences.size, dtype=np.int64)))[1].size
        return live

    def _without_gone(self, keys: np.ndarray, numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """These pairs, less those of copies marked gone."""
        if not self.gone:
            return keys, numbers
        keep = ~np.isin(numbers, np.fromiter(self.gone, dtype=numbers.dtype, count=len(self.gone)))
        return keys[keep], numbers[keep]

    def lookup(self, keys: np.ndarray, unique: bool = False, keep: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Every stored (key, number) pair whose key shares its top KEY_BITS bits with one of
        `keys` (`unique`: they are ascending and distinct already), under that key: keys
        (uint64, ascending) and numbers (int64) in two arrays, without copies marked gone.
        `keep`: keep the filter rows read for the lookups that follow; without it (a run's last
        lookup), a filter not read before whose rows the keys mostly fall in is read into one
        scratch array the runs share (`_maybe`)."""
        keys = np.asarray(keys, dtype=np.uint64).ravel()
        keys = keys if unique else arrays.unique(keys)
        stored = stored_keys(keys)  # ascending; keys alike in their top bits alike here
        for _ in range(3):
            try:
                found, numbers = self._lookup(arrays.unique(stored), keep)
                break
            except Vanished:
                self.forget()
        else:
            raise sqlite3.OperationalError("the index's band runs kept changing while being read; run again")
        # each pair found under every asked key with its top bits (nearly always one)
        first = np.searchsorted(stored, found, side="left")
        counts = np.searchsorted(stored, found, side="right") - first
        found, numbers = keys[spans(first, counts)], np.repeat(numbers, counts)
        if counts.size and counts.max() > 1:
            order = np.argsort(found, kind="stable")
            found, numbers = found[order], numbers[order]
        return found, numbers

    def _lookup(self, keys: np.ndarray, keep: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """`lookup` of these stored keys (ascending, distinct): the pairs found, by stored key."""
        found_keys, found_numbers = [], []
        for run in self.runs:
            asked = run.within(keys)
            asked = asked[self._maybe(run, asked, keep)]
            if not asked.size:
                continue
            for stored, numbers in self._read_blocks(run, _blocks_holding(run.fences, asked)):
                # each asked key's pairs, by binary search of the blocks' keys (ascending): the
                # ~200 pairs of each block read, most of them not asked, are never searched for
                first = np.searchsorted(stored, asked, side="left")
                held = spans(first, np.searchsorted(stored, asked, side="right") - first)
                found_keys.append(stored[held])
                found_numbers.append(numbers[held])
        if not found_keys:
            return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64)
        stored_keys, numbers = self._without_gone(np.concatenate(found_keys), np.concatenate(found_numbers).astype(np.int64))
        order = np.argsort(stored_keys, kind="stable")
        return stored_keys[order], numbers[order]

    def _maybe(self, run: Run, keys: np.ndarray, keep: bool = True) -> np.ndarray:
        """Which of `keys` the run may hold (no false negatives), reading the rows of its filter
        they fall in that were not read before. Without `keep`, a filter not read before whose
        rows the keys mostly fall in is read whole into the scratch array, not kept: a 1k batch
        against 1M documents reads all ~3 GB of filters once, and memory of their own cost the
        OS a page fault each 4 KB (~1 s a GB here) and held them to the end."""
        if not keys.size:
            return np.zeros(0, dtype=bool)
        keys = bloom_keys(keys)
        rows = arrays.unique(filter_blocks(keys, run.bits // 512) // FILTER_ROW)
        if not keep and run.bloom is None and rows.size > _DENSE * run.rows:
            if self._scratch is None or self._scratch.size < run.bits // 8:
                self._scratch = arrays.sparse_zeros(run.bits // 8, np.uint8)
            scratch = self._scratch[: run.bits // 8]
            self._read_filter(run, np.arange(run.rows), scratch)  # every byte of it written
            return bloom_test(scratch, keys)
        if run.bloom is None:  # the OS gives a page only when a row is copied in
            run.bloom, run.read = arrays.sparse_zeros(run.bits // 8, np.uint8), np.zeros(run.rows, dtype=bool)
        missing = rows[~run.read[rows]]
        if missing.size > _DENSE * run.rows:
            missing = np.flatnonzero(~run.read)
        if missing.size:
            self._read_filter(run, missing, run.bloom)
            run.read[missing] = True
        return bloom_test(run.bloom, keys)

    def _read_filter(self, run: Run, rows: np.ndarray, bloom: np.ndarray) -> None:
        """Copy these rows (ascending) of a run's filter into their place in `bloom`: all rows
        from the first to the last in one pass when they are most of the filter (a run's rows
        never change, so one read before is copied again alike), else those rows only. Rows are
        copied into place as the cursor gives them: fetched whole, then joined, the 650 MB of
        filters a 1k batch reads against 200k documents took 2-5 s against 1.2-1.8 s."""
        size, first = 64 * FILTER_ROW, block_id(self.space, run.run, 0)
        low, high = int(rows[0]), int(rows[-1]) + 1
        into, read = memoryview(bloom), 0  # each row copied straight into place, as it comes
        if rows.size > _DENSE * run.rows:
            place = low * size
            for (bits,) in self.connection.execute("SELECT bits FROM band_filters WHERE id >= ? AND id < ?", (first + low, first + high)):
                into[place : place + len(bits)] = bits
                place, read = place + len(bits), read + 1
            if read != high - low:
                raise Vanished(run.run)
            return
        for chunk in _chunks(rows.tolist()):
            marks = ",".join("?" * len(chunk))
            for row_id, bits in self.connection.execute(f"SELECT id, bits FROM band_filters WHERE id IN ({marks})", [first + row for row in chunk]):
                place = (row_id - first) * size
                into[place : place + len(bits)] = bits
                read += 1
        if read != rows.size:
            raise Vanished(run.run)

    def _read_blocks(self, run: Run, blocks: np.ndarray, scratch: bool = True) -> list[tuple[np.ndarray, np.ndarray]]:
        """The pairs of these blocks (ascending numbers) of a run, as (keys, numbers) of the
        blocks packed at each pair of widths, in block order: keys ascending in each. (A run's
        blocks nearly all share their widths: one group, not a sort of the pairs read.)
        `scratch`: unpacked into memory the next call overwrites, kept from one lookup to the
        next (new memory costs this machine a page fault each 4 KB, ~3 s a GB, which was most of
        unpacking a block; a batch's lookups unpack ~100M pairs)."""
        groups: dict[tuple[int, int], tuple[list[int], list[bytes], list[bytes]]] = {}
        first, read = block_id(self.space, run.run, 0), 0
        for chunk in _chunks(blocks.tolist()):
            marks = ",".join("?" * len(chunk))
            query = f"SELECT id, key_bytes, number_bytes, keys, numbers FROM band_blocks WHERE id IN ({marks}) ORDER BY id"
            for row_id, key_width, number_width, key_bytes, number_bytes in self.connection.execute(query, [first + block for block in chunk]):
                ids, gaps, numbers = groups.setdefault((key_width, number_width), ([], [], []))
                ids.append(row_id - first)
                gaps.append(key_bytes)
                numbers.append(number_bytes)
                read += 1
        if read != blocks.size:
            raise Vanished(run.run)
        # each block's pairs, group by group
        counts = [np.fromiter(map(len, numbers), dtype=np.int64, count=len(numbers)) // number_width for (_, number_width), (_, _, numbers) in groups.items()]
        total = sum(int(held.sum()) for held in counts)
        if not scratch:
            into = np.empty((2, total), dtype=np.uint64)
        else:
            if self._unpacked.shape[1] < total:
                self._unpacked = np.empty((2, max(total, 2 * self._unpacked.shape[1])), dtype=np.uint64)
            into = self._unpacked
        unpacked, start = [], 0
        for ((gap_width, number_width), (ids, gaps, numbers)), held in zip(groups.items(), counts):
            end = start + int(held.sum())
            keys_out, numbers_out = into[0, start:end], into[1, start:end]
            _unpack_blocks(run.fences[ids], held, gaps, numbers, gap_width, number_width, keys_out, numbers_out)
            unpacked.append((keys_out, numbers_out))
            start = end
        return unpacked

    def _pairs(self, run: Run, blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The pairs of these blocks (ascending numbers) of a run: keys ascending."""
        groups = self._read_blocks(run, blocks, scratch=False)
        if not groups:
            return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.uint64)
        if len(groups) == 1:
            return groups[0]
        keys, numbers = (np.concatenate(part) for part in zip(*groups))
        order = np.argsort(keys, kind="stable")
        return keys[order], numbers[order]

    def add(self, keys: np.ndarray, numbers: np.ndarray) -> None:
        """Store these pairs as a new run, then merge runs as the policy says (inside a
        transaction; call `forget` once it is committed or rolled back)."""
        keys = stored_keys(np.asarray(keys, dtype=np.uint64).ravel())
        if not keys.size:
            return
        self._write(keys, np.asarray(numbers, dtype=np.uint64).ravel())
        self._merge()

    def drop(self, numbers: Sequence[int]) -> None:
        """Mark copies gone (inside a transaction): lookups leave their pairs out, merges drop them."""
        self.connection.executemany("INSERT OR IGNORE INTO band_gone VALUES (?, ?)", [(self.space, number) for number in numbers])
        self._gone = None

    def _write(self, keys: np.ndarray, numbers: np.ndarray) -> None:
        """A new run of these pairs (stored keys; no pair twice: a copy's keys are distinct,
        and a copy is written once)."""
        order = np.argsort(keys, kind="stable")  # a merge's two sorted runs: merged in linear time
        keys, numbers = keys[order], numbers[order]
        self.connection.execute("INSERT OR IGNORE INTO band_counter VALUES (0, 0)")
        self.connection.execute("UPDATE band_counter SET last = last + 1")
        run = self.connection.execute("SELECT last FROM band_counter").fetchone()[0]
        blocks = -(-BLOOM_BITS * keys.size // 512)
        gaps = np.diff(keys)  # each key's gap from the one before
        starts = np.arange(0, keys.size, pairs_a_row(gaps, numbers))
        self.connection.execute("INSERT INTO band_runs VALUES (?, ?, ?, ?, ?)", (self.space, run, int(keys.size), 512 * blocks, keys[starts].tobytes()))
        bloom, size = bloom_filter(bloom_keys(keys), blocks).tobytes(), 64 * FILTER_ROW
        self.connection.executemany(
            "INSERT INTO band_filters VALUES (?, ?)",
            ((block_id(self.space, run, row), bloom[start : start + size]) for row, start in enumerate(range(0, len(bloom), size))),
        )
        counts = np.diff(starts, append=keys.size)
        # a block's gaps are those after its first key (its fence): not the one to the next block
        gap_widths, gap_rows = packed_rows(gaps, starts, counts - 1)
        number_widths, number_rows = packed_rows(numbers, starts, counts)
        self.connection.executemany(
            "INSERT INTO band_blocks VALUES (?, ?, ?, ?, ?)",
            (
                (block_id(self.space, run, block), key_width, number_width, gap_row, number_row)
                for block, (key_width, number_width, gap_row, number_row) in enumerate(zip(gap_widths, number_widths, gap_rows, number_rows))
            ),
        )
        self._runs = None

    def _merge(self) -> None:
        while True:
            runs = sorted(self.runs, key=lambda run: (run.pairs, run.run))
            if len(runs) < 2:
                return
            small, next_small = runs[0], runs[1]
            if next_small.pairs > 2 * small.pairs or small.pairs + next_small.pairs > MAX_RUN:
                return
            keys, numbers = [], []
            for run in (small, next_small):
                run_keys, run_numbers = self._pairs(run, np.arange(run.fences.size, dtype=np.int64))
                keys.append(run_keys)
                numbers.append(run_numbers)
                self._delete(run.run)
            merged_keys, merged_numbers = self._without_gone(np.concatenate(keys), np.concatenate(numbers))
            self._runs = None
            if merged_keys.size:
                self._write(merged_keys, merged_numbers)

    def overlapping(self) -> bool:
        """Whether some key may lie in the span of two runs (a lookup then tests it against
        both): runs saved one after another, not yet split into key ranges (`partition`)."""
        spans = sorted((int(run.fences[0]), run.last) for run in self.runs)
        return any(low <= last for (_, last), (low, _) in zip(spans, spans[1:]))

    def partition(self) -> None:
        """Rewrite all the space's runs as runs of key ranges that split the key space between
        them, ~MAX_RUN pairs each (inside a transaction): a lookup tests a key against, and reads
        it from, one of them rather than each of the runs of MAX_RUN that an index of millions
        of documents holds (each key that passes a filter wrongly costs a block read, ~1% a run).
        Pairs of gone copies are left out. A source block is deleted as soon as every pair it
        holds is rewritten, so the file grows by about one range's pairs, not by the space's.

        Band keys are hashes, spread evenly over the key space (KEY_BITS bits stored): ranges
        of equal width hold about as many pairs."""
        runs = self.runs
        if len(runs) < 2:
            return
        ranges = -(-sum(run.pairs for run in runs) // MAX_RUN)
        edges = [(range_ << KEY_BITS) // ranges for range_ in range(ranges)]
        deleted = [0] * len(runs)  # per run, the blocks deleted so far (those below)
        for range_, low in enumerate(edges):
            high = edges[range_ + 1] if range_ + 1 < ranges else None  # keys in [low, high)
            keys, numbers = [], []
            for position, run in enumerate(runs):
                first = max(int(np.searchsorted(run.fences, np.uint64(low), side="left")) - 1, deleted[position])
                end = run.fences.size if high is None else int(np.searchsorted(run.fences, np.uint64(high), side="left"))
                if end <= first:
                    continue
                run_keys, run_numbers = self._pairs(run, np.arange(first, end, dtype=np.int64))
                inside = (run_keys >= np.uint64(low)) & (True if high is None else run_keys < np.uint64(high))
                keys.append(run_keys[inside])
                numbers.append(run_numbers[inside])
                # blocks wholly below `high` (the next block starts below it too) are done with
                done = run.fences.size if high is None else max(end - 1, deleted[position])
                self.connection.execute(
                    "DELETE FROM band_blocks WHERE id >= ? AND id < ?",
                    (block_id(self.space, run.run, deleted[position]), block_id(self.space, run.run, done)),
                )
                deleted[position] = done
            if keys:
                range_keys, range_numbers = self._without_gone(np.concatenate(keys), np.concatenate(numbers))
                if range_keys.size:
                    self._write(range_keys, range_numbers)
        for run in runs:
            self._delete(run.run)
        self._runs = None

    def _delete(self, run: int) -> None:
        """Delete a run: its blocks, its filter and its catalogue row."""
        for table in ("band_blocks", "band_filters"):
            self.connection.execute(f"DELETE FROM {table} WHERE id >= ? AND id < ?", (block_id(self.space, run, 0), block_id(self.space, run + 1, 0)))
        self.connection.execute("DELETE FROM band_runs WHERE space = ? AND run = ?", (self.space, run))


def set_format_9_aside(connection: sqlite3.Connection) -> None:
    """The first step of upgrading a format-9 index (inside a transaction): its blocks (whole
    uint64 keys, uint32 copy numbers) become `band_blocks_9`, beside this format's empty
    table. Done once: a later call finds this format's table already."""
    if "key_bytes" not in {row[1] for row in connection.execute("PRAGMA table_info(band_blocks)")}:
        connection.execute("ALTER TABLE band_blocks RENAME TO band_blocks_9")
        connection.execute(BLOCKS_TABLE)


def upgrade_run_9(connection: sqlite3.Connection, space: int, run: int) -> int:
    """Write a format-9 run again in this format, as a new run, and delete its old rows (inside
    a transaction): its pairs rewritten, 0 where it holds none in `band_blocks_9` (written in
    this format already). Key ranges stay key ranges (a run keeps the top bits of sorted keys),
    and the pairs of copies marked gone stay marked."""
    low, high = block_id(space, run, 0), block_id(space, run + 1, 0)
    rows = connection.execute("SELECT keys, numbers FROM band_blocks_9 WHERE id >= ? AND id < ? ORDER BY id", (low, high)).fetchall()
    if not rows:
        return 0
    keys = np.frombuffer(b"".join(keys for keys, _ in rows), dtype=np.uint64)
    numbers = np.frombuffer(b"".join(numbers for _, numbers in rows), dtype=np.uint32).astype(np.uint64)
    del rows
    runs = BandRuns(connection, space)
    runs._write(stored_keys(keys), numbers)
    runs._delete(run)
    connection.execute("DELETE FROM band_blocks_9 WHERE id >= ? AND id < ?", (low, high))
    return keys.size


def finish_upgrade(connection: sqlite3.Connection) -> None:
    """The last step of upgrading a format-9 index (inside a transaction): drop the emptied
    table of format-9 blocks."""
    connection.execute("DROP TABLE IF EXISTS band_blocks_9")


def block_id(space: int, run: int, block: int) -> int:
    """The row id of a run's block: space, run and block in 3, 30 and 30 bits (a run of MAX_RUN
    pairs has fewer than 2**20 blocks)."""
    return (space << 60) | (run << 30) | block


def stored_keys(keys: np.ndarray) -> np.ndarray:
    """The part of each band key a run stores: its top KEY_BITS bits (uint64, order kept)."""
    return np.asarray(keys, dtype=np.uint64) >> _SHIFT


def bloom_keys(keys: np.ndarray) -> np.ndarray:
    """Stored keys as a run's filter takes them: multiplied by an odd constant (a bijection of
    64-bit words), so the bits `bloom_probes` reads above the stored ones are mixed too."""
    with np.errstate(over="ignore"):
        return np.asarray(keys, dtype=np.uint64) * _MIX


def byte_widths(values: np.ndarray) -> np.ndarray:
    """The bytes each of `values` (uint64) takes, 1 to 8 (1 for 0).

    >>> byte_widths(np.array([0, 255, 256, 2**40], dtype=np.uint64)).tolist()
    [1, 1, 2, 6]
    """
    values = np.asarray(values, dtype=np.uint64)
    widths = np.ones(values.shape, dtype=np.int64)
    for shift in range(8, 64, 8):
        widths += values >= np.uint64(1 << shift)
    return widths


def pack(values: np.ndarray, width: int) -> bytes:
    """Each of `values` (uint64, each below 256**width) as `width` bytes, little-endian.

    >>> pack(np.array([1, 515], dtype=np.uint64), 3).hex()
    '010000030200'
    """
    if width in (1, 2, 4, 8):  # a cast: one pass, where a strided copy takes a byte at a time
        return np.asarray(values).astype(f"<u{width}").tobytes()
    as_bytes = np.ascontiguousarray(values, dtype="<u8").view(np.uint8).reshape(-1, 8)
    return as_bytes[:, :width].tobytes()


def unpack(data: bytes, width: int) -> np.ndarray:
    """The values `pack` packed at `width` bytes each (uint64).

    >>> unpack(bytes.fromhex("010000030200"), 3).tolist()
    [1, 515]
    """
    if width in (1, 2, 4, 8):
        return np.frombuffer(data, dtype=f"<u{width}").astype(np.uint64)
    # an 8-byte word from each value's first byte on (reading past the last into zeros), masked
    words = np.ndarray((len(data) // width,), dtype="<u8", buffer=data + bytes(8 - width), strides=(width,))
    return np.bitwise_and(words, np.uint64((1 << (8 * width)) - 1), dtype=np.uint64)


def pairs_a_row(gaps: np.ndarray, numbers: np.ndarray) -> int:
    """How many pairs each block of a run holds: as many as fill ROW_BYTES at the widths nearly
    all its blocks need (their largest gap's and number's). A block that needs more (a gap past
    two bytes where most fit) takes a larger row, alone in its page share."""
    if not gaps.size:
        return 1
    number_width = int(byte_widths(numbers.max()))
    # first guess: the median gap's width (of a sample); then that of 95% of the guessed blocks' largest gap
    guess = max(1, ROW_BYTES // (int(byte_widths(np.median(gaps[:: max(1, gaps.size // 100_000)]))) + number_width))
    largest = np.maximum.reduceat(gaps, np.arange(0, gaps.size, guess))
    gap_width = int(byte_widths(np.quantile(largest, 0.95)))
    return max(1, ROW_BYTES // (gap_width + number_width))


def packed_rows(values: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> tuple[list[int], list[bytes]]:
    """Each block's `values[start : start + count]` (uint64; `starts` ascending, each block
    within the next one's start) packed (`pack`) at a width they fit in: that of the largest of
    `values[start : next start]`, which holds them (for a block's gaps, the gap to the next
    block too, rarely the largest). The widths and the bytes, a block each.

    >>> packed_rows(np.array([3, 300, 9, 0], dtype=np.uint64), np.array([0, 2, 3]), np.array([2, 0, 1]))
    ([2, 1, 1], [b'\\x03\\x00,\\x01', b'', b'\\x00'])
    """
    # the largest from each start to the next (the last's to the end, and the 0 appended)
    widths = byte_widths(np.maximum.reduceat(np.append(values, np.uint64(0)), starts))
    rows = [b""] * starts.size
    for width in np.unique(widths).tolist():
        chosen = np.flatnonzero(widths == width)
        blocks = zip(chosen.tolist(), starts[chosen].tolist(), counts[chosen].tolist())
        if 8 * chosen.size < starts.size:  # a few blocks of this width: each packed alone
            for block, start, count in blocks:
                rows[block] = pack(values[start : start + count], width)
            continue
        data = pack(values, width)  # most blocks: all values packed at once, then cut
        for block, start, count in blocks:
            rows[block] = data[start * width : (start + count) * width]
    return widths.tolist(), rows


def _unpack_blocks(
    fences: np.ndarray,
    counts: np.ndarray,
    gap_rows: list[bytes],
    number_rows: list[bytes],
    gap_width: int,
    number_width: int,
    keys: np.ndarray,
    numbers: np.ndarray,
) -> None:
    """Unpack blocks packed at these widths (`packed_rows`), whose first keys are `fences` and
    whose pairs number `counts` (int64), into `keys` and `numbers` (uint64, contiguous, as many
    as the blocks hold), in block order: each key its block's first plus the gaps up to it."""
    if (kernel := chosen_kernel()) is not None:  # one pass: ~3x faster than numpy here
        fences = np.ascontiguousarray(fences, dtype=np.uint64)
        gaps, packed_numbers = b"".join([*gap_rows, _PAST_END]), b"".join([*number_rows, _PAST_END])
        kernel.bl_unpack(gaps, gap_width, packed_numbers, number_width, fences.ctypes.data, counts.ctypes.data, counts.size, keys.ctypes.data, numbers.ctypes.data)
        return
    numbers[:] = unpack(b"".join(number_rows), number_width)
    firsts = np.cumsum(counts) - counts  # where each block's pairs begin
    later = np.ones(keys.size, dtype=bool)
    later[firsts] = False
    keys[firsts] = 0
    keys[later] = unpack(b"".join(gap_rows), gap_width)
    with np.errstate(over="ignore"):  # sums past 2**64 wrap, and come back on subtraction
        np.cumsum(keys, out=keys)
        keys += np.repeat(fences - keys[firsts], counts)


def filter_blocks(keys: np.ndarray, blocks: int) -> np.ndarray:
    """The block of a filter of `blocks` 64-byte blocks that each key's probes fall in: by the
    key's low 32 bits (band keys are well-mixed hashes; a run of one key range shares its top
    bits), mapped onto [0, blocks) by a multiply and shift."""
    return ((np.asarray(keys, dtype=np.uint64) & _MASK32) * np.uint64(blocks)) >> np.uint64(32)


def bloom_probes(keys: np.ndarray, blocks: int) -> np.ndarray:
    """The BLOOM_PROBES bit positions of each key (shape (probes, keys)) in a filter of
    `blocks` blocks: in its block (`filter_blocks`), bit (a + j * c) mod 512 for probe j, a the
    key's bits 32-40 and c its bits 41-49, made odd (so the probes are distinct)."""
    keys = np.asarray(keys, dtype=np.uint64)
    start, step = keys >> np.uint64(32), ((keys >> np.uint64(41)) & np.uint64(511)) | np.uint64(1)
    steps = np.arange(BLOOM_PROBES, dtype=np.uint64)[:, None]
    with np.errstate(over="ignore"):
        inside = (start[None, :] + steps * step[None, :]) & np.uint64(511)
    return filter_blocks(keys, blocks)[None, :] * np.uint64(512) + inside


def bloom_filter(keys: np.ndarray, blocks: int) -> np.ndarray:
    """A blocked Bloom filter of `blocks` 64-byte blocks (as bytes) holding `keys`."""
    keys = np.ascontiguousarray(keys, dtype=np.uint64)
    bloom = np.zeros(64 * blocks, dtype=np.uint8)
    if (kernel := chosen_kernel()) is not None:
        kernel.bl_add(bloom.ctypes.data, blocks, BLOOM_PROBES, keys.ctypes.data, keys.size)
        return bloom
    filter_bits = np.zeros(512 * blocks, dtype=bool)
    for start in range(0, keys.size, _BLOOM_SLICE):  # the probes of all keys at once: 56 bytes a key
        filter_bits[bloom_probes(keys[start : start + _BLOOM_SLICE], blocks).ravel()] = True
    return np.packbits(filter_bits, bitorder="little")


def bloom_test(bloom: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Whether each key may be in the filter: True for every key it holds. The compiled kernel
    stops at a key's first clear bit (most keys of new text: one or two probes, not seven); 4x
    faster a key, and the lookups of a batch test every key against a filter."""
    keys = np.ascontiguousarray(keys, dtype=np.uint64)
    if not keys.size:
        return np.zeros(0, dtype=bool)
    blocks = bloom.size // 64
    if (kernel := chosen_kernel()) is not None:
        bloom = np.ascontiguousarray(bloom, dtype=np.uint8)
        out = np.empty(keys.size, dtype=np.uint8)
        kernel.bl_test(bloom.ctypes.data, blocks, BLOOM_PROBES, keys.ctypes.data, keys.size, out.ctypes.data)
        return out.view(bool)
    positions = bloom_probes(keys, blocks)
    found = (bloom[positions >> np.uint64(3)] >> (positions & np.uint64(7)).astype(np.uint8)) & 1
    return found.all(axis=0).astype(bool)


def _blocks_holding(fences: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """The blocks (ascending, each once) that may hold each of `keys` (ascending): from the
    last block starting below the key to the last starting at or below it (a key's pairs may
    run over several blocks)."""
    first = np.maximum(np.searchsorted(fences, keys, side="left") - 1, 0)
    last = np.searchsorted(fences, keys, side="right") - 1
    present = last >= 0
    first, last = first[present], last[present]
    return arrays.unique(spans(first, last - first + 1))


def spans(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The indices start, start + 1, ..., start + count - 1 of each (start, count), one array.

    >>> spans(np.array([5, 0, 9]), np.array([2, 0, 3])).tolist()
    [5, 6, 9, 10, 11]
    """
    counts = np.asarray(counts, dtype=np.int64)
    offsets = np.repeat(np.asarray(starts, dtype=np.int64) - np.cumsum(counts) + counts, counts)
    return offsets + np.arange(counts.sum(), dtype=np.int64)


def contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Whether each of `keys` is in `sorted_keys` (ascending), by binary search.

    >>> contains(np.array([2, 3, 7], dtype=np.uint64), np.array([7, 4], dtype=np.uint64)).tolist()
    [True, False]
    """
    if not sorted_keys.size:
        return np.zeros(np.shape(keys), dtype=bool)
    position = np.minimum(np.searchsorted(sorted_keys, keys), sorted_keys.size - 1)
    return sorted_keys[position] == keys


def _chunks(values: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(values), _MAX_PARAMETERS):
        yield values[start : start + _MAX_PARAMETERS]
