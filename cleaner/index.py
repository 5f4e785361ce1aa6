"""A persistent index of kept copies, so a new batch is deduplicated against everything before it.

An embedded SQLite database holds, for each dedup level (document, paragraph), the kept copies
of every run that updated it, in keep order: where each came from (doc id, paragraph number), its
text (zlib), the sha256 of its canonical text (exact matches), and its LSH band keys, and those
of its sentences when containment is on. Its shingle hashes (to verify exact Jaccard and
containment) and facts (for the fact guard) are computed again from the text when a copy is
read whole: a paragraph's text takes ~230 bytes, its hashes ~940 and its signature 512. Band keys are
kept as sorted runs with Bloom filters (cleaner/bandruns.py): the keys of a batch of new items
are looked up together, and a key no stored copy has, most of them, costs no read. A small
table of its own holds the copies' sketches and shingle counts, a 4 KB page's worth to a row:
candidates get the sketch test a run gives its own copies (dedup's `sketch_passing`) before a
copy is read whole.
Stored copies come before every document of a run, numbered in their keep order, so a run
against the index decides exactly what deduplicating old and new together would, the old first.

Band keys are those of dedup's `BandIndex` (64-bit hashes of a band's rows); a collision adds
a candidate that exact verification then judges, so it cannot remove a non-duplicate.

Writes happen in one transaction per batch (`save`), in WAL mode: a crash or an error in the
middle leaves the index as it was before the batch. A new index is built in a hidden file
beside its path, without a journal, its copies written as the run keeps them (a WAL would hold
a second copy of everything, and copies held until the save ~40 KB a document more), and
`save` moves the file to the path: the index appears whole, or not at all.

The index records the settings that decide matches and refuses to mix in a run with different
ones, naming the setting.

A writer leaves the file in rollback-journal mode when it closes, so that at rest the index is
one plain file: a reader opens it with `mode=ro` and then neither writes nor creates anything
beside it (in WAL mode even a read-only connection makes `-wal` and `-shm` files). A WAL-mode
file in a folder that cannot be written is read as `immutable`, as SQLite documents
(https://sqlite.org/wal.html, "Read-Only Databases").

`--index redis://host:port/db` keeps the same copies in a shared Redis server instead
(cleaner/redis_index.py, the `redis` extra); `Index.open` picks the store from the location.
"""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
import subprocess
import sys
import tempfile
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, NamedTuple, Sequence
from urllib.parse import quote, urlsplit, urlunsplit

import numpy as np

from . import __version__
from .arena import Arena
from .config import Settings
from . import arrays, bandruns, dedup
from .bandruns import BandRuns
from .dedup import SPLIT_WITH_INDEX, Item, Kept, exact_digest, fingerprinter, kept_paragraphs
from .document import Document
from .errors import ConfigError, InputError
from .fastminhash import Fingerprinter
from .lsh import BandIndex
from .minhash import jaccard, shared_count

# 4: band keys of several rounds where one round would have fewer than 4 rows (cleaner/lsh.py)
# 5: a sketch and shingle count per copy, read before the copy itself
# 6: band keys in sorted runs with Bloom filters (cleaner/bandruns.py), not a B-tree row a key
# 7: a copy's text (zlib) in place of its snippet, shingle hashes, signature and facts
# 8: sketches as many copies to a row as fill a page (`sketch_block`)
# 9: Bloom filters blocked (a key's probes in one 64-byte block), a page of them a row, read in part
# 10: band keys' top 42 bits, their gaps and copy numbers packed at the bytes a block needs
FORMAT_VERSION = 10
UPGRADABLE = (9,)  # formats `upgrade` rewrites in place, rather than asking for a new index
LEVELS = ("document", "paragraph")
SNIPPET = 300
# The settings that decide what matches what: an index only serves runs that share them.
MATCH_SETTINGS = (
    "level",
    "num_perm",
    "seed",
    "shingle_hash",
    "document_shingling",
    "paragraph_shingling",
    "threshold",
    "document_containment",
    "paragraph_threshold",
    "paragraph_containment",
    "fact_guard",
    "min_paragraph_words",
)
_MAX_PARAMETERS = 900
# Stored copies read per level and kept in memory: background paragraphs are candidates again and again.
_CACHED_COPIES = 50_000
_CACHED_SKETCHES = 1_000_000  # in a dict (Redis): ~250 bytes each
# Bytes of stored sketches and shingle counts StoredLevel's arrays hold (num_perm + 4 a copy), at
# most: ~16M copies at 128 permutations, all the paragraphs of a 1M-document news index. Rows are
# read only when named, so a check of 10 documents holds a few MB. A bound below what a batch's
# chance candidates spread over empties the cache chunk after chunk: at 1M documents (13M
# paragraphs) a bound of 4M copies read 1.53M rows where the table has ~440k, and a 1k batch
# took 88 s against 43 s.
_CACHED_SKETCH_BYTES = 2 << 30
# Bytes of sketches and shingle counts a row holds (num_perm + 4 a copy, consecutive numbers): as
# many copies as fill most of a 4 KB page, 30 at 128 permutations (`sketch_block`). A 1k batch
# against 100k documents names a third of their 1.3M paragraphs as candidates (reused background
# sentences): a row a copy was ~4 us each, read a chunk at a time, or ~9 us item after item. Not
# more than a page: a check of 10 documents names ~10k copies, spread, and reads their rows whole.
SKETCH_ROW_BYTES = 3_960
# A read of sketch rows that needs more than this share of the rows between its first and last
# scans them all in one range rather than asking each by id: a 1k batch against 1M documents
# names candidates in nearly every row, and SQLite steps to the next row of a range in ~3 us,
# where finding a row by id took ~11 us.
_DENSE_ROWS = 0.25
_CACHE_KIB = 256 * 1024  # SQLite's page cache: band rows are inserted and read at random keys
# Copies a run keeps for the index held in memory until save; earlier ones wait in a temporary file.
PENDING_CHUNK = 2048
# Band pairs a save writes as one run, at most (~200 MB while sorted).
RUN_PAIRS = 1 << 23
# (key, number) pairs found by lookups kept for the windows that follow (16 bytes each), at most.
_FOUND_PAIRS = 4_000_000
# (item, stored copy) pairs whose sketches are tested at once (num_perm + 20 bytes each).
_TESTED_PAIRS = 1 << 20
_NOTHING_FOUND = (np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64))
# A lookahead of at least this many band keys shares its work with a helper process (`_Helper`).
_SPLIT_KEYS = 1 << 18
_UPPER = np.uint64(1 << 63)  # the helper looks up the keys with this bit set
READ_AHEAD_COPIES = 2048  # copies the helper reads ahead a call (`_ReadAhead`)

SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS copies (
    level TEXT NOT NULL,
    number INTEGER NOT NULL,
    doc TEXT NOT NULL,
    paragraph INTEGER,
    lang TEXT,
    text BLOB NOT NULL,
    digest BLOB NOT NULL,
    PRIMARY KEY (level, number)
);
CREATE INDEX IF NOT EXISTS copies_digest ON copies (level, digest);
-- copies' sketches (one byte a MinHash value, num_perm bytes a copy) and shingle counts (int32),
-- copies block * sketch_block(num_perm) onwards in a row: candidates are tested on these before a copy is
-- read whole (its text decompressed, its shingle hashes computed)
-- (a row's id is `_sketch_row(level, block)`: a rowid table keeps a 4 KB row in its page, where
-- a WITHOUT ROWID one spills all but ~1 KB of it to an overflow page)
CREATE TABLE IF NOT EXISTS sketches (id INTEGER PRIMARY KEY, sketches BLOB NOT NULL, sizes BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS copies_doc ON copies (doc);
"""
# band keys by space (0 document, 1 document sentences, 2 paragraph, 3 paragraph sentences)
SCHEMA += bandruns.SCHEMA


REDIS_SCHEMES = ("redis://", "rediss://")


def match_settings(settings: Settings, format: int = FORMAT_VERSION) -> dict[str, Any]:
    """The settings an index records and checks, with the versions that wrote it (`format`:
    its store's, this file's or cleaner/redis_index.py's)."""
    return {"format": format, "cleaner": __version__, **{name: getattr(settings, name) for name in MATCH_SETTINGS}}


def is_redis_url(location: Path | str) -> bool:
    """Whether an index location names a Redis server rather than an SQLite file.

    >>> is_redis_url("redis://localhost:6379/0"), is_redis_url("news.index")
    (True, False)
    """
    return str(location).startswith(REDIS_SCHEMES)


def describe(location: Path | str) -> str:
    """An index location as messages and the manifest show it: a URL's password masked.

    >>> describe("redis://team:s3cret@db.example:6379/2")
    'redis://team:***@db.example:6379/2'
    """
    location = str(location)
    if not is_redis_url(location):
        return location
    parts = urlsplit(location)
    if parts.password is None:
        return location
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


PendingCopy = tuple[Kept, str, np.ndarray, np.ndarray, "np.ndarray | None"]  # kept, digest, signature, keys, sentence keys


class Pending:
    """The copies a run keeps for the index, until `save` writes them, in keep order: the last
    PENDING_CHUNK in memory, earlier ones pickled a chunk at a time to a temporary file
    (cleaner/arena.py). With their band keys a document's copies take ~40 KB, so a run that adds
    a million documents would otherwise hold ~40 GB until its save.

    With a `sink` (a new index, built in a file of its own: `Index.open`), a full chunk is
    handed to it, written into the index at once, and nothing waits in a file."""

    def __init__(self, sink: Callable[[list[PendingCopy]], None] | None = None) -> None:
        self.spilled: Arena | None = None
        self.tail: list[PendingCopy] = []
        self.count = 0
        self.sink = sink

    def append(self, copy: PendingCopy) -> None:
        self.tail.append(copy)
        self.count += 1
        if len(self.tail) >= PENDING_CHUNK:
            if self.sink is not None:
                self.sink(self.tail)
            else:
                if self.spilled is None:
                    self.spilled = Arena()
                self.spilled.append(pickle.dumps(self.tail, protocol=pickle.HIGHEST_PROTOCOL))
            self.tail = []

    def __len__(self) -> int:
        return self.count

    def chunks(self) -> Iterator[list[PendingCopy]]:
        """The copies, a chunk (at most PENDING_CHUNK) at a time."""
        if self.spilled is not None:
            for number in range(len(self.spilled)):
                yield pickle.loads(self.spilled[number])
        if self.tail:
            yield self.tail

    def __iter__(self) -> Iterator[PendingCopy]:
        for chunk in self.chunks():
            yield from chunk

    def clear(self) -> None:
        if self.spilled is not None:
            self.spilled.close()
        self.spilled, self.tail, self.count = None, [], 0


class Level:
    """What both stores share for one level: its LSH layout, the copies kept in this run
    (collected by `add`, written by `save`), hidden numbers and a cache of copies read."""

    def __init__(self, level: str, settings: Settings, end: int, keeping: bool = True) -> None:
        self.level = level
        self.space = 2 * LEVELS.index(level)
        if level == "document":
            threshold, containment = settings.threshold, settings.document_containment
        else:
            threshold, containment = settings.paragraph_threshold, settings.paragraph_containment
        self.fact_guard = settings.fact_guard
        # Only their `keys` are used (by `nearest`): the buckets live in the store.
        self.bands = BandIndex(threshold, settings.num_perm)
        self.sentence_bands = dedup.sentence_bands(threshold, containment, settings.num_perm, dedup.sentence_floor(settings, level))
        self.end = end
        self.hidden: set[int] = set()
        self.cache: dict[int, Kept] = {}
        self.sketch_cache: dict[int, tuple[bytes, int]] = {}
        self.pending = Pending()
        self.keeping = keeping  # False for an index opened read only: `add` keeps nothing

    def __len__(self) -> int:
        """One past the last stored number: copies kept in this run are numbered from here."""
        return self.end

    def copy(self, number: int) -> Kept:
        if number not in self.cache:
            self._read([number])
        return self.cache[number]

    def prefetch(self, numbers: Sequence[int]) -> None:
        self._read([number for number in numbers if number not in self.cache])

    def hashes(self, number: int) -> np.ndarray:
        """A copy's shingle hashes: what verifying it as a candidate reads."""
        return self.copy(number).hashes

    def _read(self, numbers: Sequence[int]) -> None:
        raise NotImplementedError

    def sketches(self, numbers: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        self._cache_sketches(numbers)
        found = [self.sketch_cache[number] for number in numbers]
        held = np.frombuffer(b"".join(sketch for sketch, _ in found), dtype=np.uint8).reshape(len(found), -1)
        return held, np.array([size for _, size in found], dtype=np.int64)

    def _cache_sketches(self, numbers: Sequence[int]) -> None:
        """Read the sketches of these copies that the cache lacks (emptied first when it would
        grow past its bound)."""
        missing = [number for number in numbers if number not in self.sketch_cache]
        if missing:
            if len(self.sketch_cache) + len(missing) > _CACHED_SKETCHES:
                self.sketch_cache.clear()
            self._read_sketches(missing)

    def _read_sketches(self, numbers: Sequence[int]) -> None:
        raise NotImplementedError

    def lookahead(self, batch: dedup.FeatureBatch, skipped: np.ndarray, test: dedup.SketchTest, last: bool = False) -> list[np.ndarray | None] | None:
        """The next items' features, all at once, before `exact` and `candidates` ask them one
        by one: a store that gains by looking up many keys together answers each item's stored
        candidates here (`StoredLevel`); None: ask `candidates` item by item."""
        return None

    def add(self, kept: Kept, digest: str, signature: np.ndarray, keys: np.ndarray, sentence_keys: np.ndarray | None) -> None:
        if not self.keeping:
            return
        self.pending.append((self._pending(kept), digest, signature, keys, sentence_keys))

    def _pending(self, kept: Kept) -> Kept:
        """What a kept copy's record needs of it: here its whole text and shingle hashes."""
        return Kept(kept.item, kept.hashes)

    def saved(self) -> None:
        """Forget what `save` wrote: the pending copies are stored now, the hidden ones gone."""
        self.end += len(self.pending)
        self.pending.clear()
        self.hidden.clear()
        self.cache.clear()
        self.sketch_cache.clear()


class StoredLevel(Level):
    """One level's stored kept copies in SQLite, as `NearDuplicateIndex` sees them (`dedup.StoredCopies`)."""

    def __init__(
        self, connection: sqlite3.Connection, level: str, settings: Settings, keeping: bool = True, building: bool = False, helper: _Helper | None = None
    ) -> None:
        super().__init__(level, settings, _end(connection, level), keeping)
        self.connection = connection
        self.helper = helper
        self.generation = 0  # what the helper holds of this level is kept while this is unchanged (`forget`)
        self.ahead = _ReadAhead()  # hashes of the copies the last window's items verify, read by the helper
        # A new index (`Index.open`'s building file): copies are written as each chunk fills,
        # their band pairs as runs of MAX_RUN, split into key ranges by the save (`partition`),
        # and nothing is looked up.
        self.writer = _CopyWriter(self, self.end, bandruns.MAX_RUN) if building else None
        if building:
            self.pending = Pending(sink=self._write_chunk)
        # shingle hashes of copies read whole, from their text: the run's, one permutation
        self.hasher = replace(fingerprinter(settings, level), num_perm=1)
        self.num_perm = settings.num_perm
        self.block = sketch_block(settings.num_perm)
        self.sketch_slot = self.sketch_rows = self.sketch_sizes = None  # `_cache_sketches`
        self.scratch_rows = self.scratch_sizes = None  # sketch rows read for one test only (`sketches`)
        self.slots_used = 0
        self.runs = (BandRuns(connection, self.space), BandRuns(connection, self.space + 1))
        # per space, the pairs `lookahead` found for keys of any window so far (keys sorted)
        self.found: list[tuple[np.ndarray, np.ndarray]] = [_NOTHING_FOUND, _NOTHING_FOUND]
        self.exact_found: dict[str, int | None] = {}  # `_held`: the last window's digests' stored copies

    def hide(self, docs: Iterable[str]) -> None:
        """Pass over the stored copies of these documents: the run holds a newer version of them."""
        for chunk in _chunks(sorted(set(docs))):
            marks = ",".join("?" * len(chunk))
            # `+level`: found by the doc index; SQLite would rather walk the primary key's
            # (level, number) and read every copy of the level, blobs and all, to test its doc
            query = f"SELECT number FROM copies WHERE doc IN ({marks}) AND +level = ?"
            self.hidden.update(number for (number,) in self.connection.execute(query, (*chunk, self.level)))
        self.exact_found = {}

    def exact(self, digest: str) -> int | None:
        if not self.end:  # nothing stored (a new index holds only this run's copies, never its past)
            return None
        if digest in self.exact_found:  # the window's `lookahead` asked it
            return self.exact_found[digest]
        return self._stored([digest]).get(digest)

    def lookahead(self, batch: dedup.FeatureBatch, skipped: np.ndarray, test: dedup.SketchTest, last: bool = False) -> list[np.ndarray | None]:
        """Per item of the batch, the stored copies that share a band key with it (or a sentence
        band key with one of its sentences) and pass `test`, its sketch test, ascending: the
        keys of all the items looked up together, every (item, copy) pair tested at once. None
        for an item skipped, or one an exact stored copy matches (`exact` answers it first; a
        verbatim background paragraph is ~100 keys a stored copy holds, a block read each).

        Most of the copies an item names are chance candidates (a 4-row band of unrelated news
        paragraphs), more the more copies are stored: ~1.1M of 2.6M stored paragraphs for a
        1k-document batch against 200k documents. All of a window's pairs are tested at once in
        numpy, not an item's set of candidates after another in Python. `last`: no lookahead
        follows in this run, so filters and sketch rows it needs most of are read for it alone,
        into scratch arrays (`BandRuns.lookup`, `sketches`)."""
        plausible: list[np.ndarray | None] = [None] * len(batch.digests)
        self.ahead.cancel()  # the last window's items are matched: what was read ahead for them goes
        if not self.end:
            return plausible
        asked = ~skipped & ~self._held(batch.digests)
        asked_rows = np.flatnonzero(asked)
        sentence_rows = np.repeat(np.arange(len(batch.digests)), np.diff(batch.sentence_starts))
        sentence_asked = asked[sentence_rows]
        spaces = [
            (0, np.repeat(asked_rows, batch.keys.shape[1]), batch.keys[asked_rows].ravel()),
            (1, np.repeat(sentence_rows[sentence_asked], batch.sentence_keys.shape[1]), batch.sentence_keys[sentence_asked].ravel()),
        ]
        shared = self.helper is not None and not self.connection.in_transaction and sum(keys.size for _, _, keys in spaces) >= _SPLIT_KEYS
        rows, numbers = self._named_shared(spaces, not last) if shared else (np.concatenate(part) for part in zip(*(self._named(*space, not last) for space in spaces)))
        # each pair once, ordered by copy: a slice's copies are neighbouring sketch rows
        pairs = arrays.unique(numbers * len(batch.digests) + rows)
        rows, numbers = pairs % len(batch.digests), pairs // len(batch.digests)
        # a test goes to the helper where it pickles (dedup's does)
        passing = self._tested_shared(rows, numbers, test, not last) if shared and isinstance(test, dedup.PairTest) else self._tested(rows, numbers, test, not last)
        rows, numbers = rows[passing], numbers[passing]
        order = np.argsort(rows, kind="stable")  # numbers stay ascending within an item
        if shared and self.helper is not None:  # the helper reads them as the items will ask them
            self.ahead.start(self, _first_seen(numbers[order]))
        found = np.split(numbers[order], np.searchsorted(rows[order], np.arange(1, len(batch.digests))))
        for row in asked_rows.tolist():
            plausible[row] = found[row]
        return plausible

    def _tested(self, rows: np.ndarray, numbers: np.ndarray, test: dedup.SketchTest, keep: bool = True) -> np.ndarray:
        """Which (item row, copy) pairs (ordered by copy) pass `test`, a slice of them at a time."""
        passing = np.zeros(rows.size, dtype=bool)
        for start in range(0, rows.size, _TESTED_PAIRS):
            part = slice(start, start + _TESTED_PAIRS)
            passing[part] = test(rows[part], *self.sketch_places(numbers[part], keep))
        return passing

    def _named_shared(self, spaces: list[tuple[int, np.ndarray, np.ndarray]], keep: bool) -> tuple[np.ndarray, np.ndarray]:
        """`_named` of each space's (slot, rows, keys), the keys with the top bit set looked up
        by the helper meanwhile (each side keeps the pairs it found: a key always goes to the
        same side). Here if the helper has gone."""
        upper = [(keys & _UPPER) != 0 for _, _, keys in spaces]
        there = [self._submit("_named", slot, rows[mask], keys[mask], keep) for (slot, rows, keys), mask in zip(spaces, upper)]
        found = [self._named(slot, rows[~mask], keys[~mask], keep) for (slot, rows, keys), mask in zip(spaces, upper)]
        for (slot, rows, keys), mask, future in zip(spaces, upper, there):
            found.append(self._answer(future, lambda: self._named(slot, rows[mask], keys[mask], keep)))
        return tuple(np.concatenate(part) for part in zip(*found))

    def _tested_shared(self, rows: np.ndarray, numbers: np.ndarray, test: dedup.SketchTest, keep: bool) -> np.ndarray:
        """`_tested`, the pairs of the higher half of the copies tested by the helper meanwhile
        (each side reads the sketch rows of its own copies)."""
        half = rows.size // 2
        there = self._submit("_tested", rows[half:], numbers[half:], test, keep)
        here = self._tested(rows[:half], numbers[:half], test, keep)
        return np.concatenate([here, self._answer(there, lambda: self._tested(rows[half:], numbers[half:], test, keep))])

    def _submit(self, method: str, *args: Any) -> Future:
        """The answer of this level's `method(*args)` in the helper (`_there`), as a future."""
        if self.helper is None:  # gone since the lookahead began
            future: Future = Future()
            future.set_exception(HelperGone())
            return future
        return self.helper.submit(method, self.level, self.generation, self.end, self.hidden, *args)

    def _answer(self, future: Future, here: Callable[[], Any]) -> Any:
        """The helper's answer, or `here`'s where the helper has gone (it is not asked again)."""
        try:
            return future.result()
        except HelperGone:
            self.helper = None
        return here()

    def _named(self, slot: int, rows: np.ndarray, keys: np.ndarray, keep: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(row, number) for each stored copy under each key (the key of item `row`) of one
        space, neither hidden nor numbered from `end` on; the pairs found are kept for the
        windows that follow (a background paragraph's keys come again window after window, read
        once)."""
        order = np.argsort(keys)  # binary searches of ascending keys, each near the last
        rows, keys = rows[order], keys[order]
        found_keys, found_numbers = self.found[slot]
        if found_keys.size > _FOUND_PAIRS:
            found_keys, found_numbers = _NOTHING_FOUND
        asked = arrays.unique(keys)
        new = asked[~bandruns.contains(found_keys, asked)]  # a key found before has all its pairs here
        if new.size:
            new_keys, new_numbers = self.runs[slot].lookup(new, unique=True, keep=keep)
            places = np.searchsorted(found_keys, new_keys)  # both sorted, no key in both
            found_keys, found_numbers = np.insert(found_keys, places, new_keys), np.insert(found_numbers, places, new_numbers)
        self.found[slot] = (found_keys, found_numbers)
        first = np.searchsorted(found_keys, keys, side="left")
        counts = np.searchsorted(found_keys, keys, side="right") - first
        rows, numbers = np.repeat(rows, counts), found_numbers[bandruns.spans(first, counts)]
        keep = self._visible(numbers)
        return rows[keep], numbers[keep]

    def _visible(self, numbers: np.ndarray) -> np.ndarray:
        """Which of these stored numbers this run sees: not hidden, and below `end` (numbers
        from `end` on were added by another writer since opening: not this run's past)."""
        keep = numbers < self.end
        if self.hidden:
            keep &= ~np.isin(numbers, np.fromiter(self.hidden, dtype=np.int64, count=len(self.hidden)))
        return keep

    def candidates(self, keys: np.ndarray, sentence_keys: np.ndarray | None) -> set[int]:
        """Stored copies sharing a band key with the item, or a sentence band key with a sentence."""
        if not self.end:
            return set()
        numbers = self.runs[0].lookup(keys)[1]
        if sentence_keys is not None:
            numbers = np.concatenate([numbers, self.runs[1].lookup(sentence_keys)[1]])
        return set(numbers[self._visible(numbers)].tolist())

    def _held(self, digests: Sequence[str]) -> np.ndarray:
        """Which of these digests `exact` finds a stored copy of; `exact` answers them from
        `exact_found` after (an item's query each was ~4% of a 1k batch against 200k documents)."""
        stored = self._stored(digests)
        self.exact_found = {digest: stored.get(digest) for digest in digests}
        return np.array([digest in stored for digest in digests], dtype=bool)

    def _stored(self, digests: Sequence[str]) -> dict[str, int]:
        """The stored copy this run sees of each of these digests that has one."""
        stored = {}
        for chunk in _chunks([bytes.fromhex(digest) for digest in digests]):
            marks = ",".join("?" * len(chunk))
            query = f"SELECT digest, number FROM copies WHERE level = ? AND digest IN ({marks})"
            for digest, number in self.connection.execute(query, (self.level, *chunk)):
                if number not in self.hidden and number < self.end:
                    stored[digest.hex()] = number
        return stored

    def sketches(self, numbers: Sequence[int], keep: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """The sketch and shingle count of each of these copies."""
        held, sizes, places = self.sketch_places(numbers, keep)
        return held[places], sizes[places].astype(np.int64)

    def sketch_places(self, numbers: Sequence[int], keep: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows of sketches and of shingle counts (int32) that hold these copies', as they were
        read, and each copy's row of them (the sketch test reads them in place). Without
        `keep`, and nothing cached yet, their rows are read into scratch arrays that the next
        call overwrites, not into the cache: a batch's one lookahead against 1M documents reads
        all ~440k rows of the paragraphs' sketches (1.7 GB) once, and a cache of them cost a
        page fault each 4 KB and held them to the end."""
        numbers = np.asarray(numbers, dtype=np.int64)
        blocks, places = numbers // self.block, numbers % self.block
        if keep or self.sketch_slot is not None:
            self._cache_sketches(numbers)
            slots = self.sketch_slot[blocks]
            if slots.size and slots.min() < 0:
                raise sqlite3.DatabaseError(f"the index lacks rows of {self.level} sketches; rebuild it")
            return self.sketch_rows.reshape(-1, self.num_perm), self.sketch_sizes.reshape(-1), slots * self.block + places
        asked = arrays.unique(blocks)
        if self.scratch_rows is None or len(self.scratch_rows) < asked.size:  # a quarter spare: tests ask alike
            spare = asked.size + asked.size // 4
            self.scratch_rows = arrays.sparse_zeros((spare, self.block, self.num_perm), np.uint8)
            self.scratch_sizes = arrays.sparse_zeros((spare, self.block), "<i4")
        read = np.array(self._read_sketch_rows(asked, self.scratch_rows, self.scratch_sizes, 0), dtype=np.int64)
        if read.size != asked.size:
            raise sqlite3.DatabaseError(f"the index lacks {asked.size - read.size} rows of {self.level} sketches; rebuild it")
        order = np.argsort(read, kind="stable")
        slots = order[np.searchsorted(read[order], blocks)]
        return self.scratch_rows.reshape(-1, self.num_perm), self.scratch_sizes.reshape(-1), slots * self.block + places

    def _cache_sketches(self, numbers: Sequence[int]) -> None:
        """Read the rows of these copies' sketches that were not read yet, each copied as the
        cursor gives it into the next slot of arrays made once, as many slots as the level has
        rows or _CACHED_SKETCH_BYTES holds, whichever is fewer (`sparse_zeros`: the OS gives a
        page only when a row is copied in, so a check of 10 documents holds a few MB);
        `sketch_slot` is each row's slot, or -1. All dropped and begun again when the slots are
        used up. Arrays grown by doubling, and rows fetched whole and joined, took ~30 us a row
        (a 1k batch reads all 94k rows of a 200k-document index's paragraphs); SQLite's part is
        ~7 us."""
        blocks = arrays.unique(np.asarray(numbers, dtype=np.int64) // self.block)
        rows = -(-self.end // self.block)
        if self.sketch_rows is None:
            slots = max(min(_CACHED_SKETCH_BYTES // (self.block * (self.num_perm + 4)), rows), 1)
            self.sketch_rows = arrays.sparse_zeros((slots, self.block, self.num_perm), np.uint8)
            self.sketch_sizes = arrays.sparse_zeros((slots, self.block), "<i4")
        missing = blocks if self.sketch_slot is None else blocks[self.sketch_slot[blocks] < 0]
        if self.sketch_slot is None or self.slots_used + missing.size > len(self.sketch_rows):
            if blocks.size > len(self.sketch_rows):  # more rows asked at once than the bound: room for them
                self.sketch_rows = arrays.sparse_zeros((blocks.size, self.block, self.num_perm), np.uint8)
                self.sketch_sizes = arrays.sparse_zeros((blocks.size, self.block), "<i4")
            self.sketch_slot = np.full(rows, -1, dtype=np.int64)
            self.slots_used, missing = 0, blocks
        if missing.size:
            read = self._read_sketch_rows(missing, self.sketch_rows, self.sketch_sizes, self.slots_used)
            self.sketch_slot[read] = np.arange(self.slots_used, self.slots_used + len(read))
            self.slots_used += len(read)

    def _read_sketch_rows(self, blocks: np.ndarray, held: np.ndarray, sizes: np.ndarray, slot: int) -> list[int]:
        """Copy the sketch rows of these blocks (ascending) into the slots of `held` and `sizes`
        from `slot` on, each as the cursor gives it; the blocks copied, in slot order. Blocks
        that are most of those from the first to the last are read in one range scan
        (_DENSE_ROWS), the others by id."""
        held_bytes, size_bytes = self.block * self.num_perm, 4 * self.block
        into_held, into_sizes = memoryview(held).cast("B"), memoryview(sizes).cast("B")
        first = _sketch_row(self.level, 0)
        low, high = int(blocks[0]), int(blocks[-1]) + 1
        wanted = np.zeros(high - low, dtype=bool)
        wanted[blocks - low] = True
        if blocks.size > _DENSE_ROWS * (high - low):
            queries = [("SELECT id, sketches, sizes FROM sketches WHERE id >= ? AND id < ?", (first + low, first + high))]
        else:
            queries = [(f"SELECT id, sketches, sizes FROM sketches WHERE id IN ({','.join('?' * len(chunk))})", [first + block for block in chunk]) for chunk in _chunks(blocks.tolist())]
        read = []
        for query, parameters in queries:
            for row, row_held, row_sizes in self.connection.execute(query, parameters):
                if not wanted[row - first - low]:  # a row the range scan passes that is not asked
                    continue
                into_held[slot * held_bytes : slot * held_bytes + len(row_held)] = row_held
                into_sizes[slot * size_bytes : slot * size_bytes + len(row_sizes)] = row_sizes
                read.append(row - first)
                slot += 1
        return read

    def _write_sketches(self, numbers: np.ndarray, held: np.ndarray, sizes: np.ndarray) -> None:
        """Put copies' sketches and shingle counts in their blocks' rows (inside a transaction):
        a save's first block may hold copies of an earlier save, kept as they are (and those of
        copies deleted since, never candidates again: their numbers are never given again)."""
        blocks = numbers // self.block
        for block in arrays.unique(blocks).tolist():
            row = self.connection.execute("SELECT sketches, sizes FROM sketches WHERE id = ?", (_sketch_row(self.level, block),)).fetchone()
            old_held = np.frombuffer(row[0] if row else b"", dtype=np.uint8).reshape(-1, self.num_perm)
            old_sizes = np.frombuffer(row[1] if row else b"", dtype="<i4")
            mine = blocks == block
            places = numbers[mine] - block * self.block
            length = max(old_sizes.size, int(places.max()) + 1)
            new_held = np.zeros((length, self.num_perm), dtype=np.uint8)
            new_sizes = np.full(length, -1, dtype="<i4")
            new_held[: old_sizes.size], new_sizes[: old_sizes.size] = old_held, old_sizes
            new_held[places], new_sizes[places] = held[mine], sizes[mine]
            self.connection.execute(
                "INSERT OR REPLACE INTO sketches VALUES (?, ?, ?)", (_sketch_row(self.level, block), new_held.tobytes(), new_sizes.tobytes())
            )

    def prefetch(self, numbers: Sequence[int]) -> None:
        self._read([number for number in numbers if number not in self.cache and number not in self.ahead])

    def hashes(self, number: int) -> np.ndarray:
        if number not in self.cache and (held := self.ahead.get(number, self)) is not None:
            return held
        return super().hashes(number)

    def _read(self, numbers: Sequence[int]) -> None:
        """Read these copies into the cache (emptied first when it would grow past its bound)."""
        if len(self.cache) + len(numbers) > _CACHED_COPIES:
            self.cache.clear()
        for (number, doc, paragraph, lang, _), text, hashes in self._hashed(numbers):
            self.cache[number] = Kept(Item(doc, paragraph, text, lang, stored=True), hashes)

    def read_hashes(self, numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The shingle hashes of these copies, for `_ReadAhead` (the helper reads them): the
        numbers read, their hashes one after another, and where each copy's begin (one more,
        the end)."""
        read = list(self._hashed(numbers.tolist()))
        starts = np.concatenate([[0], np.cumsum([hashes.size for _, _, hashes in read])]).astype(np.int64)
        joined = np.concatenate([hashes for _, _, hashes in read]) if read else np.empty(0, dtype=np.uint32)
        return np.array([row[0] for row, _, _ in read], dtype=np.int64), joined, starts

    def _hashed(self, numbers: Sequence[int]) -> Iterator[tuple[tuple, str, np.ndarray]]:
        """Each of these copies' row (`_copies`), text and shingle hashes, a query's at a time."""
        for rows in self._copies(numbers):
            texts = [_text(row[4]) for row in rows]
            yield from zip(rows, texts, self.hasher.fingerprints(texts)[1])

    def _copies(self, numbers: Sequence[int]) -> Iterator[list[tuple]]:
        """The rows (number, doc, paragraph, lang, compressed text) of these copies, a query's at a time."""
        for chunk in _chunks(numbers):
            marks = ",".join("?" * len(chunk))
            query = f"SELECT number, doc, paragraph, lang, text FROM copies WHERE level = ? AND number IN ({marks})"
            yield self.connection.execute(query, (self.level, *chunk)).fetchall()

    def delete_hidden(self) -> None:
        """Delete the copies of documents the run held again (inside a transaction)."""
        for chunk in _chunks(sorted(self.hidden)):
            marks = ",".join("?" * len(chunk))
            self.connection.execute(f"DELETE FROM copies WHERE level = ? AND number IN ({marks})", (self.level, *chunk))
        for runs in self.runs:
            runs.drop(sorted(self.hidden))

    def write_pending(self) -> int:
        """Insert the copies kept in this run, numbered after the stored ones (inside a
        transaction), a chunk at a time; their band keys become a run each RUN_PAIRS or so."""
        writer = self.writer or _CopyWriter(self, self.end, RUN_PAIRS)
        for chunk in self.pending.chunks():
            writer.write(chunk)
        end = writer.finish()
        if self.writer is not None:  # a new index: its runs of MAX_RUN become key ranges
            for runs in self.runs:
                runs.partition()
        return end - self.end

    def _write_chunk(self, chunk: list[PendingCopy]) -> None:
        with transaction(self.connection):
            self.writer.write(chunk)

    def saved(self) -> None:
        super().saved()
        self.forget()

    def forget(self) -> None:
        """Drop what was read of the band runs (after a save, committed or rolled back)."""
        for runs in self.runs:
            runs.forget()
        self.generation += 1
        self.ahead.cancel()
        self.found = [_NOTHING_FOUND, _NOTHING_FOUND]
        self.exact_found = {}
        self.sketch_slot = self.sketch_rows = self.sketch_sizes = None


class _ReadAhead:
    """Shingle hashes of stored copies that the helper process reads (text decompressed, shingles
    hashed) while this process matches a window's items: the copies the lookahead says the
    items will verify, in the order they will ask them, READ_AHEAD_COPIES a call. Reading them
    here was ~5 s of a 1k batch against 1M documents (141k copies, ~35 us each); taking one
    ready from the helper is a dict lookup. A copy the helper has not reached yet is waited for;
    one it was not asked is read here."""

    def __init__(self) -> None:
        self.calls: deque[tuple[np.ndarray, Future]] = deque()  # the numbers of each call, its answer
        self.waiting: set[int] = set()  # numbers of the calls not answered yet
        self.held: dict[int, np.ndarray] = {}

    def __contains__(self, number: int) -> bool:
        return number in self.held or number in self.waiting

    def start(self, level: StoredLevel, numbers: np.ndarray) -> None:
        numbers = numbers[[number not in level.cache for number in numbers.tolist()]]
        for start in range(0, numbers.size, READ_AHEAD_COPIES):
            part = numbers[start : start + READ_AHEAD_COPIES]
            self.calls.append((part, level._submit("read_hashes", part)))
            self.waiting.update(part.tolist())

    def get(self, number: int, level: StoredLevel) -> np.ndarray | None:
        """The copy's hashes, if the helper was asked them: waiting for the calls up to its own
        (None where the helper has gone: the level reads the copy itself)."""
        while number not in self.held and number in self.waiting:
            part, answer = self.calls.popleft()
            self.waiting.difference_update(part.tolist())
            read = level._answer(answer, lambda: None)  # None: the helper has gone
            if read is None:
                self.cancel()
                return None
            numbers, hashes, starts = read
            self.held.update(zip(numbers.tolist(), np.split(hashes, starts[1:-1])))
        return self.held.get(number)

    def cancel(self) -> None:
        """Drop what was read ahead and the calls not begun (a new window, or a save)."""
        for _, answer in self.calls:
            answer.cancel()
        self.calls.clear()
        self.waiting.clear()
        self.held.clear()


def _first_seen(numbers: np.ndarray) -> np.ndarray:
    """Each number once, in the order it first appears."""
    _, first = np.unique(numbers, return_index=True)
    return numbers[np.sort(first)]


class HelperGone(Exception):
    """The helper process ended (or never started): the work it was asked is done here."""


class _Helper:
    """A second process that shares a large lookahead's work (`StoredLevel.lookahead`): it looks
    up the band keys whose top bit is set and tests the higher half of the (item, copy) pairs
    by their sketches, in a read-only connection of its own, while this process does the rest.
    Python holds one core a process, and a 1k batch against 1M documents spends ~10 s in these
    two steps.

    A fresh interpreter running `_serve` (not a fork: this process has an SQLite connection to
    the same file and may run threads; not multiprocessing's spawn, which runs the caller's main
    module again): pickled calls on its stdin, pickled answers on its stdout. One thread here
    sends each call and waits for its answer, so the helper never waits on a pipe while this
    process works."""

    def __init__(self, path: Path, settings: Settings) -> None:
        self.path, self.settings = str(path.resolve()), settings
        self.process: subprocess.Popen | None = None
        self.calls: ThreadPoolExecutor | None = None
        self.gone = False

    def start(self) -> None:
        if self.process is not None or self.gone:
            return
        package = str(Path(__file__).resolve().parent.parent)  # the helper imports this cleaner
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package, os.environ.get("PYTHONPATH")]))}
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", "from cleaner.index import _serve; _serve()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=environment
            )
        except OSError:
            self.gone = True
            return
        self.calls = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cleaner-index-helper")

    def submit(self, method: str, *args: Any) -> Future:
        """The answer of `_there(method, path, settings, *args)` in the helper: a future,
        raising HelperGone where the helper has ended."""
        self.start()
        future: Future = Future()
        if self.gone or self.calls is None:
            future.set_exception(HelperGone())
            return future
        return self.calls.submit(self._call, method, (self.path, self.settings, *args))

    def _call(self, name: str, args: tuple) -> Any:
        assert self.process is not None and self.process.stdin is not None and self.process.stdout is not None
        try:
            pickle.dump((name, args), self.process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self.process.stdin.flush()
            failed, answer = pickle.load(self.process.stdout)
        except (OSError, EOFError, pickle.UnpicklingError):
            self.gone = True
            raise HelperGone() from None
        if failed:
            raise answer
        return answer

    def close(self) -> None:
        if self.calls is not None:
            self.calls.shutdown(cancel_futures=True)
        if self.process is not None:
            for stream in (self.process.stdin, self.process.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process, self.calls, self.gone = None, None, True


def _serve() -> None:
    """The helper process (`_Helper`): answer pickled (method, arguments) calls from stdin on
    stdout (`_there`) until stdin ends; what the methods print goes to stderr."""
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    calls = sys.stdin.buffer
    while True:
        try:
            method, args = pickle.load(calls)
        except EOFError:
            return
        try:
            answer: tuple[bool, Any] = (False, _there(method, *args))
        except Exception as error:  # sent back, raised there
            answer = (True, error)
        pickle.dump(answer, answers, protocol=pickle.HIGHEST_PROTOCOL)
        answers.flush()


# In a helper process: per (index, level), the level it reads and the generation it was asked for.
_HELPED: dict[tuple[str, str], tuple[StoredLevel, int]] = {}


def _helped(path: str, settings: Settings, level: str, generation: int, end: int, hidden: set[int]) -> StoredLevel:
    """The helper's view of a level as the asking process sees it: its `end` and hidden copies;
    what it found for keys before is dropped when the asking level has forgotten its own."""
    held = _HELPED.get((path, level))
    if held is None:
        stored = StoredLevel(_connect_readonly(Path(path)), level, settings, keeping=False)
    else:
        stored = held[0]
        if held[1] != generation:
            stored.forget()
    stored.end, stored.hidden = end, hidden
    _HELPED[(path, level)] = (stored, generation)
    return stored


# What the helper is asked: StoredLevel methods that only read.
_HELPER_METHODS = frozenset({"_named", "_tested", "read_hashes"})


def _there(method: str, path: str, settings: Settings, level: str, generation: int, end: int, hidden: set[int], *args: Any) -> Any:
    """`method(*args)` of the helper's view of the asking process's level (`_helped`)."""
    if method not in _HELPER_METHODS:
        raise ValueError(f"the index helper is not asked {method!r}")
    return getattr(_helped(path, settings, level, generation, end, hidden), method)(*args)


class _CopyWriter:
    """Writes a level's kept copies a chunk at a time, numbered on from `number` (inside a
    transaction): their rows and sketches at once, their band pairs held until a space has
    `run_pairs` of them, then written as one run."""

    def __init__(self, level: StoredLevel, number: int, run_pairs: int) -> None:
        self.level = level
        self.number = number
        self.run_pairs = run_pairs
        self.keys: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])  # per space, each copy's
        self.numbers: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])
        self.held = [0, 0]  # pairs held per space

    def write(self, chunk: list[PendingCopy]) -> None:
        level, first = self.level, self.number
        copies, sketches, sizes = [], [], []
        for kept, digest, signature, keys, sentence_keys in chunk:
            item = kept.item
            copies.append((level.level, self.number, item.doc, item.paragraph, item.lang, _compressed(item.text), bytes.fromhex(digest)))
            sketches.append(dedup.sketch_codes(signature))
            sizes.append(np.size(kept.hashes))
            for slot, held in enumerate((keys, sentence_keys)):
                if held is not None:
                    distinct = arrays.unique(np.asarray(held, dtype=np.uint64))
                    self.keys[slot].append(distinct)
                    self.numbers[slot].append(np.full(distinct.size, self.number, dtype=np.uint32))
                    self.held[slot] += distinct.size
            self.number += 1
        level.connection.executemany("INSERT INTO copies VALUES (?, ?, ?, ?, ?, ?, ?)", copies)
        level._write_sketches(np.arange(first, self.number), np.array(sketches, dtype=np.uint8), np.array(sizes, dtype="<i4"))
        for slot in (0, 1):
            if self.held[slot] >= self.run_pairs:
                self._write_run(slot)

    def finish(self) -> int:
        """Write the band pairs still held; return one past the last number written."""
        for slot in (0, 1):
            if self.keys[slot]:
                self._write_run(slot)
        return self.number

    def _write_run(self, slot: int) -> None:
        keys, numbers = np.concatenate(self.keys[slot]), np.concatenate(self.numbers[slot])
        self.keys[slot].clear()
        self.numbers[slot].clear()
        self.held[slot] = 0
        self.level.runs[slot].add(keys, numbers)


