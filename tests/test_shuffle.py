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
from cleaner.fastminhash import Fingerprinter
from cleaner.shuffle import KeyShuffle, partitions_for
from test_dedup import _edited_paragraphs, doc


def _random_keys(rng: np.random.Generator, items: int, distinct: int) -> list[np.ndarray]:
    """Keys per item from a small pool (so many are shared), spread over all 64 bits, sometimes
    repeated within an item, sometimes none."""
    return [
        rng.integers(0, distinct, size=int(rng.integers(0, 7))).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        for _ in range(items)
    ]


@pytest.mark.parametrize("partitions, buffer_bytes, member_windows", [(1, None, None), (4, None, None), (64, None, None), (4, 1, 1), (64, 4096, 2)])
def test_each_item_is_told_every_earlier_item_sharing_a_key_and_no_other(monkeypatch, partitions, buffer_bytes, member_windows):
    """Whatever the partitions, however often the pairs are written out (every add, with
    a 1-byte buffer), and however few member pages a read may hold."""
    if buffer_bytes is not None:
        monkeypatch.setattr(shuffle_module, "SPILL_BUFFER_BYTES", buffer_bytes)
    if member_windows is not None:
        monkeypatch.setattr(shuffle_module, "MEMBER_WINDOWS", member_windows)
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


def _resident_kib(address: int) -> int | None:
    """Resident KiB of the mapping of this process that starts at `address` (/proc/self/smaps)."""
    found = False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            head = line.split()[0]
            if "-" in head and not head.endswith(":"):
                found = int(head.split("-")[0], 16) == address
            elif found and head == "Rss:":
                return int(line.split()[1])
    return None


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps"), reason="reads Linux's /proc/self/smaps")
def test_reading_a_chunk_leaves_no_member_pages_in_memory():
    """The members a chunk names lie all over the file; mapped pages left behind would add up
    to all of it in the process's memory (0.87 GB at 300k documents)."""
    items = 40_000
    shuffle = KeyShuffle(1, 4)
    keys = (np.arange(items, dtype=np.uint64) % np.uint64(5_000)) * np.uint64(0x9E3779B97F4A7C15)
    shuffle.add(0, keys, np.arange(items))  # 5,000 keys of 8 items each: 280 KB of members
    with shuffle.earlier(items) as earlier:
        address = earlier._members.array.ctypes.data
        assert _resident_kib(address) is not None, "the members are mapped from their file"
        starts, found = earlier.chunk(0, items)
        assert found.size == 5_000 * sum(range(8))  # each item is told the 0..7 before it
        assert _resident_kib(address) == 0


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps"), reason="reads Linux's /proc/self/smaps")
def test_a_chunk_holds_a_bounded_part_of_the_members_at_a_time(monkeypatch):
    """One chunk of a big corpus touches hundreds of MB of members (0.3 GB at 100k documents):
    read whole, they would all be resident at once before being dropped."""
    monkeypatch.setattr(shuffle_module, "MEMBER_WINDOWS", 1)
    items = 2_000_000
    shuffle = KeyShuffle(1, 4)
    keys = (np.arange(items, dtype=np.uint64) // np.uint64(2)) * np.uint64(0x9E3779B97F4A7C15)
    shuffle.add(0, keys, np.arange(items))  # 1M keys of 2 items each: 8 MB of members
    held = []
    with shuffle.earlier(items) as earlier:
        address = earlier._members.array.ctypes.data
        forget = earlier._members.forget

        def noting_forget():
            held.append(_resident_kib(address))
            forget()

        monkeypatch.setattr(earlier._members, "forget", noting_forget)
        starts, found = earlier.chunk(0, items)
        assert found[starts[1::2][:5]].tolist() == [0, 2, 4, 6, 8]  # item 2k + 1 is told of item 2k
    assert found.size == items // 2
    assert len(held) >= 3, "read in pieces"
    window_kib = shuffle_module.MEMBER_WINDOW // 1024
    assert 0 < max(held) <= (1 + 1) * window_kib, held  # a piece may start in the last one's window


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
