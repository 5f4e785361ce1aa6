"""Find exact and near-duplicate documents and paragraphs, keep one copy, and say why.

The one global stage. Items (documents, then paragraphs of the kept documents) are visited in
keep order; each is compared only with the *kept copies* seen so far: first by an exact hash of
its canonical text, then through MinHash LSH candidates verified by exact Jaccard over the
shingle hashes. An item that matches is removed and joins the cluster of the kept copy it
matched; otherwise it becomes a kept copy itself. Because members are verified against the
kept copy, never against other members, clusters cannot chain unrelated texts together, and
the result depends only on the documents and the keep policy, never on input order or workers.
"""

from __future__ import annotations

import hashlib
import math
import pickle
import re
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from collections import Counter, deque
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import ExitStack
from array import array
from typing import Any, Callable, Iterable, Iterator, Mapping, NamedTuple, Protocol, Sequence

import numpy as np

from . import arrays
from .arena import Arena, ArenaError, bound_heap
from .config import Settings, parse_shingling
from .document import Document, Reason, Removal
from .errors import ConfigError
from .facts import fact_difference, facts
from .fastminhash import Fingerprinter, canonical_utf8, chosen_kernel, load_kernel
from .lsh import BandIndex
from .minhash import shared_count
from .progress import ProgressCallback, reporting
from .shuffle import EarlierItems, KeyShuffle, partitions_for
from .store import DocumentStore, statuses

DUPLICATE_DOCUMENT = ("DD001", "duplicate-document")
DUPLICATE_PARAGRAPH = ("DD002", "duplicate-paragraph")
DOCUMENT_CONTAINMENT_MIN_WORDS = 50
# Sentences of kept copies are indexed at no lower a Jaccard than this (see `sentence_bands`).
SENTENCE_MIN_THRESHOLD = 0.65
# A candidate is verified exactly unless its MinHash sketch makes a match this unlikely (per pair).
SKETCH_MISS_RATE = 1e-6

_ALL_NOUNS_CAPITALISED = frozenset({"de", "lb"})

FactGuard = Callable[[Counter[str], Counter[str]], bool]


def paragraph_facts_differ(a: Counter[str], b: Counter[str]) -> bool:
    """Paragraphs: each states two or more numbers or names the other lacks (a filled template)."""
    return fact_difference(a, b) >= 2


def document_facts_differ(a: Counter[str], b: Counter[str]) -> bool:
    """Documents: a third of the facts differ (at least two), or three or more numbers, at least
    half of the smaller side's numbers, differ on each side. Absolute counts would veto long
    articles with a few corrected figures."""
    difference = fact_difference(a, b)
    if difference >= 2 and difference >= 0.34 * min(sum(a.values()), sum(b.values())):
        return True
    numbers_a = Counter({k: v for k, v in a.items() if k.startswith("#")})
    numbers_b = Counter({k: v for k, v in b.items() if k.startswith("#")})
    changed = fact_difference(numbers_a, numbers_b)
    return changed >= 3 and changed >= 0.5 * min(sum(numbers_a.values()), sum(numbers_b.values()))


@dataclass(frozen=True)
class Item:
    """One document or paragraph as dedup sees it: where it is, its text and its language."""

    doc: str
    paragraph: int | None
    text: str
    lang: str | None = None
    # A kept copy read from a persistent index (cleaner/index.py): its text whole, or from Redis a snippet.
    stored: bool = False

    def facts(self) -> Counter[str]:
        # Names are told by capitals, which German gives to every noun: numbers only there.
        return facts(self.text, names=self.lang not in _ALL_NOUNS_CAPITALISED)

    @property
    def key(self) -> dict[str, Any]:
        return {"doc": self.doc} if self.paragraph is None else {"doc": self.doc, "paragraph": self.paragraph}


@dataclass(frozen=True)
class Member:
    """An item removed as a duplicate of a cluster's kept copy, and how similar it was."""

    item: Item
    similarity: float
    measure: str = "jaccard"


@dataclass
class Cluster:
    """A kept copy and the items removed as its duplicates."""

    id: str
    level: str
    canonical: Item
    members: list[Member] = field(default_factory=list)

    def to_record(self, snippet: int = 200) -> dict[str, Any]:
        documents = sorted({self.canonical.doc, *(member.item.doc for member in self.members)})
        record: dict[str, Any] = {
            "cluster": self.id,
            "level": self.level,
            "size": 1 + len(self.members),
            "canonical": {**self.canonical.key, "text": _snippet(self.canonical.text, snippet)},
            "members": [
                {
                    **member.item.key,
                    "similarity": round(member.similarity, 4),
                    "measure": member.measure,
                    "text": _snippet(member.item.text, snippet),
                }
                for member in self.members
            ],
        }
        if self.canonical.stored:
            record["canonical"]["stored"] = True
        if self.level == "paragraph":
            record["documents"] = documents
        return record