def _compressed(text: str) -> bytes:
    return zlib.compress(text.encode("utf-8", "surrogatepass"))


def _text(blob: bytes) -> str:
    """A stored copy's text (`_compressed`).

    >>> _text(_compressed("Le café, 3 µm"))
    'Le café, 3 µm'
    """
    return zlib.decompress(blob).decode("utf-8", "surrogatepass")


def sketch_block(num_perm: int) -> int:
    """Copies whose sketches share a row of the `sketches` table.

    >>> sketch_block(128), sketch_block(256), sketch_block(4096)
    (30, 15, 1)
    """
    return max(1, SKETCH_ROW_BYTES // (num_perm + 4))


def _sketch_row(level: str, block: int) -> int:
    """The row id of a level's block of sketches."""
    return (LEVELS.index(level) << 40) | block


def _end(connection: sqlite3.Connection, level: str) -> int:
    """One past the last number a copy of the level has had: deleted copies' numbers stay marked
    gone for the band runs (`band_gone`), so they are never given again."""
    space = 2 * LEVELS.index(level)
    query = """SELECT MAX(
        COALESCE((SELECT MAX(number) FROM copies WHERE level = ?), -1),
        COALESCE((SELECT MAX(number) FROM band_gone WHERE space IN (?, ?)), -1)
    ) + 1"""
    return connection.execute(query, (level, space, space + 1)).fetchone()[0]


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), _MAX_PARAMETERS):
        yield values[start : start + _MAX_PARAMETERS]


