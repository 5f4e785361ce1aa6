"""Dedup's candidates come from a shuffle of (band key, item) pairs on disk (cleaner/shuffle.py):
each item must be told exactly the earlier items that share a key with it, so that matching
decides as an in-memory band map would."""

from __future__ import annotations

import os

import numpy as np
import pytest

from cleaner import dedup
from cleaner import shuffle as shuffle_module
from cleaner.arena import ArenaError
from cleaner.config import Settings
from cleaner.fastminhash import Fingerprinter, kernel_error, load_kernel
from cleaner.shuffle import KeyShuffle, partitions_for
from test_dedup import _edited_paragraphs, doc


def _random_keys(rng: np.random.Generator, items: int, distinct: int) -> list[np.ndarray]:
    """Keys per item from a small pool (so many are shared), spread over all 64 bits, sometimes
    repeated within an item, sometimes none."""
    return [
        rng.integers(0, distinct, size=int(rng.integers(0, 7))).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        for _ in range(items)
    ]


def _without_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read the members through their map, as where the compiled kernel cannot be built."""
    monkeypatch.setattr(shuffle_module, "load_kernel", lambda: None)


@pytest.mark.parametrize(
    "partitions, buffer_bytes, compiled",
    [(1, None, True), (4, None, True), (64, None, True), (64, 4096, True), (4, 1, False), (64, None, False)],
)
def test_each_item_is_told_every_earlier_item_sharing_a_key_and_no_other(monkeypatch, partitions, buffer_bytes, compiled):
    """Whatever the partitions, however often the pairs are written out (every add, with
    a 1-byte buffer), the members read by the compiled kernel or without it."""
    if buffer_bytes is not None:
        monkeypatch.setattr(shuffle_module, "SPILL_BUFFER_BYTES", buffer_bytes)
    if not compiled:
        _without_kernel(monkeypatch)
    rng = np.random.default_rng(partitions)
    items = 700
    namespaces = [_random_keys(rng, items, 90), _random_keys(rng, items, 90)]
    shuffle = KeyShuffle(2, partitions, threads=min(partitions, 3))
    for namespace, keys in enumerate(namespaces):
        for start in range(0, items, 53):  # added a chunk at a time, as dedup's first pass does
            chunk = keys[start : start + 53]
            owners = np.repeat(np.arange(start, start + len(chunk)), [len(k) for k in chunk])
            shuffle.add(namespace, np.concatenate(chunk), owners)
    with shuffle.earlier(items) as earlier:
        told = {}
        for first, last in [(0, 1), (1, 250), (250, 251), (251, items)]:  # read back in uneven chunks
            starts, found = earlier.chunk(first, last)
            assert len(starts) == last - first + 1
            for item in range(first, last):
                told[item] = found[starts[item - first] : starts[item - first + 1]].tolist()
    shared_earlier = 0
    for item in range(items):
        expected = {
            other
            for keys in namespaces
            for other in range(item)
            if set(keys[other].tolist()) & set(keys[item].tolist())
        }
        assert set(told[item]) == expected, item
        shared_earlier += bool(expected)
    assert shared_earlier > items / 2  # the pool of keys made most items share one


def test_a_key_in_one_namespace_never_meets_the_same_key_in_another():
    shuffle = KeyShuffle(2, 1)
    shuffle.add(0, np.array([7, 8], dtype=np.uint64), np.array([0, 0]))
    shuffle.add(1, np.array([7], dtype=np.uint64), np.array([1]))
    shuffle.add(0, np.array([8], dtype=np.uint64), np.array([2]))
    with shuffle.earlier(3) as earlier:
        starts, found = earlier.chunk(0, 3)
    assert [found[starts[i] : starts[i + 1]].tolist() for i in range(3)] == [[], [], [0]]


def test_keys_naming_the_same_earlier_items_are_read_once():
    """Copies share most band keys: each key's reference names the same earlier items, and
    only one of them is kept (the candidates are the same; the matching reads fewer)."""
    shuffle = KeyShuffle(1, 4)
    copy = np.arange(1, 36, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)  # 35 band keys
    shuffle.add(0, copy, np.zeros(35, dtype=np.int64))
    shuffle.add(0, copy, np.ones(35, dtype=np.int64))
    shuffle.add(0, np.concatenate([copy[:20], [np.uint64(5)]]), np.full(21, 2))
    shuffle.add(0, np.array([5, 6], dtype=np.uint64), np.full(2, 3))
    with shuffle.earlier(4) as earlier:
        starts, found = earlier.chunk(0, 4)
    told = [sorted(found[starts[i] : starts[i + 1]].tolist()) for i in range(4)]
    assert told == [[], [0], [0, 1], [2]]


def _mapped_inodes() -> set[int]:
    """The inodes of the files this process has mapped (/proc/self/maps)."""
    with open("/proc/self/maps") as maps:
        return {int(fields[4]) for fields in (line.split() for line in maps) if len(fields) > 5}


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="reads Linux's /proc/self/maps")
@pytest.mark.parametrize("compiled", [True, False])
def test_the_members_are_read_without_mapping_their_file(monkeypatch, compiled):
    """The members a chunk names lie all over the file. Mapped, every page read stayed in the
    process's memory until dropped, and a read fault maps a whole 2 MB folio on newer kernels:
    one chunk of 1,024 paragraphs held ~0.3 GB at 100k documents, up to the whole file at 1M."""
    if compiled:
        assert load_kernel() is not None, kernel_error()
    else:
        _without_kernel(monkeypatch)
    items = 40_000
    shuffle = KeyShuffle(1, 4)
    keys = (np.arange(items, dtype=np.uint64) % np.uint64(5_000)) * np.uint64(0x9E3779B97F4A7C15)
    shuffle.add(0, keys, np.arange(items))  # 5,000 keys of 8 items each: 280 KB of members
    with shuffle.earlier(items) as earlier:
        inode = os.fstat(earlier._members.handle.fileno()).st_ino
        starts, found = earlier.chunk(0, items)
        assert found.size == 5_000 * sum(range(8))  # each item is told the 0..7 before it
        assert found[starts[5_000 * 7 + 3] : starts[5_000 * 7 + 4]].tolist() == [3 + 5_000 * k for k in range(7)]
        assert inode not in _mapped_inodes()


@pytest.mark.parametrize("compiled", [True, False])
def test_a_members_file_that_comes_back_short_is_an_error(monkeypatch, compiled):
    """The reads stop at the end of the file; they must not hand back unread memory."""
    if not compiled:
        _without_kernel(monkeypatch)
    shuffle = KeyShuffle(1, 1)
    shuffle.add(0, np.zeros(10, dtype=np.uint64), np.arange(10))
    with shuffle.earlier(10) as earlier:
        assert earlier.chunk(5, 6)[1].tolist() == [0, 1, 2, 3, 4]
        os.ftruncate(earlier._members.handle.fileno(), 8)
        with pytest.raises(OSError, match="came back short"):
            earlier.chunk(5, 10)


def _decisions(texts: list[str], shuffled: bool) -> list:
    index = dedup.NearDuplicateIndex(Fingerprinter("char", 5, 128, 1), 0.5, containment=0.8, containment_min_words=8)
    items = [dedup.Item("d", number, text) for number, text in enumerate(texts)]
    if not shuffled:
        return [index.match_or_keep(item) for item in items]
    features = index.features(texts)
    bands, digests = KeyShuffle(2, 4), KeyShuffle(1, 1)
    for number, feature in enumerate(features):
        bands.add(0, feature.keys, np.full(feature.keys.size, number))
        if feature.sentence_keys is not None:
            bands.add(1, feature.sentence_keys, np.full(feature.sentence_keys.size, number))
        digests.add(0, np.array([int(feature.digest[:16], 16)], dtype=np.uint64), np.array([number]))
    index.expect(len(items))
    with bands.earlier(len(items)) as sharing, digests.earlier(len(items)) as same_digest:
        (starts, found), (digest_starts, digest_found) = sharing.chunk(0, len(items)), same_digest.chunk(0, len(items))
        return [
            index.match_or_keep(
                item, feature, dedup.Earlier(n, found[starts[n] : starts[n + 1]], digest_found[digest_starts[n] : digest_starts[n + 1]])
            )
            for n, (item, feature) in enumerate(zip(items, features))
        ]


@pytest.mark.parametrize("compiled", [True, False])
def test_matching_with_a_shuffle_decides_as_the_band_maps_do(monkeypatch, compiled):
    texts = _edited_paragraphs(600, seed=5)
    texts += texts[100:150]  # exact copies too
    held = _decisions(texts, shuffled=False)
    if not compiled:
        monkeypatch.setattr(dedup, "load_kernel", lambda: None)
        _without_kernel(monkeypatch)
    assert _decisions(texts, shuffled=True) == held
    assert sum(found is not None for found in held) > 150
    assert sum(found is not None and found[1] == 1.0 for found in held) > 20  # copies of kept paragraphs


def test_dedup_is_the_same_whatever_the_number_of_partitions(monkeypatch):
    paragraphs = _edited_paragraphs(800, seed=11)

    def run(partitions: int) -> tuple[list, list]:
        monkeypatch.setattr(dedup, "partitions_for", lambda documents: partitions)
        docs = [doc(f"d{number:03}", *paragraphs[4 * number : 4 * number + 4]) for number in range(200)]
        clusters = dedup.deduplicate(docs, Settings(workers=1, min_paragraph_words=5))
        return [cluster.to_record() for cluster in clusters], [(d.status, d.removed) for d in docs]

    one = run(1)
    assert run(16) == one
    assert len(one[0]) > 20


def test_partitions_grow_with_the_corpus_as_powers_of_two():
    sizes = [partitions_for(documents) for documents in (0, 1, 8192, 8193, 100_000, 1_000_000, 10**9)]
    assert sizes == [1, 1, 8, 16, 128, 1024, 4096]


def test_a_temporary_folder_that_cannot_be_written_is_a_clear_error(tmp_path):
    shuffle = KeyShuffle(1, 2, folder=str(tmp_path / "missing"))
    shuffle.add(0, np.array([1, 2**63], dtype=np.uint64), np.array([0, 0]))  # waits in memory
    with pytest.raises(ArenaError, match="TMPDIR"):
        shuffle.earlier(1)