def _snippet(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


@dataclass(frozen=True)
class Features:
    """What matching needs of an item: its exact digest, shingle hashes, MinHash signature, LSH
    band keys, and its sentences' band keys (None without containment or sentences)."""

    digest: str
    hashes: np.ndarray
    signature: np.ndarray
    keys: np.ndarray
    sentence_keys: np.ndarray | None


class Earlier(NamedTuple):
    """What a shuffle says of one item (cleaner/shuffle.py): its number in visit order, the
    earlier items that share a band key with it, and those whose digest starts as its does."""

    visit: int
    sharing: np.ndarray
    same_digest: np.ndarray


@dataclass
class FeatureBatch:
    """The features of many texts in a few arrays: row i of `signatures` and `keys`, hashes
    `hashes[hash_starts[i]:hash_starts[i + 1]]`, sentence band keys likewise (none: None)."""

    digests: list[str]
    signatures: np.ndarray
    hashes: np.ndarray
    hash_starts: np.ndarray | None  # None: hashes left out (`slim`)
    keys: np.ndarray
    sentence_keys: np.ndarray
    sentence_starts: np.ndarray
    sizes: np.ndarray  # shingle hashes of each item, kept when they are left out
    words: np.ndarray  # words of each item (containment asks for enough of them)

    def slim(self) -> FeatureBatch:
        """What matching needs to keep when the band keys have gone to a shuffle and no
        persistent index is asked: digests and the sketch of each signature (`sketch_codes`).
        Shingle hashes are computed again from the texts when the batch is read back
        (`unpack(hashes)`): ~5 us a paragraph, against 4 bytes a character on disk (20 KB a
        news article, a third of a run's temporary space)."""
        return FeatureBatch(
            self.digests, sketch_of(self.signatures), np.empty(0, dtype=np.uint32), None,
            np.empty((len(self.digests), 0), dtype=np.uint64), np.empty((0, 0), dtype=np.uint64),
            np.zeros(len(self.digests) + 1, dtype=np.int64), self.sizes, self.words,
        )

    @staticmethod
    def joined(batches: Sequence[FeatureBatch]) -> FeatureBatch:
        """The items of these batches one after another, shingle hashes left out (a lookup and
        a sketch test need the rest)."""
        if len(batches) == 1:
            return batches[0]
        ends = np.cumsum([0, *(int(batch.sentence_starts[-1]) for batch in batches)])
        return FeatureBatch(
            [digest for batch in batches for digest in batch.digests],
            np.concatenate([batch.signatures for batch in batches]),
            np.empty(0, dtype=np.uint32),
            None,
            np.concatenate([batch.keys for batch in batches]),
            np.concatenate([batch.sentence_keys for batch in batches]),
            np.concatenate([*(batch.sentence_starts[:-1] + end for batch, end in zip(batches, ends)), ends[-1:]]),
            np.concatenate([batch.sizes for batch in batches]),
            np.concatenate([batch.words for batch in batches]),
        )

    def unpack(self, hashes: Sequence[np.ndarray] | None = None) -> list[Features]:
        """Each item's features; `hashes` (one array per item) where `slim` left them out."""
        if self.hash_starts is None:
            assert hashes is not None and len(hashes) == len(self.digests), "a slim batch is unpacked with its items' hashes"
        else:
            starts = self.hash_starts.tolist()
            hashes = [self.hashes[starts[row] : starts[row + 1]] for row in range(len(self.digests))]
        sentence_starts = self.sentence_starts.tolist()
        return [
            Features(
                digest,
                hashes[row],
                self.signatures[row],
                self.keys[row],
                self.sentence_keys[sentence_starts[row] : sentence_starts[row + 1]] if sentence_starts[row + 1] > sentence_starts[row] else None,
            )
            for row, digest in enumerate(self.digests)
        ]


def _joined(parts: Sequence[np.ndarray | None], dtype: type, empty_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Arrays (None: empty) one after another, and where each starts (one more than there are)."""
    lengths = [0 if part is None else len(part) for part in parts]
    starts = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    present = [part for part in parts if part is not None and len(part)]
    return (np.concatenate(present).astype(dtype, copy=False) if present else np.empty(empty_shape, dtype=dtype)), starts


@dataclass
class Kept:
    """A kept copy as the index holds it: the item, its shingle hashes, its facts once asked."""

    item: Item
    hashes: np.ndarray
    facts: Counter[str] | None = None

    @cached_property
    def words(self) -> int:
        return len(self.item.text.split())

    def item_facts(self) -> Counter[str]:
        if self.facts is None:
            self.facts = self.item.facts()
        return self.facts


# Kept copies read back from the arena and held whole, at most; and the most copies whose facts
# (the guard's) are held beyond those (a Counter each, ~1 KB: unbounded, they grew with the corpus).
RECENT_COPIES = 4096
FACTS_HELD = 65536


class KeptCopies:
    """The copies one level kept in this run, numbered from 0 in keep order.

    Memory holds each copy's document, paragraph and language; its shingle hashes and text go to
    an `Arena` (a temporary file) and are read back when a candidate needs verifying or a
    cluster its kept copy: at 100k documents that is about 2 GB less, growing with the corpus.
    Copies read recently are held whole, so a background paragraph that many articles reuse is
    read once; the facts the guard computed of the last FACTS_HELD copies are held too.
    """

    def __init__(self, arena: Arena | None = None, recent: int | None = None) -> None:
        self._arena = arena or Arena()
        self._docs: list[str] = []
        self._paragraphs = array("q")  # -1: a document
        self._langs: list[str | None] = []
        self._sizes = array("q")  # shingle hashes of each copy
        self._recent: dict[int, Kept] = {}
        self._recent_limit = RECENT_COPIES if recent is None else recent
        self._facts: dict[int, Counter[str]] = {}
        self._scratch = np.empty(1024, dtype=np.uint32)  # the largest copy `shared_counts` read

    def __len__(self) -> int:
        return len(self._docs)

    def append(self, kept: Kept) -> None:
        item, hashes = kept.item, kept.hashes.astype(np.uint32, copy=False)
        self._arena.append(hashes.tobytes() + item.text.encode("utf-8", "surrogatepass"))
        self._docs.append(item.doc)
        self._paragraphs.append(-1 if item.paragraph is None else item.paragraph)
        self._langs.append(item.lang)
        self._sizes.append(hashes.size)

    def __getitem__(self, number: int) -> Kept:
        kept = self._recent.get(number)
        if kept is None:
            blob, size = self._arena[number], self._sizes[number]
            paragraph = self._paragraphs[number]
            text = blob[4 * size :].decode("utf-8", "surrogatepass")
            item = Item(self._docs[number], None if paragraph < 0 else paragraph, text, self._langs[number])
            kept = Kept(item, np.frombuffer(blob, dtype=np.uint32, count=size), self._facts.get(number))
            if len(self._recent) >= self._recent_limit:
                self._forget_recent()
            self._recent[number] = kept
        return kept

    def shared_counts(self, rows: np.ndarray, hashes: np.ndarray) -> tuple[list[int], list[int]]:
        """For copies `rows`: how many of the sorted unique `hashes` each holds, and its size.
        Only the copies' hashes are read, in one compiled call where the kernel loads."""
        sizes = [self._sizes[row] for row in rows.tolist()]
        if not sizes:
            return [], []
        kernel = load_kernel()
        if kernel is None:
            counts = [shared_count(hashes, np.frombuffer(self._arena.prefix(row, 4 * size), dtype=np.uint32)) for row, size in zip(rows.tolist(), sizes)]
            return counts, sizes
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        query = np.ascontiguousarray(hashes, dtype=np.uint32)
        if self._scratch.size < max(sizes):
            self._scratch = np.empty(max(max(sizes), 2 * self._scratch.size), dtype=np.uint32)
        counts = np.empty(rows.size, dtype=np.int64)
        with self._arena.located() as (fd, written, buffer, starts):
            status = kernel.kc_shared(
                fd, written, buffer, starts, self._sizes.buffer_info()[0], rows.ctypes.data, rows.size, query.ctypes.data,
                query.size, self._scratch.ctypes.data, counts.ctypes.data,
            )
        if status < 0:
            raise ArenaError("the run's temporary file of kept copies came back short")
        return counts.tolist(), sizes

    def facts_held(self, number: int) -> Counter[str] | None:
        """The guard's facts of a copy, if they were computed and are still held."""
        kept = self._recent.get(number)
        return kept.facts if kept is not None and kept.facts is not None else self._facts.get(number)

    def hold_facts(self, number: int, facts: Counter[str]) -> None:
        """Hold the guard's facts of a copy that were computed elsewhere (a pool's task)."""
        kept = self._recent.get(number)
        if kept is not None:
            kept.facts = facts
        else:
            self._facts[number] = facts

    def _forget_recent(self) -> None:
        """Let the recent copies go, but not the facts the guard computed of them: a copy that
        was compared to the end once is likely to be again (the kept copy of a cluster)."""
        self._facts.update((number, kept.facts) for number, kept in self._recent.items() if kept.facts is not None)
        self._recent.clear()
        if len(self._facts) > FACTS_HELD:  # the latest half stays; the others are computed again if asked
            self._facts = dict(list(self._facts.items())[-FACTS_HELD // 2 :])

    def close(self) -> None:
        self._arena.close()
        self._recent.clear()
        self._facts.clear()


# The sketch test of stored copies for (item, copy) pairs: the items' rows in a batch, rows of
# copies' sketches and their shingle counts, and each pair's row of those; which pairs may
# match (`NearDuplicateIndex.sketch_test`).
SketchTest = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass
class PairTest:
    """`NearDuplicateIndex.sketch_test` of one batch (a `SketchTest`; it pickles, so a store may
    test pairs in another process): the items' sketches, shingle counts and containments, and
    the level's threshold and agreement tables. Called with the pairs' item rows, rows of
    copies' sketches and shingle counts (a store's arrays as they are) and each pair's row of
    them. The compiled `sk_pairs` tests each pair where it lies; numpy gathers the pairs' rows
    first (~10M pairs, 1.2 GB of sketches, for a 1k batch against 1M documents)."""

    sketches: np.ndarray
    sizes: np.ndarray
    contain: np.ndarray
    threshold: float
    least: np.ndarray  # `Sketches.least`
    contained: np.ndarray  # `Sketches.contained`

    def __call__(self, rows: np.ndarray, held: np.ndarray, sizes: np.ndarray, places: np.ndarray) -> np.ndarray:
        if (kernel := chosen_kernel()) is None or not held.flags.c_contiguous or not sizes.flags.c_contiguous:
            return sketch_passing(
                held[places], sizes[places].astype(np.int64), self.sketches[rows], self.sizes[rows], self.threshold, self.contain[rows], self.contained
            )
        rows, places = np.ascontiguousarray(rows, dtype=np.int64), np.ascontiguousarray(places, dtype=np.int64)
        sizes = sizes.astype("<i4", copy=False)
        out = np.empty(rows.size, dtype=np.uint8)
        kernel.sk_pairs(
            rows.ctypes.data, places.ctypes.data, rows.size, self.sketches.ctypes.data, self.sizes.ctypes.data, self.contain.ctypes.data,
            held.ctypes.data, sizes.ctypes.data, held.shape[1], self.threshold, self.least.ctypes.data, out.ctypes.data,
        )
        return out.view(bool)


class StoredCopies(Protocol):
    """Kept copies established before this run (a persistent index, cleaner/index.py).

    They are numbered below `len()` in their keep order and come before any copy kept in this
    run, so that matching against them gives what deduplicating old and new together would.
    Band keys are those of the level's `BandIndex` (and of its sentence index).
    """

    def __len__(self) -> int: ...

    def exact(self, digest: str) -> int | None: ...

    def lookahead(self, batch: FeatureBatch, skipped: np.ndarray, test: SketchTest, last: bool = False) -> list[np.ndarray | None] | None:
        """The next items' features, all at once, before `exact` and `candidates` ask them item
        by item (`skipped`: items that will not be asked; `last`: no lookahead follows in this
        run). A store may answer here, per item, the stored copies `candidates` would name that
        pass `test` (ascending; None for an item it leaves to `candidates`), or None for all."""
        ...

    def candidates(self, keys: np.ndarray, sentence_keys: np.ndarray | None) -> set[int]: ...

    def sketches(self, numbers: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """The sketch (`sketch_codes` of the signature) and shingle count of each of these copies."""
        ...

    def prefetch(self, numbers: Sequence[int]) -> None:
        """Read these copies whole at once (`copy` of each follows)."""
        ...

    def copy(self, number: int) -> Kept: ...

    def hashes(self, number: int) -> np.ndarray:
        """A copy's shingle hashes (`copy(number).hashes`, which a store may have read ahead)."""
        ...

    def add(self, kept: Kept, digest: str, signature: np.ndarray, keys: np.ndarray, sentence_keys: np.ndarray | None) -> None: ...


class NearDuplicateIndex:
    """Kept copies of one level: exact hashes, LSH over signatures, and shingle sets to verify.

    With `containment` set, the sentences of kept copies are indexed too, so that a short item
    found inside a longer kept copy (a background sentence reused in a longer paragraph) becomes
    a candidate; it matches when that share of its shingles lies in the kept copy. Only the
    contained item is ever removed, never the longer one, which may carry new text.

    With `stored`, the copies of a persistent index come first; copies kept here are numbered
    after them and handed to `stored.add`, which may save them.
    """

    def __init__(
        self,
        fingerprinter: Fingerprinter,
        threshold: float,
        containment: float | None = None,
        containment_min_words: int = 0,
        guard: FactGuard | None = None,
        stored: StoredCopies | None = None,
        sentence_floor: float = SENTENCE_MIN_THRESHOLD,
    ) -> None:
        self.fingerprinter = fingerprinter
        self.threshold = threshold
        self.containment = containment
        self.containment_min_words = containment_min_words
        self.guard = guard
        num_perm = fingerprinter.num_perm
        self.lsh: BandIndex = BandIndex(threshold, num_perm)
        self.sentence_lsh = sentence_bands(threshold, containment, num_perm, sentence_floor)
        # Kept copies by the first 128 bits of their digest (49 bytes a key, not a 113-byte hex str).
        self.exact: dict[bytes, int] = {}
        self.kept = KeptCopies()
        self.sketches = Sketches(num_perm, containment)
        self.stored = stored
        self.first = len(stored) if stored is not None else 0
        # With a shuffle (`expect`): the kept copy row of each item visited, -1 if not kept, and
        # the digest (first 16 bytes) of each kept copy by row.
        self._rows: np.ndarray | None = None
        self._digests: np.ndarray | None = None

    def expect(self, items: int) -> None:
        """Take candidates from a shuffle from now on: `match_or_keep` is told, for each of the
        `items` items in visit order, the earlier ones that share a band key with it, and the
        band maps and the exact table stay empty (cleaner/shuffle.py). Arrays are sized for
        every item to be kept; the OS gives a page only when it is written."""
        self._rows = np.full(items, -1, dtype=np.int32)
        self._digests = np.empty((items, 16), dtype=np.uint8)
        self.sketches.reserve(items)

    def features(self, texts: Sequence[str]) -> list[Features]:
        """What matching needs of each text, computed for many texts in a few batched calls."""
        return self.feature_batch(texts).unpack()

    def feature_batch(self, texts: Sequence[str], sketched: bool = False) -> FeatureBatch:
        """The features of many texts in a few arrays (quick to pickle from another process);
        `sketched`: each signature's sketch in its place (what matching needs of it when no
        persistent index keeps signatures), a quarter of the bytes."""
        signatures, hashes = self.fingerprinter.fingerprints(texts)
        sentences = sentence_keys(self.fingerprinter, self.sentence_lsh, texts)
        keys = self.lsh.keys(signatures)
        return FeatureBatch(
            [exact_digest(text) for text in texts],
            sketch_codes(signatures) if sketched else signatures,
            *_joined(hashes, np.uint32, (0,)),
            keys,
            *_joined(sentences, np.uint64, (0, self.sentence_lsh.bands if self.sentence_lsh else 0)),
            np.array([part.size for part in hashes], dtype=np.int64),
            np.array([len(text.split()) for text in texts], dtype=np.int64),
        )

    def containments(self, batch: FeatureBatch) -> np.ndarray:
        """Per item of the batch, the containment it may match by: the level's, or 0 for an
        item of too few words (as `match_or_keep` decides it)."""
        return np.where(batch.words >= self.containment_min_words, self.containment or 0.0, 0.0)

    def sketch_test(self, batch: FeatureBatch) -> SketchTest:
        """The sketch test `match_or_keep` gives a persistent index's candidates, for pairs of
        this batch's items and stored copies at once (`PairTest`)."""
        return PairTest(
            np.ascontiguousarray(sketch_of(batch.signatures)), np.ascontiguousarray(batch.sizes, dtype=np.int64),
            np.ascontiguousarray(self.containments(batch), dtype=np.float64), self.threshold, self.sketches.least, self.sketches.contained,
        )

    def match_or_keep(
        self, item: Item, features: Features | None = None, earlier: Earlier | None = None, stored: np.ndarray | None = None
    ) -> tuple[int, float, str] | None:
        """Return (kept copy number, similarity, measure) of the best kept copy this item
        duplicates, or None; an item that duplicates nothing becomes a kept copy. `features`
        are the item's, if `features()` computed them already; after `expect`, `earlier` says
        which earlier items it may match; `stored`, the persistent index's copies that pass its
        sketch test, where the index's `lookahead` found them (else they are asked here)."""
        features = features or self.features([item.text])[0]
        digest, hashes, signature, keys, sentence_keys = (
            features.digest, features.hashes, features.signature, features.keys, features.sentence_keys
        )
        if (number := self._exact(digest, earlier)) is not None:
            return number, 1.0, "jaccard"
        if self.stored is not None and (number := self.stored.exact(digest)) is not None:
            return number, 1.0, "jaccard"
        candidate = Kept(item, hashes)
        contain = self.containment if self.containment and candidate.words >= self.containment_min_words else 0.0
        sketch = sketch_of(signature)  # once: the candidate filter reads it, and so does a new kept copy
        if self._rows is not None:
            assert earlier is not None, "an index taking candidates from a shuffle is told each item's earlier ones"
            candidates = self.sketches.plausible_earlier(earlier.sharing, self._rows, sketch, hashes.size, self.threshold, contain, self.first)
        else:
            lookups = [(self.lsh, keys)] if sentence_keys is None else [(self.lsh, keys), (self.sentence_lsh, sentence_keys)]
            candidates = self.sketches.plausible(lookups, sketch, hashes.size, self.threshold, contain, self.first)
        if self.stored is not None and stored is None and (named := self.stored.candidates(keys, sentence_keys)):
            stored = np.array(sorted(named), dtype=np.int64)
            held, sizes = self.stored.sketches(stored.tolist())
            stored = stored[sketch_passing(held, sizes, sketch, hashes.size, self.threshold, contain, self.sketches.contained)]
        if stored is not None and stored.size:
            self.stored.prefetch(stored.tolist())  # only these are read whole
            candidates = arrays.unique(np.concatenate((candidates, stored)))
        best = self._best(candidate, candidates)
        if best is None:
            if self._rows is not None:
                self._rows[earlier.visit] = len(self.kept)
            self._keep(candidate, digest, sketch, keys, sentence_keys)
            if self.stored is not None:
                self.stored.add(candidate, digest, signature, keys, sentence_keys)
        return best

    def _exact(self, digest: str, earlier: Earlier | None) -> int | None:
        """The number of the copy kept here with this digest, if any (there is one at most)."""
        key = bytes.fromhex(digest[:32])
        if self._rows is None:
            return self.exact.get(key)
        assert earlier is not None, "an index taking candidates from a shuffle is told each item's earlier ones"
        if not earlier.same_digest.size:
            return None
        rows = self._rows[earlier.same_digest]
        rows = rows[rows >= 0]
        same = rows[(self._digests[rows] == np.frombuffer(key, dtype=np.uint8)).all(axis=1)]
        return self.first + int(same[0]) if same.size else None

    def copy(self, number: int) -> Kept:
        """The kept copy with this number, stored or kept here."""
        return self.stored.copy(number) if number < self.first else self.kept[number - self.first]

    def _best(self, candidate: Kept, numbers: np.ndarray) -> tuple[int, float, str] | None:
        """(number, similarity, measure) of the candidate (ascending numbers) the item matches
        best, the first of equals; None if it matches none. Every candidate is verified
        exactly on the shingle hashes; only a match is read whole (for the guard's facts)."""
        stored = [self.stored.hashes(number) for number in numbers[numbers < self.first].tolist()]  # these come first
        counts, sizes = self.kept.shared_counts(numbers[numbers >= self.first] - self.first, candidate.hashes)
        counts = [shared_count(candidate.hashes, hashes) for hashes in stored] + counts
        sizes = [hashes.size for hashes in stored] + sizes
        best: tuple[int, float, str] | None = None
        for number, shared, size in zip(numbers.tolist(), counts, sizes):
            found = self._judge(candidate, shared, size, lambda: self.copy(number))
            if found and (best is None or found[0] > best[1]):
                best = (number, *found)
        return best

    def _judge(self, candidate: Kept, shared: int, size: int, copy: Callable[[], Kept]) -> tuple[float, str] | None:
        """(similarity, measure) when the item matches a copy (`_measure`) and the fact guard
        lets it; else None. `copy` is read only for the guard."""
        found = self._measure(candidate, shared, size)
        if found and self.guard and self.guard(candidate.item_facts(), copy().item_facts()):
            return None
        return found

    def _measure(self, candidate: Kept, shared: int, size: int) -> tuple[float, str] | None:
        """(similarity, measure) when an item sharing `shared` hashes with a kept copy of `size`
        hashes matches it by Jaccard or, if it may, by containment; else None."""
        hashes = candidate.hashes
        union = hashes.size + size - shared
        similarity = shared / union if union else 1.0
        if similarity >= self.threshold:
            return similarity, "jaccard"
        if self.containment and hashes.size and candidate.words >= self.containment_min_words:
            inside = shared / hashes.size
            return (inside, "containment") if inside >= self.containment else None
        return None

    def close(self) -> None:
        """Let go of the kept copies' temporary file (the index cannot match after this)."""
        self.kept.close()

    def _keep(self, kept: Kept, digest: str, sketch: np.ndarray, keys: np.ndarray, sentence_keys: np.ndarray | None) -> None:
        number = self.first + len(self.kept)
        self.kept.append(kept)
        self.sketches.add(sketch, kept.hashes.size)
        if self._digests is not None:
            self._digests[number - self.first] = np.frombuffer(bytes.fromhex(digest[:32]), dtype=np.uint8)
            return  # candidates come from a shuffle
        self.exact[bytes.fromhex(digest[:32])] = number
        self.lsh.insert(number, keys)
        if sentence_keys is not None:
            self.sentence_lsh.insert(number, sentence_keys)

class Sketches:
    """One byte of each MinHash value of every kept copy and its shingle count: enough to rule
    out most chance candidates at 137 bytes a copy.

    The byte is an order-keeping code of the value (`sketch_codes`, after b-bit minwise hashing,
    Li & König 2010, which keeps low bits instead). Two tests, each failing a pair that does
    match with probability below `SKETCH_MISS_RATE` (binomial tails), rule a candidate out; exact
    verification decides every other one, so they only ever save work:

    - Agreement: equal values give equal codes, so a pair of Jaccard J agrees on at least a
      Binomial(num_perm, J) number of codes; too few rules out the lowest Jaccard that could
      still match (the threshold, or what containment implies from the two sizes).
    - Containment (items long enough for it): for each permutation the lowest value of the union
      lies in the item and not the kept copy (the item's value is then the lower; a lower code
      proves it), or in both (equal values). Among those permutations it lies in both with
      probability |item & copy| / |item|, the containment itself. A short item that shares one
      sentence with a long copy agrees on a few values, as a contained one would on a long copy,
      but shows the lower value on most of the others: ruled out. A code tie counts as
      agreement, which only lets more through.

    Most LSH candidates are such chance pairs: unrelated paragraphs share 2-5% of their
    character 5-grams, a sentence reused in other paragraphs brings each of them, and every kept
    copy adds some, so candidates per item grow with the corpus. `plausible` and
    `plausible_earlier` gather candidates and read their sketches in one compiled call (each
    candidate once, by a stamp per copy); without the kernel, numpy.
    """

    def __init__(self, num_perm: int, containment: float | None = None) -> None:
        self.num_perm = num_perm
        self._bytes = np.empty((1024, num_perm), dtype=np.uint8)
        self._sizes = np.empty(1024, dtype=np.int64)
        self._stamps = np.zeros(1024, dtype=np.int32)
        self._out = np.empty(1024, dtype=np.int32)
        self._stamp = 0
        self._count = 0
        # the kernel's one table: fewest agreements by Jaccard grid, then by containment trials
        self._contained = _least_contained(num_perm, containment or 0.0)
        self._least = np.ascontiguousarray(np.concatenate([_least_agreements(num_perm), self._contained]), dtype=np.int64)
        self._addresses = self._arrays()

    def reserve(self, rows: int) -> None:
        """Room for `rows` sketches in all, made at once (untouched pages cost no memory)."""
        if rows > len(self._sizes):
            self._grow(rows)

    def _grow(self, rows: int) -> None:
        count = self._count
        for name, zero in (("_bytes", False), ("_sizes", False), ("_stamps", True)):
            old = getattr(self, name)
            new = (np.zeros if zero else np.empty)((rows, *old.shape[1:]), dtype=old.dtype)
            new[:count] = old[:count]
            setattr(self, name, new)
        self._out = np.empty(rows, dtype=np.int32)
        self._addresses = self._arrays()

    def add(self, signature: np.ndarray, size: int) -> None:
        if self._count == len(self._sizes):
            self._grow(2 * len(self._sizes))
        self._bytes[self._count] = sketch_of(signature)
        self._sizes[self._count] = size
        self._count += 1

    def extend(self, sketches: np.ndarray, sizes: np.ndarray) -> None:
        """Add many at once: the sketches (or signatures) of copies and their shingle counts."""
        self.reserve(self._count + len(sizes))
        self._bytes[self._count : self._count + len(sizes)] = sketch_of(sketches)
        self._sizes[self._count : self._count + len(sizes)] = sizes
        self._count += len(sizes)

    def _arrays(self) -> tuple[int, ...]:
        """Addresses of the arrays the kernel reads (asking numpy each call costs a tenth of it)."""
        return tuple(array.ctypes.data for array in (self._stamps, self._bytes, self._sizes, self._least, self._out))

    def plausible(
        self, lookups: Sequence[tuple[BandIndex, np.ndarray]], signature: np.ndarray, size: int, threshold: float,
        containment: float, first: int,
    ) -> np.ndarray:
        """Numbers (row + `first`) of the kept copies stored under any (index, keys) lookup whose
        sketch does not rule out a match at Jaccard `threshold` or, with `containment` > 0 (the
        one this was made with), at that containment; ascending, each once. `signature` is
        the item's, or its sketch."""
        maps = [index.native_map for index, _ in lookups]
        kernel = load_kernel()
        if size == 0 or kernel is None or None in maps:
            return self._plausible_numpy(lookups, signature, size, threshold, containment, first)
        self._next_stamp()
        keys = [np.ascontiguousarray(keys, dtype=np.uint64) for _, keys in lookups]
        second = (maps[1], keys[1].ctypes.data, keys[1].size) if len(keys) == 2 else (None, None, 0)
        query = np.ascontiguousarray(sketch_of(signature))
        stamps, sketches, sizes, least, out = self._addresses
        found = kernel.bm_plausible(
            maps[0], keys[0].ctypes.data, keys[0].size, *second, first, stamps, self._stamp, sketches, self.num_perm,
            sizes, query.ctypes.data, threshold, containment, size, least, out,
        )
        return self._out[:found].astype(np.int64)

    def plausible_earlier(
        self, items: np.ndarray, rows: np.ndarray, signature: np.ndarray, size: int, threshold: float, containment: float,
        first: int,
    ) -> np.ndarray:
        """As `plausible`, for candidates given as earlier items (repeats allowed), where
        `rows[item]` is the row of each kept one and -1 for the others."""
        if not items.size:
            return np.empty(0, dtype=np.int64)
        kernel = load_kernel()
        if size == 0 or kernel is None:
            held = rows[items]
            kept = arrays.unique(held[held >= 0]).astype(np.int64)
            return self._passing(kept, signature, size, threshold, containment) + first
        self._next_stamp()
        items = np.ascontiguousarray(items, dtype=np.int32)
        query = np.ascontiguousarray(sketch_of(signature))
        stamps, sketches, sizes, least, out = self._addresses
        found = kernel.sk_plausible(
            items.ctypes.data, items.size, rows.ctypes.data, first, stamps, self._stamp, sketches, self.num_perm, sizes,
            query.ctypes.data, threshold, containment, size, least, out,
        )
        return self._out[:found].astype(np.int64)

    def _next_stamp(self) -> None:
        self._stamp += 1
        if self._stamp == 2**31 - 1:
            self._stamps[:] = 0
            self._stamp = 1

    def _plausible_numpy(
        self, lookups: Sequence[tuple[BandIndex, np.ndarray]], signature: np.ndarray, size: int, threshold: float,
        containment: float, first: int,
    ) -> np.ndarray:
        numbers = lookups[0][0].query_array(lookups[0][1]).astype(np.int64)
        for index, keys in lookups[1:]:
            numbers = arrays.unique(np.concatenate((numbers, index.query_array(keys))))
        return self._passing(numbers - first, signature, size, threshold, containment) + first

    @property
    def least(self) -> np.ndarray:
        """The compiled tests' table: `_least_agreements`, then `_least_contained`."""
        return self._least

    @property
    def contained(self) -> np.ndarray:
        """The containment test's table (`_least_contained`), for `sketch_passing`."""
        return self._contained

    def _passing(self, rows: np.ndarray, signature: np.ndarray, size: int, threshold: float, containment: float) -> np.ndarray:
        """The rows (ascending) whose sketch leaves a match possible (all of them for an empty
        item); the compiled `sk_may_match` decides the same."""
        if size == 0 or not rows.size:
            return rows
        return rows[sketch_passing(self._bytes[rows], self._sizes[rows], signature, size, threshold, containment, self._contained)]


def sketch_passing(
    held: np.ndarray, sizes: np.ndarray, signature: np.ndarray, size: int | np.ndarray, threshold: float,
    containment: float | np.ndarray, contained: np.ndarray,
) -> np.ndarray:
    """Which of the copies with sketches `held` (one row each) and shingle counts `sizes` an
    item (its signature or sketch, its shingle count, its containment: 0 or the level's) may
    match: `Sketches`' two tests, for copies it does not hold (a persistent index's, or items
    not yet decided). The item's three may also be one per copy (pairs of many items). All of
    them for an empty item."""
    if not len(held):
        return np.zeros(0, dtype=bool)
    query, num_perm = sketch_of(signature), held.shape[1]
    agree = np.count_nonzero(held == query, axis=1)
    possible = agree >= least_agreements(num_perm, lowest_jaccard(threshold, containment, size, sizes))
    containing = np.asarray(containment) > 0
    if containing.any():
        lower = np.count_nonzero(query < held, axis=1)
        possible &= ~containing | (agree >= least_agreements(num_perm, np.float64(threshold))) | (agree >= contained[agree + lower])
    return possible | (np.asarray(size) == 0)


def sketch_codes(signatures: np.ndarray) -> np.ndarray:
    """One byte per MinHash value that keeps the values' order: values below 2**17 by their
    top 4 of 17 bits (0-15), the others by octave and the 4 bits after the leading one (16-255).
    Equal values give equal codes and a lower code means a lower value; two unequal values
    share a code with a few percent's chance, depending on how far apart they lie.

    >>> sketch_codes(np.array([0, 2**13, 2**17 - 1, 2**17, 2**31 + 2**27, 2**32 - 1], dtype=np.uint32)).tolist()
    [0, 1, 15, 16, 241, 255]
    """
    values = np.asarray(signatures, dtype=np.uint32).astype(np.int64)
    top = np.frexp(values.astype(np.float64))[1].astype(np.int64) - 1  # floor(log2(value)); -1 for 0
    octave = 16 * (top - 16) + ((values >> np.maximum(top - 4, 0)) & 15)
    return np.where(top >= 17, octave, values >> 13).astype(np.uint8)


def sketch_of(signature: np.ndarray) -> np.ndarray:
    """The sketch of a signature, or the sketch itself (what `FeatureBatch.slim` keeps)."""
    return signature if signature.dtype == np.uint8 else sketch_codes(signature)


def lowest_jaccard(threshold: float, containment: float | np.ndarray, size: int | np.ndarray, others: np.ndarray) -> np.ndarray:
    """The lowest Jaccard at which an item of `size` shingles could match kept copies of
    `others` shingles: the threshold, or lower where containment (> 0) could decide
    (`containment` and `size` one per copy, or one for all)."""
    wanted = np.full(np.shape(others), threshold)
    if not np.any(containment):
        return wanted
    inside = containment * size
    return np.where(np.asarray(containment) > 0, np.minimum(wanted, inside / np.maximum(size + others - inside, 1.0)), wanted)


_GRID = 1000


def least_agreements(num_perm: int, wanted: np.ndarray) -> np.ndarray:
    """Per pair, the fewest agreeing sketch bytes that leave Jaccard `wanted` possible."""
    grid = np.clip((wanted * _GRID).astype(np.int64), 0, _GRID)  # rounded down: never stricter
    return _least_agreements(num_perm)[grid]


@lru_cache(maxsize=8)
def _least_agreements(num_perm: int) -> np.ndarray:
    """Per Jaccard j/_GRID: the fewest agreeing sketch bytes a pair of that Jaccard shows
    except with probability below SKETCH_MISS_RATE (Binomial(num_perm, J): ties only add)."""
    return _binomial_floor(num_perm, np.arange(_GRID + 1) / _GRID)


@lru_cache(maxsize=8)
def _least_contained(num_perm: int, containment: float) -> np.ndarray:
    """Per number of trials n (0..num_perm), the fewest agreements among n permutations whose
    lowest value lies in the item that a pair of this containment shows except with
    probability below SKETCH_MISS_RATE (Binomial(n, containment)); zeros without containment."""
    floors = np.zeros(num_perm + 1, dtype=np.int64)
    if containment:
        for trials in range(1, num_perm + 1):
            floors[trials] = _binomial_floor(trials, np.array([containment]))[0]
    return floors


def _binomial_floor(trials: int, chances: np.ndarray) -> np.ndarray:
    """Per chance p: the smallest m with P(Binomial(trials, p) <= m) >= SKETCH_MISS_RATE, so
    fewer than m successes happen less often than that."""
    p = np.clip(chances, 1e-12, 1.0 - 1e-12)[:, None]
    counts = np.arange(trials + 1)
    choose = np.array([math.lgamma(trials + 1) - math.lgamma(m + 1) - math.lgamma(trials - m + 1) for m in counts])
    cdf = np.cumsum(np.exp(choose + counts * np.log(p) + (trials - counts) * np.log1p(-p)), axis=1)
    return np.argmax(cdf >= SKETCH_MISS_RATE, axis=1)


def sentence_bands(
    threshold: float, containment: float | None, num_perm: int, floor: float = SENTENCE_MIN_THRESHOLD
) -> BandIndex | None:
    """The LSH over kept copies' sentences that finds containment candidates, or None without
    containment.

    A short item inside a longer kept copy shares at least one sentence with it almost whole,
    so sentences are indexed at min(threshold, containment) but never below `floor`: lower,
    chance pairs of same-topic sentences (Jaccard 0.2-0.3) made most of dedup's work on news
    and grew with the square of the corpus. Paragraphs use SENTENCE_MIN_THRESHOLD (the real BBC
    corpus lost 1 of 268 paragraph matches at 0.65); documents their containment, since a
    document inside another shares most of its sentences, not one (bench/README-dedup.md).
    """
    if not containment:
        return None
    return BandIndex(max(floor, min(threshold, containment)), num_perm)


def sentence_floor(settings: Settings, level: str) -> float:
    """The lowest Jaccard a level's sentence index works at (see `sentence_bands`)."""
    return max(settings.document_containment, SENTENCE_MIN_THRESHOLD) if level == "document" else SENTENCE_MIN_THRESHOLD


def sentence_keys(fingerprints: Fingerprinter, bands: BandIndex | None, texts: Sequence[str]) -> list[np.ndarray | None]:
    """Per text, the band keys of its sentences (one row each) for a sentence index, or None (no
    sentence index, or no sentence long enough); all sentences hashed in one call."""
    if bands is None:
        return [None] * len(texts)
    split = [split_sentences(text) for text in texts]
    every = [sentence for sentences in split for sentence in sentences]
    if not every:
        return [None] * len(texts)
    signatures, _ = fingerprints.fingerprints(every)
    keys = bands.keys(signatures)
    rows, start = [], 0
    for sentences in split:
        rows.append(keys[start : start + len(sentences)] if sentences else None)
        start += len(sentences)
    return rows


def exact_digest(text: str) -> str:
    """The exact-match key of an item: sha256 of its canonical text."""
    return hashlib.sha256(canonical_utf8(text)).hexdigest()


_SENTENCE_BREAK = re.compile(r"(?<=[.!?…])[\"”’)]*\s+(?=[\"“‘(]?[A-Z0-9À-Þ])")


def split_sentences(text: str, min_words: int = 5) -> list[str]:
    """Split on sentence ends followed by a capital; keep sentences of at least `min_words` words.

    >>> split_sentences("A ceasefire was agreed in 1994. Talks went on for years without a result.")
    ['A ceasefire was agreed in 1994.', 'Talks went on for years without a result.']
    """
    return [s for s in _SENTENCE_BREAK.split(text) if len(s.split()) >= min_words]


def deduplicate(
    documents: Sequence[Document],
    settings: Settings,
    established: Callable[[Document], bool] | None = None,
    progress: ProgressCallback | None = None,
    stored: Mapping[str, StoredCopies] | None = None,
    make_pool: Callable[[Settings], Executor | None] | None = None,
    verify_in_pool: bool = False,
) -> list[Cluster]:
    """Drop near-duplicate documents and remove near-duplicate paragraphs; return the clusters.

    `documents` is a list (its documents are changed in place) or a `DocumentStore` (each
    document is read when its turn comes and put back once changed, so the corpus never sits in
    memory). `established` marks documents whose copies are kept before any other's whatever
    the keep policy (the files a pull request did not touch, so that its new text is the
    duplicate). `progress(stage, done, total)` hears how many documents have been
    fingerprinted ("fingerprint"), then how many each level has matched ("dedup documents",
    "dedup paragraphs"). `stored` holds, per level, kept copies from before this run (a
    persistent index): they come before every document here, established or not. `make_pool`
    makes the executor that computes features and verifies candidate pairs (an engine's;
    default `feature_pool`, local processes; its `workers`, if it says, or the run's, set how
    many chunks go ahead); it is asked only for corpora of FEATURE_POOL_DOCUMENTS or more, and
    shut down at the end. `verify_in_pool`: verify candidate pairs in its tasks too, a chunk of
    items at a time (`_in_windows`: what a cluster is for); else this process matches item
    after item (`_one_by_one`), which is faster where the pool's workers share its cores.

    Each document is read once to fingerprint both levels (`_fingerprint`), and again only
    when one of its items matches. A paragraph's text does not depend on which documents the
    document level drops, so paragraphs are fingerprinted with their documents; those of
    dropped documents are skipped when matching.
    """
    bound_heap()
    stored = stored or {}
    if settings.split_components and stored:
        raise ConfigError(SPLIT_WITH_INDEX)
    policy = keep_order(settings.keep)
    order = policy if established is None else (lambda doc: (not established(doc), policy(doc)))
    kept = (number for number, status in enumerate(statuses(documents)) if status == "kept")
    ordered = sorted(kept, key=lambda number: order(documents[number]))  # each document read once
    put = documents.put if isinstance(documents, DocumentStore) else (lambda doc: None)  # a list changes in place
    levels = [level for level in ("document", "paragraph") if settings.level in (level, "all")]
    clusters: list[Cluster] = []
    with ExitStack() as cleanup:
        passes = {level: cleanup.enter_context(_FirstPass(level, settings, stored.get(level), len(ordered))) for level in levels}
        numbered = reporting(((number, documents[number]) for number in ordered), "fingerprint", progress, total=len(ordered))
        pool = (make_pool or feature_pool)(settings) if len(ordered) >= FEATURE_POOL_DOCUMENTS else None
        # kept through the matching where it verifies pairs or decides components; else let go after the first pass
        verifier = pool if verify_in_pool or settings.split_components else None
        if verifier is not None:
            cleanup.callback(verifier.shutdown, cancel_futures=True)
        try:
            _fingerprint(numbered, list(passes.values()), settings, pool)
        finally:
            if pool is not None and verifier is None:
                pool.shutdown(cancel_futures=True)
        # One thread sorts the shuffles, level after level: the paragraphs' while documents match.
        shuffles = cleanup.enter_context(ThreadPoolExecutor(max_workers=1))
        earlier = {level: shuffles.submit(first.earlier) for level, first in passes.items()}
        cleanup.callback(_close_all, earlier.values())
        if "document" in passes:
            clusters += _deduplicate_documents(documents, passes["document"], earlier["document"].result(), put, progress, verifier)
            for done in earlier.pop("document").result():  # let the level go before the next
                done.close()
            passes.pop("document").__exit__(None, None, None)
        if "paragraph" in passes:
            now = statuses(documents)
            dropped = (lambda number: now[number] != "kept") if "document" in levels else (lambda number: False)
            clusters += _deduplicate_paragraphs(documents, passes["paragraph"], earlier["paragraph"].result(), put, progress, dropped, verifier)
    return sorted(clusters, key=lambda c: (c.level != "document", c.canonical.doc, c.canonical.paragraph or 0))


def _close_all(results: Iterable[Future[tuple[EarlierItems, EarlierItems]]]) -> None:
    """Close the shuffles' results, waiting for any still being sorted."""
    for future in results:
        future.cancel()
        if not future.cancelled() and future.exception() is None:
            for earlier in future.result():
                earlier.close()


def fingerprinter(settings: Settings, level: str) -> Fingerprinter:
    """The fingerprinter of one level ("document" or "paragraph"): its shingling, and the run's
    permutations and hash."""
    shingling = settings.document_shingling if level == "document" else settings.paragraph_shingling
    return _fingerprinter(*parse_shingling(shingling), settings.num_perm, settings.seed, settings.shingle_hash)


@lru_cache(maxsize=16)
def _fingerprinter(unit: str, n: int, num_perm: int, seed: int, shingle_hash: str) -> Fingerprinter:
    return Fingerprinter(unit, n, num_perm, seed, hash=shingle_hash)


def level_index(settings: Settings, level: str, stored: StoredCopies | None = None) -> NearDuplicateIndex:
    """The index that deduplicates one level ("document" or "paragraph") with these settings."""
    document = level == "document"
    return NearDuplicateIndex(
        fingerprinter(settings, level),
        settings.threshold if document else settings.paragraph_threshold,
        containment=(settings.document_containment if document else settings.paragraph_containment) or None,
        containment_min_words=DOCUMENT_CONTAINMENT_MIN_WORDS if document else settings.min_paragraph_words,
        guard=(document_facts_differ if document else paragraph_facts_differ) if settings.fact_guard else None,
        stored=stored,
        sentence_floor=sentence_floor(settings, level),
    )


Span = tuple[int, int]


def _items(doc: Document, level: str, settings: Settings) -> list[tuple[int | None, Span, str]]:
    """(paragraph number, span, text) of each item a document brings to a level."""
    if level == "document":
        text = doc.cleaned_text()
        return [(None, (0, len(doc.text)), text)] if text else []
    return [(number, span, text) for number, span, text in kept_paragraphs(doc) if len(text.split()) >= settings.min_paragraph_words]


Doc = tuple[int, str, "str | None", list[tuple["int | None", Span, str]]]  # number, id, language, items


class _FirstPass:
    """One level's items as they are fingerprinted, in visit order: their band keys go to a
    `KeyShuffle`, the rest of their features to a temporary file, a chunk at a time."""

    def __init__(self, level: str, settings: Settings, stored: StoredCopies | None, documents: int) -> None:
        self.level = level
        self.settings = settings
        self.stored = stored
        self.index = level_index(settings, level, stored)
        partitions = partitions_for(documents)
        self.shuffle = KeyShuffle(2, partitions, threads=settings.processes)
        # one digest an item, not hundreds of band keys: fewer partitions
        self.digests = KeyShuffle(1, max(1, partitions // 64), threads=settings.processes)
        self.chunks = Arena()
        self.visits = 0
        self.documents = 0

    def add(self, docs: list[Doc], batch: FeatureBatch) -> None:
        owners = np.arange(self.visits, self.visits + len(batch.digests), dtype=np.int32)
        self.digests.add(0, np.array([int(digest[:16], 16) for digest in batch.digests], dtype=np.uint64), owners)
        self.shuffle.add(0, batch.keys, np.repeat(owners, batch.keys.shape[1]))
        if batch.sentence_keys.size:
            rows = np.repeat(owners, np.diff(batch.sentence_starts))
            self.shuffle.add(1, batch.sentence_keys, np.repeat(rows, batch.sentence_keys.shape[1]))
        # a persistent index looks stored copies up by band key and saves new ones whole
        saved = batch if self.stored is not None else batch.slim()
        self.chunks.append(pickle.dumps((self.visits, docs, saved), protocol=pickle.HIGHEST_PROTOCOL))
        self.visits += len(batch.digests)

    def earlier(self) -> tuple[EarlierItems, EarlierItems]:
        """Per item, the earlier items that share a band key with it, and those whose digest
        starts as its does."""
        sharing = self.shuffle.earlier(self.visits)
        try:
            return sharing, self.digests.earlier(self.visits)
        except BaseException:
            sharing.close()
            raise

    def __enter__(self) -> _FirstPass:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shuffle.close()
        self.digests.close()
        self.chunks.close()
        self.index.close()


def _matches(
    documents: Sequence[Document],
    first: _FirstPass,
    earlier: tuple[EarlierItems, EarlierItems],
    clusters: dict[int, Cluster],
    progress: ProgressCallback | None,
    skip: Callable[[int], bool] = lambda number: False,
    pool: Executor | None = None,
) -> Iterator[tuple[Document, Span, Cluster, Member]]:
    """Match each item of a level in visit order; yield each one found to duplicate a kept copy,
    with its document, span, cluster (in `clusters`, by kept copy) and membership. The items of
    documents `skip` names (by number) are passed over: they are never kept copies.

    Each item is compared with the kept copies among the earlier items that the shuffle says
    share a band key with it: the candidates an in-memory band map would hold, without holding
    it (cleaner/shuffle.py). Given a `pool` and no persistent index, a chunk of items at a time
    is verified in the pool's tasks (`_in_windows`); else item after item here (`_one_by_one`).
    A document is read again only when one of its items matches.
    """
    index = first.index
    index.expect(first.visits)
    loaded: tuple[int, Document] | None = None  # the document last read back, by number
    chunks = reporting(_chunks_back(first.chunks, *earlier), f"dedup {first.level}s", progress, total=first.documents, counted=lambda chunk: len(chunk[1]))
    canonical: Callable[[int], Item] = lambda number: index.copy(number).item
    if first.settings.split_components:
        components = _Components(first, skip, pool, progress)
        found_items, canonical = components.found(chunks), components.canonical
    elif pool is not None and index.stored is None:
        found_items = _in_windows(first, chunks, skip, pool)
    else:
        found_items = _one_by_one(index, chunks, skip)
    for number, span, item, (kept_number, similarity, measure) in found_items:
        if loaded is None or loaded[0] != number:
            loaded = (number, documents[number])
        member = Member(excerpt(item), similarity, measure)
        yield loaded[1], span, _join(clusters, first.level, kept_number, canonical, member), member


class Chunk(NamedTuple):
    """A chunk of the first pass read back: its first item's visit, its documents, their items'
    features, and what the shuffles say of each item (`sharing`: all of the chunk's earlier
    items, item i's at sharing[sharing_starts[i]:sharing_starts[i + 1]], as in `told`)."""

    start: int
    docs: list[Doc]
    batch: FeatureBatch
    told: list[Earlier]
    sharing_starts: np.ndarray
    sharing: np.ndarray


Found = tuple[int, Span, Item, tuple[int, float, str]]  # document number, span, item, (kept copy, similarity, measure)


def _chunks_back(chunks: Arena, sharing: EarlierItems, same_digest: EarlierItems) -> Iterator[Chunk]:
    """Each chunk of the first pass, in order, with what the shuffles say of each of its items."""
    for number in range(len(chunks)):
        first, docs, batch = pickle.loads(chunks[number])
        last = first + len(batch.digests)
        (starts, members), (digest_starts, digest_members) = sharing.chunk(first, last), same_digest.chunk(first, last)
        told = [
            Earlier(first + row, members[starts[row] : starts[row + 1]], digest_members[digest_starts[row] : digest_starts[row + 1]])
            for row in range(last - first)
        ]
        yield Chunk(first, docs, batch, told, starts, members)


def _one_by_one(index: NearDuplicateIndex, chunks: Iterable[Chunk], skip: Callable[[int], bool]) -> Iterator[Found]:
    """Match item after item (`match_or_keep`), a persistent index's candidates with the rest:
    its band keys are looked up ahead, consecutive chunks' together (`lookahead`, up to
    LOOKAHEAD_DOCUMENTS documents and LOOKAHEAD_KEYS keys), its copies read as they come."""
    hasher = replace(index.fingerprinter, num_perm=1)  # the same shingle hashes, one permutation
    windows = _lookahead_windows(chunks, LOOKAHEAD_DOCUMENTS, LOOKAHEAD_KEYS) if index.stored is not None else (([chunk], False) for chunk in chunks)
    for window, last in windows:
        stored: list[np.ndarray | None] | None = None
        if index.stored is not None:
            docs = [doc for chunk in window for doc in chunk.docs]
            skipped = np.repeat([skip(number) for number, *_ in docs], [len(doc[3]) for doc in docs]).astype(bool)
            batch = FeatureBatch.joined([chunk.batch for chunk in window])
            stored = index.stored.lookahead(batch, skipped, index.sketch_test(batch), last)
        first = 0  # the window's row of the chunk's first item
        for _, docs, batch, told, _, _ in window:
            hashes = None if batch.hash_starts is not None else hasher.fingerprints([text for doc in docs for _, _, text in doc[3]])[1]
            features = batch.unpack(hashes)
            row = 0
            for number, doc_id, lang, items in docs:
                if not skip(number):
                    for offset, (paragraph, span, text) in enumerate(items):
                        item = Item(doc_id, paragraph, text, lang)
                        held = None if stored is None else stored[first + row + offset]
                        found = index.match_or_keep(item, features[row + offset], told[row + offset], held)
                        if found is not None:
                            yield number, span, item, found
                row += len(items)
            first += row


# Documents, and band keys (and sentence band keys), a persistent index looks up at once, at
# most: consecutive chunks of the first pass, so a batch's filter rows, blocks and sketch rows
# are read in a few passes rather than chunk after chunk (a batch of 1,000 news documents
# against 1M looked up in its 14 chunks took 45.6 and 47.6 s, in one 34.0 and 39.9 s, alternated,
# warm). Documents bound the copies a window names: a new document's sentences name every
# stored document that reuses one of its background paragraphs (~10k a document of the
# benchmark corpus against 1M), and a window's pairs are held at once (several arrays of them).
LOOKAHEAD_DOCUMENTS = 2048
LOOKAHEAD_KEYS = 1 << 23


def _lookahead_windows(chunks: Iterable[Chunk], documents: int, keys: int) -> Iterator[tuple[list[Chunk], bool]]:
    """Consecutive chunks of at most `documents` documents whose band keys and sentence band
    keys add up to at most `keys` (a chunk with more, alone), and whether they are the last."""
    window: list[Chunk] = []
    held_documents = held_keys = 0
    for chunk in chunks:
        size = chunk.batch.keys.size + chunk.batch.sentence_keys.size
        if window and (held_documents + len(chunk.docs) > documents or held_keys + size > keys):
            yield window, False
            window, held_documents, held_keys = [], 0, 0
        window.append(chunk)
        held_documents += len(chunk.docs)
        held_keys += size
    if window:
        yield window, True


# Chunks whose candidate pairs are being verified while the driver decides an earlier one, per
# worker of the pool (the driver builds a chunk's pairs while tasks verify those before it).
WINDOWS_AHEAD = 2


@dataclass
class _Window:
    """One chunk of items on its way through `_in_windows`: its items (those of skipped
    documents marked) and, once `_pairs` has set them, each item's pairs to verify
    (`pair_others[pair_starts[i]:pair_starts[i + 1]]`: a kept copy's number, or -(visit + 1)
    for an earlier item not yet decided) and the task verifying them."""

    chunk: Chunk
    numbers: list[int]  # document number of each item
    spans: list[Span]
    items: list[Item]
    skipped: np.ndarray
    pair_starts: np.ndarray | None = None
    pair_others: np.ndarray | None = None
    others: list[int] | None = None  # what `PairTask.others` holds, by number or -(visit + 1)
    verified: Future[Verified] | None = None

    @property
    def start(self) -> int:
        return self.chunk.start

    @property
    def end(self) -> int:
        return self.chunk.start + len(self.items)


def _window(chunk: Chunk, skip: Callable[[int], bool]) -> _Window:
    numbers, spans, items, skipped = [], [], [], []
    for number, doc_id, lang, doc_items in chunk.docs:
        passed = skip(number)
        for paragraph, span, text in doc_items:
            numbers.append(number)
            spans.append(span)
            items.append(Item(doc_id, paragraph, text, lang))
            skipped.append(passed)
    return _Window(chunk, numbers, spans, items, np.array(skipped, dtype=bool))


def _in_windows(first: _FirstPass, chunks: Iterable[Chunk], skip: Callable[[int], bool], pool: Executor) -> Iterator[Found]:
    """Match a chunk of items at a time, in order, with the pairs that need exact verification
    verified in `pool`'s tasks (`verify_pairs`), WINDOWS_AHEAD chunks a worker ahead.

    An item's candidates are its earlier items that share a band key, pass its sketch tests
    and are kept copies. Which are kept is known for the items of chunks already decided; for
    those of chunks still in flight (and earlier in its own chunk) it is not yet, so those that
    pass the sketch tests are verified too, whatever they turn out to be. A similarity does not
    depend on which copies are kept, so deciding each chunk in order from the verified pairs
    (`_decide`) gives what matching item after item gives: the same kept copies, clusters and
    similarities. What the speculation costs is pairs between duplicates in flight together.
    """
    index = first.index
    ahead = WINDOWS_AHEAD * getattr(pool, "workers", first.settings.processes)
    flight: deque[_Window] = deque()
    for chunk in chunks:
        window = _window(chunk, skip)
        window.verified = pool.submit(verify_pairs, first.settings, first.level, _pairs(index, window, flight))
        flight.append(window)
        while len(flight) > ahead:
            yield from _decide(index, flight.popleft())
    while flight:
        yield from _decide(index, flight.popleft())


@dataclass
class PairTask:
    """Pairs of texts to verify exactly: `texts` (a chunk's items, their shingle hashes computed
    and sent back), `others` (copies they are compared with: shingle hashes given, or None to
    compute them), and each pair as (item row, other: index into `others`, or -(row + 1) for
    another item of the chunk)."""

    texts: list[str]
    langs: list[str | None]
    others: list[str]
    other_langs: list[str | None]
    other_hashes: list[np.ndarray | None]
    other_facts: list[Counter[str] | None]  # the guard's facts of a kept copy, where held
    rows: np.ndarray
    with_: np.ndarray


class Verified(NamedTuple):
    """What `verify_pairs` found: the chunk's shingle hashes (`hashes[starts[i]:starts[i + 1]]`),
    and per pair its similarity (-1: no match, or the fact guard said no) and measure (1:
    containment, 0: Jaccard)."""

    hashes: np.ndarray
    starts: np.ndarray
    similarity: np.ndarray
    containment: np.ndarray
    facts: dict[int, Counter[str]]  # the guard's facts of the kept copies among `others` it computed


def _pairs(index: NearDuplicateIndex, window: _Window, flight: Sequence[_Window]) -> PairTask:
    """Set the pairs of a chunk's items to verify (in `window`) and return what verifying them
    needs: per item, the kept copies its sketch tests leave (ascending numbers), then the
    undecided items they leave (those in `flight`, and earlier ones of its own chunk), in visit
    order. An item of a skipped document needs none."""
    batch, waiting = window.chunk.batch, [*flight, window]
    base = waiting[0].start
    contain = index.containments(batch)
    rows, visits = _undecided(window, base, np.concatenate([other.skipped for other in waiting]))
    sketches = np.concatenate([other.chunk.batch.signatures for other in waiting])  # slim batches: sketches
    sizes = np.concatenate([other.chunk.batch.sizes for other in waiting])
    possible = sketch_passing(
        sketches[visits - base], sizes[visits - base], batch.signatures[rows], batch.sizes[rows], index.threshold,
        contain[rows], index.sketches.contained,
    )
    rows, visits = rows[possible], visits[possible]
    bounds = np.searchsorted(rows, np.arange(len(window.items) + 1)).tolist()
    owners: list[np.ndarray] = [np.empty(0, dtype=np.int64)]
    pairs: list[np.ndarray] = [np.empty(0, dtype=np.int64)]
    for row, told in enumerate(window.chunk.told):
        if window.skipped[row]:
            continue
        kept = index.sketches.plausible_earlier(
            told.sharing, index._rows, batch.signatures[row], int(batch.sizes[row]), index.threshold, float(contain[row]), index.first
        )
        pairs += [kept, -(visits[bounds[row] : bounds[row + 1]] + 1)]
        owners.append(np.full(kept.size + bounds[row + 1] - bounds[row], row, dtype=np.int64))
    owners, pairs = np.concatenate(owners), np.concatenate(pairs)
    window.pair_starts, window.pair_others = np.searchsorted(owners, np.arange(len(window.items) + 1)), pairs
    return _task(index, window, waiting, owners, pairs)


def _undecided(window: _Window, base: int, skipped: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, visit) of each distinct pair of a chunk's item and an earlier undecided item
    (visit >= `base`) sharing a band key with it, those of skipped documents left out; by row,
    then visit."""
    undecided = window.chunk.sharing >= base
    owners = np.repeat(np.arange(len(window.items), dtype=np.int64), np.diff(window.chunk.sharing_starts))[undecided]
    visits = window.chunk.sharing[undecided].astype(np.int64)
    undecided = ~skipped[visits - base]
    codes = arrays.unique(owners[undecided] * window.end + visits[undecided])
    return codes // window.end, codes % window.end


def _task(index: NearDuplicateIndex, window: _Window, waiting: Sequence[_Window], owners: np.ndarray, pairs: np.ndarray) -> PairTask:
    """The texts and copies `verify_pairs` needs for a chunk's pairs (`_pairs`)."""
    others: list[str] = []
    langs: list[str | None] = []
    hashes: list[np.ndarray | None] = []
    known_facts: list[Counter[str] | None] = []
    where: dict[int, int] = {}
    with_ = np.empty(pairs.size, dtype=np.int64)
    for position, other in enumerate(pairs.tolist()):
        if other < 0 and -other - 1 >= window.start:
            with_[position] = other + window.start  # -(row + 1) in this chunk
            continue
        if other not in where:
            where[other] = len(others)
            if other >= 0:
                kept = index.copy(other)
                item, held, known = kept.item, kept.hashes, index.kept.facts_held(other - index.first)
            else:
                item, held, known = _in_flight(waiting, -other - 1), None, None
            others.append(item.text)
            langs.append(item.lang)
            hashes.append(held)
            known_facts.append(known)
        with_[position] = where[other]
    window.others = list(where)
    return PairTask(
        [item.text for item in window.items], [item.lang for item in window.items], others, langs, hashes, known_facts, owners, with_
    )


def _in_flight(waiting: Sequence[_Window], visit: int) -> Item:
    for window in waiting:
        if window.start <= visit < window.end:
            return window.items[visit - window.start]
    raise AssertionError(f"item {visit} is not in flight")


def verify_pairs(settings: Settings, level: str, task: PairTask) -> Verified:
    """Verify a chunk's pairs exactly on shingle hashes, the fact guard with them (what a
    task of the pool runs): `NearDuplicateIndex._judge` of each pair, as `_best` asks it."""
    index = _feature_index(settings, level)
    hasher = replace(index.fingerprinter, num_perm=1)
    hashes = hasher.fingerprints(task.texts)[1]
    missing = [number for number, held in enumerate(task.other_hashes) if held is None]
    computed = iter(hasher.fingerprints([task.others[number] for number in missing])[1] if missing else [])
    items: dict[int, Kept] = {}  # made as pairs need them
    others = [
        Kept(Item("", None, text, lang), next(computed) if held is None else held, facts)
        for text, lang, held, facts in zip(task.others, task.other_langs, task.other_hashes, task.other_facts)
    ]
    similarity = np.full(task.rows.size, -1.0)
    containment = np.zeros(task.rows.size, dtype=np.uint8)
    for position, (row, other) in enumerate(zip(task.rows.tolist(), task.with_.tolist())):
        for needed in (row, -other - 1) if other < 0 else (row,):
            if needed not in items:
                items[needed] = Kept(Item("", None, task.texts[needed], task.langs[needed]), hashes[needed])
        candidate, copy = items[row], (others[other] if other >= 0 else items[-other - 1])
        found = index._judge(candidate, shared_count(candidate.hashes, copy.hashes), copy.hashes.size, lambda: copy)
        if found:
            similarity[position], containment[position] = found[0], found[1] == "containment"
    computed_facts = {
        number: kept.facts for number, kept in enumerate(others)
        if kept.facts is not None and task.other_facts[number] is None and task.other_hashes[number] is not None
    }
    return Verified(*_joined(hashes, np.uint32, (0,)), similarity, containment, computed_facts)


def _decide(index: NearDuplicateIndex, window: _Window) -> Iterator[Found]:
    """Decide a chunk's items in order from their verified pairs, as `match_or_keep` would:
    a kept exact copy first; else the best verified pair whose copy is kept (the first of
    equals); else the item is kept."""
    assert window.verified is not None and window.pair_starts is not None and window.pair_others is not None
    verified = window.verified.result()
    starts, hash_starts = window.pair_starts.tolist(), verified.starts.tolist()
    others, similarity, containment = window.pair_others.tolist(), verified.similarity.tolist(), verified.containment.tolist()
    assert window.others is not None
    for number, held in verified.facts.items():
        index.kept.hold_facts(window.others[number] - index.first, held)
    batch = window.chunk.batch
    for row, item in enumerate(window.items):
        if window.skipped[row]:
            continue
        told = window.chunk.told[row]
        number = index._exact(batch.digests[row], told)
        best = None if number is None else (number, 1.0, "jaccard")
        for position in range(starts[row], starts[row + 1]) if best is None else ():
            if similarity[position] < 0:
                continue
            other = others[position]
            if other < 0:
                kept_row = int(index._rows[-other - 1])
                if kept_row < 0:
                    continue
                other = index.first + kept_row
            if best is None or similarity[position] > best[1]:
                best = (other, similarity[position], "containment" if containment[position] else "jaccard")
        if best is None:
            index._rows[told.visit] = len(index.kept)
            hashes = verified.hashes[hash_starts[row] : hash_starts[row + 1]]
            index._keep(Kept(item, hashes), batch.digests[row], batch.signatures[row], batch.keys[row], None)
        else:
            yield window.numbers[row], window.spans[row], item, best


SPLIT_WITH_INDEX = (
    "split-components decides a run's own items component by component, but a persistent index's copies are "
    "matched item after item: leave out --index or --split-components (split-components in [tool.cleaner])"
)
# Items of small components that one task decides (a larger component is a task of its own).
COMPONENT_TASK_ITEMS = 2048


class _Components:
    """A level's items decided component by component (`settings.split_components`), for when
    one in-order pass over them is too slow for one process.

    An item's decision depends only on the earlier items it may match: those that share a band
    key or its digest's start with it and pass its sketch tests. So the items split into the
    connected components of those pairs, and each component decided by itself in visit order
    (`decide_components`, a task of the pool) decides as the whole level decided in order does:
    the same kept copies, clusters and similarities. Most items share nothing plausible with
    any other and are kept with no task at all.

    Three steps: the driver reads each item's earlier items from the shuffle and keeps the
    pairs its sketch tests pass, against every earlier item, not only kept ones (`_pairs`);
    components of those pairs, one sparse-graph call; the chunks read again in order, each
    component's items gathered and sent as soon as its last one is read (`_tasks`). The found
    items come back in visit order (`found`).
    """

    def __init__(self, first: _FirstPass, skip: Callable[[int], bool], pool: Executor | None, progress: ProgressCallback | None) -> None:
        self.first = first
        self.skip = skip
        self.pool = pool
        self.progress = progress
        self.canonicals: dict[int, Item] = {}  # kept copies that gained a member, by visit

    def found(self, chunks: Iterable[Chunk]) -> Iterator[Found]:
        later, earlier, same_later, same_earlier = self._pairs(chunks)
        task_of, tasks = self._grouped(np.concatenate((later, same_later)), np.concatenate((earlier, same_earlier)))
        sharing, same_digest = _ByItem(later, earlier, task_of), _ByItem(same_later, same_earlier, task_of)
        found: dict[int, Found] = {}
        for sent, items in self._tasks(task_of, tasks, sharing, same_digest):
            decided = sent.result() if isinstance(sent, Future) else sent
            for row, (visit, number, span, item) in enumerate(items):
                kept_as = int(decided.kept_as[row])
                if kept_as >= 0:
                    kept_visit = items[kept_as][0]
                    self.canonicals.setdefault(kept_visit, excerpt(items[kept_as][3]))
                    measure = "containment" if decided.containment[row] else "jaccard"
                    found[visit] = (number, span, excerpt(item), (kept_visit, float(decided.similarity[row]), measure))
        for visit in sorted(found):
            yield found.pop(visit)

    def canonical(self, visit: int) -> Item:
        return self.canonicals[visit]

    def _pairs(self, chunks: Iterable[Chunk]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(later, earlier) visits of each pair of items whose band keys and sketch tests leave
        a match possible, and of each pair whose digests start alike (an exact copy's
        candidates); items of skipped documents in none."""
        index = self.first.index
        every = Sketches(index.fingerprinter.num_perm, index.containment)
        every.reserve(self.first.visits)
        rows = np.full(self.first.visits, -1, dtype=np.int32)  # an item's row in `every`: its visit; -1 when skipped
        pairs: list[tuple[np.ndarray, ...]] = [tuple(np.empty(0, dtype=np.int32) for _ in range(4))]
        for chunk in chunks:
            batch, start = chunk.batch, chunk.start
            visits = np.arange(start, start + len(batch.digests), dtype=np.int32)
            skipped = np.repeat([self.skip(number) for number, *_ in chunk.docs], [len(doc[3]) for doc in chunk.docs]).astype(bool)
            every.extend(batch.signatures, batch.sizes)
            rows[visits] = np.where(skipped, -1, visits)
            contain = index.containments(batch).tolist()
            passing = [np.empty(0, dtype=np.int64) if skipped[row] else every.plausible_earlier(
                told.sharing, rows, batch.signatures[row], int(batch.sizes[row]), index.threshold, contain[row], 0
            ) for row, told in enumerate(chunk.told)]
            alike = [np.empty(0, dtype=np.int64) if skipped[row] else told.same_digest[rows[told.same_digest] >= 0] for row, told in enumerate(chunk.told)]
            pairs.append((
                np.repeat(visits, [part.size for part in passing]), np.concatenate(passing).astype(np.int32),
                np.repeat(visits, [part.size for part in alike]), np.concatenate(alike).astype(np.int32),
            ))
        later, earlier, same_later, same_earlier = (np.concatenate(part) for part in zip(*pairs))
        return later, earlier, same_later, same_earlier

    def _grouped(self, later: np.ndarray, earlier: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The task of each item (-1: decided by itself, kept) and each task's last visit:
        whole components, by the visit of their last item, COMPONENT_TASK_ITEMS or more
        items to a task where they are small."""
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        items = self.first.visits
        graph = coo_matrix((np.ones(later.size, dtype=np.int8), (later, earlier)), shape=(items, items))
        count, labels = connected_components(graph, directed=False)
        sizes = np.bincount(labels, minlength=count)
        last = np.full(count, -1, dtype=np.int64)
        np.maximum.at(last, labels, np.arange(items))
        shared = np.flatnonzero(sizes > 1)
        shared = shared[np.argsort(last[shared], kind="stable")]
        ends = np.cumsum(sizes[shared])
        # a task closes once it holds COMPONENT_TASK_ITEMS items: task t takes the components up to its close
        closes = np.flatnonzero(np.diff(ends // COMPONENT_TASK_ITEMS, prepend=0) > 0)
        task_of_component = np.full(count, -1, dtype=np.int64)
        task_of_component[shared] = np.searchsorted(closes, np.arange(shared.size))
        task_of = task_of_component[labels]
        task_last = np.full(int(task_of.max()) + 1 if shared.size else 0, -1, dtype=np.int64)
        np.maximum.at(task_last, task_of[task_of >= 0], np.flatnonzero(task_of >= 0))
        return task_of, task_last

    def _tasks(
        self, task_of: np.ndarray, task_last: np.ndarray, sharing: _ByItem, same_digest: _ByItem
    ) -> Iterator[tuple[Future[Decisions] | Decisions, list[tuple[int, int, Span, Item]]]]:
        """Read the chunks again in order, gather each task's items and send it once its last
        item is read; yield each task's decisions (a future where a pool decides) with its
        items (visit, document number, span, item), in the order sent, WINDOWS_AHEAD a
        worker in flight."""
        first = self.first
        ahead = WINDOWS_AHEAD * getattr(self.pool, "workers", first.settings.processes)
        gathered: dict[int, list[tuple[int, int, Span, Item, str, np.ndarray]]] = {}
        flight: deque[tuple[Future[Decisions] | Decisions, list[tuple[int, int, Span, Item]]]] = deque()
        sent = 0
        for number in reporting(range(len(first.chunks)), f"decide {first.level} components", self.progress):
            start, docs, batch = pickle.loads(first.chunks[number])
            row = 0
            for doc_number, doc_id, lang, items in docs:
                for paragraph, span, text in items:
                    task = int(task_of[start + row])
                    if task >= 0:
                        gathered.setdefault(task, []).append(
                            (start + row, doc_number, span, Item(doc_id, paragraph, text, lang), batch.digests[row], batch.signatures[row])
                        )
                    row += 1
            while sent < task_last.size and task_last[sent] < start + row:
                members = gathered.pop(sent)
                visits = np.array([member[0] for member in members], dtype=np.int64)
                task = ComponentTask(
                    [member[3].text for member in members], [member[3].lang for member in members],
                    [member[4] for member in members], np.array([member[5] for member in members]),
                    *sharing.rows(sent, visits), *same_digest.rows(sent, visits),
                )
                flight.append((self._decide(task), [member[:4] for member in members]))
                sent += 1
                while len(flight) > ahead:
                    yield flight.popleft()
        assert sent == task_last.size and not gathered
        yield from flight

    def _decide(self, task: ComponentTask) -> Future[Decisions] | Decisions:
        """The task's decisions: a future from the pool, or decided here when there is none."""
        if self.pool is None:
            return decide_components(self.first.settings, self.first.level, task)
        return self.pool.submit(decide_components, self.first.settings, self.first.level, task)


class _ByItem:
    """Pairs (later, earlier) ordered by the later item's task, then later, then earlier: each
    task's pairs together, as rows of its items (`rows`)."""

    def __init__(self, later: np.ndarray, earlier: np.ndarray, task_of: np.ndarray) -> None:
        tasks = task_of[later]
        order = np.lexsort((earlier, later, tasks))
        self.later, self.earlier = later[order], earlier[order]
        self.bounds = np.searchsorted(tasks[order], np.arange(int(task_of.max(initial=-1)) + 2))

    def rows(self, task: int, visits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(starts, earlier rows) of a task's pairs: item i's at [starts[i]:starts[i + 1]]."""
        start, end = self.bounds[task], self.bounds[task + 1]
        later = np.searchsorted(visits, self.later[start:end])
        return np.searchsorted(later, np.arange(visits.size + 1)), np.searchsorted(visits, self.earlier[start:end])


@dataclass
class ComponentTask:
    """Whole components' items to decide in visit order: texts, languages, digests, sketches,
    and per item the earlier ones (rows here, ascending) its sketch tests pass, item i's
    `sharing[sharing_starts[i]:sharing_starts[i + 1]]`, and those whose digest starts alike."""

    texts: list[str]
    langs: list[str | None]
    digests: list[str]
    sketches: np.ndarray
    sharing_starts: np.ndarray
    sharing: np.ndarray
    digest_starts: np.ndarray
    same_digest: np.ndarray


class Decisions(NamedTuple):
    """Per item of a `ComponentTask`: the row of the kept copy it duplicates (-1: kept), the
    similarity, and the measure (1: containment, 0: Jaccard)."""

    kept_as: np.ndarray
    similarity: np.ndarray
    containment: np.ndarray


def decide_components(settings: Settings, level: str, task: ComponentTask) -> Decisions:
    """Decide a task's items in visit order with `match_or_keep`, each told its earlier
    candidates (what a task of the pool runs for `_Components`)."""
    index = level_index(settings, level)
    try:
        index.expect(len(task.texts))
        hashes = replace(index.fingerprinter, num_perm=1).fingerprints(task.texts)[1]
        no_keys = np.empty(0, dtype=np.uint64)
        kept_rows: list[int] = []  # the row of each kept copy, by number
        kept_as = np.full(len(task.texts), -1, dtype=np.int64)
        similarity = np.zeros(len(task.texts))
        containment = np.zeros(len(task.texts), dtype=np.uint8)
        sharing, digests = task.sharing_starts.tolist(), task.digest_starts.tolist()
        for row, (text, lang, digest) in enumerate(zip(task.texts, task.langs, task.digests)):
            earlier = Earlier(row, task.sharing[sharing[row] : sharing[row + 1]], task.same_digest[digests[row] : digests[row + 1]])
            found = index.match_or_keep(Item("", None, text, lang), Features(digest, hashes[row], task.sketches[row], no_keys, None), earlier)
            if found is None:
                kept_rows.append(row)
            else:
                kept_as[row], similarity[row], containment[row] = kept_rows[found[0]], found[1], found[2] == "containment"
        return Decisions(kept_as, similarity, containment)
    finally:
        index.close()


# Texts whose features one task of the feature pool computes, and tasks computed ahead per
# level; corpora of fewer documents than FEATURE_POOL_DOCUMENTS are not worth starting the pool for.
FEATURE_CHUNK = 1024
FEATURE_AHEAD = 4
FEATURE_POOL_DOCUMENTS = 500


def _fingerprint(numbered: Iterable[tuple[int, Document]], passes: list[_FirstPass], settings: Settings, pool: Executor | None) -> None:
    """Hand each level's items, in order, to its first pass with their features: digests,
    shingle hashes, signatures, band keys, a chunk of about FEATURE_CHUNK items at a time.

    Features depend on nothing but the text, so a `pool` of processes computes them, chunks
    ahead; chunks travel as a few arrays each (`FeatureBatch`), which pickle at memory speed.
    Without a pool this process computes them.
    """
    pending: deque[tuple[_FirstPass, list[Doc], Future[FeatureBatch] | FeatureBatch]] = deque()
    docs: dict[str, list[Doc]] = {first.level: [] for first in passes}
    texts: dict[str, list[str]] = {first.level: [] for first in passes}

    def send(first: _FirstPass) -> None:
        level = first.level
        sketched = first.stored is None  # a persistent index keeps whole signatures
        if pool is None:
            features = first.index.feature_batch(texts[level], sketched)
        else:
            features = pool.submit(chunk_features, settings, level, texts[level], sketched)
        pending.append((first, docs[level], features))
        docs[level], texts[level] = [], []

    def ready(limit: int) -> None:
        while len(pending) > limit:
            first, chunk_docs, features = pending.popleft()
            first.add(chunk_docs, features.result() if isinstance(features, Future) else features)

    for number, doc in numbered:
        for first in passes:
            items = _items(doc, first.level, settings)
            docs[first.level].append((number, doc.id, doc.lang, items))
            texts[first.level].extend(text for _, _, text in items)
            first.documents += 1
            if len(texts[first.level]) >= FEATURE_CHUNK:
                send(first)
                ready(FEATURE_AHEAD * len(passes))
    for first in passes:
        if docs[first.level]:
            send(first)
    ready(0)


def chunk_features(settings: Settings, level: str, texts: list[str], sketched: bool = False) -> FeatureBatch:
    """The features of a chunk of one level's texts (what a feature pool's task runs)."""
    return _feature_index(settings, level).feature_batch(texts, sketched)


@lru_cache(maxsize=4)
def _feature_index(settings: Settings, level: str) -> NearDuplicateIndex:
    # only its fingerprinter and band layouts are used: no copy is ever kept in it
    return level_index(settings, level)


def feature_pool(settings: Settings) -> Executor | None:
    """Processes that compute features during the first pass: as many as the run has workers
    (this process only reads documents and writes what they compute); None for one worker."""
    if settings.processes < 2:
        return None
    return ProcessPoolExecutor(max_workers=settings.processes)


def _deduplicate_documents(
    documents: Sequence[Document],
    first: _FirstPass,
    earlier: tuple[EarlierItems, EarlierItems],
    put: Callable[[Document], None],
    progress: ProgressCallback | None,
    pool: Executor | None,
) -> list[Cluster]:
    clusters: dict[int, Cluster] = {}
    rule, name = DUPLICATE_DOCUMENT
    for doc, _, cluster, member in _matches(documents, first, earlier, clusters, progress, pool=pool):
        kept = cluster.canonical
        detail = f"{member.similarity:.0%} {_how(member)} {kept.doc} (cluster {cluster.id})"
        doc.drop(Reason("dedup", rule, name, detail, duplicate_of=kept.doc, similarity=member.similarity))
        put(doc)
    return list(clusters.values())


def _deduplicate_paragraphs(
    documents: Sequence[Document],
    first: _FirstPass,
    earlier: tuple[EarlierItems, EarlierItems],
    put: Callable[[Document], None],
    progress: ProgressCallback | None,
    dropped: Callable[[int], bool],
    pool: Executor | None,
) -> list[Cluster]:
    clusters: dict[int, Cluster] = {}
    rule, name = DUPLICATE_PARAGRAPH
    changed: Document | None = None  # put back once its last paragraph is matched
    for doc, (start, end), cluster, member in _matches(documents, first, earlier, clusters, progress, dropped, pool):
        if changed is not None and changed is not doc:
            put(changed)
        changed = doc
        kept, similarity = cluster.canonical, member.similarity
        where = "earlier in this document" if kept.doc == doc.id else f"in {kept.doc}"
        doc.remove(
            Removal(
                start,
                end,
                "dedup",
                rule,
                name,
                f"{similarity:.0%} {_how(member)} paragraph {kept.paragraph} {where} (cluster {cluster.id})",
                cluster=cluster.id,
                duplicate_of=kept.key,
                similarity=similarity,
            )
        )
    if changed is not None:
        put(changed)
    return list(clusters.values())


def _join(clusters: dict[int, Cluster], level: str, number: int, canonical: Callable[[int], Item], member: Member) -> Cluster:
    """Add a member to the cluster of kept copy `number` (made on its first member: `canonical`
    gives the copy)."""
    cluster = clusters.get(number)
    if cluster is None:
        kept = excerpt(canonical(number))
        cluster = clusters[number] = Cluster(cluster_id(level, kept), level, kept)
    cluster.members.append(member)
    return cluster


# Clusters hold the start of their items' text: what their records (200 characters) and
# `cleaner dupes` (72, whitespace runs made one space) show of it; a million documents' removed
# paragraphs whole would hold GBs.
EXCERPT_CHARS = 800
_SHOWN_CHARS = 201


def excerpt(item: Item) -> Item:
    """The item with only as much of its text as any snippet shown of it needs."""
    text = item.text
    if len(text) <= EXCERPT_CHARS:
        return item
    start = text[:EXCERPT_CHARS]
    return replace(item, text=start) if len(" ".join(start.split())) >= _SHOWN_CHARS else item


def _how(member: Member) -> str:
    return "similar to" if member.measure == "jaccard" else "contained in"


def kept_paragraphs(doc: Document) -> Iterator[tuple[int, tuple[int, int], str]]:
    """Yield (index, span, text) of each paragraph with earlier removals taken out of its text."""
    removals = sorted((r.start, r.end) for r in doc.removed)
    for number, (start, end) in enumerate(doc.paragraphs):
        parts, position = [], start
        for cut_start, cut_end in removals:
            if cut_end <= position or cut_start >= end:
                continue
            parts.append(doc.text[position:cut_start])
            position = max(position, cut_end)
        parts.append(doc.text[position:end])
        text = " ".join(" ".join(parts).split())
        if text:
            yield number, (start, end), text


def keep_order(policy: str):
    """Sort key for the keep policy: the first item in this order is the copy that is kept.

    `first` keeps the lowest id; `longest` the longest cleaned text (then lowest id); `earliest`
    the earliest `meta.date` (documents without a date come last, then lowest id).
    """
    if policy == "longest":
        return lambda doc: (-len(doc.cleaned_text()), doc.id)
    if policy == "earliest":
        return lambda doc: (not isinstance(doc.meta.get("date"), str), str(doc.meta.get("date") or ""), doc.id)
    return lambda doc: doc.id


def cluster_id(level: str, kept: Item) -> str:
    """A stable id from the kept copy's place: same corpus and settings, same ids."""
    key = f"{level}\0{kept.doc}\0{kept.paragraph}".encode("utf-8", "surrogatepass")
    return ("D" if level == "document" else "P") + hashlib.sha256(key).hexdigest()[:10]