@dataclass(frozen=True)
class IndexStats:
    """What `cleaner index stats` shows."""

    path: str
    settings: dict[str, Any]
    copies: dict[str, int]
    documents: int
    band_rows: int
    bytes: int
    integrity: str | None  # None: not checked (`stats(check=True)` reads the whole index)
    free_bytes: int = 0  # of `bytes`, pages deleted rows left, reused as the index grows

    def to_record(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in fields(self)}


class BaseIndex:
    """An open persistent index, whatever holds it: the stored copies of each level
    (`dedup.StoredCopies`), and the match settings it was built with."""

    location: str
    settings: Settings
    levels: dict[str, Level]

    @property
    def path(self) -> str:
        """Where the index is, as messages and the manifest show it (a URL's password masked)."""
        return describe(self.location)

    def __enter__(self) -> BaseIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        raise NotImplementedError

    def hide(self, documents: Iterable[Document]) -> None:
        """Pass over stored copies of documents this run holds again (it decides them anew)."""
        ids = [doc.id for doc in documents]
        for level in self.levels.values():
            level.hide(ids)

    def save(self) -> dict[str, int]:
        """Add the copies kept since opening, all or nothing; return how many per level."""
        raise NotImplementedError

    def counts(self) -> dict[str, int]:
        """How many kept copies each level stores."""
        raise NotImplementedError

    def stats(self, check: bool = False) -> IndexStats:
        """Counts per level, settings and size; with `check`, the index's integrity too, which
        reads all of it (minutes for an index of 1M documents)."""
        raise NotImplementedError

    def nearest(self, documents: Sequence[Document], limit: int = 5) -> list[dict[str, Any]]:
        """The stored copies most similar to each document and each of its paragraphs.

        Candidates come from the LSH bands (what dedup would verify); similarity is exact
        Jaccard over shingles, and containment the share of the query's shingles in the copy.
        """
        fingerprinters = {level: fingerprinter(self.settings, level) for level in ("document", "paragraph")}
        results = []
        for doc in documents:
            if doc.status == "error":
                continue
            items = [Item(doc.id, None, doc.cleaned_text(), doc.lang)]
            items += [
                Item(doc.id, number, text, doc.lang)
                for number, _, text in kept_paragraphs(doc)
                if len(text.split()) >= self.settings.min_paragraph_words
            ]
            matches = []
            for item in items:
                level = "document" if item.paragraph is None else "paragraph"
                found = _nearest(self.levels[level], fingerprinters[level], item, limit)
                if found:
                    matches.append({**item.key, "level": level, "matches": found})
            results.append({"doc": doc.id, "found": matches})
        return results


class Index(BaseIndex):
    """A persistent index in an SQLite file."""

    def __init__(self, path: Path, connection: sqlite3.Connection, settings: Settings, readonly: bool = False, building: Path | None = None) -> None:
        self.location = str(path)
        self.file = path
        self.connection = connection
        self.settings = settings
        self.readonly = readonly
        self.building = building  # a new index is written here, and moved to `path` by `save`
        # lookaheads share their work with a second process where the run has more than one
        self.helper = _Helper(path, settings) if settings.processes > 1 and building is None else None
        self.levels = {level: StoredLevel(connection, level, settings, not readonly, building is not None, self.helper) for level in LEVELS}

    @classmethod
    def open(cls, path: Path | str, settings: Settings | None = None, create: bool = False, readonly: bool = False) -> BaseIndex:
        """Open the index at `path` (a file, or a redis:// URL), checking it was built with
        `settings`' match settings.

        With no `settings`, the index's own are used, read only. With `create`, a missing index
        is made with `settings`. With `readonly`, nothing is ever written (`save` is refused).

        A missing index is built in a hidden file beside `path` (no journal: copies are written
        as the run keeps them, not held until `save`), which `save` moves to `path` whole; a run
        that fails or never saves leaves nothing at `path`.
        """
        if is_redis_url(path):
            from .redis_index import RedisIndex

            return RedisIndex.open(str(path), settings, create=create, readonly=readonly)
        path = Path(path)
        readonly = readonly or settings is None
        if not path.exists() and not create:
            raise InputError(f"no index at {path}; build one with `cleaner index build IN {path}` or pass --update-index")
        if not path.parent.is_dir():
            raise InputError(f"cannot make index {path}: folder {path.parent} does not exist")
        if path.is_dir():
            raise InputError(f"index {path} is a folder; give the path of an index file (e.g. {path}/index.sqlite)")
        if not readonly and not (os.access(path.parent, os.W_OK) and (not path.exists() or os.access(path, os.W_OK))):
            raise InputError(f"cannot write index {path}: it or its folder is read-only; leave out --update-index to read it, or make both writable")
        building = None
        try:
            if readonly:
                connection = _connect_readonly(path)
            elif path.exists():
                connection = _connect(path)
            else:
                handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".building", dir=path.parent)
                os.close(handle)
                building = Path(name)
                os.chmod(building, 0o666 & ~_umask())  # as SQLite would make it (mkstemp's is 0600)
                connection = _connect(building, journal=False)
            if not readonly:
                connection.executescript(SCHEMA)
            stored = dict(connection.execute("SELECT key, value FROM settings").fetchall())
        except sqlite3.DatabaseError as error:
            raise InputError(f"{path} is not a cleaner index ({error}); give another path or delete it") from None
        recorded = {key: json.loads(value) for key, value in stored.items()}
        if not recorded:
            if settings is None or readonly:
                connection.close()
                raise InputError(f"{path} is an empty index; build it with `cleaner index build IN {path}`")
            with transaction(connection):
                connection.executemany(
                    "INSERT INTO settings VALUES (?, ?)", [(key, json.dumps(value)) for key, value in match_settings(settings).items()]
                )
            recorded = match_settings(settings)
        try:
            check_compatible(path, recorded, settings, upgradable=UPGRADABLE)
        except ConfigError:
            connection.close()
            raise
        base = settings or Settings()
        return cls(path, connection, base.updated(**{name: recorded[name] for name in MATCH_SETTINGS}), readonly, building)

    def close(self) -> None:
        if self.helper is not None:
            self.helper.close()
        if self.building is not None:  # never saved: the new index never was
            self.connection.close()
            self.building.unlink(missing_ok=True)
            return
        if not self.readonly:
            _leave_rollback_journal(self.connection)
        self.connection.close()

    def save(self) -> dict[str, int]:
        """Add the copies kept since opening, all or nothing; return how many per level.

        Stored copies of documents the run held again are replaced by what the run kept.
        """
        if self.readonly:
            raise InputError(f"index {self.path} was opened read only; open it for writing to add copies")
        added: dict[str, int] = {}
        try:
            with transaction(self.connection, immediate=True):
                for name, level in self.levels.items():
                    if self.building is None and _end(self.connection, name) != level.end:
                        raise InputError(f"index {self.path} changed while this run read it (another writer); run again")
                    level.delete_hidden()
                    added[name] = level.write_pending()
        except BaseException:
            for level in self.levels.values():
                level.forget()  # it read runs the rollback undid
            raise
        for level in self.levels.values():
            level.saved()
        if self.building is not None:
            self._publish()
        return added

    def _publish(self) -> None:
        """Move the new index from its building file to its path, on disk first: it appears
        whole or not at all. Refused if another run made an index there meanwhile (`close`
        then deletes the building file)."""
        self.connection.execute("PRAGMA journal_mode = DELETE")
        self.connection.close()
        with open(self.building, "rb+") as handle:
            os.fsync(handle.fileno())
        if not _link(self.building, self.file):
            raise InputError(f"index {self.path} was made by another run while this one built it; run again to add to it")
        self.building.unlink(missing_ok=True)
        self.building = None
        folder = os.open(self.file.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
        self.connection = _connect(self.file)
        self.levels.update({level: StoredLevel(self.connection, level, self.settings) for level in LEVELS})

    def compact(self, progress: Callable[[str], None] | None = None) -> dict[str, tuple[int, int]]:
        """Rewrite each band key space whose runs overlap as runs of disjoint key ranges
        (`BandRuns.partition`, as a new index's save does), leaving out the pairs of deleted
        copies: after many saves a lookup tests a key against every run, and each run adds
        its filter's false positives as block reads. One transaction a space (its WAL grows to
        the size of the space's pairs until the checkpoint that follows). Returns, per space
        name it rewrote, the runs before and after."""
        if self.readonly:
            raise InputError(f"index {self.path} was opened read only; open it for writing to compact it")
        done: dict[str, tuple[int, int]] = {}
        for level in self.levels.values():
            for kind, runs in zip(("", " sentences"), level.runs):
                before = len(runs.runs)
                if runs.overlapping():
                    if progress is not None:
                        progress(f"{level.level}{kind}: splitting {before} runs into key ranges")
                    try:
                        with transaction(self.connection, immediate=True):
                            runs.partition()
                    finally:
                        runs.forget()
                    self.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    done[level.level + kind] = (before, len(runs.runs))
        return done

    def counts(self) -> dict[str, int]:
        """How many kept copies each level stores."""
        found = dict(self.connection.execute("SELECT level, COUNT(*) FROM copies GROUP BY level").fetchall())
        return {level: found.get(level, 0) for level in LEVELS}

    def stats(self, check: bool = False) -> IndexStats:
        """Counts per level, settings, size on disk; with `check`, SQLite's integrity check."""
        documents = self.connection.execute("SELECT COUNT(DISTINCT doc) FROM copies").fetchone()[0]
        band_rows = sum(runs.live_pairs() for level in self.levels.values() for runs in level.runs)
        integrity = "; ".join(row[0] for row in self.connection.execute("PRAGMA integrity_check")) if check else None
        files = [self.file, self.file.with_name(self.file.name + "-wal")]
        size = sum(path.stat().st_size for path in files if path.exists())
        recorded = {key: json.loads(value) for key, value in self.connection.execute("SELECT key, value FROM settings ORDER BY key")}
        return IndexStats(self.path, recorded, self.counts(), documents, band_rows, size, integrity, _free_bytes(self.connection))


class Upgraded(NamedTuple):
    format: int  # the index's format before
    pairs: int  # band pairs rewritten (0: it had this format)
    free_bytes: int  # pages the old rows left free in the file, reused as the index grows


def upgrade(path: Path | str, progress: Callable[[int, int], None] | None = None) -> Upgraded:
    """Rewrite an index file of an earlier format in this one, in place, where the copies and
    sketches are kept as they are: format 9, whose band runs become this format's
    (`bandruns.upgrade_format_9`: a transaction a run, so it goes on where it stopped when run
    again). The file keeps its size: what the old rows took is free pages in it."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no index file at {path}")
    if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
        raise InputError(f"cannot upgrade index {path}: it or its folder is read-only")
    connection = None
    try:
        connection = _connect(path)
        recorded = {key: json.loads(value) for key, value in connection.execute("SELECT key, value FROM settings")}
    except sqlite3.DatabaseError as error:
        if connection is not None:
            connection.close()
        raise InputError(f"{path} is not a cleaner index ({error})") from None
    try:
        format = recorded.get("format")
        if format == FORMAT_VERSION:
            return Upgraded(format, 0, _free_bytes(connection))
        if format not in UPGRADABLE:
            raise ConfigError(f"index {path} has format {format!r}, and only format 9 upgrades to {FORMAT_VERSION} in place; build a new index with `cleaner index build`")
        with transaction(connection, immediate=True):
            bandruns.set_format_9_aside(connection)
        runs = connection.execute("SELECT space, run, pairs FROM band_runs ORDER BY space, run").fetchall()
        total, done, rewritten = sum(pairs for _, _, pairs in runs), 0, 0
        for space, run, pairs in runs:  # a transaction a run: a stopped upgrade goes on from there
            with transaction(connection, immediate=True):
                written = bandruns.upgrade_run_9(connection, space, run)
            done, rewritten = done + pairs, rewritten + written
            if written and progress is not None:
                progress(done, total)
        with transaction(connection, immediate=True):
            bandruns.finish_upgrade(connection)
            connection.executemany("UPDATE settings SET value = ? WHERE key = ?", [(json.dumps(FORMAT_VERSION), "format"), (json.dumps(__version__), "cleaner")])
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        _leave_rollback_journal(connection)
        return Upgraded(format, rewritten, _free_bytes(connection))
    finally:
        connection.close()


def _leave_rollback_journal(connection: sqlite3.Connection) -> None:
    """Leave a written file in rollback-journal mode, so readers need not create -wal and -shm
    files beside it; while another connection has it open it stays in WAL mode."""
    try:
        connection.execute("PRAGMA busy_timeout = 0")
        connection.execute("PRAGMA journal_mode = DELETE")
    except sqlite3.OperationalError:
        pass


def _free_bytes(connection: sqlite3.Connection) -> int:
    """Bytes of the file's free pages (deleted rows')."""
    return connection.execute("PRAGMA freelist_count").fetchone()[0] * connection.execute("PRAGMA page_size").fetchone()[0]


def _link(source: Path, target: Path) -> bool:
    """Give the file `source` the name `target` too, unless `target` exists (False): a rename
    would replace it."""
    try:
        os.link(source, target)
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links
        if target.exists():
            return False
        os.replace(source, target)
    return True


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _connect(path: Path, journal: bool = True) -> sqlite3.Connection:
    """Open an SQLite file to write: in WAL mode, or with no journal at all (a new index's
    building file, thrown away whole if the run fails)."""
    connection = sqlite3.connect(path, isolation_level=None)
    if journal:
        connection.execute("PRAGMA journal_mode = WAL")
    else:
        connection.execute("PRAGMA journal_mode = OFF")
        connection.execute("PRAGMA synchronous = OFF")
    connection.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
    return connection


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """Open an SQLite file read only: `mode=ro`, or `immutable` for a WAL-mode file whose folder
    cannot be written (SQLite can then make no -shm file, and nobody can be writing it)."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    connection = sqlite3.connect(uri, uri=True, isolation_level=None)
    try:
        connection.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        connection.close()
        if os.access(path.parent, os.W_OK):
            raise
        connection = sqlite3.connect(uri + "&immutable=1", uri=True, isolation_level=None)
    connection.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
    return connection


def _nearest(level: Level, fingerprints: Fingerprinter, item: Item, limit: int) -> list[dict[str, Any]]:
    hashes, signature = fingerprints.fingerprint(item.text)
    [sentences] = dedup.sentence_keys(fingerprints, level.sentence_bands, [item.text])
    numbers = level.candidates(level.bands.keys(signature), sentences)
    exact = level.exact(exact_digest(item.text))
    if exact is not None:
        numbers.add(exact)
    level.prefetch(sorted(numbers))
    found = []
    for number in numbers:
        copy = level.copy(number)
        stored, stored_hashes = copy.item, copy.hashes
        inside = shared_count(hashes, stored_hashes) / hashes.size if hashes.size else 0.0
        found.append(
            {
                **stored.key,
                "jaccard": round(jaccard(hashes, stored_hashes), 4),
                "containment": round(inside, 4),
                "text": stored.text[:SNIPPET],
            }
        )
    found.sort(key=lambda match: (-max(match["jaccard"], match["containment"]), match["doc"], match.get("paragraph") or 0))
    return found[:limit]


def check_compatible(
    path: Path | str, recorded: dict[str, Any], settings: Settings | None, format: int = FORMAT_VERSION, upgradable: Sequence[int] = ()
) -> None:
    """Refuse an index of another format (naming `cleaner index upgrade` for an `upgradable`
    one), or built with other match settings than this run's."""
    if recorded.get("format") != format:
        remedy = f"upgrade it in place with `cleaner index upgrade {path}`" if recorded.get("format") in upgradable else "build a new index with `cleaner index build`"
        raise ConfigError(f"index {path} has format {recorded.get('format')!r}, this cleaner reads format {format}; {remedy}")
    if settings is None:
        return
    for name in MATCH_SETTINGS:
        if recorded.get(name) != getattr(settings, name):
            key = name.replace("_", "-")
            raise ConfigError(
                f"index {path} was built with {key} = {recorded.get(name)!r} but this run uses {getattr(settings, name)!r}; "
                f"run with {key} = {recorded.get(name)!r} or build a new index"
            )


@contextmanager
def transaction(connection: sqlite3.Connection, immediate: bool = False) -> Iterator[None]:
    """All or nothing: commit when the block ends, roll back when it raises."""
    connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


@contextmanager
def open_index(path: Path | str | None, settings: Settings, create: bool = False) -> Iterator[BaseIndex | None]:
    """`Index.open` as a context, passing None through (a run without an index); read only
    unless `create` (a run that adds its copies)."""
    if path is None:
        yield None
        return
    if settings.split_components:
        raise ConfigError(SPLIT_WITH_INDEX)
    index = Index.open(path, settings, create=create, readonly=not create)
    try:
        yield index
    finally:
        index.close()


def render_stats(stats: IndexStats) -> str:
    """`cleaner index stats` as text: counts, size, integrity, then the recorded settings."""
    lines = [
        f"index      {stats.path}",
        *(f"{level + 's':<10} {count:,}" for level, count in stats.copies.items()),
        f"from       {stats.documents:,} documents",
        f"band rows  {stats.band_rows:,}",
        f"size       {stats.bytes:,} bytes" + (f" ({stats.free_bytes:,} of them free pages, reused as the index grows)" if stats.free_bytes else ""),
        f"integrity  {stats.integrity or 'not checked (--check reads the whole index)'}",
        "settings",
        *(f"  {key.replace('_', '-')} = {json.dumps(value)}" for key, value in stats.settings.items()),
    ]
    return "\n".join(lines) + "\n"


def render_nearest(results: list[dict[str, Any]], width: int = 60) -> str:
    """`cleaner index query` as text: each document, then its and its paragraphs' nearest copies."""
    lines = []
    for result in results:
        lines.append(f"{result['doc']}: {'no stored copy shares a band' if not result['found'] else ''}".rstrip())
        for found in result["found"]:
            where = "document" if found["level"] == "document" else f"paragraph {found['paragraph']}"
            lines.append(f"  {where}")
            for match in found["matches"]:
                stored = match["doc"] if "paragraph" not in match else f"{match['doc']} ¶{match['paragraph']}"
                snippet = " ".join(match["text"].split())
                snippet = snippet if len(snippet) <= width else snippet[: width - 1] + "…"
                lines.append(f"    {match['jaccard']:.2f} jaccard  {match['containment']:.2f} contained  {stored:<24} {snippet}")
    return "\n".join(lines) + "\n"
